"""Sending one outbox row to the LMS: find or create its line item, post the score, record the result.

Ordering: deliveries of one learner's score on one item are serialized by a short lock in the
shared cache, and each sends the learner's standing as recomputed from every committed attempt at
that moment, stamped with the newest attempt's time (never earlier than the last score sent). So a
delivery that runs late sends the current standing, never an outdated one, and the LMS's own
timestamp check (AGS: an older score must not replace a newer one) never has to save us.

Failures: 429, 5xx, timeouts and connection errors wait and retry (exponential backoff with jitter,
or the LMS's Retry-After when longer); a 401 gets one fresh token (in `lti_services.call`); 400,
403, 404 and exhausted retries mark the row failed with the LMS's own reason.
"""

from __future__ import annotations

import logging
import random
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import IntegrityError

from grades import lti_services as lti
from grades.models import (
    DELIVERED,
    FAILED,
    PENDING,
    SUPERSEDED,
    Attempt,
    ContextService,
    LineItem,
    ResourceLinkService,
    ScoreDelivery,
)
from grades.service import enqueue_delivery, granted_scopes, policy_score, service_client
from lti_tool import events
from lti_tool.cache import cache
from lti_tool.db import db, utcnow
from lti_tool.models import ResourceLink, User

log = logging.getLogger(__name__)

LINE_ITEM_TAG = "grade"
# A job that finds the row's retry not yet due leaves it to the job scheduled for then.
EARLY_SLACK = timedelta(seconds=2)
# Another delivery for the same learner and item holds the lock for long: look again this much later.
BUSY_RETRY_SECONDS = 5.0
LINE_ITEM_WAIT_SECONDS = 20.0
ONE_MS = timedelta(milliseconds=1)


@dataclass(frozen=True)
class Settings:
    max_tries: int
    first_wait: float
    max_wait: float
    timeout: float

    @classmethod
    def current(cls) -> Settings:
        s = current_app.config["SETTINGS"]
        return cls(
            s.GRADE_DELIVERY_MAX_TRIES,
            s.GRADE_RETRY_FIRST_SECONDS,
            float(s.GRADE_RETRY_MAX_SECONDS),
            s.HTTP_TIMEOUT_SECONDS,
        )

    @property
    def lock_seconds(self) -> int:
        # Long enough for a token request, a line item lookup and creation, and a score post with
        # its one 401 retry; short enough that a killed worker's lock soon lapses.
        return int(6 * self.timeout) + 5


class _Lock:
    """A best-effort mutex in the shared cache (Redis SET NX with expiry, or the database)."""

    def __init__(self, key: str, ttl: int):
        self.key, self.ttl, self.token = key, ttl, secrets.token_hex(8)

    def acquire(self, wait: float = 0.0) -> bool:
        """Take the lock, waiting up to `wait` seconds for its holder to finish."""
        deadline = time.monotonic() + wait
        while not cache().add(self.key, self.token, self.ttl):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True

    def release(self) -> None:
        if cache().get(self.key) == self.token:
            cache().delete(self.key)


def backoff_seconds(tries: int, settings: Settings, retry_after: float | None = None) -> float:
    """The wait before try number `tries + 1`: doubling from the first wait, with full jitter in
    its upper half, capped; an LMS's Retry-After wins when it asks for longer (up to a day)."""
    base = min(settings.max_wait, settings.first_wait * 2 ** max(tries - 1, 0))
    wait = base * random.uniform(0.5, 1.0)
    if retry_after is not None:
        wait = max(wait, min(retry_after, 24 * 3600.0))
    return wait


def deliver(delivery_id: int) -> str:
    """Deliver one outbox row if it is pending and due. Returns what happened (for logs and tests).

    Safe to run any number of times, concurrently or after a crash.
    """
    row = db.session.get(ScoreDelivery, delivery_id)
    if row is None:
        return "missing"
    if row.status != PENDING:
        return row.status
    if row.next_attempt_at > utcnow() + EARLY_SLACK:
        return "not-due"
    settings = Settings.current()
    key = f"grades:deliver:{row.platform_id}:{row.context_pk}:{row.user_pk}:{row.item_id}"
    lock = _Lock(key, settings.lock_seconds)
    # Another worker may be sending this learner's score on this item: ours follows it, after a
    # short wait here or, if it takes longer (a killed worker's lock lapses on its own), later.
    if not lock.acquire(wait=settings.timeout + 1):
        _wait(row, BUSY_RETRY_SECONDS)
        return "busy"
    try:
        db.session.refresh(row)
        if row.status != PENDING:
            return row.status
        return _deliver_locked(row, settings)
    finally:
        lock.release()


