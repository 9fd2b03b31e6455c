"""The admin area's domain logic: accounts, sign-in sessions, the audit log, manual registration
with presets, the values an LMS admin pastes by hand, and each platform's health.

Plain functions: views, the CLI and tests call them alike. Functions that change rows add them to
the caller's session; the caller commits (sessions live in the cache and commit nothing).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping
from urllib.parse import urlsplit

from argon2 import PasswordHasher
from flask_babel import gettext as _
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import current_app
from sqlalchemy import and_, func, or_, select

from lti_tool import launch as lti_launch
from lti_tool import presets, registry
from lti_tool.admin.models import AdminAuditLog, AdminUser
from lti_tool.cache import cache, redis_client
from lti_tool.db import db, utcnow
from lti_tool.dynamic_registration import ToolOffer
from lti_tool.events import Event
from lti_tool.models import Deployment, LaunchLog, Platform, PlatformClient

MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 1024
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
HEALTH_WINDOW = timedelta(days=7)

# argon2id with the library's defaults (RFC 9106's second recommended option: 64 MiB, t=3, p=4).
_hasher = PasswordHasher()
# Verified against when the email is unknown, so a wrong address costs the same time as a wrong
# password and response times do not reveal which accounts exist.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class AdminError(ValueError):
    """Bad admin input; the message says which field and what is wrong."""


# --- Accounts -----------------------------------------------------------------------------------


def normalize_email(value: str | None) -> str:
    email = (value or "").strip().lower()
    if not email:
        raise AdminError("email is required")
    if len(email) > 320 or not EMAIL.match(email):
        raise AdminError(f"{email!r} is not an email address")
    return email


def check_password(password: str | None) -> str:
    password = password or ""
    if len(password) < MIN_PASSWORD_CHARS:
        raise AdminError(f"the password must have at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise AdminError(f"the password must have at most {MAX_PASSWORD_CHARS} characters")
    return password


def find_admin(email: str) -> AdminUser | None:
    return db.session.scalar(select(AdminUser).where(AdminUser.email == email))


def create_admin(email: str, password: str) -> AdminUser:
    """A new admin account. The caller commits."""
    email = normalize_email(email)
    password = check_password(password)
    if find_admin(email) is not None:
        raise AdminError(f"an admin account for {email} already exists")
    admin = AdminUser(email=email, password_hash=_hasher.hash(password))
    db.session.add(admin)
    db.session.flush()
    return admin


def set_password(admin: AdminUser, password: str) -> None:
    admin.password_hash = _hasher.hash(check_password(password))
    admin.password_changed_at = utcnow()
    db.session.flush()


def list_admins() -> list[AdminUser]:
    return list(db.session.scalars(select(AdminUser).order_by(AdminUser.email)))


def authenticate(email: str | None, password: str | None) -> AdminUser | None:
    """The active admin with this email and password, or None. Commits the sign-in time."""
    try:
        email = normalize_email(email)
    except AdminError:
        email = ""
    admin = find_admin(email) if email else None
    try:
        _hasher.verify(admin.password_hash if admin else _DUMMY_HASH, password or "")
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if admin is None or not admin.is_active:
        return None
    if _hasher.check_needs_rehash(admin.password_hash):
        # Parameters were raised since this hash was made: upgrade it while we know the password.
        admin.password_hash = _hasher.hash(password or "")
    admin.last_login_at = utcnow()
    db.session.commit()
    return admin


# --- Sessions: a random token in the cookie, its digest in the cache --------------------------


def _session_key(token: str) -> str:
    return "admin-session:" + hashlib.sha256(token.encode()).hexdigest()


def start_session(admin: AdminUser) -> str:
    """A fresh session token (a new one at every sign-in, so no session can be fixed in advance)."""
    token = secrets.token_urlsafe(32)
    ttl = current_app.config["SETTINGS"].ADMIN_SESSION_TTL_SECONDS
    cache().set(_session_key(token), {"admin_id": admin.id, "started": time.time()}, ttl)
    return token


def admin_for_session(token: str | None) -> AdminUser | None:
    if not token or len(token) > 100:
        return None
    data = cache().get(_session_key(token))
    if not isinstance(data, dict):
        return None
    admin = db.session.get(AdminUser, data.get("admin_id"))
    if admin is None or not admin.is_active:
        return None
    if float(data.get("started", 0)) < admin.password_changed_at.timestamp():
        return None  # signed in with a password that has since been changed
    return admin


def end_session(token: str | None) -> None:
    if token and len(token) <= 100:
        cache().delete(_session_key(token))


# --- Audit log ----------------------------------------------------------------------------------


def audit(
    *,
    actor: str,
    action: str,
    target_type: str,
    target_id: str | None = None,
    platform_id: int | None = None,
    detail: Mapping[str, Any] | None = None,
    admin: AdminUser | None = None,
    ip: str | None = None,
) -> AdminAuditLog:
    """Add an audit row to the caller's transaction, so it commits with the change it records."""
    entry = AdminAuditLog(
        admin_pk=admin.id if admin else None,
        actor=(admin.email if admin else actor)[:320],
        action=action[:60],
        target_type=target_type[:40],
        target_id=(str(target_id)[:255] if target_id is not None else None),
        platform_id=platform_id,
        detail=dict(detail or {}),
        ip=(ip or None) and ip[:64],
    )
    db.session.add(entry)
    return entry


