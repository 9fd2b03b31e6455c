"""Attempts, the score delivery outbox, line items, rosters and the LMS service endpoints.

Every row carries its platform so every query can be scoped to one institution. `item_id` is the
id of a courses item; it is kept as a plain integer so this package does not depend on the
courses tables.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lti_tool.db import UTCDateTime, db, utcnow
from lti_tool.models import User

GRADE_POLICIES = ("highest", "latest", "average")

# Delivery states. `superseded`: a newer score for the same learner and item was (or will be)
# sent instead, so this one must never reach the LMS.
PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"
SUPERSEDED = "superseded"
DELIVERY_STATUSES = (PENDING, DELIVERED, FAILED, SUPERSEDED)


class Attempt(db.Model):
    """One submission of a gradable item by one learner, numbered per learner and item."""

    __tablename__ = "grade_attempts"
    __table_args__ = (
        # Also what makes two racing submissions unable to share a number.
        UniqueConstraint("platform_id", "user_pk", "item_id", "number"),
        Index("ix_grade_attempts_context_item", "context_pk", "item_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id", ondelete="CASCADE"))
    context_pk: Mapped[int] = mapped_column(ForeignKey("contexts.id", ondelete="CASCADE"))
    user_pk: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    resource_link_pk: Mapped[int | None] = mapped_column(ForeignKey("resource_links.id", ondelete="SET NULL"))
    item_id: Mapped[int] = mapped_column(Integer)
    number: Mapped[int] = mapped_column(Integer)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    score: Mapped[float] = mapped_column(Float)
    max_score: Mapped[float] = mapped_column(Float)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<Attempt {self.id} user={self.user_pk} item={self.item_id} #{self.number}>"


class ScoreDelivery(db.Model):
    """The outbox: one score to send to the LMS, written in the same transaction as its attempt.

    The queue carries only this row's id; the row is the truth. A job that runs twice, or a
    sweeper that re-enqueues a row whose job was lost, finds the row's status and does no harm.
    """

    __tablename__ = "grade_deliveries"
    __table_args__ = (
        Index("ix_grade_deliveries_status_next", "status", "next_attempt_at"),
        Index("ix_grade_deliveries_learner_item", "platform_id", "user_pk", "item_id", "context_pk"),
        Index("ix_grade_deliveries_context", "context_pk", "item_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id", ondelete="CASCADE"))
    context_pk: Mapped[int] = mapped_column(ForeignKey("contexts.id", ondelete="CASCADE"))
    user_pk: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    resource_link_pk: Mapped[int | None] = mapped_column(ForeignKey("resource_links.id", ondelete="SET NULL"))
    item_id: Mapped[int] = mapped_column(Integer)
    attempt_pk: Mapped[int | None] = mapped_column(ForeignKey("grade_attempts.id", ondelete="SET NULL"))
    # What is sent: the score chosen by the item's policy as of this attempt.
    score_given: Mapped[float] = mapped_column(Float)
    score_maximum: Mapped[float] = mapped_column(Float)
    grade_policy: Mapped[str] = mapped_column(String(10), default="highest")
    activity_progress: Mapped[str] = mapped_column(String(20), default="Completed")
    grading_progress: Mapped[str] = mapped_column(String(20), default="FullyGraded")
    comment: Mapped[str | None] = mapped_column(Text)
    # The AGS score timestamp: when the newest attempt it reflects was submitted. Deliveries for
    # one learner and item are ordered by it; an older one never overwrites a newer one.
    score_timestamp: Mapped[datetime] = mapped_column(UTCDateTime)
    line_item_label: Mapped[str] = mapped_column(String(255))
    # A teacher's "resend": sent even if the LMS already holds this score, just after the last one.
    forced: Mapped[bool] = mapped_column(Boolean, default=False)

    status: Mapped[str] = mapped_column(String(12), default=PENDING)
    tries: Mapped[int] = mapped_column(Integer, default=0)
    # Pending rows are due at this time (a retry waits for its backoff or the LMS's Retry-After).
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_http_status: Mapped[int | None] = mapped_column(Integer)
    line_item_url: Mapped[str | None] = mapped_column(String(1000))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What actually reached the LMS: the score is recomputed from every attempt at sending time,
    # so a late delivery sends the learner's current standing, never an outdated one.
    sent_score: Mapped[float | None] = mapped_column(Float)
    sent_timestamp: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when another delivery sent a standing that already includes this one's attempt.
    superseded_by_pk: Mapped[int | None] = mapped_column(
        ForeignKey("grade_deliveries.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    user: Mapped[User] = relationship()


class ContextService(db.Model):
    """The LMS services of one context, as its latest launch described them.

    Jobs deliver scores and sync rosters long after the launch, so what the launch claims said
    (endpoints, granted scopes, which client id to ask for tokens) is kept here.
    """

    __tablename__ = "grade_context_services"
    __table_args__ = (UniqueConstraint("context_pk"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id", ondelete="CASCADE"))
    context_pk: Mapped[int] = mapped_column(ForeignKey("contexts.id", ondelete="CASCADE"))
    client_pk: Mapped[int] = mapped_column(ForeignKey("platform_clients.id", ondelete="CASCADE"))
    deployment_pk: Mapped[int | None] = mapped_column(ForeignKey("deployments.id", ondelete="SET NULL"))
    lineitems_url: Mapped[str | None] = mapped_column(String(1000))
    ags_scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    memberships_url: Mapped[str | None] = mapped_column(String(1000))
    nrps_versions: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    roster_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    roster_error: Mapped[str | None] = mapped_column(Text)


class ResourceLinkService(db.Model):
    """The line item the platform made for one resource link (the AGS claim's `lineitem`)."""

    __tablename__ = "grade_link_services"
    __table_args__ = (UniqueConstraint("resource_link_pk"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id", ondelete="CASCADE"))
    context_pk: Mapped[int] = mapped_column(ForeignKey("contexts.id", ondelete="CASCADE"))
    resource_link_pk: Mapped[int] = mapped_column(ForeignKey("resource_links.id", ondelete="CASCADE"))
    lineitem_url: Mapped[str | None] = mapped_column(String(1000))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class LineItem(db.Model):
    """A gradebook column in the LMS, bound to one item (through one resource link, if any)."""

    __tablename__ = "grade_line_items"
    __table_args__ = (
        Index("ix_grade_line_items_lookup", "context_pk", "item_id", "resource_link_pk"),
        UniqueConstraint("context_pk", "url"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id", ondelete="CASCADE"))
    context_pk: Mapped[int] = mapped_column(ForeignKey("contexts.id", ondelete="CASCADE"))
    resource_link_pk: Mapped[int | None] = mapped_column(ForeignKey("resource_links.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(Integer)
    url: Mapped[str] = mapped_column(String(1000))
    label: Mapped[str | None] = mapped_column(String(255))
    score_maximum: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Membership(db.Model):
    """One person on a context's roster, as the LMS's Names and Role service lists them."""

    __tablename__ = "grade_memberships"
    __table_args__ = (UniqueConstraint("context_pk", "user_pk"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id", ondelete="CASCADE"))
    context_pk: Mapped[int] = mapped_column(ForeignKey("contexts.id", ondelete="CASCADE"))
    user_pk: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # Our roles (learner, instructor, admin) and the LTI role URIs the roster gave.
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    lti_roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Active, Inactive or Deleted (the NRPS status values), lower-cased.
    status: Mapped[str] = mapped_column(String(10), default="active")
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship()
