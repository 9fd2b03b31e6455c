"""Notifications: who hears what, the in-app list, email preferences, and email delivery.

Every notification is a row per recipient, made idempotent by a key (`dedupe_key`): the same
event or reminder delivered twice adds nothing. Its email, when the person wants one and has an
address, is a second row (`EmailDelivery`, one per notification) sent by a job:

- pending -> (claimed) sending -> sent; a refusing or silent mail server puts it back to pending
  and the job is retried with backoff, then re-enqueued by the sweeper: never lost;
- the claim is taken just before the message is handed to the server, in its own commit, so a job
  retried after a crash never sends it twice (a worker killed during that hand-over leaves it in
  `sending`, which the sweeper closes as failed rather than risk a duplicate);
- a permanent refusal (5xx, a bad address) or three days of trying marks it failed, with the reason.
"""

from __future__ import annotations

import hashlib
import logging
import smtplib
import socket
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, parseaddr

from flask import current_app, render_template
from flask_babel import lazy_gettext
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from lti_tool import jobs
from lti_tool.db import db, utcnow
from lti_tool.events import Event
from lti_tool.models import User
from lti_tool.roles import INSTRUCTOR, LEARNER
from notifications import sources
from notifications.models import (
    FAILED,
    PENDING,
    SENDING,
    SENT,
    SKIPPED,
    EmailDelivery,
    EmailPreference,
    Notification,
    RosterSeen,
)

log = logging.getLogger("notifications")

DUE_WITHIN = timedelta(hours=24)
# A claim older than this belongs to a worker that died while handing the message over.
STALE_CLAIM = timedelta(minutes=15)
GIVE_UP_AFTER = timedelta(days=3)
# The sweeper leaves fresh pending emails to their own job and its retries.
SWEEP_GRACE = timedelta(minutes=2)
PAGE_SIZE = 30
DIGEST_NAMES = 25


@dataclass(frozen=True)
class KindInfo:
    label: str  # on the preferences page; lazy, so it shows in the page's language
    audience: str  # learner or instructor


KINDS: dict[str, KindInfo] = {
    "item_published": KindInfo(lazy_gettext("New content in a course you take"), LEARNER),
    "due_soon": KindInfo(
        lazy_gettext("A quiz is due within 24 hours and you have not submitted it"), LEARNER
    ),
    "grade_delivered": KindInfo(lazy_gettext("Your score reached your LMS gradebook"), LEARNER),
    "grade_failed": KindInfo(
        lazy_gettext("A learner's score could not be sent to the LMS gradebook"), INSTRUCTOR
    ),
    "roster_digest": KindInfo(lazy_gettext("Daily digest of new learners in your courses"), INSTRUCTOR),
}


class EmailTemporarilyFailed(RuntimeError):
    """The mail server refused for now or did not answer; the email stays pending and is retried."""


# -- creating notifications -----------------------------------------------------------------------


def notify(
    *,
    platform_id: int,
    user_pk: int,
    kind: str,
    title: str,
    body: str,
    dedupe_key: str,
    context_pk: int | None = None,
    link: str | None = None,
) -> Notification | None:
    """Add a notification (and its email) to the caller's transaction; None if it exists already."""
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    exists = select(Notification.id).where(Notification.user_pk == user_pk, Notification.dedupe_key == dedupe_key)
    if db.session.scalar(exists) is not None:
        return None
    notification = Notification(
        platform_id=platform_id,
        user_pk=user_pk,
        context_pk=context_pk,
        kind=kind,
        title=title[:300],
        body=body,
        link=link,
        dedupe_key=dedupe_key[:200],
    )
    try:
        with db.session.begin_nested():
            db.session.add(notification)
    except IntegrityError:
        return None  # a concurrent run of the same job made it first
    user = db.session.get(User, user_pk)
    if user is not None and user.email and wants_email(user_pk, kind):
        delivery = EmailDelivery(platform_id=platform_id, notification_pk=notification.id, to_address=user.email)
        db.session.add(delivery)
        db.session.flush()
        jobs.enqueue("notifications", "notifications.jobs.send_email", delivery.id, job_id=f"email-{delivery.id}")
    return notification


