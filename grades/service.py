"""Grades: attempts, the score each learner stands at, the outbox of deliveries, and the gradebook.

`record_attempt` adds the attempt and its outbox row to the caller's transaction and never commits;
the delivery job is handed to the `grades` queue only when the caller commits (`lti_tool.jobs`).
Everything here is plain functions of ids, callable from views, jobs and tests alike, and every
query is scoped to one platform (and one context where it applies).
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable

from flask_babel import gettext as _, lazy_gettext, ngettext
from sqlalchemy import func, select

from grades.lti_services import SCOPE_LINEITEM, SCOPE_LINEITEM_READONLY, SCOPE_NRPS, SCOPE_SCORE
from grades.lti_services import Client as LtiClient
from grades.models import (
    DELIVERED,
    FAILED,
    GRADE_POLICIES,
    PENDING,
    SUPERSEDED,
    Attempt,
    ContextService,
    Membership,
    ScoreDelivery,
)
from lti_tool import jobs
from lti_tool.db import db, utcnow
from lti_tool.models import Context, Enrollment, Platform, PlatformClient, ResourceLink, User
from lti_tool.roles import INSTRUCTOR, LEARNER

LABEL_MAX = 255
QUEUE = "grades"
DELIVER_JOB = "grades.jobs.deliver_score"

# What a teacher should switch on in the LMS when it granted the tool no grade or roster service.
AGS_HELP = lazy_gettext(
    "Your LMS has not given this tool permission to send grades. In Moodle, edit the tool's "
    'configuration and set "IMS LTI Assignment and Grade Services" to "Use this service for grade '
    'sync and column management". In Canvas, the developer key must include the scopes '
    '"lineitem", "lineitem.readonly" and "score" (ask your Canvas administrator). Then open the '
    "tool from your course again."
)
NRPS_HELP = lazy_gettext(
    "Your LMS has not given this tool permission to read the course roster, so only people who "
    'have opened the tool are listed. In Moodle, set "IMS LTI Names and Role Provisioning" to '
    "\"Use this service to retrieve members' information as per privacy settings\" in the tool's "
    "configuration. In Canvas, the developer key must include the scope "
    '"contextmembership.readonly". Then open the tool from your course again.'
)


class AttemptLimitReached(ValueError):
    """The learner has used every attempt the item allows; nothing was recorded."""

    def __init__(self, attempts_allowed: int):
        self.attempts_allowed = attempts_allowed
        super().__init__(
            ngettext(
                "You have used all %(num)d attempt allowed for this item, "
                "so this submission was not recorded.",
                "You have used all %(num)d attempts allowed for this item, "
                "so this submission was not recorded.",
                attempts_allowed,
            )
        )


# --- attempts ---------------------------------------------------------------------------------------


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, not {value!r}")
    return float(value)


def _check_tenancy(platform_id: int, context_pk: int, user_pk: int, resource_link_pk: int | None) -> None:
    """The learner, course and link must all belong to the one platform (and the link to the course)."""
    context = db.session.get(Context, context_pk)
    if context is None or context.platform_id != platform_id:
        raise ValueError(f"context {context_pk} does not belong to platform {platform_id}")
    user = db.session.get(User, user_pk)
    if user is None or user.platform_id != platform_id:
        raise ValueError(f"user {user_pk} does not belong to platform {platform_id}")
    if resource_link_pk is not None:
        link = db.session.get(ResourceLink, resource_link_pk)
        if link is None or link.platform_id != platform_id or link.context_pk != context_pk:
            raise ValueError(f"resource link {resource_link_pk} does not belong to context {context_pk}")


def policy_score(attempts: list[Attempt], policy: str, max_score: float) -> tuple[float, Attempt]:
    """The score to report under `policy`, on a scale of `max_score`, and the newest attempt.

    Each attempt counts as the fraction it earned, so an item whose maximum changed between attempts
    is still compared fairly. The newest attempt dates the score: it is the learner's standing as
    of then.
    """
    if not attempts:
        raise ValueError("a score needs at least one attempt")
    newest = max(attempts, key=lambda a: (a.submitted_at, a.number))
    fractions = [a.score / a.max_score for a in attempts]
    if policy == "highest":
        fraction = max(fractions)
    elif policy == "latest":
        fraction = newest.score / newest.max_score
    elif policy == "average":
        fraction = sum(fractions) / len(fractions)
    else:
        raise ValueError(f"grade_policy must be one of {', '.join(GRADE_POLICIES)}, not {policy!r}")
    return round(fraction * max_score, 6), newest


def record_attempt(
    *,
    platform_id: int,
    context_pk: int,
    user_pk: int,
    resource_link_pk: int | None,
    item_id: int,
    answers: dict,
    score: float,
    max_score: float,
    attempts_allowed: int | None,
    submitted_at: datetime | None = None,
    grade_policy: str = "highest",
    label: str | None = None,
    comment: str | None = None,
) -> Attempt:
    """Add an attempt, its score and its delivery to the LMS to the caller's transaction.

    Attempts are numbered per learner and item. `attempts_allowed` None means unlimited;
    `grade_policy` (highest, latest, average) decides what the LMS receives; `label` names the
    gradebook column if the tool has to create one; `comment` is shown to the learner in the LMS.
    Raises AttemptLimitReached (a ValueError) when the attempts are used up and ValueError for
    anything malformed; nothing is added then. The caller commits; the delivery is queued only
    after that commit succeeds. Two submissions racing for the same attempt number make the second
    commit fail with an IntegrityError (the unique attempt number), never a duplicate.
    """
    score = _number("score", score)
    max_score = _number("max_score", max_score)
    if max_score <= 0:
        raise ValueError(f"max_score must be greater than 0, not {max_score:g}")
    if not 0 <= score <= max_score:
        raise ValueError(f"score must be between 0 and {max_score:g}, not {score:g}")
    if grade_policy not in GRADE_POLICIES:
        raise ValueError(f"grade_policy must be one of {', '.join(GRADE_POLICIES)}, not {grade_policy!r}")
    if attempts_allowed is not None and (
        isinstance(attempts_allowed, bool) or not isinstance(attempts_allowed, int) or attempts_allowed < 1
    ):
        raise ValueError(
            f"attempts_allowed must be a positive whole number or None, not {attempts_allowed!r}"
        )
    if isinstance(item_id, bool) or not isinstance(item_id, int) or item_id < 1:
        raise ValueError(f"item_id must be a positive whole number, not {item_id!r}")
    if not isinstance(answers, dict):
        raise ValueError("answers must be a dict")
    if submitted_at is None:
        submitted_at = utcnow()
    elif not isinstance(submitted_at, datetime) or submitted_at.tzinfo is None:
        raise ValueError("submitted_at must be timezone-aware")
    submitted_at = submitted_at.astimezone(timezone.utc)
    _check_tenancy(platform_id, context_pk, user_pk, resource_link_pk)

    previous = attempts_for(platform_id=platform_id, user_pk=user_pk, item_id=item_id)
    if attempts_allowed is not None and len(previous) >= attempts_allowed:
        raise AttemptLimitReached(attempts_allowed)
    attempt = Attempt(
        platform_id=platform_id,
        context_pk=context_pk,
        user_pk=user_pk,
        resource_link_pk=resource_link_pk,
        item_id=item_id,
        # Numbers follow the highest so far: a removed attempt never lets a number repeat.
        number=max((a.number for a in previous), default=0) + 1,
        answers=answers,
        score=score,
        max_score=max_score,
        submitted_at=submitted_at,
    )
    db.session.add(attempt)
    db.session.flush()
    given, newest = policy_score([attempt, *previous], grade_policy, max_score)
    delivery = ScoreDelivery(
        platform_id=platform_id,
        context_pk=context_pk,
        user_pk=user_pk,
        resource_link_pk=resource_link_pk,
        item_id=item_id,
        attempt_pk=attempt.id,
        score_given=given,
        score_maximum=max_score,
        grade_policy=grade_policy,
        comment=comment.strip()[:2000] if isinstance(comment, str) and comment.strip() else None,
        score_timestamp=newest.submitted_at,
        line_item_label=_label(label, item_id),
        next_attempt_at=utcnow(),
    )
    db.session.add(delivery)
    db.session.flush()
    enqueue_delivery(delivery.id)
    return attempt


def _label(label: str | None, item_id: int) -> str:
    text = " ".join((label or "").split())[:LABEL_MAX]
    return text or _("Item %(id)s", id=item_id)


def count_attempts(*, platform_id: int, user_pk: int, item_id: int) -> int:
    return (
        db.session.scalar(
            select(func.count(Attempt.id)).where(
                Attempt.platform_id == platform_id, Attempt.user_pk == user_pk, Attempt.item_id == item_id
            )
        )
        or 0
    )


def attempts_for(*, platform_id: int, user_pk: int, item_id: int) -> list[Attempt]:
    """A learner's attempts at an item, newest first."""
    return list(
        db.session.scalars(
            select(Attempt)
            .where(Attempt.platform_id == platform_id, Attempt.user_pk == user_pk, Attempt.item_id == item_id)
            .order_by(Attempt.number.desc())
        )
    )