@dataclass(frozen=True)
class _Services:
    """What a delivery needs of its context's LMS services (cached briefly in each process)."""

    scopes: tuple[str, ...]
    lineitems_url: str | None
    client: lti.Client | None
    until: float


SERVICES_CACHE_SECONDS = 30.0
CACHE_KEY = "grades_delivery_cache"


@dataclass
class _Caches:
    # context id -> its services. Launches change them rarely; a short life keeps a worker current.
    services: dict[int, _Services]
    # (context, link, item) -> the bound line item's URL: one lookup per column per process.
    line_items: dict[tuple[int, int | None, int], str]


def _caches() -> _Caches:
    """This application's caches (kept per app: each app may have its own database)."""
    caches = current_app.extensions.get(CACHE_KEY)
    if caches is None:
        caches = current_app.extensions[CACHE_KEY] = _Caches({}, {})
    return caches


def forget_caches() -> None:
    current_app.extensions.pop(CACHE_KEY, None)


def _services(row: ScoreDelivery) -> _Services | None:
    _services_cache = _caches().services
    cached = _services_cache.get(row.context_pk)
    if cached is not None and cached.until > time.monotonic():
        return cached
    services = db.session.scalar(
        select(ContextService).where(
            ContextService.platform_id == row.platform_id, ContextService.context_pk == row.context_pk
        )
    )
    if services is None:
        return None
    found = _Services(
        granted_scopes(services),
        services.lineitems_url,
        service_client(services),
        time.monotonic() + SERVICES_CACHE_SECONDS,
    )
    if len(_services_cache) > 5000:
        _services_cache.clear()
    if len(_caches().line_items) > 50000:
        _caches().line_items.clear()
    _services_cache[row.context_pk] = found
    return found


def _deliver_locked(row: ScoreDelivery, settings: Settings) -> str:
    services = _services(row)
    scopes = services.scopes if services else ()
    if services is None or lti.SCOPE_SCORE not in scopes:
        return _fail(
            row,
            "The LMS has not given this tool permission to send grades for this course "
            "(no Assignment and Grade Services score scope in its launches).",
            announce=False,
        )
    if services.client is None:
        return _fail(
            row, "The LMS registration this course was launched through no longer exists in the tool."
        )
    found = db.session.execute(
        select(Attempt, User.sub)
        .join(User, User.id == Attempt.user_pk)
        .where(
            Attempt.platform_id == row.platform_id,
            Attempt.user_pk == row.user_pk,
            Attempt.item_id == row.item_id,
            User.platform_id == row.platform_id,
        )
    ).all()
    if not found:
        return _fail(row, "The learner or their attempts were removed before the score was sent.")
    attempts = [attempt for attempt, _ in found]
    sub = found[0][1]
    # Every other delivery of this learner's score on this item: the last timestamp sent, and the
    # rows that the standing about to be sent will cover.
    siblings = db.session.execute(
        select(
            ScoreDelivery.id,
            ScoreDelivery.status,
            ScoreDelivery.attempt_pk,
            ScoreDelivery.forced,
            ScoreDelivery.sent_timestamp,
        ).where(
            ScoreDelivery.platform_id == row.platform_id,
            ScoreDelivery.context_pk == row.context_pk,
            ScoreDelivery.user_pk == row.user_pk,
            ScoreDelivery.item_id == row.item_id,
            ScoreDelivery.status.in_((PENDING, FAILED, DELIVERED)),
            ScoreDelivery.id != row.id,
        )
    ).all()

    given, newest = policy_score(attempts, row.grade_policy, row.score_maximum)
    timestamp = newest.submitted_at
    sent_before = [s.sent_timestamp for s in siblings if s.status == DELIVERED and s.sent_timestamp]
    if sent_before:
        # Never stamp a score earlier than one already sent: the LMS would (rightly) ignore it.
        # A forced resend goes just after, so the LMS takes it even over an equal timestamp.
        last = max(sent_before)
        timestamp = max(timestamp, last + ONE_MS if row.forced else last)
    score = {
        "userId": sub,
        "scoreGiven": given,
        "scoreMaximum": row.score_maximum,
        "activityProgress": row.activity_progress,
        "gradingProgress": row.grading_progress,
        "timestamp": _iso(timestamp),
    }
    if row.comment:
        score["comment"] = row.comment

    try:
        url = _post_with_line_item(row, services, scopes, score)
    except lti.ServiceError as error:
        if error.retryable:
            return _retry_later(row, settings, error)
        return _fail(row, error.message, error.status)

    _async_commit()
    row.status, row.delivered_at = DELIVERED, utcnow()
    row.sent_score, row.sent_timestamp, row.line_item_url = given, timestamp, url
    row.last_error = row.last_http_status = None
    row.tries += 1
    included = {a.id for a in attempts}
    # Rows whose attempt the sent standing already includes have nothing left to send (a teacher's
    # later resend is kept: it is meant to go out again).
    covered = [
        s.id
        for s in siblings
        if s.status in (PENDING, FAILED) and s.attempt_pk in included and not (s.forced and s.id > row.id)
    ]
    if covered:
        db.session.execute(
            update(ScoreDelivery)
            .where(ScoreDelivery.id.in_(covered), ScoreDelivery.status.in_((PENDING, FAILED)))
            .values(status=SUPERSEDED, superseded_by_pk=row.id, updated_at=utcnow()),
            execution_options={"synchronize_session": False},
        )
    events.publish(
        "grade_delivered",
        platform_id=row.platform_id,
        user_pk=row.user_pk,
        context_pk=row.context_pk,
        data={"item_id": row.item_id, "delivery_id": row.id, "score": given, "max_score": row.score_maximum},
    )
    db.session.commit()
    return DELIVERED