def recent_audit(limit: int = 100, platform_id: int | None = None) -> list[AdminAuditLog]:
    query = select(AdminAuditLog).order_by(AdminAuditLog.created_at.desc(), AdminAuditLog.id.desc()).limit(limit)
    if platform_id is not None:
        query = query.where(AdminAuditLog.platform_id == platform_id)
    return list(db.session.scalars(query))


# --- Platforms ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewPlatform:
    preset: str
    site_url: str
    client_id: str
    deployment_ids: tuple[str, ...]
    name: str | None = None
    issuer: str | None = None


def split_ids(value: str | None) -> tuple[str, ...]:
    """Deployment ids typed one per line or separated by commas."""
    return tuple(part.strip() for part in re.split(r"[\n,]", value or "") if part.strip())


def add_platform_from_preset(data: NewPlatform) -> Platform:
    """Register an LMS from its site URL and a preset (the caller commits)."""
    preset = presets.get_preset(data.preset)
    urls = presets.endpoints(preset, data.site_url, issuer=data.issuer)
    # Hosted Canvas tenants share one issuer: name them after the site the admin typed.
    site_host = urlsplit(data.site_url.strip()).hostname or urls.issuer
    name = (data.name or "").strip() or f"{presets.behaviour(preset.product_family_code).label} at {site_host}"
    return registry.add_platform(
        registry.PlatformInput(
            issuer=urls.issuer,
            client_id=data.client_id,
            auth_url=urls.auth_url,
            token_url=urls.token_url,
            jwks_url=urls.jwks_url,
            deployment_ids=data.deployment_ids,
            name=name,
            product_family_code=preset.product_family_code,
        )
    )


def get_platform(platform_id: int) -> Platform | None:
    return db.session.get(Platform, platform_id)


def get_deployment(platform: Platform, deployment_pk: int) -> Deployment | None:
    """A deployment of this platform only: ids in URLs never reach another platform's rows."""
    return db.session.scalar(
        select(Deployment).where(Deployment.id == deployment_pk, Deployment.platform_id == platform.id)
    )


def get_client(platform: Platform, client_pk: int) -> PlatformClient | None:
    return db.session.scalar(
        select(PlatformClient).where(PlatformClient.id == client_pk, PlatformClient.platform_id == platform.id)
    )


def pending_counts() -> dict[str, int]:
    platforms = db.session.scalar(select(func.count()).select_from(Platform).where(Platform.status == registry.PENDING))
    deployments = db.session.scalar(
        select(func.count()).select_from(Deployment).where(Deployment.status == registry.PENDING)
    )
    return {"platforms": platforms or 0, "deployments": deployments or 0}


# --- Health -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReasonCount:
    reason: str
    title: str
    count: int
    last_at: datetime


@dataclass(frozen=True)
class GradeDeliveryHealth:
    failed_events: int
    failed_deliveries: int
    delivered: int
    last_failure_at: datetime | None
    last_reason: str | None


@dataclass(frozen=True)
class PlatformHealth:
    since: datetime
    last_launch_at: datetime | None
    accepted: int
    rejected: int
    failures: list[ReasonCount]
    grades: GradeDeliveryHealth
    queues: dict[str, dict[str, int]] | None


def _launch_rows_of(platform: Platform):
    """Launch-log rows of this platform: those that name it, and rejections logged before the
    platform was known to the check (a login naming its issuer and one of its client ids)."""
    client_ids = [client.client_id for client in platform.clients]
    return or_(
        LaunchLog.platform_id == platform.id,
        and_(
            LaunchLog.platform_id.is_(None),
            LaunchLog.issuer == platform.issuer,
            LaunchLog.client_id.in_(client_ids) if client_ids else False,
        ),
    )


def platform_health(platform: Platform, now: datetime | None = None) -> PlatformHealth:
    now = now or utcnow()
    since = now - HEALTH_WINDOW
    mine = _launch_rows_of(platform)
    last_launch_at = db.session.scalar(
        select(func.max(LaunchLog.created_at)).where(mine, LaunchLog.outcome == "accepted")
    )
    outcomes = dict(
        db.session.execute(
            select(LaunchLog.outcome, func.count())
            .where(mine, LaunchLog.created_at >= since)
            .group_by(LaunchLog.outcome)
        ).all()
    )
    failures = [
        ReasonCount(
            reason=reason or "unknown",
            title=lti_launch.REASONS.get(reason or "", reason or "unknown"),
            count=count,
            last_at=_aware(last_at),
        )
        for reason, count, last_at in db.session.execute(
            select(LaunchLog.reason, func.count(), func.max(LaunchLog.created_at))
            .where(mine, LaunchLog.outcome == "rejected", LaunchLog.created_at >= since)
            .group_by(LaunchLog.reason)
            .order_by(func.count().desc(), LaunchLog.reason)
        ).all()
    ]
    return PlatformHealth(
        since=since,
        last_launch_at=_aware(last_launch_at),
        accepted=outcomes.get("accepted", 0),
        rejected=outcomes.get("rejected", 0),
        failures=failures,
        grades=grade_delivery_health(platform.id, since),
        queues=queue_stats(),
    )


