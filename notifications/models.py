"""Notifications (one row per recipient), their email deliveries, and each person's email choices."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lti_tool.db import UTCDateTime, db, utcnow
from lti_tool.models import Context, User

# Email delivery states. "sending" is taken just before the message is handed to the mail server;
# a worker that dies inside that hand-over leaves it there, and it is never sent again.
PENDING, SENDING, SENT, FAILED, SKIPPED = "pending", "sending", "sent", "failed", "skipped"


class Notification(db.Model):
    __tablename__ = "notifications"
    __table_args__ = (
        # The idempotency key: a job run twice (or an event delivered twice) adds nothing.
        UniqueConstraint("user_pk", "dedupe_key"),
        Index("ix_notifications_user_read", "user_pk", "read_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id", ondelete="CASCADE"))
    user_pk: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # The LMS course it is about, if any.
    context_pk: Mapped[int | None] = mapped_column(ForeignKey("contexts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    # A path inside the tool (opened with the reader's launch id), or None.
    link: Mapped[str | None] = mapped_column(String(1000))
    dedupe_key: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()
    context: Mapped[Context | None] = relationship()


class EmailDelivery(db.Model):
    """The email of one notification: at most one per notification (the channel's idempotency key)."""

    __tablename__ = "notification_emails"
    __table_args__ = (
        UniqueConstraint("notification_pk"),
        Index("ix_notification_emails_status_next", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id", ondelete="CASCADE"))
    notification_pk: Mapped[int] = mapped_column(ForeignKey("notifications.id", ondelete="CASCADE"))
    to_address: Mapped[str] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(10), default=PENDING)
    tries: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    notification: Mapped[Notification] = relationship()


class EmailPreference(db.Model):
    """A person's choice for one kind of notification; no row means email on."""

    __tablename__ = "notification_preferences"
    __table_args__ = (UniqueConstraint("user_pk", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id", ondelete="CASCADE"))
    user_pk: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    email: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class RosterSeen(db.Model):
    """Learners already reported to a context's teachers, so each daily digest lists only new ones."""

    __tablename__ = "notification_roster_seen"
    __table_args__ = (UniqueConstraint("context_pk", "user_pk"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id", ondelete="CASCADE"))
    context_pk: Mapped[int] = mapped_column(ForeignKey("contexts.id", ondelete="CASCADE"))
    user_pk: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
