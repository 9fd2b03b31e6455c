"""The teacher dashboard, learners' own progress, and the CSV and xAPI exports, over HTTP."""

import csv
import io
import json
import re
import uuid
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import jsonschema
import pytest
from sqlalchemy import select

from analytics import service
from analytics.models import Fact
from lti_tool.db import db
from lti_tool.models import User
from tests.analytics.conftest import make_campus, publish, record_launch, seed_history
from tests.analytics.expected import work_out
from tests.analytics.test_rollups import RULES


class Page(HTMLParser):
    """Links, SVG charts (with their accessible names) and tables of a page."""

    def __init__(self, html: str):
        super().__init__()
        self.links: list[str] = []
        self.forms: list[dict] = []
        self.svgs: list[dict] = []
        self.tables = 0
        self._svg = None
        self._in = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and "href" in attrs:
            self.links.append(attrs["href"])
        if tag == "form":
            self.forms.append({"action": attrs.get("action"), "fields": []})
        if tag == "input" and self.forms:
            self.forms[-1]["fields"].append((attrs.get("name"), attrs.get("value")))
        if tag == "table":
            self.tables += 1
        if tag == "svg" and attrs.get("class") == "chart":
            self._svg = {**attrs, "title": "", "desc": "", "bars": 0}
        if self._svg is not None and tag in ("title", "desc") and "id" in attrs:
            self._in = tag
        if self._svg is not None and tag == "rect" and "chart-bar" in attrs.get("class", ""):
            self._svg["bars"] += 1

    def handle_endtag(self, tag):
        if tag == "svg" and self._svg is not None:
            self.svgs.append(self._svg)
            self._svg = None
        if tag in ("title", "desc"):
            self._in = None

    def handle_data(self, data):
        if self._svg is not None and self._in:
            self._svg[self._in] += data


@pytest.fixture
def course(app):
    # Requests must not run inside the test's own app context (they would share its `g`).
    with app.app_context():
        campus = make_campus(learners=6)
        history = seed_history(campus)
        teacher = record_launch(campus, campus.teacher_pk, "instructor")
        learner = record_launch(campus, campus.learner_pks[0], "learner")
        service.ingest_pending()
        service.rollup_pending()
    return campus, history, teacher, learner


def url(path: str, launch_id: str, **params) -> str:
    query = "&".join([f"launch_id={launch_id}", *(f"{k}={v}" for k, v in params.items())])
    return f"{path}?{query}"


def test_the_teacher_sees_charts_with_tables(client, course):
    campus, history, teacher, _ = course
    response = client.get(url(f"/analytics/contexts/{campus.context_pk}", teacher))
    assert response.status_code == 200
    page = Page(response.text)
    titles = [svg["title"] for svg in page.svgs]
    assert titles == [
        "Active learners per day",
        "Completion per module",
        "Best scores: Quiz 1",
        "Best scores: Quiz 2",
        "Learners by last activity",
    ]
    for svg in page.svgs:
        assert (
            svg["class"] == "chart"
            and svg["role"] == "img"
            and svg["desc"]
            and svg["aria-label"].startswith(svg["title"])
        )
        title_id, desc_id = svg["aria-labelledby"].split()
        assert title_id.endswith("-title") and desc_id.endswith("-desc")
        assert f'id="{title_id}"' in response.text and f'id="{desc_id}"' in response.text
    assert page.svgs[0]["bars"] == 30 and page.svgs[1]["bars"] == 3
    # A table behind each chart, plus the at-risk and items tables.
    assert page.tables >= len(page.svgs) + 1
    html = response.text
    for title in ("Intro video", "Reading", "Quiz 1", "Lecture 2", "Quiz 2", "Week 1", "Week 2", "Week 3"):
        assert title in html
    expected = work_out(history, campus.learner_pks, {campus.items[n]: r for n, r in RULES.items()})
    views = expected.items[campus.items["reading"]]["views"]
    assert re.search(rf">Reading</a>.*?<td>Week 1</td><td>\d+</td><td>{views}</td>", html, re.S)