# --- the outbox ------------------------------------------------------------------------------------------


def enqueue_delivery(delivery_id: int, delay: float | None = None, *, tag: int = 0) -> None:
    """Queue the delivery job once the caller's transaction commits.

    Job ids keep duplicates out: the first hand-over is "deliver-<id>", a retry "retry-<id>-<tag>"
    (the running job still holds the first id while it schedules its retry; the tag is when it is due).
    """
    if delay is None:
        jobs.enqueue(QUEUE, DELIVER_JOB, delivery_id, job_id=f"deliver-{delivery_id}", retry=jobs.NO_RETRY)
    else:
        jobs.enqueue(
            QUEUE,
            DELIVER_JOB,
            delivery_id,
            job_id=f"retry-{delivery_id}-{tag}",
            retry=jobs.NO_RETRY,
            delay=timedelta(seconds=delay),
        )


def sweep_deliveries(*, older_than: timedelta, limit: int = 1000) -> int:
    """Queue again every pending delivery overdue by `older_than`; returns how many.

    Covers a job lost with Redis, a worker killed mid-delivery and a retry whose timer never fired
    (embedded mode has none). The job id names the row and the sweep period: a row still waiting
    in the queue is not queued twice within a period, and a job id held by a killed worker (RQ
    takes minutes to declare it abandoned) does not keep the row from being queued again.
    """
    now = utcnow()
    cutoff = now - older_than
    ids = list(
        db.session.scalars(
            select(ScoreDelivery.id)
            .where(ScoreDelivery.status == PENDING, ScoreDelivery.next_attempt_at <= cutoff)
            .order_by(ScoreDelivery.id)
            .limit(limit)
        )
    )
    db.session.rollback()  # nothing to keep; hand the jobs over outside any transaction
    period = int(now.timestamp() // max(older_than.total_seconds(), 60))
    for delivery_id in ids:
        jobs.submit(
            QUEUE, DELIVER_JOB, delivery_id, job_id=f"sweep-{delivery_id}-{period}", retry=jobs.NO_RETRY
        )
    return len(ids)


def retry_failed(*, platform_id: int, context_pk: int) -> int:
    """Send again the newest failed delivery of each learner and item; returns how many.

    Older failed rows of the same learner and item are marked superseded: the retried delivery
    sends the learner's current standing, which includes their attempts.
    """
    failed = list(
        db.session.scalars(
            select(ScoreDelivery)
            .where(
                ScoreDelivery.platform_id == platform_id,
                ScoreDelivery.context_pk == context_pk,
                ScoreDelivery.status == FAILED,
            )
            .order_by(ScoreDelivery.id.desc())
        )
    )
    chosen: dict[tuple[int, int], ScoreDelivery] = {}
    now = utcnow()
    for row in failed:
        key = (row.user_pk, row.item_id)
        if key in chosen:
            row.status = SUPERSEDED
            row.superseded_by_pk = chosen[key].id
            continue
        chosen[key] = row
        row.status, row.tries, row.next_attempt_at = PENDING, 0, now
        row.last_error = row.last_http_status = None
        enqueue_delivery(row.id)
    db.session.commit()
    return len(chosen)


def resend_all(*, platform_id: int, context_pk: int) -> int:
    """Queue a fresh delivery of every learner's standing on every item in the context.

    For an LMS that lost grades (a deleted column, a restored course): each is sent even if it was
    delivered before, stamped just after the last score sent so the LMS takes it.
    """
    keys = db.session.execute(
        select(Attempt.user_pk, Attempt.item_id)
        .where(Attempt.platform_id == platform_id, Attempt.context_pk == context_pk)
        .distinct()
    ).all()
    created = 0
    for user_pk, item_id in keys:
        latest = db.session.scalar(
            select(ScoreDelivery)
            .where(
                ScoreDelivery.platform_id == platform_id,
                ScoreDelivery.context_pk == context_pk,
                ScoreDelivery.user_pk == user_pk,
                ScoreDelivery.item_id == item_id,
            )
            .order_by(ScoreDelivery.id.desc())
            .limit(1)
        )
        attempts = attempts_for(platform_id=platform_id, user_pk=user_pk, item_id=item_id)
        if latest is None or not attempts:
            continue
        given, newest = policy_score(attempts, latest.grade_policy, latest.score_maximum)
        row = ScoreDelivery(
            platform_id=platform_id,
            context_pk=context_pk,
            user_pk=user_pk,
            resource_link_pk=latest.resource_link_pk,
            item_id=item_id,
            attempt_pk=newest.id,
            score_given=given,
            score_maximum=latest.score_maximum,
            grade_policy=latest.grade_policy,
            comment=latest.comment,
            score_timestamp=newest.submitted_at,
            line_item_label=latest.line_item_label,
            forced=True,
            next_attempt_at=utcnow(),
        )
        db.session.add(row)
        db.session.flush()
        enqueue_delivery(row.id)
        created += 1
    db.session.commit()
    return created


# --- LMS services of a context ------------------------------------------------------------------------


def context_services(*, platform_id: int, context_pk: int) -> ContextService | None:
    return db.session.scalar(
        select(ContextService).where(
            ContextService.platform_id == platform_id, ContextService.context_pk == context_pk
        )
    )


def granted_scopes(services: ContextService | None) -> tuple[str, ...]:
    """The scopes this tool uses that the context's launches granted (NRPS: its claim's presence)."""
    if services is None:
        return ()
    granted = set(services.ags_scopes or [])
    if services.memberships_url:
        granted.add(SCOPE_NRPS)
    return tuple(
        s for s in (SCOPE_LINEITEM, SCOPE_LINEITEM_READONLY, SCOPE_SCORE, SCOPE_NRPS) if s in granted
    )


def service_client(services: ContextService) -> LtiClient | None:
    """Who the tool is to the LMS of this context (for its token endpoint); None if unregistered."""
    found = db.session.execute(
        select(PlatformClient, Platform)
        .join(Platform, Platform.id == PlatformClient.platform_id)
        .where(PlatformClient.id == services.client_pk, Platform.id == services.platform_id)
    ).first()
    if found is None:
        return None
    client, platform = found
    return LtiClient(
        platform_id=platform.id,
        issuer=client.issuer,
        client_id=client.client_id,
        token_url=platform.token_url,
    )


def can_send_grades(services: ContextService | None) -> bool:
    return services is not None and SCOPE_SCORE in (services.ags_scopes or [])


def can_read_roster(services: ContextService | None) -> bool:
    return services is not None and bool(services.memberships_url)


# --- gradebook -----------------------------------------------------------------------------------------


@dataclass
class Column:
    item_id: int
    label: str
    max_score: float


@dataclass
class Cell:
    """One learner's standing on one item, and where its delivery to the LMS is."""

    score: float | None = None
    max_score: float | None = None
    attempts: int = 0
    # none (no attempt), pending, delivered or failed
    status: str = "none"
    delivered_at: datetime | None = None
    error: str | None = None
    tries: int = 0
    next_attempt_at: datetime | None = None

    @property
    def status_text(self) -> str:
        if self.status == "delivered":
            return (
                _("In the LMS since %(when)s UTC", when=self.delivered_at.strftime("%Y-%m-%d %H:%M"))
                if self.delivered_at
                else _("In the LMS")
            )
        if self.status == "failed":
            return _("Not sent: %(error)s", error=self.error) if self.error else _("Not sent")
        if self.status == "pending":
            if self.error:
                return ngettext(
                    "Waiting to retry (%(num)d try so far): %(error)s",
                    "Waiting to retry (%(num)d tries so far): %(error)s",
                    self.tries,
                    error=self.error,
                )
            return _("Being sent to the LMS")
        return _("No attempt")


@dataclass
class Row:
    user: User
    roster_status: str | None  # active, inactive, deleted; None: known from launches only
    launched: bool
    cells: dict[int, Cell] = field(default_factory=dict)


@dataclass
class Gradebook:
    context: Context
    columns: list[Column]
    rows: list[Row]
    services: ContextService | None

    @property
    def ags_help(self) -> str | None:
        return None if can_send_grades(self.services) else AGS_HELP

    @property
    def nrps_help(self) -> str | None:
        return None if can_read_roster(self.services) else NRPS_HELP

    def count(self, status: str) -> int:
        return sum(1 for row in self.rows for cell in row.cells.values() if cell.status == status)


def _item_details(platform_id: int, item_ids: Iterable[int]) -> dict[int, tuple[str, float]]:
    """Current title and maximum of items, from the courses package when it knows them."""
    try:
        from courses.service import grading_info
    except ImportError:  # grades works without the courses package (other gradable sources)
        return {}
    details = {}
    for item_id in item_ids:
        info = grading_info(platform_id=platform_id, item_id=item_id)
        if info is not None:
            details[item_id] = (info.title, float(info.max_score))
    return details


def _context(platform_id: int, context_pk: int) -> Context:
    context = db.session.get(Context, context_pk)
    if context is None or context.platform_id != platform_id:
        raise LookupError(f"context {context_pk} does not belong to platform {platform_id}")
    return context


def _cells(
    platform_id: int, context_pk: int, user_pks: set[int] | None = None
) -> dict[tuple[int, int], Cell]:
    """(user, item) -> the newest delivery's state and the current standing, for one context."""
    stmt = select(ScoreDelivery).where(
        ScoreDelivery.platform_id == platform_id,
        ScoreDelivery.context_pk == context_pk,
        ScoreDelivery.status != SUPERSEDED,
    )
    if user_pks is not None:
        stmt = stmt.where(ScoreDelivery.user_pk.in_(user_pks))
    newest: dict[tuple[int, int], ScoreDelivery] = {}
    for row in db.session.scalars(stmt.order_by(ScoreDelivery.id)):
        newest[(row.user_pk, row.item_id)] = row
    last_delivered: dict[tuple[int, int], ScoreDelivery] = {}
    delivered_stmt = stmt.where(ScoreDelivery.status == DELIVERED).order_by(ScoreDelivery.id)
    for row in db.session.scalars(delivered_stmt):
        last_delivered[(row.user_pk, row.item_id)] = row

    # All of a learner's attempts at an item (in any context) decide the standing, as when it is
    # sent; the count shown is of this context's attempts.
    everything: dict[tuple[int, int], list[Attempt]] = {}
    users = {key[0] for key in newest}
    items = {key[1] for key in newest}
    if newest:
        for attempt in db.session.scalars(
            select(Attempt).where(
                Attempt.platform_id == platform_id, Attempt.user_pk.in_(users), Attempt.item_id.in_(items)
            )
        ):
            everything.setdefault((attempt.user_pk, attempt.item_id), []).append(attempt)

    cells: dict[tuple[int, int], Cell] = {}
    for key, row in newest.items():
        cell = Cell(max_score=row.score_maximum, status=row.status, tries=row.tries)
        attempts = everything.get(key, [])
        cell.attempts = sum(1 for a in attempts if a.context_pk == context_pk)
        if attempts:
            cell.score, _used = policy_score(attempts, row.grade_policy, row.score_maximum)
        if row.status == DELIVERED:
            cell.delivered_at = row.delivered_at
        elif row.status == FAILED:
            cell.error = row.last_error
        elif row.status == PENDING:
            cell.error, cell.next_attempt_at = row.last_error, row.next_attempt_at
            if key in last_delivered and row.tries == 0:
                # A newer score is on its way; the LMS holds the previous one meanwhile.
                cell.delivered_at = last_delivered[key].delivered_at
        cells[key] = cell
    return cells


def gradebook(*, platform_id: int, context_pk: int) -> Gradebook:
    """Every learner of the context (roster and launches) and each gradable item's standing."""
    context = _context(platform_id, context_pk)
    services = context_services(platform_id=platform_id, context_pk=context_pk)
    memberships = {
        m.user_pk: m
        for m in db.session.scalars(
            select(Membership).where(
                Membership.platform_id == platform_id, Membership.context_pk == context_pk
            )
        )
    }
    enrollments = {
        e.user_pk: e
        for e in db.session.scalars(
            select(Enrollment).where(
                Enrollment.platform_id == platform_id, Enrollment.context_pk == context_pk
            )
        )
    }
    cells = _cells(platform_id, context_pk)
    learner_pks: set[int] = set()
    for user_pk, membership in memberships.items():
        # Someone who left the course stays listed only while they have scores to show.
        if membership.status == "deleted":
            continue
        if LEARNER in membership.roles and INSTRUCTOR not in membership.roles:
            learner_pks.add(user_pk)
    for user_pk, enrollment in enrollments.items():
        # The roster is the better source once synced; launches fill in until then.
        if user_pk not in memberships and LEARNER in enrollment.roles and INSTRUCTOR not in enrollment.roles:
            learner_pks.add(user_pk)
    learner_pks.update(user_pk for user_pk, _ in cells)

    item_labels: dict[int, tuple[str, float]] = {}
    for item_id, label, maximum in db.session.execute(
        select(ScoreDelivery.item_id, ScoreDelivery.line_item_label, ScoreDelivery.score_maximum)
        .where(ScoreDelivery.platform_id == platform_id, ScoreDelivery.context_pk == context_pk)
        .order_by(ScoreDelivery.id)
    ):
        item_labels[item_id] = (label, maximum)  # the newest label wins
    item_labels.update(_item_details(platform_id, item_labels))
    columns = [Column(item_id, label, maximum) for item_id, (label, maximum) in item_labels.items()]
    columns.sort(key=lambda c: (c.label.lower(), c.item_id))

    users = (
        list(
            db.session.scalars(select(User).where(User.platform_id == platform_id, User.id.in_(learner_pks)))
        )
        if learner_pks
        else []
    )
    rows = []
    for user in users:
        membership = memberships.get(user.id)
        row = Row(
            user=user,
            roster_status=membership.status if membership else None,
            launched=user.id in enrollments,
        )
        for column in columns:
            row.cells[column.item_id] = cells.get((user.id, column.item_id)) or Cell(
                max_score=column.max_score
            )
        rows.append(row)
    # Active learners first, then by name.
    order = {"active": 0, None: 1, "inactive": 2, "deleted": 3}
    rows.sort(key=lambda r: (order.get(r.roster_status, 1), r.user.display_name.lower(), r.user.id))
    return Gradebook(context=context, columns=columns, rows=rows, services=services)


def learner_grades(*, platform_id: int, context_pk: int, user_pk: int) -> list[tuple[Column, Cell]]:
    """One learner's own items in a context: their standing and whether it reached the LMS."""
    _context(platform_id, context_pk)
    cells = _cells(platform_id, context_pk, {user_pk})
    labels: dict[int, tuple[str, float]] = {}
    for row in db.session.scalars(
        select(ScoreDelivery)
        .where(
            ScoreDelivery.platform_id == platform_id,
            ScoreDelivery.context_pk == context_pk,
            ScoreDelivery.user_pk == user_pk,
        )
        .order_by(ScoreDelivery.id)
    ):
        labels[row.item_id] = (row.line_item_label, row.score_maximum)
    labels.update(_item_details(platform_id, labels))
    result = [
        (Column(item_id, label, maximum), cells[(user_pk, item_id)])
        for item_id, (label, maximum) in labels.items()
        if (user_pk, item_id) in cells
    ]
    result.sort(key=lambda pair: (pair[0].label.lower(), pair[0].item_id))
    return result


def _csv_safe(value: Any) -> Any:
    # A spreadsheet runs a cell that starts with = + - @ as a formula: neutralise text that does.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def gradebook_csv(book: Gradebook) -> str:
    """The gradebook as CSV: one row per learner, a score and an LMS status column per item."""
    out = io.StringIO()
    writer = csv.writer(out)
    header = ["Name", "Email", "LMS user id", "Roster status"]
    for column in book.columns:
        header += [f"{column.label} (score out of {column.max_score:g})", f"{column.label} (LMS)"]
    writer.writerow([_csv_safe(h) for h in header])
    for row in book.rows:
        line: list[Any] = [
            row.user.display_name,
            row.user.email or "",
            row.user.sub,
            row.roster_status or "launched",
        ]
        for column in book.columns:
            cell = row.cells[column.item_id]
            line += ["" if cell.score is None else f"{cell.score:g}", cell.status_text]
        writer.writerow([_csv_safe(v) for v in line])
    return out.getvalue()
