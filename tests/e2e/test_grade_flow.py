"""A learner's quiz score, from the quiz page to the LMS gradebook, over real HTTP.

The tool and the independent development LMS (lti1p3platform) each run on their own live server;
a teacher places a quiz by deep linking (the LMS makes its gradebook column from the lineItem), a
learner takes it, and the score travels through the outbox and a job (in-process on the embedded
stack, an RQ worker process on PostgreSQL + Redis) to the LMS's AGS endpoints.
"""

from __future__ import annotations

import html
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from courses import service as courses
from grades.models import Membership, ScoreDelivery
from keys import service as keys_service
from lti_tool.db import db
from lti_tool.dev_platform import PEOPLE, PROFILES, register_in_tool, subject_of
from lti_tool.dev_platform.platform import placed_links
from lti_tool.dev_platform.services import load_gradebook
from lti_tool.identity import load_launch
from tests.grades.conftest import FAST
from tests.support.browser import LtiBrowser
from tests.support.live_server import LiveServer, start_dev_platform
from tests.support.worker import WorkerProcess, wait_for


def form(**fields):
    return {name.replace("_dash_", "-"): [str(value)] for name, value in fields.items()}


def launch_id_of(response) -> str:
    return parse_qs(urlsplit(response.url).query)["launch_id"][0]


@pytest.fixture
def stack(make_app, backend, tmp_path):
    app = make_app(**FAST)
    with app.app_context():
        keys_service.ensure_keys()
    tool = LiveServer(app)
    server, config = start_dev_platform(tool.url, str(tmp_path / "lms"))
    with app.app_context():
        register_in_tool(config)
    worker = WorkerProcess(app, "grades", "default").start() if backend == "postgresql" else None
    yield app, tool, config
    if worker is not None:
        worker.stop()
    server.stop()
    tool.stop()


def make_quiz(app, launch_id: str) -> str:
    """The teacher's course with one published two-point quiz (through the courses service)."""
    with app.app_context():
        launch = load_launch(launch_id)
        actor = courses.Actor(
            platform_id=launch.platform_id,
            user_pk=launch.user_pk,
            context_pk=launch.context_pk,
            instructor=True,
        )
        course = courses.create_course(actor, form(title="Astronomy"))
        module = courses.create_module(actor, course, form(title="Week 1"))
        quiz = courses.save_item(
            actor, kind="quiz", form=form(title="Stars quiz", grade_policy="highest"), module=module
        )
        courses.save_question(
            actor,
            quiz,
            form(
                kind="single",
                prompt="Closest star?",
                points="2",
                choice_dash_1="Sun",
                choice_dash_2="Sirius",
                correct="1",
            ),
        )
        courses.set_item_published(actor, quiz, True)
        courses.set_module_published(actor, module, True)
        courses.set_course_published(actor, course, True)
        return quiz.public_id


@pytest.mark.parametrize("profile", ["moodle", "canvas"])
def test_a_learners_quiz_score_reaches_the_lms_gradebook(stack, backend, profile):
    app, tool, lms = stack
    teacher = LtiBrowser()
    picker = teacher.get(lms.issuer + "/deep-link", params={"person": "tom", "profile": profile})
    assert picker.status_code == 200 and "/courses/deep-link" in picker.url
    teacher_launch = launch_id_of(picker)
    quiz_id = make_quiz(app, teacher_launch)

    # The teacher places the quiz; the LMS makes a gradebook column from its lineItem.
    picker = teacher.get(picker.url)
    pick_form = teacher.form(picker, action="/courses/deep-link", button="Add to the LMS course")
    placed = teacher.submit(pick_form, {"pick": f"item:{quiz_id}"})
    assert placed.status_code == 200, placed.text
    (link,) = [link for link in placed_links(lms) if link.profile == profile]
    assert link.line_item["scoreMaximum"] == 2 and link.line_item["resourceId"] == quiz_id

    # The learner takes it from the LMS link and answers its question right.
    learner = LtiBrowser()
    page = learner.get(lms.issuer + "/launch", params={"person": "ada", "profile": profile, "link": link.id})
    assert page.status_code == 200 and "Closest star?" in html.unescape(page.text)
    quiz_form = learner.form(page, action="/attempts")
    with app.app_context():
        from courses.models import Item

        item = db.session.scalar(select(Item).where(Item.public_id == quiz_id))
        question = courses.field_name(item.questions[0])
        item_id = item.id
    result = learner.submit(quiz_form, {question: "c1"})
    assert result.status_code == 200

    ada = subject_of(next(p for p in PEOPLE if p.key == "ada"), PROFILES[profile])

    def received():
        scores = load_gradebook(lms)["scores"].get(link.id, {})
        return scores.get(ada)

    score = wait_for(received, timeout=30)
    assert score["scoreGiven"] == 2 and score["scoreMaximum"] == 2
    assert score["activityProgress"] == "Completed" and score["gradingProgress"] == "FullyGraded"
    # The deep-linked column was used; the tool created no other.
    assert list(load_gradebook(lms)["line_items"]) == [link.id]

    # The teacher's gradebook: the roster (read at the instructor launch) lists Grace too, who
    # never launched, and each status matches what the LMS holds.
    with app.app_context():
        wait_for(
            lambda: db.session.scalar(select(Membership).where(Membership.status == "active")) is not None,
            timeout=30,
        )
        db.session.remove()
    gradebook = teacher.get(tool.url + "/grades/", params={"launch_id": teacher_launch})
    text = html.unescape(gradebook.text)
    assert gradebook.status_code == 200
    assert "Stars quiz" in text and "In the LMS since" in text
    grace_name = "Grace Hopper" if profile == "moodle" else "User "
    assert grace_name in text and "(has not opened the tool)" in text
    with app.app_context():
        from grades import service as grades

        launch = load_launch(teacher_launch)
        book = grades.gradebook(platform_id=launch.platform_id, context_pk=launch.context_pk)
        lms_scores = load_gradebook(lms)["scores"].get(link.id, {})
        for row in book.rows:
            cell = row.cells[item_id]
            in_lms = lms_scores.get(row.user.sub)
            assert (cell.status == "delivered") == (in_lms is not None)
            if in_lms is not None:
                assert in_lms["scoreGiven"] == cell.score
        assert {r.user.sub for r in book.rows} == {
            subject_of(p, PROFILES[profile]) for p in PEOPLE if p.role == "learner"
        }
        delivery = db.session.scalar(select(ScoreDelivery))
        assert delivery.line_item_url.startswith(lms.issuer + f"/ags/astro-101/lineitems/{link.id}/lineitem")