def on_item_published(event_id: int) -> int:
    """Learners of the context hear about an item newly published there. Returns how many."""
    event = db.session.get(Event, event_id)
    if event is None or event.context_pk is None:
        return 0
    item = sources.item_info(event.platform_id, event.data["item_id"])
    if item is None or not item.available:
        return 0  # deleted or unpublished again before we got to it
    course = sources.context_title(event.context_pk)
    count = 0
    for user_pk in sorted(sources.learners_of(event.platform_id, event.context_pk)):
        made = notify(
            platform_id=event.platform_id,
            user_pk=user_pk,
            context_pk=event.context_pk,
            kind="item_published",
            title=f"New in {item.course_title}: {item.title}",
            body=f"“{item.title}” is now available in {item.course_title}. Open it from {course} in your LMS.",
            link=sources.item_path(item),
            dedupe_key=f"item_published:{item.id}:{event.context_pk}",
        )
        count += made is not None
    db.session.commit()
    return count


def on_grade_delivered(event_id: int) -> int:
    event = db.session.get(Event, event_id)
    if event is None or event.user_pk is None:
        return 0
    data = event.data
    item = sources.item_info(event.platform_id, data["item_id"])
    title = item.title if item else "your quiz"
    made = notify(
        platform_id=event.platform_id,
        user_pk=event.user_pk,
        context_pk=event.context_pk,
        kind="grade_delivered",
        title=f"Your score for {title} is in your gradebook",
        body=(
            f"Your score of {_number(data['score'])} out of {_number(data['max_score'])} for “{title}” "
            f"reached the gradebook of {sources.platform_name(event.platform_id)}."
        ),
        link=sources.item_path(item) if item else None,
        dedupe_key=f"grade_delivered:{data['delivery_id']}",
    )
    db.session.commit()
    return int(made is not None)


def on_grade_failed(event_id: int) -> int:
    """The teachers of the context hear that a score did not reach the LMS, and why."""
    event = db.session.get(Event, event_id)
    if event is None or event.context_pk is None:
        return 0
    data = event.data
    item = sources.item_info(event.platform_id, data["item_id"])
    title = item.title if item else "a quiz"
    learner = sources.user_names({event.user_pk}).get(event.user_pk, "A learner") if event.user_pk else "A learner"
    count = 0
    for user_pk in sorted(sources.teachers_of(event.platform_id, event.context_pk)):
        made = notify(
            platform_id=event.platform_id,
            user_pk=user_pk,
            context_pk=event.context_pk,
            kind="grade_failed",
            title=f"A score for {title} did not reach the gradebook",
            body=(
                f"{learner}'s score for “{title}” could not be sent to "
                f"{sources.platform_name(event.platform_id)}: {data['reason']}. "
                "The gradebook page in this tool can send it again once the cause is fixed."
            ),
            dedupe_key=f"grade_failed:{data['delivery_id']}",
        )
        count += made is not None
    db.session.commit()
    return count


def send_due_reminders(now: datetime | None = None) -> int:
    """Learners who have not submitted a quiz due within 24 hours get one reminder per due date."""
    now = now or utcnow()
    count = 0
    for due in sources.upcoming_due_items(now, DUE_WITHIN):
        item = due.item
        waiting = sources.learners_of(item.platform_id, due.context_pk) - sources.completed(
            item.platform_id, due.context_pk, item.id
        )
        hours = max(1, round((item.due_at - now).total_seconds() / 3600))
        for user_pk in sorted(waiting):
            made = notify(
                platform_id=item.platform_id,
                user_pk=user_pk,
                context_pk=due.context_pk,
                kind="due_soon",
                title=f"{item.title} is due in {hours} hour{'s' if hours != 1 else ''}",
                body=(
                    f"“{item.title}” in {item.course_title} is due {item.due_at:%A %d %B %Y at %H:%M} UTC, "
                    "and you have not submitted it yet."
                ),
                link=sources.item_path(item),
                # A new due date (the teacher moved it) earns a new reminder; the same one never twice.
                dedupe_key=f"due_soon:{item.id}:{due.context_pk}:{item.due_at.isoformat()}",
            )
            count += made is not None
        db.session.commit()
    return count


