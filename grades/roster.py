"""Course rosters from the LMS (LTI Names and Role Provisioning Services).

A sync reads every page of the context's membership list and stores each member's roles and
status, creating users the tool has not met yet (learners who never opened the tool still belong
in the gradebook). Members missing from a complete list are marked deleted. A sync that fails
half-way keeps what it stored and marks nobody deleted.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from grades import lti_services as lti
from grades.models import ContextService, Membership
from grades.service import can_read_roster, granted_scopes, service_client
from lti_tool.cache import cache
from lti_tool.db import db, utcnow
from lti_tool.models import Context, User
from lti_tool.roles import map_roles

log = logging.getLogger(__name__)

STATUSES = {"active": "active", "inactive": "inactive", "deleted": "deleted"}
LOCK_SECONDS = 600


class RosterSyncFailed(RuntimeError):
    """The LMS could not be read just now; the job's retries will try again."""


def _clip(value: Any, size: int) -> str | None:
    return value.strip()[:size] if isinstance(value, str) and value.strip() else None


def _user(platform_id: int, sub: str, member: dict[str, Any]) -> User:
    stmt = select(User).where(User.platform_id == platform_id, User.sub == sub)
    user = db.session.scalar(stmt)
    if user is None:
        try:
            with db.session.begin_nested():
                user = User(platform_id=platform_id, sub=sub)
                db.session.add(user)
        except IntegrityError:
            user = db.session.scalar(stmt)
            if user is None:
                raise
    # The roster fills in what the launches did not say (never erases what they did).
    for name, size in (
        ("name", 300),
        ("given_name", 200),
        ("family_name", 200),
        ("email", 320),
        ("picture", 1000),
    ):
        value = _clip(member.get(name), size)
        if value is not None and getattr(user, name) != value:
            setattr(user, name, value)
    return user


def store_page(context: Context, members: list[dict[str, Any]], seen: set[int]) -> int:
    """Store one page of members; returns how many were usable."""
    now = utcnow()
    stored = 0
    for member in members:
        sub = member.get("user_id")
        if not isinstance(sub, str) or not sub.strip() or len(sub) > 255:
            continue
        lti_roles = (
            [r[:300] for r in member.get("roles", []) if isinstance(r, str)][:50]
            if isinstance(member.get("roles"), list)
            else []
        )
        status = STATUSES.get(str(member.get("status") or "Active").lower(), "active")
        user = _user(context.platform_id, sub, member)
        membership = db.session.scalar(
            select(Membership).where(Membership.context_pk == context.id, Membership.user_pk == user.id)
        )
        if membership is None:
            membership = Membership(platform_id=context.platform_id, context_pk=context.id, user_pk=user.id)
            db.session.add(membership)
        membership.roles, membership.lti_roles = map_roles(lti_roles), lti_roles
        membership.status, membership.synced_at = status, now
        seen.add(user.id)
        stored += 1
    return stored


def sync(context_pk: int) -> str:
    """Sync one context's roster; returns what happened. Raises RosterSyncFailed to be retried."""
    context = db.session.get(Context, context_pk)
    if context is None:
        return "missing"
    services = db.session.scalar(
        select(ContextService).where(
            ContextService.platform_id == context.platform_id, ContextService.context_pk == context.id
        )
    )
    if not can_read_roster(services):
        return "not-granted"
    client = service_client(services)
    if client is None:
        services.roster_error = "The LMS registration of this course no longer exists in the tool."
        db.session.commit()
        return "failed"
    lock_key = f"grades:roster:{context.id}"
    if not cache().add(lock_key, 1, LOCK_SECONDS):
        return "busy"
    seen: set[int] = set()
    count = 0
    try:
        for page in lti.membership_pages(client, granted_scopes(services), services.memberships_url):
            count += store_page(context, page, seen)
            db.session.commit()
        # A complete list: whoever is not on it has left the course.
        for membership in db.session.scalars(
            select(Membership).where(
                Membership.platform_id == context.platform_id,
                Membership.context_pk == context.id,
                Membership.status != "deleted",
            )
        ):
            if membership.user_pk not in seen:
                membership.status, membership.synced_at = "deleted", utcnow()
        services.roster_synced_at, services.roster_error = utcnow(), None
        db.session.commit()
    except lti.ServiceError as error:
        db.session.rollback()
        services = db.session.get(ContextService, services.id)
        services.roster_error = error.message[:2000]
        db.session.commit()
        log.warning("roster sync of context %s failed: %s", context_pk, error.message)
        if error.retryable:
            raise RosterSyncFailed(error.message) from None
        return "failed"
    finally:
        cache().delete(lock_key)
    log.info("roster of context %s synced: %d members", context_pk, count)
    return "synced"
