"""On real Redis and a real `flask worker` process: an event becomes an in-app notification and an
email, and the learner's bell shows it without a reload."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from lti_tool import events, jobs
from lti_tool.db import db
from notifications import service
from notifications.models import SENT, EmailDelivery, Notification
from tests.support.worker import WorkerProcess, wait_for


@pytest.mark.stack("postgresql")
def test_a_delivered_grade_reaches_the_learner_in_app_and_by_email(make_app, campus, smtp):
    app = make_app(**smtp.settings)
    client = app.test_client()
    ada = campus.launch("ada")
    teacher = campus.launch("tom", "instructor")
    course = campus.course(teacher, placed_in=[teacher.context_pk])
    item_id = campus.item(course, title="Quiz 1")

    with WorkerProcess(app, "notifications") as worker:
        assert client.get("/notifications/unread.json", headers={"X-Launch-Id": ada.launch_id}).get_json()["unread"] == 0
        with app.app_context():
            # What grades publishes once the LMS accepted the score.
            events.publish(
                "grade_delivered",
                platform_id=ada.platform_id,
                user_pk=ada.user_pk,
                context_pk=ada.context_pk,
                data={"item_id": item_id, "delivery_id": 1, "score": 9, "max_score": 10},
            )
            db.session.commit()
        wait_for(lambda: smtp.handler.received, timeout=30, message="no email arrived:\n" + worker.log_tail)
        polled = client.get("/notifications/unread.json", headers={"X-Launch-Id": ada.launch_id}).get_json()
        assert polled["unread"] == 1 and polled["newest"][0]["title"] == "Your score for Quiz 1 is in your gradebook"

    [message] = smtp.handler.received
    assert message["To"] == "ada@example.edu" and "Quiz 1" in message["Subject"]
    with app.app_context():
        [note] = db.session.scalars(select(Notification)).all()
        assert db.session.scalar(select(EmailDelivery.status).where(EmailDelivery.notification_pk == note.id)) == SENT
        assert jobs.stats()["notifications"]["failed"] == 0


@pytest.mark.stack("postgresql")
def test_an_smtp_outage_is_ridden_out_by_the_workers_retries(make_app, campus, smtp, monkeypatch):
    # Short waits so the test sees the retry; the real queue waits 30 s, 60 s, ...
    monkeypatch.setitem(
        jobs.QUEUES, "notifications", jobs.QueueSpec(timeout=30, retries=5, first_retry=1, max_retry_wait=1)
    )
    smtp.handler.mode = "busy"
    app = make_app(**smtp.settings)
    ada = campus.launch("ada")
    with WorkerProcess(app, "notifications") as worker:
        with app.app_context():
            # Made here, so its email job gets this test's short retry policy.
            service.notify(
                platform_id=ada.platform_id,
                user_pk=ada.user_pk,
                context_pk=ada.context_pk,
                kind="grade_delivered",
                title="Your score is in",
                body="9 out of 10",
                dedupe_key="outage",
            )
            db.session.commit()

            def pending_with_error():
                db.session.expire_all()
                row = db.session.scalar(select(EmailDelivery))
                return row is not None and row.status == "pending" and row.tries >= 1

            wait_for(pending_with_error, timeout=30, message=worker.log_tail)
        smtp.handler.mode = "ok"
        wait_for(lambda: smtp.handler.received, timeout=30, message="never retried:\n" + worker.log_tail)
    assert len(smtp.handler.received) == 1
