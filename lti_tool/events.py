"""Domain events: what happened, written in the caller's transaction, handed to subscribers after.

`publish` checks the event against its declared kind and adds a row to the caller's session; the
caller commits. Nothing reaches a queue before the commit, so an event that a queue sees always
exists, and an event whose queue was lost is still in the table for the sweeper.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from lti_tool.db import UTCDateTime, db, utcnow


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
    db.session.add(event)
    return event