def test_module_completion_counts_learners_who_completed_every_item(app, course):
    campus, history, _, _ = course
    expected = work_out(history, campus.learner_pks, {campus.items[n]: r for n, r in RULES.items()})
    with app.app_context():
        board = service.dashboard(campus.platform_id, campus.context_pk)
    assert [m.title for m in board.modules] == ["Week 1", "Week 2", "Week 3"]
    for module in board.modules:
        ids = [campus.items[name] for name in campus.modules[module.title]]
        done = sum(
            1
            for learner in campus.learner_pks
            if all(expected.learner_items.get((learner, i), {}).get("completed") for i in ids)
        )
        assert (module.items, module.learners_completed) == (len(ids), done), module.title
        assert module.completion_rate == pytest.approx(done / board.class_size)


def test_every_link_and_form_carries_the_launch(client, course):
    campus, _, teacher, _ = course
    page = Page(client.get(url(f"/analytics/contexts/{campus.context_pk}", teacher)).text)
    internal = [link for link in page.links if link.startswith("/")]
    assert len(internal) >= 8
    for link in internal:
        assert parse_qs(urlsplit(link).query)["launch_id"] == [teacher], link
    for form in page.forms:
        assert ("launch_id", teacher) in form["fields"]


def test_learners_and_other_courses_get_403(app, client, course):
    campus, _, teacher, learner = course
    dashboard = f"/analytics/contexts/{campus.context_pk}"
    for path in (dashboard, dashboard + "/export/items.csv", dashboard + "/xapi.json"):
        response = client.get(url(path, learner))
        assert response.status_code == 403, path
        assert "instructors of this course" in response.text
    # A teacher of another course (same LMS) cannot open this one's analytics.
    with app.app_context():
        other = make_campus("https://lms.example.edu/other", context_id="chem-201", learners=1, content=False)
        elsewhere = record_launch(other, other.teacher_pk, "instructor")
    assert client.get(url(dashboard, elsewhere)).status_code == 403
    assert client.get(url(f"/analytics/contexts/{other.context_pk}", teacher)).status_code == 403
    # No launch at all.
    assert client.get(dashboard).status_code == 401


@pytest.mark.parametrize(
    "params, message",
    [
        ({"days": "abc"}, "days must be a whole number from 7 to 365"),
        ({"days": "3"}, "days must be a whole number from 7 to 365"),
        ({"inactive": "0"}, "inactive must be a whole number from 1 to 365"),
    ],
)
def test_bad_filters_are_400(client, course, params, message):
    campus, _, teacher, _ = course
    response = client.get(url(f"/analytics/contexts/{campus.context_pk}", teacher, **params))
    assert response.status_code == 400 and message in response.text


def test_filters_change_the_window(client, course):
    campus, _, teacher, _ = course
    page = Page(client.get(url(f"/analytics/contexts/{campus.context_pk}", teacher, days=7)).text)
    assert page.svgs[0]["bars"] == 7


def test_at_risk_learners_are_listed(app, client, course):
    campus, _, teacher, _ = course
    from lti_tool.models import Enrollment

    with app.app_context():
        # A learner who never did anything, enrolled two weeks ago.
        idle = User(platform_id=campus.platform_id, sub="idle-1", name="Ida Idle")
        db.session.add(idle)
        db.session.flush()
        idle_pk = idle.id
        db.session.add(
            Enrollment(
                platform_id=campus.platform_id,
                context_pk=campus.context_pk,
                user_pk=idle.id,
                roles=["learner"],
                last_launch_at=datetime.now(timezone.utc) - timedelta(days=14),
            )
        )
        # A learner whose quizzes went badly.
        low = campus.learner_pks[5]
        publish(
            campus,
            "quiz_submitted",
            low,
            datetime.now(timezone.utc),
            item_id=campus.items["quiz1"],
            attempt_id=99,
            score=0.0,
            max_score=10.0,
        )
        db.session.commit()
        service.ingest_pending()
        service.rollup_pending()
    html = client.get(url(f"/analytics/contexts/{campus.context_pk}", teacher)).text
    section = html[html.index('id="risk-h"') :]
    assert "Ida Idle" in section and "inactive for 14 days" in section
    with app.app_context():
        rows = service.learner_rows(campus.platform_id, campus.context_pk, at_risk_days=7, at_risk_score=0.5)
    flagged = {row.user_pk: row.reasons for row in rows if row.at_risk}
    assert idle_pk in flagged
    mean = next(row.avg_scaled for row in rows if row.user_pk == low)
    assert (low in flagged) == (mean is not None and mean < 0.5)
    # Nobody who is active and scoring well is listed.
    for row in rows:
        if (
            row.days_inactive is not None
            and row.days_inactive < 7
            and (row.avg_scaled is None or row.avg_scaled >= 0.5)
        ):
            assert not row.at_risk


