"""Data protection: what the tool holds about one learner, its export, its erase, and retention.

Plain functions over the database tables, called by the admin area, the CLI, jobs and tests.
Every table that names a user (by a foreign key to `users.id` or a `user_pk` column) is listed
once in `HOLDINGS`, with what erase does to it; the export reads the same list, so nothing held is
left out of either (tests compare the list with the database's own metadata). The tables are read
by name through the shared metadata, so this package does not import other packages' internals.

Functions that change rows add them to the caller's session; the caller commits.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from flask import current_app
from flask_babel import LazyString, gettext as _, lazy_gettext, ngettext
from sqlalchemy import Table, delete, func, or_, select, update

from lti_tool import jobs
from lti_tool.admin import service as admin_service
from lti_tool.cache import cache
from lti_tool.db import db, utcnow
from lti_tool.models import Platform, PlatformClient, User
from privacy.models import ErasureRecord

SCHEMA = "course-studio/learner-export"
SCHEMA_VERSION = 1
# Users erased keep their row (analytics count it) under this sub: "erased-" and 32 random hex.
ERASED_PREFIX = "erased-"
MAX_REASON_CHARS = 300
PURGE_BATCH = 1000
# At most this many batches per table per run: an hourly job catches up over a few runs
# instead of outliving its queue's timeout.
PURGE_MAX_BATCHES = 50
# Identifying strings shorter than this are not searched for in other people's notifications
# (a two-letter name would match inside ordinary words).
MIN_REDACT_CHARS = 3
REDACTED = "an erased learner"

# What erase does to a table's rows of the erased user.
KEEP = "keep"  # nothing personal in them: kept, keyed to the pseudonymous user
DELETE = "delete"
STRIP = "strip"  # kept, free text removed
PSEUDONYMISE = "pseudonymise"


@dataclass(frozen=True)
class Holding:
    """One table holding rows about a user: the column naming them and what erase does."""

    table: str
    column: str
    on_erase: str
    what: LazyString


# `what` is shown on the admin page and in the export, in the reader's language.
HOLDINGS: tuple[Holding, ...] = (
    Holding("users", "id", PSEUDONYMISE, lazy_gettext(
        "Profile from the LMS launch: LMS user id, name, email, picture, locale. Erase replaces "
        "the LMS user id by a random pseudonym and removes the rest.")),
    Holding("enrollments", "user_pk", KEEP, lazy_gettext(
        "Roles in each LMS course, as of the latest launch. Kept (pseudonymous) so course "
        "figures stay right.")),
    Holding("events", "user_pk", STRIP, lazy_gettext(
        "Raw learning events (launches, views, media progress, quiz submissions, grades). "
        "Kept pseudonymous until their retention ends; free text (LMS error messages) removed.")),
    Holding("grade_attempts", "user_pk", DELETE,
            lazy_gettext("Quiz attempts with the answers given and their scores.")),
    Holding("grade_deliveries", "user_pk", DELETE,
            lazy_gettext("Scores sent (or to be sent) to the LMS gradebook and where each delivery stands.")),
    Holding("grade_memberships", "user_pk", DELETE,
            lazy_gettext("Course rosters as the LMS's Names and Roles service listed them.")),
    Holding("notifications", "user_pk", DELETE,
            lazy_gettext("In-app notifications received (their emails go with them).")),
    Holding("notification_preferences", "user_pk", DELETE,
            lazy_gettext("Email choices per kind of notification.")),
    Holding("notification_roster_seen", "user_pk", KEEP, lazy_gettext(
        "That teachers were told about this learner joining a course (ids only). Kept so the "
        "pseudonymous learner is not announced again.")),
    Holding("courses", "owner_pk", KEEP,
            lazy_gettext("Courses this person authored (teaching content, kept for its learners).")),
    Holding("course_placements", "placed_by_pk", KEEP,
            lazy_gettext("Courses this person placed in an LMS course.")),
    Holding("analytics_facts", "user_pk", KEEP,
            lazy_gettext("One row per learning event counted by analytics (ids and numbers).")),
    Holding("analytics_media_state", "user_pk", KEEP,
            lazy_gettext("Furthest point reached in each video or audio.")),
    Holding("analytics_dirty_learners", "user_pk", KEEP,
            lazy_gettext("Analytics bookkeeping: figures waiting to be recounted.")),
    Holding("analytics_learner_items", "user_pk", KEEP,
            lazy_gettext("Progress per item: views, time, attempts, completion.")),
    Holding("analytics_learners", "user_pk", KEEP,
            lazy_gettext("Progress per course: activity, time on task, mean score.")),
    Holding("privacy_erasures", "user_pk", KEEP, lazy_gettext("The record of an erase (no personal data).")),
)


class PrivacyError(ValueError):
    """Bad input for an export or erase; the message says what to change."""


class PendingScores(PrivacyError):
    """Scores of the learner are still on their way to the LMS."""

    def __init__(self, count: int):
        self.count = count
        super().__init__(ngettext(
            "%(num)d score of this learner is still on its way to the LMS gradebook and needs the "
            "LMS user id to get there. Erase once it is delivered (or failed), or cancel it as part "
            "of the erase.",
            "%(num)d scores of this learner are still on their way to the LMS gradebook and need "
            "the LMS user id to get there. Erase once they are delivered (or failed), or cancel them "
            "as part of the erase.",
            count,
        ))


def _table(name: str) -> Table:
    return db.metadata.tables[name]


def _now_iso() -> str:
    return utcnow().isoformat()


# --- Finding a learner ---------------------------------------------------------------------------


def find_platform(issuer: str, client_id: str | None = None) -> Platform:
    """The platform of an issuer (and client id, where hosted Canvas tenants share an issuer).

    For the CLI only, whose output is English (as every command's is): its messages are not marked.
    """
    issuer = (issuer or "").strip()
    if not issuer:
        raise PrivacyError("give the LMS's issuer")
    if client_id:
        found = db.session.scalar(
            select(Platform)
            .join(PlatformClient, PlatformClient.platform_id == Platform.id)
            .where(PlatformClient.issuer == issuer, PlatformClient.client_id == client_id.strip())
        )
        if found is None:
            raise PrivacyError(f"no platform has issuer {issuer!r} with client id {client_id!r}")
        return found
    platforms = list(
        db.session.scalars(select(Platform).where(Platform.issuer == issuer).order_by(Platform.id))
    )
    if not platforms:
        raise PrivacyError(f"no platform has issuer {issuer!r}; see `flask platform list`")
    if len(platforms) > 1:
        raise PrivacyError(
            f"several platforms share issuer {issuer!r} (hosted Canvas): say which with --client-id"
        )
    return platforms[0]


def find_user(platform: Platform, sub: str) -> User | None:
    sub = (sub or "").strip()
    return db.session.scalar(select(User).where(User.platform_id == platform.id, User.sub == sub))


def search_users(*, platform_id: int | None = None, sub: str | None = None, email: str | None = None,
                 limit: int = 50) -> list[User]:
    """Users by exact LMS user id (within a platform when given) or exact email (any case)."""
    sub, email = (sub or "").strip(), (email or "").strip().lower()
    if not sub and not email:
        raise PrivacyError(_("give the LMS user id or the email address"))
    query = select(User).order_by(User.platform_id, User.id).limit(limit)
    if platform_id is not None:
        query = query.where(User.platform_id == platform_id)
    if sub:
        query = query.where(User.sub == sub)
    if email:
        query = query.where(func.lower(User.email) == email)
    return list(db.session.scalars(query))


def is_erased(user: User) -> bool:
    return user.sub.startswith(ERASED_PREFIX)


def erasure_of(user: User) -> ErasureRecord | None:
    return db.session.scalar(
        select(ErasureRecord).where(ErasureRecord.user_pk == user.id).order_by(ErasureRecord.id.desc())
    )


def pending_scores(user: User) -> int:
    table = _table("grade_deliveries")
    return db.session.scalar(
        select(func.count()).select_from(table).where(table.c.user_pk == user.id, table.c.status == "pending")
    ) or 0


# --- Export --------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A value as JSON has it: times in ISO 8601 (UTC, with offset), decimals as text."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _rows(table: Table, condition) -> list[dict[str, Any]]:
    result = db.session.execute(select(table).where(condition).order_by(*table.primary_key.columns))
    return [{key: _plain(value) for key, value in row._mapping.items()} for row in result]


def _launch_log_condition(platform: Platform, sub: str):
    # Launches the platform was known for, and refusals logged before it was (issuer and a
    # client id of this platform, as the admin health page counts them).
    table = _table("launch_log")
    client_ids = [client.client_id for client in platform.clients]
    known = table.c.platform_id == platform.id
    unknown = (table.c.platform_id.is_(None)) & (table.c.issuer == platform.issuer)
    if client_ids:
        unknown = unknown & table.c.client_id.in_(client_ids)
    return (table.c.user_sub == sub) & or_(known, unknown)


def _user_notifications(user: User):
    return select(_table("notifications").c.id).where(_table("notifications").c.user_pk == user.id)


def export(platform: Platform, user: User) -> dict[str, Any]:
    """Everything the tool holds about `user`, as one JSON-ready document."""
    if user.platform_id != platform.id:
        raise PrivacyError(_("this user belongs to another platform"))
    data: dict[str, list[dict[str, Any]]] = {}
    for holding in HOLDINGS:
        table = _table(holding.table)
        data[holding.table] = _rows(table, table.c[holding.column] == user.id)
    emails = _table("notification_emails")
    data["notification_emails"] = _rows(emails, emails.c.notification_pk.in_(_user_notifications(user)))
    data["launch_log"] = _rows(_table("launch_log"), _launch_log_condition(platform, user.sub))
    # The LMS courses the rows above point at, so the export reads without the tool's ids.
    context_ids = {row["context_pk"] for rows in data.values() for row in rows if row.get("context_pk")}
    contexts = _table("contexts")
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "exported_at": _now_iso(),
        "platform": {"id": platform.id, "name": platform.name, "issuer": platform.issuer},
        "user": data.pop("users")[0],
        "contexts": _rows(contexts, contexts.c.id.in_(sorted(context_ids))) if context_ids else [],
        "data": data,
        "descriptions": {
            # In the language of whoever exports (the CLI's is English).
            **{h.table: str(h.what) for h in HOLDINGS if h.table != "users"},
            "notification_emails": _("Emails of those notifications: address, status, when sent."),
            "launch_log": _("Launch attempts from the LMS (accepted or refused, with the reason)."),
        },
    }


def export_filename(platform: Platform, user: User) -> str:
    # The tool's ids only: an LMS user id may hold characters no file name should.
    return f"learner-export-p{platform.id}-u{user.id}.json"


# --- Erase ---------------------------------------------------------------------------------------


def identifying_strings(user: User) -> list[str]:
    """What names this person in text: LMS user id, names, email, and the tool's fallback label."""
    joined = " ".join(part for part in (user.given_name, user.family_name) if part)
    found = {user.sub, user.name, joined, user.email, user.display_name}
    return sorted((s for s in found if s and len(s) >= MIN_REDACT_CHARS), key=len, reverse=True)


def check_reason(reason: str | None, user: User) -> str:
    reason = " ".join((reason or "").split())
    if not reason:
        raise PrivacyError(_("give a reason (a ticket number, or 'request by the learner')"))
    if len(reason) > MAX_REASON_CHARS:
        raise PrivacyError(ngettext(
            "the reason must have at most %(num)d character",
            "the reason must have at most %(num)d characters",
            MAX_REASON_CHARS,
        ))
    lowered = reason.casefold()
    if any(s.casefold() in lowered for s in identifying_strings(user)):
        raise PrivacyError(_("the reason names the learner; the erase record must hold no personal data"))
    return reason


def _delete(table_name: str, condition, counts: dict[str, int]) -> None:
    result = db.session.execute(delete(_table(table_name)).where(condition))
    if result.rowcount:
        counts[f"{table_name}.deleted"] = result.rowcount


def _strip_events(user: User, counts: dict[str, int]) -> None:
    # Events carry ids and numbers; the few strings (LMS error messages in `grade_failed`) may
    # quote the LMS user id. Only a launch's message type is kept.
    events = _table("events")
    stripped = 0
    rows = db.session.execute(select(events.c.id, events.c.data).where(events.c.user_pk == user.id))
    for event_id, data in rows:
        if not isinstance(data, dict):
            continue
        texts = [key for key, value in data.items() if isinstance(value, str) and key != "message_type"]
        if texts:
            db.session.execute(
                update(events).where(events.c.id == event_id).values(data={**data, **{key: "" for key in texts}})
            )
            stripped += 1
    if stripped:
        counts["events.stripped"] = stripped


def _redact_others_notifications(user: User, names: list[str], counts: dict[str, int]) -> None:
    """Teachers' notifications quote learners by name (roster digests, failed grades)."""
    if not names:
        return
    table = _table("notifications")
    mentions = or_(*(or_(table.c.title.contains(s, autoescape=True), table.c.body.contains(s, autoescape=True))
                     for s in names))
    pattern = re.compile("|".join(re.escape(s) for s in names), re.IGNORECASE)
    redacted = 0
    rows = db.session.execute(
        select(table.c.id, table.c.title, table.c.body).where(
            table.c.platform_id == user.platform_id, table.c.user_pk != user.id, mentions
        )
    ).all()
    for row in rows:
        title, body = pattern.sub(REDACTED, row.title), pattern.sub(REDACTED, row.body or "")
        if (title, body) != (row.title, row.body or ""):
            db.session.execute(update(table).where(table.c.id == row.id).values(title=title[:300], body=body))
            redacted += 1
    if redacted:
        counts["notifications.redacted"] = redacted


def _forget_launches(launch_ids: list[str]) -> None:
    # Cached launch data holds the launch's claims (name, email): drop it, which also ends the
    # learner's open pages. Runs after the commit; anything missed expires with LAUNCH_TTL_SECONDS.
    for launch_id in launch_ids:
        cache().delete(f"launch:{launch_id}")


def erase(
    platform: Platform,
    user: User,
    *,
    requested_by: str,
    reason: str,
    cancel_pending: bool = False,
    admin=None,
    ip: str | None = None,
) -> ErasureRecord:
    """Remove or pseudonymise everything personal about `user`, in the caller's transaction.

    Idempotent: a user already erased gets their existing record back and nothing changes.
    Scores still pending delivery stop the erase (PendingScores) unless `cancel_pending`: they
    need the LMS user id to reach the gradebook, which the erase removes.
    """
    if user.platform_id != platform.id:
        raise PrivacyError(_("this user belongs to another platform"))
    if is_erased(user):
        existing = erasure_of(user)
        if existing is not None:
            return existing
    reason = check_reason(reason, user)
    pending = pending_scores(user)
    if pending and not cancel_pending:
        raise PendingScores(pending)

    names = identifying_strings(user)
    launch_log = _table("launch_log")
    in_log = _launch_log_condition(platform, user.sub)
    launch_ids = [launch_id for launch_id in db.session.scalars(select(launch_log.c.launch_id).where(in_log))
                  if launch_id]
    counts: dict[str, int] = {}
    if pending:
        counts["grade_deliveries.cancelled"] = pending
    # Rows holding personal data outright go; the user's own notifications take their emails along.
    emails = _table("notification_emails")
    _delete("notification_emails", emails.c.notification_pk.in_(_user_notifications(user)), counts)
    for holding in HOLDINGS:
        if holding.on_erase == DELETE:
            _delete(holding.table, _table(holding.table).c[holding.column] == user.id, counts)
    _delete("launch_log", in_log, counts)
    _strip_events(user, counts)
    _redact_others_notifications(user, names, counts)

    pseudonym = secrets.token_hex(16)
    user.sub = ERASED_PREFIX + pseudonym
    user.name = user.given_name = user.family_name = user.email = user.picture = user.locale = None
    counts["users.pseudonymised"] = 1
    record = ErasureRecord(
        platform_id=platform.id,
        issuer=platform.issuer,
        user_pk=user.id,
        pseudonym=pseudonym,
        requested_by=(admin.email if admin is not None else requested_by)[:320],
        reason=reason,
        counts=counts,
    )
    db.session.add(record)
    admin_service.audit(
        actor=requested_by,
        admin=admin,
        action="privacy.erased",
        target_type="user",
        target_id=str(user.id),
        platform_id=platform.id,
        detail={"pseudonym": pseudonym, "counts": counts},
        ip=ip,
    )
    db.session.flush()
    if launch_ids:
        jobs.on_commit(_forget_launches, launch_ids)
    return record


def audit_export(
    platform: Platform, user: User, *, requested_by: str, admin=None, ip: str | None = None
) -> None:
    """An export hands personal data out: it is audited like a change (the caller commits)."""
    admin_service.audit(actor=requested_by, admin=admin, action="privacy.exported", target_type="user",
                        target_id=str(user.id), platform_id=platform.id, ip=ip)


def recent_erasures(limit: int = 100) -> list[ErasureRecord]:
    return list(db.session.scalars(
        select(ErasureRecord).order_by(ErasureRecord.created_at.desc(), ErasureRecord.id.desc()).limit(limit)
    ))


def holdings_summary(user: User) -> list[tuple[Holding, int]]:
    """Rows per table about this user, for the admin page before an export or erase."""
    summary = []
    for holding in HOLDINGS:
        if holding.table == "users":
            continue
        table = _table(holding.table)
        count = db.session.scalar(
            select(func.count()).select_from(table).where(table.c[holding.column] == user.id)
        )
        summary.append((holding, count or 0))
    return summary


# --- Retention -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PurgeReport:
    launch_logs: int
    events: int
    # Events past their retention still kept because analytics or dispatch has not had them.
    events_waiting: int


def _settings():
    return current_app.config["SETTINGS"]


def _purge_in_batches(table: Table, condition, max_batches: int) -> int:
    total = 0
    for _ in range(max_batches):
        ids = select(table.c.id).where(condition).order_by(table.c.id).limit(PURGE_BATCH)
        deleted = db.session.execute(delete(table).where(table.c.id.in_(ids.scalar_subquery()))).rowcount
        db.session.commit()  # short transactions: launches and ingest keep writing meanwhile
        total += deleted
        if deleted < PURGE_BATCH:
            break
    return total


def ingested_through() -> int:
    """The highest event id analytics has read with nothing missing below it (0: none)."""
    cursor = _table("analytics_ingest_cursor")
    row = db.session.execute(
        select(cursor.c.last_event_id, cursor.c.gaps).where(cursor.c.name == "events")
    ).first()
    if row is None:
        return 0
    mark = int(row.last_event_id or 0)
    # A gap is an id not seen yet that may still commit: nothing at or above it is safe.
    for start, _end, _seen in row.gaps or ():
        mark = min(mark, int(start) - 1)
    return max(mark, 0)


def purge_expired(now: datetime | None = None, *, max_batches: int = PURGE_MAX_BATCHES) -> PurgeReport:
    """Delete launch-log rows and raw events older than their retention, in batches (commits)."""
    now = now or utcnow()
    settings = _settings()
    launch_logs = events_deleted = waiting = 0
    if settings.LAUNCH_LOG_RETENTION_DAYS:
        log_table = _table("launch_log")
        cutoff = now - timedelta(days=settings.LAUNCH_LOG_RETENTION_DAYS)
        launch_logs = _purge_in_batches(log_table, log_table.c.created_at < cutoff, max_batches)
    if settings.EVENT_RETENTION_DAYS:
        events = _table("events")
        cutoff = now - timedelta(days=settings.EVENT_RETENTION_DAYS)
        old = events.c.created_at < cutoff
        safe = old & events.c.dispatched_at.is_not(None) & (events.c.id <= ingested_through())
        events_deleted = _purge_in_batches(events, safe, max_batches)
        waiting = db.session.scalar(select(func.count()).select_from(events).where(old)) or 0
        db.session.commit()
    return PurgeReport(launch_logs=launch_logs, events=events_deleted, events_waiting=waiting)
