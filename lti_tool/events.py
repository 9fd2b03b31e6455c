"""Domain events: what happened, written in the caller's transaction, handed to subscribers after.

`publish` checks the event against its declared kind and adds a row to the caller's session; the
caller commits. Nothing reaches a queue before the commit, so an event that a queue sees always
exists, and an event whose queue was lost is still in the table for the sweeper.

Dispatch: once the publisher's transaction commits, every subscriber of the event's kind (declared
in `lti_tool.subscribers`) is enqueued on its queue with the event id, and `dispatched_at` is set
when all of them were handed over (embedded mode: when all of them ran). `sweep_undispatched`, a
periodic job, dispatches again whatever is still undispatched a minute later (Redis was down, the
process died between commit and dispatch). Subscribers are idempotent, so a repeat is harmless.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterable, Mapping

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, inspect, select, update
from sqlalchemy.orm import Mapped, mapped_column

from lti_tool import jobs
from lti_tool.db import UTCDateTime, db, utcnow
from lti_tool.subscribers import subscribers_of

log = logging.getLogger("lti_tool.events")
# An event still undispatched this long after it was written lost its dispatch: sweep it.
SWEEP_AFTER = timedelta(minutes=1)
SWEEP_BATCH = 500


@dataclass(frozen=True)
class Kind:
    """An event kind: the fields its `data` must carry, with their types."""

    fields: Mapping[str, tuple[type, ...]]
    needs_user: bool = True
    needs_context: bool = True


NUMBER = (int, float)
TEXT = (str,)
ID = (int,)

KINDS: dict[str, Kind] = {
    "launch": Kind({"message_type": TEXT}, needs_context=False),
    "item_viewed": Kind({"item_id": ID}),
    "media_progress": Kind({"item_id": ID, "position": NUMBER, "duration": NUMBER}),
    "quiz_submitted": Kind({"item_id": ID, "attempt_id": ID, "score": NUMBER, "max_score": NUMBER}),
    "item_published": Kind({"item_id": ID}, needs_user=False),
    "grade_delivered": Kind({"item_id": ID, "delivery_id": ID, "score": NUMBER, "max_score": NUMBER}),
    "grade_failed": Kind({"item_id": ID, "delivery_id": ID, "reason": TEXT}),
}


class EventError(ValueError):
    """An event that does not match its declared kind; nothing was written."""


class Event(db.Model):
    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_undispatched", "dispatched_at", "created_at"),
        Index("ix_events_context_kind", "context_pk", "kind", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id", ondelete="CASCADE"))
    context_pk: Mapped[int | None] = mapped_column(ForeignKey("contexts.id", ondelete="CASCADE"))
    user_pk: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set once every subscriber's job has been enqueued (or run, in embedded mode).
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def publish(
    kind: str,
    *,
    platform_id: int,
    user_pk: int | None = None,
    context_pk: int | None = None,
    data: Mapping[str, Any] | None = None,
) -> Event:
    """Add an event to the caller's transaction. Raises EventError on anything malformed."""
    spec = KINDS.get(kind)
    if spec is None:
        raise EventError(f"unknown event kind {kind!r}; known kinds: {', '.join(sorted(KINDS))}")
    if not isinstance(platform_id, int):
        raise EventError(f"{kind} events need a platform id")
    if spec.needs_user and not isinstance(user_pk, int):
        raise EventError(f"{kind} events need a user")
    if spec.needs_context and not isinstance(context_pk, int):
        raise EventError(f"{kind} events need a context")
    data = dict(data or {})
    for name, types in spec.fields.items():
        if name not in data:
            raise EventError(f"{kind} events need {name!r} in their data")
        value = data[name]
        if isinstance(value, bool) or not isinstance(value, types):
            raise EventError(f"{kind} event field {name!r} must be {' or '.join(t.__name__ for t in types)}")
    event = Event(kind=kind, platform_id=platform_id, user_pk=user_pk, context_pk=context_pk, data=data)
    if subscribers_of(kind):
        jobs.on_commit(_dispatch_committed, event, kind)
    else:
        # Nobody listens: nothing to hand over, and nothing for the sweeper.
        event.dispatched_at = utcnow()
    db.session.add(event)
    return event


def _dispatch_committed(event: Event, kind: str) -> None:
    # The publisher's session has just committed and may not be used; the identity has the id.
    identity = inspect(event).identity
    if identity is not None:
        dispatch([(identity[0], kind)])


def _job_id(event_id: int, func: str) -> str:
    return f"event-{event_id}-" + re.sub(r"[^A-Za-z0-9_-]", "-", func)


def dispatch(pending: Iterable[tuple[int, str | None]]) -> list[int]:
    """Hand committed events (id, kind) to their subscribers; mark those fully handed over.

    Runs its own short transaction: callers must not hold uncommitted writes (SQLite would make the
    two writers wait on each other). Returns the ids marked dispatched.
    """
    done: list[int] = []
    for event_id, kind in pending:
        if kind is None:
            with jobs.fresh_app_context():
                kind = db.session.scalar(select(Event.kind).where(Event.id == event_id))
            if kind is None:
                continue  # removed since (its platform was deleted)
        handed_over = True
        for queue, func in subscribers_of(kind):
            try:
                submitted = jobs.submit(queue, func, event_id, job_id=_job_id(event_id, func))
            except jobs.JobError:
                # A subscriber that cannot be imported is a deployment bug; the others still run.
                log.exception("event %s: subscriber %s cannot be queued", event_id, func)
                submitted = False
            handed_over = handed_over and submitted
        if handed_over:
            done.append(event_id)
    if done:
        with jobs.fresh_app_context():
            db.session.execute(
                update(Event)
                .where(Event.id.in_(done), Event.dispatched_at.is_(None))
                .values(dispatched_at=utcnow())
            )
            db.session.commit()
    return done


def sweep_undispatched() -> int:
    """Job: dispatch events still undispatched after SWEEP_AFTER; returns how many were dispatched."""
    cutoff = utcnow() - SWEEP_AFTER
    total = 0
    last_id = 0
    while True:
        rows = db.session.execute(
            select(Event.id, Event.kind)
            .where(Event.dispatched_at.is_(None), Event.created_at < cutoff, Event.id > last_id)
            .order_by(Event.id)
            .limit(SWEEP_BATCH)
        ).all()
        db.session.commit()  # end the read before dispatch writes in its own transaction
        if not rows:
            break
        last_id = rows[-1][0]
        done = dispatch([(row.id, row.kind) for row in rows])
        total += len(done)
        if len(done) < len(rows):
            log.warning("event sweep: %d of %d events could not be dispatched yet", len(rows) - len(done), len(rows))
        if len(rows) < SWEEP_BATCH:
            break
    if total:
        log.info("event sweep: dispatched %d events whose dispatch was lost", total)
    return total