def test_csv_exports(client, course):
    campus, history, teacher, _ = course
    base = f"/analytics/contexts/{campus.context_pk}/export"
    expected = work_out(history, campus.learner_pks, {campus.items[n]: r for n, r in RULES.items()})
    response = client.get(url(f"{base}/items.csv", teacher))
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text.lstrip("\ufeff"))))
    by_title = {row["Item"]: row for row in rows}
    assert set(by_title) == {"Intro video", "Reading", "Quiz 1", "Lecture 2", "Quiz 2"}
    reading = expected.items[campus.items["reading"]]
    assert int(by_title["Reading"]["Views"]) == reading["views"]
    assert int(by_title["Reading"]["Learners who completed it"]) == reading["completions"]

    scores = list(
        csv.DictReader(io.StringIO(client.get(url(f"{base}/scores.csv", teacher)).text.lstrip("\ufeff")))
    )
    quiz1 = [int(row["Learners"]) for row in scores if row["Quiz"] == "Quiz 1"]
    assert quiz1 == expected.items[campus.items["quiz1"]]["bins"]
    assert [row["Best score"] for row in scores[:3]] == ["0-10%", "10-20%", "20-30%"]

    engagement = list(
        csv.reader(
            io.StringIO(client.get(url(f"{base}/engagement.csv", teacher, days=14)).text.lstrip("\ufeff"))
        )
    )
    assert engagement[0][:2] == ["Day", "Active learners"] and len(engagement) == 15

    for name in ("modules", "learners"):
        assert client.get(url(f"{base}/{name}.csv", teacher)).status_code == 200
    missing = client.get(url(f"{base}/grades.csv", teacher))
    assert missing.status_code == 404 and "choose one of engagement" in missing.text


def test_csv_cells_cannot_become_formulas(app, client, course):
    campus, _, teacher, _ = course
    with app.app_context():
        user = db.session.get(User, campus.learner_pks[1])
        user.name = '=HYPERLINK("http://evil.example","click")'
        db.session.commit()
    text = client.get(url(f"/analytics/contexts/{campus.context_pk}/export/learners.csv", teacher)).text
    names = [row["Learner"] for row in csv.DictReader(io.StringIO(text.lstrip("\ufeff")))]
    assert '\'=HYPERLINK("http://evil.example","click")' in names
    assert not any(name.startswith("=") for name in names)