def _async_commit() -> None:
    """Let this transaction's commit return before its WAL reaches the disk (PostgreSQL).

    Safe for marking a score delivered: the score is already in the LMS, and if the database lost
    the last moments before a crash the row would be pending again and its standing sent once
    more, which the LMS takes as the same score. The attempt and its outbox row are committed
    durably by the submission itself.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL synchronous_commit = off"))


def _iso(moment: datetime) -> str:
    # AGS asks for ISO 8601 with sub-second precision and a zone.
    return moment.isoformat(timespec="milliseconds")


def _retry_later(row: ScoreDelivery, settings: Settings, error: lti.ServiceError) -> str:
    row.tries += 1
    row.last_error, row.last_http_status = error.message, error.status
    if row.tries >= settings.max_tries:
        return _fail(row, f"Gave up after {row.tries} tries. Last answer: {error.message}", error.status)
    wait = backoff_seconds(row.tries, settings, error.retry_after)
    log.info("score delivery %s: %s; retry %d in %.1fs", row.id, error.message, row.tries, wait)
    _wait(row, wait)
    return "retrying"


def _wait(row: ScoreDelivery, seconds: float) -> None:
    """Schedule the row's next try `seconds` from now (the sweeper covers a lost timer)."""
    row.next_attempt_at = utcnow() + timedelta(seconds=seconds)
    # The wait's end names the job: each scheduled try is queued once, however often it is asked.
    enqueue_delivery(row.id, delay=seconds, tag=int(row.next_attempt_at.timestamp() * 1000))
    db.session.commit()


def _fail(row: ScoreDelivery, reason: str, status: int | None = None, *, announce: bool = True) -> str:
    """Mark the row failed with `reason`; `announce` publishes a grade_failed event (teachers hear
    of it), left out for a course whose LMS never enabled grades: its gradebook page says so once,
    rather than a message per submission."""
    row.status = FAILED
    row.last_error, row.last_http_status = reason[:2000], status
    if announce:
        events.publish(
            "grade_failed",
            platform_id=row.platform_id,
            user_pk=row.user_pk,
            context_pk=row.context_pk,
            data={"item_id": row.item_id, "delivery_id": row.id, "reason": reason[:500]},
        )
    db.session.commit()
    log.warning("score delivery %s failed: %s", row.id, reason)
    return FAILED


# --- line items ------------------------------------------------------------------------------------------


def _post_with_line_item(row, services: _Services, scopes, score) -> str:
    """Post the score to the item's line item (found or created); returns the line item URL."""
    _line_item_cache = _caches().line_items
    key = (row.context_pk, row.resource_link_pk, row.item_id)
    url = _line_item_cache.get(key)
    if url is None:
        bound = _bound_line_item(row)
        url = bound.url if bound else _resolve_line_item(row, services, services.client, scopes)
        _line_item_cache[key] = url
        known = bound is not None
    else:
        known = True
    try:
        lti.post_score(services.client, scopes, url, score)
        return url
    except lti.ServiceError as error:
        if error.status != 404 or not known:
            raise
    # The column we knew was deleted in the LMS: forget it, find or create it again, once.
    log.info("line item %s is gone from the LMS; finding it again", url)
    _line_item_cache.pop(key, None)
    db.session.execute(delete(LineItem).where(LineItem.context_pk == row.context_pk, LineItem.url == url))
    db.session.commit()
    url = _resolve_line_item(row, services, services.client, scopes)
    _line_item_cache[key] = url
    lti.post_score(services.client, scopes, url, score)
    return url


