"""The gradebook and learners' grade pages, through the Flask test client and recorded launches."""

from __future__ import annotations

import csv
import html
import io
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from grades import delivery, service
from grades.models import ScoreDelivery
from lti_tool.csrf import launch_token
from lti_tool.db import db
from lti_tool.models import User
from tests.grades.test_roster_and_launches import record


@pytest.fixture
def client(grades_app):
    return grades_app.test_client()


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def attempt(course, score, *, user_pk=None, item_id=3, label="Quiz A"):
    service.record_attempt(
        **course.where(**({"user_pk": user_pk} if user_pk else {})),
        item_id=item_id,
        answers={},
        score=score,
        max_score=10,
        attempts_allowed=None,
        submitted_at=datetime(2025, 3, 1, tzinfo=timezone.utc),
        label=label,
    )
    db.session.commit()
    return db.session.scalars(select(ScoreDelivery).order_by(ScoreDelivery.id.desc())).first()


@pytest.fixture
def teacher(lms_course, lms, enqueued, monkeypatch):
    from lti_tool import jobs

    monkeypatch.setattr(jobs, "_submit", lambda call: True)
    return record(lms_course, lms).launch_id


def post(client, path, launch_id, **data):
    return client.post(path, data={"launch_id": launch_id, "csrf_token": launch_token(launch_id), **data})


def test_gradebook_shows_scores_and_where_each_one_is(client, lms_course, lms, teacher):
    delivered = attempt(lms_course, 7)
    delivery.deliver(delivered.id)
    grace = User(platform_id=lms_course.platform_id, sub="grace-sub", name="Grace Hopper")
    db.session.add(grace)
    db.session.commit()
    failing = attempt(lms_course, 4, user_pk=grace.id)
    lms.script("score", (400, {"error": "Incorrect score received"}))
    delivery.deliver(failing.id)

    page = client.get(f"/grades/?launch_id={teacher}")
    assert page.status_code == 200
    body = text(page)
    assert "Gradebook: Biology 101" in body
    assert "Ada Lovelace" in body and "Grace Hopper" in body
    assert "In the LMS since" in body
    assert "Not sent: Score: HTTP 400: Incorrect score received" in body
    assert "Retry failed (1)" in body


def test_learners_cannot_open_the_gradebook_but_see_their_own_grades(client, lms_course, lms, teacher):
    learner = record(lms_course, lms, sub="learner-sub-1", role="Learner").launch_id
    assert client.get(f"/grades/?launch_id={learner}").status_code == 403
    assert client.get(f"/grades/export.csv?launch_id={learner}").status_code == 403
    assert post(client, "/grades/resend-all", learner).status_code == 403
    row = attempt(lms_course, 6)
    delivery.deliver(row.id)
    page = client.get(f"/grades/mine?launch_id={learner}")
    assert page.status_code == 200
    assert "Quiz A" in text(page) and "Yes, since" in text(page)


def test_pages_need_a_launch(client):
    assert client.get("/grades/").status_code == 401
    assert client.get("/grades/mine?launch_id=unknown").status_code == 401


def test_csv_export_has_a_row_per_learner_and_neutralises_formulas(client, lms_course, lms, teacher):
    sneaky = User(platform_id=lms_course.platform_id, sub="s2", name='=HYPERLINK("x")')
    db.session.add(sneaky)
    db.session.commit()
    attempt(lms_course, 5, user_pk=sneaky.id, label="Quiz, with comma")
    response = client.get(f"/grades/export.csv?launch_id={teacher}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:4] == ["Name", "Email", "LMS user id", "Roster status"]
    assert rows[0][4:] == ["Quiz, with comma (score out of 10)", "Quiz, with comma (LMS)"]
    by_name = {r[0]: r for r in rows[1:]}
    assert by_name['\'=HYPERLINK("x")'][4:] == ["5", "Being sent to the LMS"]


def test_retry_failed_and_resend_all_queue_deliveries(client, lms_course, lms, teacher):
    row = attempt(lms_course, 5)
    lms.script("score", (403, {"error": "forbidden"}))
    delivery.deliver(row.id)
    response = post(client, "/grades/retry-failed", teacher)
    assert response.status_code == 303
    assert (
        "notice=retried" in response.headers["Location"]
        and f"launch_id={teacher}" in response.headers["Location"]
    )
    db.session.expire_all()
    assert db.session.get(ScoreDelivery, row.id).status == "pending"
    follow = client.get(response.headers["Location"])
    assert "Sending 1 failed grade to the LMS again." in text(follow)

    response = post(client, "/grades/resend-all", teacher)
    assert "notice=resent&count=1" in response.headers["Location"]
    assert db.session.scalar(select(ScoreDelivery).where(ScoreDelivery.forced.is_(True))) is not None


def test_actions_need_the_launch_bound_csrf_token(client, lms_course, teacher):
    response = client.post("/grades/retry-failed", data={"launch_id": teacher})
    assert response.status_code == 400


def test_the_forms_on_the_page_carry_a_token_that_is_accepted(lms_course, lms, teacher, grades_app):
    from tests.support.browser import parse_forms

    cookieless = grades_app.test_client(use_cookies=False)  # as inside an LMS frame
    page = cookieless.get(f"/grades/?launch_id={teacher}")
    forms = {
        f.action.split("?")[0].rsplit("/", 1)[-1]: f
        for f in parse_forms(page.get_data(as_text=True), "http://localhost/grades/")
    }
    assert forms["retry-failed"].values["csrf_token"] == launch_token(teacher)
    response = cookieless.post(forms["retry-failed"].action, data=forms["retry-failed"].values)
    assert response.status_code == 303


def test_without_grade_service_the_teacher_sees_what_to_enable(client, lms_course, lms, teacher):
    record(lms_course, lms, ags=False, nrps=False)
    page = text(client.get(f"/grades/?launch_id={teacher}"))
    assert "Grades cannot reach your LMS yet" in page
    assert "Use this service for grade sync and column management" in page
    assert "contextmembership.readonly" in page
    assert post(client, "/grades/resend-all", teacher).status_code == 409
    assert post(client, "/grades/roster/sync", teacher).status_code == 409


def test_roster_sync_on_demand_is_a_job(client, lms_course, lms, teacher, monkeypatch):
    from lti_tool import jobs

    calls = []
    monkeypatch.setattr(jobs, "_submit", lambda call: calls.append(call) or True)
    response = post(client, "/grades/roster/sync", teacher)
    assert response.status_code == 303 and "notice=roster" in response.headers["Location"]
    assert [(c.func, c.args) for c in calls] == [("grades.jobs.sync_roster", (lms_course.context_pk,))]


def test_unknown_notices_show_nothing(client, lms_course, teacher):
    page = text(client.get(f"/grades/?launch_id={teacher}&notice=<script>&count=9"))
    assert "<script>" not in page
