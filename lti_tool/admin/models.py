"""Admin accounts and the audit log of everything done in the admin area."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from lti_tool.db import UTCDateTime, db, utcnow


class AdminUser(db.Model):
    __tablename__ = "admin_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-cased, so sign-in does not depend on how the address was typed.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    # An argon2id hash in PHC string format (parameters travel with the hash).
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Sessions started before the last password change no longer count.
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<AdminUser {self.id} {self.email}>"


class AdminAuditLog(db.Model):
    """Who did what to which target, and when. Rows outlive the admins and platforms they name."""

    __tablename__ = "admin_audit_log"
    __table_args__ = (Index("ix_admin_audit_log_platform_created", "platform_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    admin_pk: Mapped[int | None] = mapped_column(ForeignKey("admin_users.id", ondelete="SET NULL"))
    # Copied, so the log still says who it was after the account is gone; "cli" or a platform
    # for actions no admin account made.
    actor: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(60), index=True)
    target_type: Mapped[str] = mapped_column(String(40))
    target_id: Mapped[str | None] = mapped_column(String(255))
    platform_id: Mapped[int | None] = mapped_column(ForeignKey("platforms.id", ondelete="SET NULL"))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ip: Mapped[str | None] = mapped_column(String(64))
