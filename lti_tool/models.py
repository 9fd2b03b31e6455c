"""The platform registry, identity (users, contexts, resource links) and the launch log.

A platform is one LMS installation. It is found by (issuer, client id), never by issuer alone:
every hosted Canvas tenant shares one issuer, each with its own client id and token URL. Every
row that belongs to a platform is keyed by it, so nothing leaks between institutions.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lti_tool.db import UTCDateTime, db, utcnow


class Platform(db.Model):
    __tablename__ = "platforms"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    issuer: Mapped[str] = mapped_column(String(500), index=True)
    auth_url: Mapped[str] = mapped_column(String(1000))
    token_url: Mapped[str] = mapped_column(String(1000))
    # Either a JWKS URL (normal) or a static public key (PEM) for platforms that publish none.
    jwks_url: Mapped[str | None] = mapped_column(String(1000))
    public_key: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # pending (registered dynamically, waiting for an admin), active, or disabled (launches refused).
    status: Mapped[str] = mapped_column(String(20), default="active", server_default="active")
    # What the LMS called itself at dynamic registration (moodle, canvas, sakai, ...), if known.
    product_family_code: Mapped[str | None] = mapped_column(String(50))

    clients: Mapped[list[PlatformClient]] = relationship(
        back_populates="platform", cascade="all, delete-orphan", order_by="PlatformClient.id"
    )

    def __repr__(self) -> str:
        return f"<Platform {self.id} {self.issuer}>"


class PlatformClient(db.Model):
    """One client id the platform issued for this tool (one LTI registration)."""

    __tablename__ = "platform_clients"
    __table_args__ = (UniqueConstraint("issuer", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id", ondelete="CASCADE"))
    # Copied from the platform so (issuer, client_id) can be unique across all platforms.
    issuer: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    platform: Mapped[Platform] = relationship(back_populates="clients")
    deployments: Mapped[list[Deployment]] = relationship(
        back_populates="client", cascade="all, delete-orphan", order_by="Deployment.id"
    )


class Deployment(db.Model):
    __tablename__ = "deployments"
    __table_args__ = (UniqueConstraint("client_pk", "deployment_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id", ondelete="CASCADE"))
    client_pk: Mapped[int] = mapped_column(ForeignKey("platform_clients.id", ondelete="CASCADE"))
    deployment_id: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # pending (first seen in a launch, waiting for an admin), active, or disabled.
    status: Mapped[str] = mapped_column(String(20), default="active", server_default="active")

    client: Mapped[PlatformClient] = relationship(back_populates="deployments")
    platform: Mapped[Platform] = relationship()


class User(db.Model):
    """A person as one platform knows them: keyed by (platform, sub)."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("platform_id", "sub"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id", ondelete="CASCADE"))
    sub: Mapped[str] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(String(300))
    given_name: Mapped[str | None] = mapped_column(String(200))
    family_name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    picture: Mapped[str | None] = mapped_column(String(1000))
    locale: Mapped[str | None] = mapped_column(String(35))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_launch_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def display_name(self) -> str:
        # Canvas defaults to anonymous privacy: `sub` may be all we ever get.
        if self.name:
            return self.name
        joined = " ".join(part for part in (self.given_name, self.family_name) if part)
        return joined or self.email or f"User {self.sub[:12]}"


class Context(db.Model):
    """An LMS course (or group): keyed by (platform, deployment, context id)."""

    __tablename__ = "contexts"
    __table_args__ = (UniqueConstraint("platform_id", "deployment_pk", "context_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id", ondelete="CASCADE"))
    deployment_pk: Mapped[int] = mapped_column(ForeignKey("deployments.id", ondelete="CASCADE"))
    context_id: Mapped[str] = mapped_column(String(255))
    title: Mapped[str | None] = mapped_column(String(500))
    label: Mapped[str | None] = mapped_column(String(255))
    types: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ResourceLink(db.Model):
    """One placement of the tool in an LMS context."""

    __tablename__ = "resource_links"
    __table_args__ = (UniqueConstraint("context_pk", "resource_link_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id", ondelete="CASCADE"))
    context_pk: Mapped[int] = mapped_column(ForeignKey("contexts.id", ondelete="CASCADE"))
    resource_link_id: Mapped[str] = mapped_column(String(255))
    title: Mapped[str | None] = mapped_column(String(500))
    custom: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Enrollment(db.Model):
    """A user's roles in a context, as of their latest launch there."""

    __tablename__ = "enrollments"
    __table_args__ = (UniqueConstraint("context_pk", "user_pk"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id", ondelete="CASCADE"))
    context_pk: Mapped[int] = mapped_column(ForeignKey("contexts.id", ondelete="CASCADE"))
    user_pk: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # Our roles (learner, instructor, admin) and the LTI role URIs they were mapped from.
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    lti_roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    last_launch_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LaunchLog(db.Model):
    """Every launch attempt, accepted or not, so an admin can debug an LMS set-up."""

    __tablename__ = "launch_log"
    __table_args__ = (Index("ix_launch_log_platform_created", "platform_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # Kept even when the platform is removed: the log is history, not tenant data.
    platform_id: Mapped[int | None] = mapped_column(
        ForeignKey("platforms.id", ondelete="SET NULL")
    )
    stage: Mapped[str] = mapped_column(String(20))  # login or launch
    issuer: Mapped[str | None] = mapped_column(String(500))
    client_id: Mapped[str | None] = mapped_column(String(255))
    deployment_id: Mapped[str | None] = mapped_column(String(255))
    message_type: Mapped[str | None] = mapped_column(String(100))
    user_sub: Mapped[str | None] = mapped_column(String(255))
    outcome: Mapped[str] = mapped_column(String(20))  # accepted or rejected
    reason: Mapped[str | None] = mapped_column(String(50))
    detail: Mapped[str | None] = mapped_column(Text)
    launch_id: Mapped[str | None] = mapped_column(String(64))


class CacheEntry(db.Model):
    """The embedded stand-in for Redis: launch data, login states, used nonces, JWKS copies."""

    __tablename__ = "cache_entries"

    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
