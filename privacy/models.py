"""The record of every erase: what was done, for whom (as a pseudonym only), by whom, and when."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from lti_tool.db import UTCDateTime, db, utcnow


class ErasureRecord(db.Model):
    """Proof that a learner's personal data was erased, holding none of it.

    `user_pk` and `pseudonym` name the pseudonymous row analytics still count; neither can be
    linked back to the LMS user id (the pseudonym is random, not derived from it). The issuer is
    copied so the record still says which LMS it was after the platform is removed.
    """

    __tablename__ = "privacy_erasures"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    platform_id: Mapped[int | None] = mapped_column(ForeignKey("platforms.id", ondelete="SET NULL"))
    issuer: Mapped[str] = mapped_column(String(500))
    # A plain integer, not a foreign key: the record outlives the user row (platform removal).
    user_pk: Mapped[int] = mapped_column(Integer)
    pseudonym: Mapped[str] = mapped_column(String(64), unique=True)
    # The admin's email, or "cli".
    requested_by: Mapped[str] = mapped_column(String(320))
    reason: Mapped[str] = mapped_column(String(300))
    # Rows changed per table and action, e.g. {"grade_attempts.deleted": 3}.
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