# A JSON Schema of the xAPI 1.0.3 statement parts this export uses (Agent with an account,
# Activity objects, verbs, results with scores, context activities), strict about extra keys.
LANGUAGE_MAP = {"type": "object", "minProperties": 1, "additionalProperties": {"type": "string"}}
IRI = {"type": "string", "pattern": r"^[a-z][a-z0-9+.-]*:[^\s]+$"}
ACTIVITY = {
    "type": "object",
    "required": ["objectType", "id"],
    "additionalProperties": False,
    "properties": {
        "objectType": {"const": "Activity"},
        "id": IRI,
        "definition": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"name": LANGUAGE_MAP, "type": IRI},
        },
    },
}
STATEMENT = {
    "type": "object",
    "required": ["id", "actor", "verb", "object", "timestamp"],
    "additionalProperties": False,
    "properties": {
        "id": {
            "type": "string",
            "pattern": r"^[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$",
        },
        "actor": {
            "type": "object",
            "required": ["objectType", "account"],
            "additionalProperties": False,
            "properties": {
                "objectType": {"const": "Agent"},
                "name": {"type": "string"},
                "account": {
                    "type": "object",
                    "required": ["homePage", "name"],
                    "additionalProperties": False,
                    "properties": {"homePage": IRI, "name": {"type": "string", "minLength": 1}},
                },
            },
        },
        "verb": {
            "type": "object",
            "required": ["id", "display"],
            "additionalProperties": False,
            "properties": {
                "id": {"type": "string", "pattern": r"^http://adlnet\.gov/expapi/verbs/[a-z]+$"},
                "display": LANGUAGE_MAP,
            },
        },
        "object": ACTIVITY,
        "result": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "score": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["scaled", "raw", "min", "max"],
                    "properties": {
                        "scaled": {"type": "number", "minimum": -1, "maximum": 1},
                        "raw": {"type": "number"},
                        "min": {"type": "number"},
                        "max": {"type": "number"},
                    },
                },
                "completion": {"type": "boolean"},
                "extensions": {"type": "object", "propertyNames": {"pattern": r"^https?://"}},
            },
        },
        "context": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "platform": {"type": "string"},
                "contextActivities": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"parent": {"type": "array", "items": ACTIVITY, "minItems": 1}},
                },
            },
        },
        "timestamp": {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$"},
    },
}


def test_xapi_export_is_valid_statements(app, client, course):
    campus, history, teacher, _ = course
    response = client.get(url(f"/analytics/contexts/{campus.context_pk}/xapi.json", teacher))
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.headers["X-Experience-API-Version"] == "1.0.3"
    statements = json.loads(response.get_data(as_text=True))
    # Every learning event of the course, teachers' included, learner by learner in event order.
    with app.app_context():
        facts = db.session.scalars(
            select(Fact).where(Fact.context_pk == campus.context_pk).order_by(Fact.user_pk, Fact.event_id)
        ).all()
        subs = {user.id: user.sub for user in db.session.scalars(select(User))}
    assert len(statements) == len(facts) == len(history) + 2  # plus the two launches of the fixture
    verbs = {
        "launch": "launched",
        "item_viewed": "experienced",
        "media_progress": "progressed",
        "quiz_submitted": "completed",
        "grade_delivered": "scored",
    }
    for statement, fact in zip(statements, facts):
        jsonschema.validate(statement, STATEMENT)
        assert uuid.UUID(statement["id"]).version == 5
        assert statement["actor"]["account"] == {"homePage": campus.issuer, "name": subs[fact.user_pk]}
        assert "mbox" not in json.dumps(statement["actor"]) and "name" not in statement["actor"]
        assert statement["verb"]["id"] == "http://adlnet.gov/expapi/verbs/" + verbs[fact.kind]
        assert abs(datetime.fromisoformat(statement["timestamp"]) - fact.occurred_at) < timedelta(
            milliseconds=1
        )
        course_iri = f"http://localhost/analytics/contexts/{campus.context_pk}"
        if fact.kind == "launch":
            assert statement["object"]["id"] == course_iri
            continue
        assert statement["context"]["contextActivities"]["parent"][0]["id"] == course_iri
        assert re.fullmatch(r"http://localhost/courses/view/item/[A-Za-z0-9_-]+", statement["object"]["id"])
        if fact.kind in ("quiz_submitted", "grade_delivered"):
            score = statement["result"]["score"]
            assert score["min"] <= score["raw"] <= score["max"] and score["scaled"] == pytest.approx(
                score["raw"] / score["max"], abs=1e-6
            )
        if fact.kind == "media_progress":
            assert (
                0
                <= statement["result"]["extensions"]["https://w3id.org/xapi/cmi5/result/extensions/progress"]
                <= 100
            )
    quiz = next(s for s, f in zip(statements, facts) if f.kind == "quiz_submitted")
    assert quiz["object"]["definition"]["type"] == "http://adlnet.gov/expapi/activities/assessment"
    # The same export twice gives the same statement ids: an LRS keeps one copy.
    again = json.loads(
        client.get(url(f"/analytics/contexts/{campus.context_pk}/xapi.json", teacher)).get_data(as_text=True)
    )
    assert [s["id"] for s in again] == [s["id"] for s in statements]