def _bound_line_item(row: ScoreDelivery) -> LineItem | None:
    stmt = select(LineItem).where(
        LineItem.platform_id == row.platform_id,
        LineItem.context_pk == row.context_pk,
        LineItem.item_id == row.item_id,
    )
    if row.resource_link_pk is None:
        stmt = stmt.where(LineItem.resource_link_pk.is_(None))
    else:
        stmt = stmt.where(LineItem.resource_link_pk == row.resource_link_pk)
    return db.session.scalar(stmt.order_by(LineItem.id).limit(1))


def _resource_id(row: ScoreDelivery) -> str:
    """How the tool names an item to the LMS (a line item's resourceId): its public id when the
    courses package knows it (database ids stay inside the tool)."""
    try:
        from courses.service import grading_info
    except ImportError:
        grading_info = None
    if grading_info is not None:
        info = grading_info(platform_id=row.platform_id, item_id=row.item_id)
        if info is not None:
            return str(info.public_id)
    return f"item-{row.item_id}"


def _resolve_line_item(row, services, client, scopes) -> str:
    """Find the item's line item or create it, one process at a time per item and link."""
    lock = _Lock(
        f"grades:lineitem:{row.platform_id}:{row.context_pk}:{row.resource_link_pk}:{row.item_id}", 60
    )
    deadline = time.monotonic() + LINE_ITEM_WAIT_SECONDS
    while not lock.acquire():
        if time.monotonic() > deadline:
            raise lti.ServiceError("Another worker is still creating this item's LMS column", retryable=True)
        time.sleep(0.1)
        db.session.rollback()  # see the other worker's committed binding
        bound = _bound_line_item(row)
        if bound is not None:
            return bound.url
    try:
        db.session.rollback()
        bound = _bound_line_item(row)
        if bound is not None:
            return bound.url
        url = _find_or_create(row, services, client, scopes)
        return _bind(row, url)
    finally:
        lock.release()


def _find_or_create(row, services, client, scopes) -> str:
    can_read = lti.SCOPE_LINEITEM in scopes or lti.SCOPE_LINEITEM_READONLY in scopes
    resource_id = _resource_id(row)
    link = db.session.get(ResourceLink, row.resource_link_pk) if row.resource_link_pk else None
    link_service = (
        db.session.scalar(select(ResourceLinkService).where(ResourceLinkService.resource_link_pk == link.id))
        if link is not None
        else None
    )
    claimed = link_service.lineitem_url if link_service else None

    # 1. The line item the platform made for this link (deep linking's lineItem).
    if claimed:
        if not services.lineitems_url or not can_read:
            # The platform allows only this one column: every score of the link goes there.
            return claimed
        item = lti.get_line_item(client, scopes, claimed)
        theirs = str(item.get("resourceId") or "")
        taken = db.session.scalar(
            select(LineItem.id).where(LineItem.context_pk == row.context_pk, LineItem.url == claimed)
        )
        if theirs == resource_id or (not theirs and taken is None):
            return claimed

    if not services.lineitems_url:
        raise lti.ServiceError(
            "The LMS gave no line item for this link and no line items service to find or create one; "
            "place the item again with grading enabled.",
            retryable=False,
        )
    # 2. One the tool made earlier (or another placement made), found by link and resource id.
    if can_read:
        filters = {"resource_id": resource_id}
        if link is not None:
            filters["resource_link_id"] = link.resource_link_id
        for item in lti.find_line_items(client, scopes, services.lineitems_url, filters):
            same_resource = str(item.get("resourceId") or "") == resource_id
            same_link = link is None or str(item.get("resourceLinkId") or "") in ("", link.resource_link_id)
            if same_resource and same_link and isinstance(item.get("id"), str):
                return item["id"]
    # 3. Create it.
    if lti.SCOPE_LINEITEM not in scopes:
        raise lti.ServiceError(
            "The LMS has no gradebook column for this item and does not let the tool create one "
            "(the lineitem scope was not granted).",
            retryable=False,
        )
    body = {
        "scoreMaximum": row.score_maximum,
        "label": row.line_item_label,
        "resourceId": resource_id,
        "tag": LINE_ITEM_TAG,
    }
    if link is not None:
        body["resourceLinkId"] = link.resource_link_id
    created = lti.create_line_item(client, scopes, services.lineitems_url, body)
    return created["id"]


def _bind(row: ScoreDelivery, url: str) -> str:
    try:
        with db.session.begin_nested():
            db.session.add(
                LineItem(
                    platform_id=row.platform_id,
                    context_pk=row.context_pk,
                    resource_link_pk=row.resource_link_pk,
                    item_id=row.item_id,
                    url=url[:1000],
                    label=row.line_item_label,
                    score_maximum=row.score_maximum,
                )
            )
        db.session.commit()
    except IntegrityError:
        # The URL is bound already (another link of the same item shares the platform's column).
        db.session.rollback()
    return url