def _aware(value: datetime | None) -> datetime | None:
    # Aggregates bypass the column type, so SQLite hands back naive UTC datetimes.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=timezone.utc)


def grade_delivery_health(platform_id: int, since: datetime, limit: int = 5000) -> GradeDeliveryHealth:
    """AGS deliveries as the grades package reports them through domain events (`grade_failed`,
    `grade_delivered`): the shell reads events, never another package's tables."""
    failed = list(
        db.session.scalars(
            select(Event)
            .where(Event.platform_id == platform_id, Event.kind == "grade_failed", Event.created_at >= since)
            .order_by(Event.created_at.desc(), Event.id.desc())
            .limit(limit)
        )
    )
    delivered = db.session.scalar(
        select(func.count())
        .select_from(Event)
        .where(Event.platform_id == platform_id, Event.kind == "grade_delivered", Event.created_at >= since)
    )
    deliveries = {event.data.get("delivery_id") for event in failed}
    return GradeDeliveryHealth(
        failed_events=len(failed),
        failed_deliveries=len(deliveries),
        delivered=delivered or 0,
        last_failure_at=failed[0].created_at if failed else None,
        last_reason=str(failed[0].data.get("reason"))[:300] if failed else None,
    )


def queue_stats() -> dict[str, dict[str, int]] | None:
    """Per RQ queue: jobs queued, running, scheduled for retry and failed. None in embedded mode,
    where jobs run in the web process and nothing waits."""
    if redis_client() is None:
        return None
    from lti_tool import jobs

    try:
        return jobs.stats()
    except Exception:  # a health page reports Redis trouble instead of failing
        return {}


# --- What an LMS admin pastes by hand --------------------------------------------------------


def canvas_developer_key(offer: ToolOffer, privacy_level: str) -> dict[str, Any]:
    """The JSON for Canvas's *Developer Keys → LTI Key → Paste JSON*. Canvas derives the redirect
    URIs from target_link_uri; every scope the tool uses must be listed on the key."""
    placements = [
        {"placement": "course_navigation", "message_type": lti_launch.RESOURCE_LINK_REQUEST, "text": offer.name,
         "target_link_uri": offer.launch_url, "icon_url": offer.logo_url, "default": "enabled"},
        {"placement": "link_selection", "message_type": lti_launch.DEEP_LINKING_REQUEST, "text": offer.name,
         "target_link_uri": offer.launch_url, "icon_url": offer.logo_url},
        {"placement": "assignment_selection", "message_type": lti_launch.DEEP_LINKING_REQUEST, "text": offer.name,
         "target_link_uri": offer.launch_url, "icon_url": offer.logo_url},
        {"placement": "editor_button", "message_type": lti_launch.DEEP_LINKING_REQUEST,
         "text": f"Insert from {offer.name}", "target_link_uri": offer.launch_url, "icon_url": offer.logo_url},
    ]
    return {
        "title": offer.name,
        "description": offer.description,
        "oidc_initiation_url": offer.login_url,
        "target_link_uri": offer.launch_url,
        "public_jwk_url": offer.jwks_url,
        "scopes": list(offer.scopes),
        "extensions": [
            {
                "platform": "canvas.instructure.com",
                "domain": offer.domain,
                "tool_id": "course-studio",
                "privacy_level": privacy_level,
                "settings": {
                    "text": offer.name,
                    "icon_url": offer.logo_url,
                    "placements": placements,
                },
            }
        ],
        "custom_fields": {"canvas_course_id": "$Canvas.course.id", "canvas_user_id": "$Canvas.user.id"},
    }


def manual_values(offer: ToolOffer) -> list[tuple[str, str, str]]:
    """(field, value, where the LMS asks for it) for registering the tool by hand."""
    return [
        (_("Tool URL / Target link URI"), offer.launch_url, "Moodle: Tool URL · Canvas: Target Link URI"),
        (_(
            "Initiate login URL",
        ), offer.login_url, "Moodle: Initiate login URL · Canvas: OpenID Connect Initiation Url"),
        (_("Redirection URI(s)"), offer.launch_url, "Moodle: Redirection URI(s) · Canvas: Redirect URIs"),
        (_(
            "Public keyset URL",
        ), offer.jwks_url, "Moodle: Public keyset (Keyset URL) · Canvas: Public JWK URL"),
        (_(
            "Deep linking (content selection) URL",
        ), offer.launch_url, "Moodle: Content Selection URL (tick Supports Deep Linking)"),
        (_("Icon URL"), offer.logo_url, "Moodle: Icon URL · Canvas: Icon URL"),
    ]