def send_roster_digests(now: datetime | None = None) -> int:
    """Each context's teachers hear, once a day, who joined its roster since the last digest."""
    now = now or utcnow()
    sent = 0
    for platform_id, context_pk in sources.contexts_with_people():
        learners = sources.learners_of(platform_id, context_pk)
        seen = set(
            db.session.scalars(
                select(RosterSeen.user_pk).where(
                    RosterSeen.platform_id == platform_id, RosterSeen.context_pk == context_pk
                )
            )
        )
        new = sorted(learners - seen)
        if not new:
            continue
        teachers = sources.teachers_of(platform_id, context_pk)
        if not teachers:
            continue  # kept as new until a teacher is there to hear about them
        names = sorted(sources.user_names(new).values(), key=str.casefold)
        listed = ", ".join(names[:DIGEST_NAMES])
        if len(names) > DIGEST_NAMES:
            listed += f" and {len(names) - DIGEST_NAMES} more"
        course = sources.context_title(context_pk)
        key = hashlib.sha256(",".join(map(str, new)).encode()).hexdigest()[:24]
        for user_pk in sorted(teachers):
            made = notify(
                platform_id=platform_id,
                user_pk=user_pk,
                context_pk=context_pk,
                kind="roster_digest",
                title=f"{len(new)} new learner{'s' if len(new) != 1 else ''} in {course}",
                body=f"New in {course} since the last digest: {listed}.",
                dedupe_key=f"roster_digest:{context_pk}:{key}",
            )
            sent += made is not None
        # Reported: not new tomorrow.
        db.session.add_all(
            RosterSeen(platform_id=platform_id, context_pk=context_pk, user_pk=pk, seen_at=now) for pk in new
        )
        db.session.commit()
    return sent


def _number(value: float) -> str:
    return f"{value:g}"


# -- reading and marking ---------------------------------------------------------------------------


def _theirs(platform_id: int, user_pk: int):
    # Users are per platform already; the platform filter keeps tenants apart even so.
    return (Notification.platform_id == platform_id) & (Notification.user_pk == user_pk)


def unread_count(platform_id: int, user_pk: int) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(_theirs(platform_id, user_pk), Notification.read_at.is_(None))
    )


def latest(
    platform_id: int, user_pk: int, *, before_id: int | None = None, limit: int = PAGE_SIZE
) -> list[Notification]:
    query = (
        select(Notification)
        .where(_theirs(platform_id, user_pk))
        .order_by(Notification.id.desc())
        .limit(limit)
    )
    if before_id is not None:
        query = query.where(Notification.id < before_id)
    return list(db.session.scalars(query))


def mark_read(platform_id: int, user_pk: int, notification_id: int) -> bool:
    """Mark one of the user's notifications read; False when it is not theirs (or does not exist)."""
    notification = db.session.scalar(
        select(Notification).where(Notification.id == notification_id, _theirs(platform_id, user_pk))
    )
    if notification is None:
        return False
    if notification.read_at is None:
        notification.read_at = utcnow()
    db.session.commit()
    return True


