"""Email through a real SMTP server: once per notification, retried while the server refuses or
stays silent, never sent twice after a crash, never lost."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from lti_tool.db import db, utcnow
from notifications import service
from notifications.models import FAILED, PENDING, SENDING, SENT, SKIPPED, EmailDelivery, Notification
from tests.support.worker import run_burst


def make_notification(person, *, kind: str = "grade_delivered", key: str = "k1") -> int | None:
    """A notification (and its email delivery) for `person`, committed; returns the delivery id."""
    notification = service.notify(
        platform_id=person.platform_id,
        user_pk=person.user_pk,
        context_pk=person.context_pk,
        kind=kind,
        title="Your score for Quiz 1 is in your gradebook",
        body="Your score of 8 out of 10 reached the gradebook.",
        dedupe_key=key,
    )
    db.session.commit()
    return db.session.scalar(select(EmailDelivery.id).where(EmailDelivery.notification_pk == notification.id))


def delivery(delivery_id: int) -> EmailDelivery:
    db.session.expire_all()
    return db.session.get(EmailDelivery, delivery_id)


@pytest.fixture
def mail_app(make_app, backend, smtp):
    # Embedded mode sends right after the commit; with Redis the test runs the job itself.
    return make_app(**smtp.settings)


def run_email(app, delivery_id: int):
    """Run the email job as a worker would: in its own application context."""
    with app.app_context():
        return service.send_email(delivery_id)


def test_an_email_goes_out_once_with_text_and_html(mail_app, campus, smtp):
    ada = campus.launch("ada")
    with mail_app.app_context():
        delivery_id = make_notification(ada)
    if mail_app.extensions.get("lti_redis") is not None:
        assert smtp.handler.received == []  # queued: a worker sends it
        run_email(mail_app, delivery_id)
    assert run_email(mail_app, delivery_id) == SENT  # a duplicate run: nothing more
    [message] = smtp.handler.received
    assert smtp.handler.envelopes == [("no-reply@tool.example.edu", ["ada@example.edu"])]
    assert smtp.logins == [("tool", "LOGIN")] or smtp.logins == [("tool", "PLAIN")]
    assert message["Subject"] == "Your score for Quiz 1 is in your gradebook"
    assert message["To"] == "ada@example.edu"
    assert message["From"] == "Course Studio <no-reply@tool.example.edu>"
    assert message["Message-ID"].endswith("@tool.example.edu>")
    parts = {part.get_content_type(): part.get_payload(decode=True).decode() for part in message.walk() if not part.is_multipart()}
    assert "8 out of 10" in parts["text/plain"] and "Email settings" in parts["text/plain"]
    assert "<h1" in parts["text/html"] and "8 out of 10" in parts["text/html"]
    with mail_app.app_context():
        row = delivery(delivery_id)
        assert (row.status, row.tries, row.last_error) == (SENT, 1, None)


@pytest.mark.stack("postgresql")
def test_duplicate_job_runs_send_once(mail_app, campus, smtp, backend):
    ada = campus.launch("ada")
    with mail_app.app_context():
        delivery_id = make_notification(ada)
        from lti_tool import jobs

        # The same email queued three times under different job ids (a sweeper racing a retry).
        for n in range(3):
            jobs.submit("notifications", "notifications.jobs.send_email", delivery_id, job_id=f"dup-{n}")
    run_burst(mail_app, "notifications")
    assert len(smtp.handler.received) == 1


def test_a_refusing_server_leaves_it_pending_and_it_is_retried(mail_app, campus, smtp):
    smtp.handler.mode = "busy"
    ada = campus.launch("ada")
    with mail_app.app_context():
        delivery_id = make_notification(ada)  # embedded: tried right after the commit, and logged
    if mail_app.extensions.get("lti_redis") is not None:
        with pytest.raises(service.EmailTemporarilyFailed, match="451"):
            run_email(mail_app, delivery_id)
    with mail_app.app_context():
        row = delivery(delivery_id)
        assert row.status == PENDING and row.tries == 1 and "451" in row.last_error
        assert row.next_attempt_at > utcnow()
    with pytest.raises(service.EmailTemporarilyFailed):
        run_email(mail_app, delivery_id)
    smtp.handler.mode = "ok"
    assert run_email(mail_app, delivery_id) == SENT
    assert len(smtp.handler.received) == 1
    with mail_app.app_context():
        assert delivery(delivery_id).tries == 3


def test_a_silent_server_times_out_and_the_sweeper_sends_it_later(make_app, campus, silent_smtp, smtp):
    ada = campus.launch("ada")
    silent_app = make_app(**silent_smtp)
    with silent_app.app_context():
        delivery_id = make_notification(ada)
    if silent_app.extensions.get("lti_redis") is not None:
        with pytest.raises(service.EmailTemporarilyFailed, match="did not answer in time"):
            run_email(silent_app, delivery_id)
    with silent_app.app_context():
        row = delivery(delivery_id)
        assert row.status == PENDING and "did not answer in time" in row.last_error
    # Later, the mail server is back; the job and its retries were lost with Redis.
    mail_app = make_app(**smtp.settings)
    with mail_app.app_context():
        db.session.execute(update(EmailDelivery).values(next_attempt_at=utcnow() - timedelta(minutes=10)))
        db.session.commit()
        result = service.sweep_pending_email()
        assert result["queued"] == 1
    if mail_app.extensions.get("lti_redis") is not None:
        run_burst(mail_app, "notifications")
    assert len(smtp.handler.received) == 1
    with mail_app.app_context():
        assert delivery(delivery_id).status == SENT


def test_a_permanent_refusal_fails_with_the_reason_and_is_not_retried(mail_app, campus, smtp):
    smtp.handler.mode = "reject"
    ada = campus.launch("ada")
    with mail_app.app_context():
        delivery_id = make_notification(ada)
    assert run_email(mail_app, delivery_id) == FAILED
    with mail_app.app_context():
        row = delivery(delivery_id)
        assert row.status == FAILED and "550" in row.last_error and "No such user" in row.last_error
        db.session.execute(update(EmailDelivery).values(next_attempt_at=utcnow() - timedelta(hours=1)))
        db.session.commit()
        assert service.sweep_pending_email()["queued"] == 0


def test_a_crash_while_handing_over_never_sends_twice(mail_app, campus, smtp):
    ada = campus.launch("ada")
    with mail_app.app_context():
        delivery_id = make_notification(ada)
        if mail_app.extensions.get("lti_redis") is None:
            smtp.handler.received.clear()  # embedded: it went out after the commit; replay the crash
        # The worker claimed it and died during the SMTP conversation.
        db.session.execute(
            update(EmailDelivery).values(status=SENDING, claimed_at=utcnow() - timedelta(minutes=20), tries=1)
        )
        db.session.commit()
    assert run_email(mail_app, delivery_id) == SENDING  # the retried job does not send it again
    with mail_app.app_context():
        result = service.sweep_pending_email()
        assert result == {"queued": 0, "stale": 1, "expired": 0}
        row = delivery(delivery_id)
        assert row.status == FAILED and "may have been delivered" in row.last_error
    assert smtp.handler.received == []


def test_emails_pending_for_days_are_given_up_with_their_last_error(mail_app, campus, smtp):
    smtp.handler.mode = "busy"
    ada = campus.launch("ada")
    with mail_app.app_context():
        delivery_id = make_notification(ada)
        db.session.execute(
            update(EmailDelivery).values(
                created_at=utcnow() - timedelta(days=4), last_error="451 try later", status=PENDING
            )
        )
        db.session.commit()
        assert service.sweep_pending_email()["expired"] == 1
        assert delivery(delivery_id).last_error == "451 try later (gave up after 3 days)"


def test_opting_out_of_a_kind_stops_its_email_not_the_notification(mail_app, campus, smtp):
    ada = campus.launch("ada")
    with mail_app.app_context():
        service.set_email_choices(ada.platform_id, ada.user_pk, {"grade_delivered": False, "due_soon": True})
        assert make_notification(ada, key="a") is None
        assert db.session.scalar(select(db.func.count()).select_from(Notification)) == 1
        assert make_notification(ada, kind="due_soon", key="b") is not None
        # Turned off after the email was queued: skipped when its job runs.
        delivery_id = make_notification(ada, kind="item_published", key="c")
        service.set_email_choices(ada.platform_id, ada.user_pk, {"item_published": False})
        db.session.execute(update(EmailDelivery).where(EmailDelivery.id == delivery_id).values(status=PENDING))
        db.session.commit()
    assert run_email(mail_app, delivery_id) == SKIPPED


def test_without_smtp_host_emails_go_to_the_log(app, campus, caplog):
    ada = campus.launch("ada")
    with app.app_context(), caplog.at_level(logging.INFO, logger="notifications"):
        delivery_id = make_notification(ada)
        if app.extensions.get("lti_redis") is not None:
            service.send_email(delivery_id)
        assert delivery(delivery_id).status == SENT
    assert "email (no SMTP_HOST, not sent) to ada@example.edu" in caplog.text
    assert "8 out of 10" in caplog.text


def test_nobody_without_an_address_gets_an_email_row(app, campus):
    grace = campus.launch("grace", email=None)
    with app.app_context():
        assert make_notification(grace) is None
        assert db.session.scalar(select(db.func.count()).select_from(Notification)) == 1
