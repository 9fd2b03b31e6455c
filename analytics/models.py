"""The analytics store: one fact per learning event, and the roll-ups the pages read.

`analytics_facts` is append-only and filled from the `events` table by the ingest job (batched,
idempotent: the source event id is unique). Facts are narrow typed columns, not JSON, so roll-ups
are plain GROUP BYs that PostgreSQL and SQLite both run fast. Every other table here is derived:
deleting it and rolling up again gives the same rows.

Roll-ups count learners only (`is_learner`): a teacher previewing an item is not engagement.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from lti_tool.db import UTCDateTime, db, utcnow

# The event kinds analytics keeps; other kinds (item_published, grade_failed) are not learning.
LAUNCH = "launch"
VIEWED = "item_viewed"
PROGRESS = "media_progress"
SUBMITTED = "quiz_submitted"
DELIVERED = "grade_delivered"
FACT_KINDS = (LAUNCH, VIEWED, PROGRESS, SUBMITTED, DELIVERED)

# Score distributions have this many equal bins over 0-100 %.
SCORE_BINS = 10


def _platform():
    return mapped_column(ForeignKey("platforms.id", ondelete="CASCADE"))


class Fact(db.Model):
    """One learning event, with its untrusted numbers already clamped."""

    __tablename__ = "analytics_facts"
    __table_args__ = (
        # The key ends with the id of the `events` row the fact came from (an event has one
        # context and one user): re-delivering an event cannot add a second fact, and the same
        # index serves the per-learner roll-ups, so ingest maintains two indexes, not three.
        PrimaryKeyConstraint("context_pk", "user_pk", "event_id"),
        Index("ix_analytics_facts_context_day", "context_pk", "day"),
    )

    event_id: Mapped[int] = mapped_column(BigInteger, autoincrement=False)
    # Only the platform is a foreign key (removing an LMS removes its facts). Contexts and users
    # go only with their platform, and each foreign key check costs ingest about 15 us a row.
    platform_id: Mapped[int] = _platform()
    context_pk: Mapped[int] = mapped_column(Integer, autoincrement=False)
    user_pk: Mapped[int] = mapped_column(Integer, autoincrement=False)
    item_id: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    # False for instructors (and admins) of the context: kept for exports, left out of roll-ups.
    is_learner: Mapped[bool] = mapped_column(Boolean)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Seconds since the epoch: time on task is arithmetic on this, the same on every database.
    ts: Mapped[float] = mapped_column(Float)
    # The calendar day in ANALYTICS_TIMEZONE, fixed when ingested.
    day: Mapped[date] = mapped_column(Date)
    # media_progress: position and duration in seconds (position within [0, duration]) and the
    # furthest fraction watched so far (never going backwards).
    position: Mapped[float | None] = mapped_column(Float)
    duration: Mapped[float | None] = mapped_column(Float)
    progress: Mapped[float | None] = mapped_column(Float)
    # quiz_submitted, grade_delivered: score within [0, max_score], and score / max_score.
    score: Mapped[float | None] = mapped_column(Float)
    max_score: Mapped[float | None] = mapped_column(Float)
    scaled: Mapped[float | None] = mapped_column(Float)
    # The attempt (quiz_submitted) or delivery (grade_delivered) id.
    ref_id: Mapped[int | None] = mapped_column(BigInteger)


class IngestCursor(db.Model):
    """How far the ingest job has read the `events` table.

    `last_event_id` is the highest event id read. Ids below it that were missing when it was read
    are kept in `gaps` (as [id, first seen, epoch seconds]): on PostgreSQL a transaction that took
    a lower id may commit after a higher one was read, so gaps are looked at again until
    GAP_RETRY_SECONDS have passed (a rolled-back insert leaves a gap that never fills).
    """

    __tablename__ = "analytics_ingest_cursor"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_event_id: Mapped[int] = mapped_column(BigInteger, default=0)
    gaps: Mapped[list[Any]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MediaState(db.Model):
    """The furthest point a learner reached in a media item: progress never goes backwards."""

    __tablename__ = "analytics_media_state"

    context_pk: Mapped[int] = mapped_column(ForeignKey("contexts.id", ondelete="CASCADE"), primary_key=True)
    user_pk: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    item_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform_id: Mapped[int] = _platform()
    max_progress: Mapped[float] = mapped_column(Float)


class DirtyDay(db.Model):
    """A (context, day) with facts the roll-ups have not seen yet."""

    __tablename__ = "analytics_dirty"

    context_pk: Mapped[int] = mapped_column(ForeignKey("contexts.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    platform_id: Mapped[int] = _platform()
    touched_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DirtyLearner(db.Model):
    """A learner of a context with facts the per-learner roll-ups have not seen yet."""

    __tablename__ = "analytics_dirty_learners"

    context_pk: Mapped[int] = mapped_column(ForeignKey("contexts.id", ondelete="CASCADE"), primary_key=True)
    user_pk: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    platform_id: Mapped[int] = _platform()
    touched_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ItemDay(db.Model):
    """Learner activity on one item on one day."""

    __tablename__ = "analytics_item_days"

    context_pk: Mapped[int] = mapped_column(ForeignKey("contexts.id", ondelete="CASCADE"), primary_key=True)
    item_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    platform_id: Mapped[int] = _platform()
    views: Mapped[int] = mapped_column(Integer)
    viewers: Mapped[int] = mapped_column(Integer)
    learners: Mapped[int] = mapped_column(Integer)
    progress_events: Mapped[int] = mapped_column(Integer)
    submissions: Mapped[int] = mapped_column(Integer)
    submitters: Mapped[int] = mapped_column(Integer)
    # Sum and count of scaled scores of the day's submissions (their average is sum / count).
    scaled_sum: Mapped[float] = mapped_column(Float)
    scored: Mapped[int] = mapped_column(Integer)
    grades_delivered: Mapped[int] = mapped_column(Integer)
    time_on_task: Mapped[float] = mapped_column(Float)


class ContextDay(db.Model):
    """Learner activity in one context on one day: the engagement chart."""

    __tablename__ = "analytics_context_days"

    context_pk: Mapped[int] = mapped_column(ForeignKey("contexts.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    platform_id: Mapped[int] = _platform()
    learners: Mapped[int] = mapped_column(Integer)
    launches: Mapped[int] = mapped_column(Integer)
    views: Mapped[int] = mapped_column(Integer)
    progress_events: Mapped[int] = mapped_column(Integer)
    submissions: Mapped[int] = mapped_column(Integer)
    grades_delivered: Mapped[int] = mapped_column(Integer)
    events: Mapped[int] = mapped_column(Integer)
    time_on_task: Mapped[float] = mapped_column(Float)


class LearnerItem(db.Model):
    """One learner's whole history with one item."""

    __tablename__ = "analytics_learner_items"
    __table_args__ = (Index("ix_analytics_learner_items_item", "context_pk", "item_id"),)

    context_pk: Mapped[int] = mapped_column(ForeignKey("contexts.id", ondelete="CASCADE"), primary_key=True)
    user_pk: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    item_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform_id: Mapped[int] = _platform()
    first_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime)
    views: Mapped[int] = mapped_column(Integer)
    progress_events: Mapped[int] = mapped_column(Integer)
    max_progress: Mapped[float | None] = mapped_column(Float)
    attempts: Mapped[int] = mapped_column(Integer)
    best_scaled: Mapped[float | None] = mapped_column(Float)
    time_on_task: Mapped[float] = mapped_column(Float)
    # Watched to the completion threshold (video, audio), submitted (quiz), or opened (the rest).
    completed: Mapped[bool] = mapped_column(Boolean)