def test_xapi_export_window_and_bad_dates(client, course):
    campus, history, teacher, _ = course
    path = f"/analytics/contexts/{campus.context_pk}/xapi.json"
    cut = sorted(event.at for event in history)[len(history) // 2]
    since = cut.strftime("%Y-%m-%dT%H:%M:%SZ")
    later = json.loads(client.get(url(path, teacher, since=since)).get_data(as_text=True))
    assert later and all(s["timestamp"] >= since.replace("Z", "") for s in later)
    assert len(later) < len(history)
    for params, message in (
        ({"since": "yesterday"}, "since must be a date"),
        ({"until": "2025-01-31T08:00:00"}, "with its zone"),
        ({"since": "2025-02-01", "until": "2025-01-01"}, "since must be before until"),
    ):
        response = client.get(url(path, teacher, **params))
        assert response.status_code == 400 and message in response.text


def test_xapi_names_only_when_allowed(make_app):
    app = make_app(ANALYTICS_XAPI_NAMES=True)
    with app.app_context():
        campus = make_campus(learners=1)
        publish(
            campus,
            "item_viewed",
            campus.learner_pks[0],
            datetime.now(timezone.utc),
            item_id=campus.items["reading"],
        )
        db.session.commit()
        teacher = record_launch(campus, campus.teacher_pk, "instructor")
        service.ingest_pending()
    statements = json.loads(
        app.test_client()
        .get(url(f"/analytics/contexts/{campus.context_pk}/xapi.json", teacher))
        .get_data(as_text=True)
    )
    learner_statement = next(s for s in statements if s["actor"]["account"]["name"] == "learner-0")
    assert learner_statement["actor"]["name"] == "Learner 0"


def test_a_learner_sees_their_own_progress(app, client, course):
    campus, history, _, learner = course
    response = client.get(url("/analytics/me", learner))
    assert response.status_code == 200
    html = response.text
    expected = work_out(history, campus.learner_pks, {campus.items[n]: r for n, r in RULES.items()})
    mine = {
        item: row for (user, item), row in expected.learner_items.items() if user == campus.learner_pks[0]
    }
    done = sum(1 for row in mine.values() if row["completed"])
    assert f"{done} of 5" in html
    page = Page(html)
    assert [svg["title"] for svg in page.svgs] == ["Your progress per module"]
    assert page.tables == 2
    # Nothing about other learners.
    with app.app_context():
        for other in campus.learner_pks[1:]:
            assert db.session.get(User, other).name not in html


def test_the_entry_point_sends_each_role_to_its_page(client, course):
    campus, _, teacher, learner = course
    to_teacher = client.get(url("/analytics/", teacher))
    assert (
        to_teacher.status_code == 303
        and f"/analytics/contexts/{campus.context_pk}?launch_id={teacher}" in to_teacher.location
    )
    to_learner = client.get(url("/analytics/", learner))
    assert to_learner.status_code == 303 and f"/analytics/me?launch_id={learner}" in to_learner.location


def test_embedded_pages_catch_up_on_their_own(app, client, course, backend):
    # Without Redis there is no scheduler: the page brings the figures up to date itself.
    campus, _, teacher, _ = course
    with app.app_context():
        publish(
            campus,
            "item_viewed",
            campus.learner_pks[2],
            datetime.now(timezone.utc),
            item_id=campus.items["reading"],
        )
        db.session.commit()
    client.get(url(f"/analytics/contexts/{campus.context_pk}", teacher))
    with app.app_context():
        assert service.backlog() == (0 if backend == "sqlite" else 1)