def mark_all_read(platform_id: int, user_pk: int) -> int:
    result = db.session.execute(
        update(Notification)
        .where(_theirs(platform_id, user_pk), Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
    db.session.commit()
    return result.rowcount


def kinds_for(roles: tuple[str, ...] | list[str]) -> list[str]:
    """The kinds a person with these roles can receive (what their preferences page offers)."""
    audiences = {INSTRUCTOR} if INSTRUCTOR in roles else {LEARNER}
    return [kind for kind, info in KINDS.items() if info.audience in audiences]


def email_address(user_pk: int) -> str | None:
    """Where emails go: the address the LMS sent in the person's latest launch (its email claim)."""
    user = db.session.get(User, user_pk)
    return user.email if user else None


def wants_email(user_pk: int, kind: str) -> bool:
    choice = db.session.scalar(
        select(EmailPreference.email).where(EmailPreference.user_pk == user_pk, EmailPreference.kind == kind)
    )
    return True if choice is None else choice


def email_choices(platform_id: int, user_pk: int, kinds: list[str]) -> dict[str, bool]:
    stored = dict(
        db.session.execute(
            select(EmailPreference.kind, EmailPreference.email).where(
                EmailPreference.platform_id == platform_id, EmailPreference.user_pk == user_pk
            )
        ).all()
    )
    return {kind: stored.get(kind, True) for kind in kinds}


def set_email_choices(platform_id: int, user_pk: int, choices: dict[str, bool]) -> None:
    unknown = set(choices) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown notification kinds: {', '.join(sorted(unknown))}")
    existing = {
        row.kind: row
        for row in db.session.scalars(
            select(EmailPreference).where(
                EmailPreference.platform_id == platform_id, EmailPreference.user_pk == user_pk
            )
        )
    }
    for kind, email in choices.items():
        row = existing.get(kind)
        if row is None:
            db.session.add(EmailPreference(platform_id=platform_id, user_pk=user_pk, kind=kind, email=email))
        else:
            row.email = email
    db.session.commit()


# -- email -------------------------------------------------------------------------------------------


def build_message(delivery: EmailDelivery) -> EmailMessage:
    settings = current_app.config["SETTINGS"]
    notification = delivery.notification
    context = {
        "notification": notification,
        "tool_name": settings.TOOL_NAME,
        "course": sources.context_title(notification.context_pk),
        "kind_label": KINDS[notification.kind].label,
    }
    sender = settings.SMTP_FROM or f"{settings.TOOL_NAME} <no-reply@localhost>"
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    message = EmailMessage()
    message["Subject"] = notification.title
    message["From"] = sender
    message["To"] = delivery.to_address
    message["Date"] = formatdate(localtime=False)
    # Stable per delivery: a mail system that dedupes by Message-ID sees one message.
    message["Message-ID"] = f"<notification-{notification.id}.{delivery.id}@{domain}>"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(render_template("notifications/email/notification.txt", **context))
    message.add_alternative(render_template("notifications/email/notification.html", **context), subtype="html")
    return message


def _retry_wait(tries: int) -> timedelta:
    return timedelta(seconds=min(3600, 30 * 2 ** max(0, tries - 1)))


def _set(delivery_id: int, **values) -> None:
    db.session.execute(update(EmailDelivery).where(EmailDelivery.id == delivery_id).values(**values))
    db.session.commit()


def _permanent(error: Exception) -> bool:
    """A refusal the server means (5xx), as opposed to "not now" (4xx, timeouts, lost connections)."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in error.recipients.values())
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return False  # wrong settings: kept pending until an operator fixes them
    if isinstance(error, smtplib.SMTPResponseException):
        return error.smtp_code >= 500
    return False


def _describe(error: Exception) -> str:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return "; ".join(
            f"{address}: {code} {text.decode(errors='replace')}" for address, (code, text) in error.recipients.items()
        )
    if isinstance(error, smtplib.SMTPResponseException):
        text = error.smtp_error
        return f"{error.smtp_code} {text.decode(errors='replace') if isinstance(text, bytes) else text}"
    # smtplib reports a read timeout as a lost connection; say what happened.
    if isinstance(error, (socket.timeout, TimeoutError)) or isinstance(error.__context__, TimeoutError):
        return "the mail server did not answer in time"
    return f"{type(error).__name__}: {error}"


def send_email(delivery_id: int) -> str:
    """The job: send one notification's email, at most once. Returns the delivery's status.

    Raises EmailTemporarilyFailed when the mail server refused for now or did not answer, so the
    worker retries it with backoff; the row stays pending for the sweeper in any case.
    """
    delivery = db.session.get(EmailDelivery, delivery_id)
    if delivery is None:
        return "missing"
    if delivery.status != PENDING:
        return delivery.status  # sent, being sent, or closed: never again
    notification = delivery.notification
    if not wants_email(notification.user_pk, notification.kind):
        _set(delivery_id, status=SKIPPED, last_error="the recipient turned these emails off")
        return SKIPPED
    message = build_message(delivery)
    settings = current_app.config["SETTINGS"]
    if not settings.SMTP_HOST:
        if not _claim(delivery_id):
            return SENDING
        log.info(
            "email (no SMTP_HOST, not sent) to %s: %s\n%s",
            delivery.to_address,
            notification.title,
            message.get_body(("plain",)).get_content(),
        )
        _set(delivery_id, status=SENT, sent_at=utcnow(), last_error=None)
        return SENT
    try:
        with smtplib.SMTP(settings.SMTP_HOST, settings.SMTP_PORT, timeout=settings.SMTP_TIMEOUT_SECONDS) as smtp:
            smtp.ehlo()
            if settings.SMTP_STARTTLS:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if settings.SMTP_USERNAME:
                smtp.login(settings.SMTP_USERNAME, settings.SMTP_PASSWORD)
            # The point of no return: from here a crash leaves it "sending", never sent twice.
            if not _claim(delivery_id):
                return SENDING
            smtp.send_message(message, to_addrs=[delivery.to_address])
    except (smtplib.SMTPException, OSError) as error:
        return _failed(delivery_id, error)
    _set(delivery_id, status=SENT, sent_at=utcnow(), last_error=None)
    log.info("email sent to %s: %s", delivery.to_address, notification.title)
    return SENT


def _claim(delivery_id: int) -> bool:
    claimed = db.session.execute(
        update(EmailDelivery)
        .where(EmailDelivery.id == delivery_id, EmailDelivery.status == PENDING)
        .values(status=SENDING, claimed_at=utcnow(), tries=EmailDelivery.tries + 1)
    ).rowcount
    db.session.commit()
    return bool(claimed)


def _failed(delivery_id: int, error: Exception) -> str:
    db.session.rollback()
    delivery = db.session.get(EmailDelivery, delivery_id)
    reason = _describe(error)[:2000]
    if _permanent(error):
        _set(delivery_id, status=FAILED, last_error=reason)
        log.warning("email %s refused for good: %s", delivery_id, reason)
        return FAILED
    # Not accepted (a refusal for now, a timeout, a dropped connection): back to pending.
    tries = delivery.tries + (0 if delivery.status == SENDING else 1)
    _set(delivery_id, status=PENDING, tries=tries, next_attempt_at=utcnow() + _retry_wait(tries), last_error=reason)
    log.warning("email %s not sent (try %d), will retry: %s", delivery_id, tries, reason)
    raise EmailTemporarilyFailed(reason)


def sweep_pending_email(now: datetime | None = None) -> dict[str, int]:
    """Re-enqueue pending emails whose job was lost; close stale claims and hopeless ones."""
    now = now or utcnow()
    stale = db.session.execute(
        update(EmailDelivery)
        .where(EmailDelivery.status == SENDING, EmailDelivery.claimed_at < now - STALE_CLAIM)
        .values(
            status=FAILED,
            last_error="the worker stopped while handing this email to the mail server; it may have been "
            "delivered, so it is not sent again",
        )
    ).rowcount
    expired = db.session.execute(
        update(EmailDelivery)
        .where(EmailDelivery.status == PENDING, EmailDelivery.created_at < now - GIVE_UP_AFTER)
        .values(
            status=FAILED,
            last_error=func.coalesce(EmailDelivery.last_error, "not sent") + " (gave up after 3 days)",
        )
    ).rowcount
    due = list(
        db.session.scalars(
            select(EmailDelivery.id)
            .where(EmailDelivery.status == PENDING, EmailDelivery.next_attempt_at <= now - SWEEP_GRACE)
            .order_by(EmailDelivery.id)
            .limit(1000)
        )
    )
    db.session.commit()
    queued = 0
    for delivery_id in due:
        # The job id is the delivery's: an email whose retry is already waiting is not queued twice.
        try:
            queued += jobs.submit(
                "notifications", "notifications.jobs.send_email", delivery_id, job_id=f"email-{delivery_id}"
            )
        except Exception:
            log.exception("email sweep: could not queue %s", delivery_id)
    if stale or expired or queued:
        log.info("email sweep: %d re-queued, %d interrupted claims closed, %d given up", queued, stale, expired)
    return {"queued": queued, "stale": stale, "expired": expired}
