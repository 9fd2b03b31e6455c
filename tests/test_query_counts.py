"""SQL statements per page: each main page after a launch runs a small, fixed number of statements,
and the same number whether the course has a few rows or many (no query per row, no N+1).

Statements are counted with a `before_cursor_execute` listener while one request runs. Reads of the
embedded key-value store (`cache_entries`, Redis in production) are left out, so both stacks share
one budget. The login and the launch are counted too: the registration they need comes from the
process's copy, so a login runs no statement at all.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import event, select

from lti_tool import registry
from lti_tool.db import db
from lti_tool.models import Context, User
from tests.support.tokens import CLAIM, INSTRUCTOR, LEARNER, ScriptedPlatform

ISSUER = "https://lms.example.edu"


@contextmanager
def counted(app) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if "cache_entries" not in statement:
            statements.append(" ".join(statement.split())[:160])

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


class Lms:
    """An LMS registered with a static key: launches go through the real login and launch."""

    def __init__(self, app):
        self.app = app
        self.platform = ScriptedPlatform(ISSUER)
        with app.app_context():
            registry.add_platform(
                registry.PlatformInput(
                    issuer=ISSUER,
                    client_id=self.platform.client_id,
                    auth_url=ISSUER + "/auth",
                    token_url=ISSUER + "/token",
                    public_key=self.platform.public_pem(),
                    deployment_ids=(self.platform.deployment_id,),
                )
            )
            db.session.commit()

    def launch(
        self, sub: str, *, instructor: bool = False, custom: dict | None = None, counts: dict | None = None
    ):
        client = self.app.test_client()
        query = {
            "iss": ISSUER,
            "login_hint": sub,
            "target_link_uri": "http://localhost/lti/launch",
            "client_id": self.platform.client_id,
            "lti_deployment_id": self.platform.deployment_id,
        }
        with counted(self.app) as login_statements:
            login = client.get("/lti/login", query_string=query)
        assert login.status_code == 302, login.get_data(as_text=True)
        nonce = parse_qs(urlsplit(login.headers["Location"]).query)["nonce"][0]
        state = parse_qs(urlsplit(login.headers["Location"]).query)["state"][0]
        overrides = {"sub": sub, CLAIM + "roles": [INSTRUCTOR if instructor else LEARNER]}
        if custom:
            overrides[CLAIM + "custom"] = custom
        token = self.platform.sign(self.platform.claims(nonce, **overrides))
        with counted(self.app) as launch_statements:
            response = client.post("/lti/launch", data={"id_token": token, "state": state})
        assert response.status_code == 303, response.get_data(as_text=True)[:500]
        if counts is not None:
            counts.update(login=login_statements, launch=launch_statements)
        location = response.headers["Location"]
        return client, location[location.index("/", len("http://")) if location.startswith("http") else 0 :]


@pytest.fixture
def lms(app) -> Lms:
    return Lms(app)


def page_statements(app, client, path: str) -> list[str]:
    client.get(path)  # first visit: per-process caches fill, first-view writes happen
    with counted(app) as statements:
        response = client.get(path)
    assert response.status_code == 200, (path, response.status_code, response.get_data(as_text=True)[:300])
    return statements


def launch_id_of(path: str) -> str:
    return parse_qs(urlsplit(path).query)["launch_id"][0]


# --- the launch itself --------------------------------------------------------------------------

LOGIN_BUDGET = 0
LAUNCH_BUDGET = 16  # user, context, enrollment, resource link, launch log, event, hooks; see BENCHMARKS.md


def test_login_and_launch_statements(app, lms):
    lms.launch("warm-up")  # the process copies the registration once
    counts: dict = {}
    lms.launch("ada", counts=counts)
    assert len(counts["login"]) <= LOGIN_BUDGET, counts["login"]
    assert len(counts["launch"]) <= LAUNCH_BUDGET, counts["launch"]
    again: dict = {}
    lms.launch("ada", counts=again)
    assert len(again["launch"]) <= len(counts["launch"]), again["launch"]


# --- pages after a launch -------------------------------------------------------------------------


HOME_BUDGET = 6


@pytest.mark.parametrize("learners", [1, 12])
def test_launch_home_page(app, lms, learners):
    for n in range(learners):
        lms.launch(f"learner-{n}")
    client, path = lms.launch("ada")
    home = f"/lti/home?launch_id={launch_id_of(path)}"
    statements = page_statements(app, client, home)
    assert len(statements) <= HOME_BUDGET, statements


def _course(app, lms, teacher_sub: str, modules: int, items: int) -> dict:
    """A published course placed in the LMS course, with `modules` modules of `items` page items."""
    from courses import service
    from courses.models import CoursePlacement

    lms.launch(teacher_sub, instructor=True)
    with app.app_context():
        teacher = db.session.scalar(select(User).where(User.sub == teacher_sub))
        context = db.session.scalar(select(Context))
        actor = service.Actor(
            platform_id=teacher.platform_id, user_pk=teacher.id, context_pk=context.id, instructor=True
        )
        course = service.create_course(actor, {"title": ["Astronomy"], "description": ["Stars"]})
        first_item = first_module = None
        for m in range(modules):
            module = service.create_module(actor, course, {"title": [f"Week {m + 1}"]})
            first_module = first_module or module.public_id
            for i in range(items):
                item = service.save_item(
                    actor,
                    kind="page",
                    form={"title": [f"Page {m}.{i}"], "body": [f"<p>Text {m}.{i}</p>"]},
                    module=module,
                )
                item.published = True
                first_item = first_item or item.public_id
            module.published = True
        course.published = True
        db.session.add(
            CoursePlacement(platform_id=teacher.platform_id, course_pk=course.id, context_pk=context.id)
        )
        db.session.commit()
        return {
            "course": course.public_id,
            "module": first_module,
            "item": first_item,
            "context_pk": context.id,
        }


SIZES = [(1, 2, 1), (3, 6, 12)]  # (modules, items per module, other learners)
COURSE_PAGE_BUDGETS = {
    "item": ("/courses/view/item/{item}", "course_item", 12),
    "module": ("/courses/view/module/{module}", "course_module", 12),
    "course": ("/courses/view/course/{course}", "course_outline", 12),
}


@pytest.mark.parametrize("page", ["item", "module", "course"])
def test_learner_course_pages(app, lms, page):
    template, custom_key, budget = COURSE_PAGE_BUDGETS[page]
    counts = []
    for size, (modules, items, learners) in enumerate(SIZES):
        ids = _course(app, lms, f"teacher-{size}", modules, items)
        for n in range(learners):
            lms.launch(f"learner-{size}-{n}", custom={custom_key: ids[page]})
        client, path = lms.launch(f"ada-{size}", custom={custom_key: ids[page]})
        url = template.format(**ids) + f"?launch_id={launch_id_of(path)}"
        statements = page_statements(app, client, url)
        assert len(statements) <= budget, statements
        counts.append(statements)
    assert len(counts[0]) == len(counts[1]), ("statements grow with the course", counts)


TEACHER_PAGES = {
    "courses index": ("/courses/", 10),
    "course editor": ("/courses/c/{course}", 12),
    "gradebook": ("/grades/", 12),
    # Embedded mode (SQLite, no queue) ingests pending events in the request: 7 statements more.
    "analytics": ("/analytics/contexts/{context_pk}", 24),
}


@pytest.mark.parametrize("page", ["courses index", "course editor", "gradebook", "analytics"])
def test_teacher_pages(app, lms, page):
    template, budget = TEACHER_PAGES[page]
    counts = []
    for size, (modules, items, learners) in enumerate(SIZES):
        ids = _course(app, lms, f"teacher-{size}", modules, items)
        for n in range(learners):
            lms.launch(f"learner-{size}-{n}", custom={"course_item": ids["item"]})
        client, path = lms.launch(f"teacher-{size}", instructor=True)
        url = template.format(**ids) + f"?launch_id={launch_id_of(path)}"
        statements = page_statements(app, client, url)
        assert len(statements) <= budget, statements
        counts.append(statements)
    assert len(counts[0]) == len(counts[1]), ("statements grow with the course", counts)