class LearnerSummary(db.Model):
    """One learner in one context: what the at-risk list and the learner's own page read."""

    __tablename__ = "analytics_learners"

    context_pk: Mapped[int] = mapped_column(ForeignKey("contexts.id", ondelete="CASCADE"), primary_key=True)
    user_pk: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    platform_id: Mapped[int] = _platform()
    first_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime)
    events: Mapped[int] = mapped_column(Integer)
    active_days: Mapped[int] = mapped_column(Integer)
    time_on_task: Mapped[float] = mapped_column(Float)
    items_viewed: Mapped[int] = mapped_column(Integer)
    items_completed: Mapped[int] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer)
    quizzes_attempted: Mapped[int] = mapped_column(Integer)
    # Mean over the quizzes attempted of the learner's best scaled score.
    avg_scaled: Mapped[float | None] = mapped_column(Float)


class ItemSummary(db.Model):
    """One item in one context, over all learners and all time."""

    __tablename__ = "analytics_items"

    context_pk: Mapped[int] = mapped_column(ForeignKey("contexts.id", ondelete="CASCADE"), primary_key=True)
    item_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform_id: Mapped[int] = _platform()
    # video/audio (completed by watching), quiz (by submitting), other (by opening).
    completion_rule: Mapped[str] = mapped_column(String(10))
    learners: Mapped[int] = mapped_column(Integer)
    viewers: Mapped[int] = mapped_column(Integer)
    views: Mapped[int] = mapped_column(Integer)
    completions: Mapped[int] = mapped_column(Integer)
    watchers: Mapped[int] = mapped_column(Integer)
    # Median over learners of the furthest fraction watched (0-1); None when nobody watched.
    median_progress: Mapped[float | None] = mapped_column(Float)
    attempts: Mapped[int] = mapped_column(Integer)
    submitters: Mapped[int] = mapped_column(Integer)
    # Mean over learners of their best scaled score, and its distribution in SCORE_BINS bins.
    avg_scaled: Mapped[float | None] = mapped_column(Float)
    score_bins: Mapped[list[int]] = mapped_column(JSON, default=list)
    time_on_task: Mapped[float] = mapped_column(Float)
    last_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ContextSummary(db.Model):
    """When a context was last rolled up, and its class size at that time."""

    __tablename__ = "analytics_contexts"

    context_pk: Mapped[int] = mapped_column(ForeignKey("contexts.id", ondelete="CASCADE"), primary_key=True)
    platform_id: Mapped[int] = _platform()
    # Learners known in the context: enrolled as learners, or seen doing something as one.
    learners: Mapped[int] = mapped_column(Integer)
    last_event_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rolled_up_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
