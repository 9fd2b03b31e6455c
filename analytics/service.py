"""Analytics domain logic: ingesting events, rolling them up, and what the pages and exports read.

Ingest reads the `events` table in id order from a high-water mark, a few thousand events per
transaction, clamps what clients report, and writes the facts in bulk (COPY on PostgreSQL); the
fact's key ends with the event id, so a re-delivered event is ignored. It marks the (context, day)
pairs and the learners it touched as dirty. Roll-ups recompute from facts, so running them twice
gives the same rows: the day tables for the dirty days, the per-learner tables for the dirty
learners, and the per-item summary of the context from the per-learner table.

Everything here is a plain function of ids and settings (no request): views, jobs, the CLI and the
benchmark call the same code.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone, tzinfo
from typing import Any, Iterable, Iterator, Sequence
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext, lazy_gettext, ngettext
from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    Integer,
    String,
    and_,
    case,
    delete,
    distinct,
    func,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.types import TypeDecorator

from analytics import catalog
from analytics.models import (
    DELIVERED,
    FACT_KINDS,
    LAUNCH,
    PROGRESS,
    SCORE_BINS,
    SUBMITTED,
    VIEWED,
    ContextDay,
    ContextSummary,
    DirtyDay,
    DirtyLearner,
    Fact,
    IngestCursor,
    ItemDay,
    ItemSummary,
    LearnerItem,
    LearnerSummary,
    MediaState,
)
from lti_tool.db import db, utcnow
from lti_tool.events import Event
from lti_tool.models import Context, Enrollment, Platform, User
from lti_tool.roles import INSTRUCTOR

log = logging.getLogger("analytics")

CURSOR = "events"
# A missing event id is looked for again this long: a transaction that took the id may still
# commit (PostgreSQL hands out ids before commit); after that it was rolled back.
GAP_RETRY_SECONDS = 600
MAX_GAP_RANGES = 1000
# Rows per IN (...) list: well under every database's parameter limit.
CHUNK = 500
# Namespace of the PostgreSQL advisory locks that keep two roll-ups of one context apart.
LOCK_NAMESPACE = 0x414E


def _settings():
    return current_app.config["SETTINGS"]


def analytics_zone(settings=None) -> tzinfo:
    name = (settings or _settings()).ANALYTICS_TIMEZONE
    return timezone.utc if name == "UTC" else ZoneInfo(name)


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _insert(model):
    """A Core INSERT (ON CONFLICT capable) into the model's table (with a list of rows, the ORM
    would run one statement per row)."""
    if _dialect() == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(model.__table__)


def _chunks(values: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


# --- clamping untrusted numbers ---------------------------------------------------------------------


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def clamp_progress(
    position: Any, duration: Any, furthest: float | None
) -> tuple[float | None, float | None, float | None]:
    """(position, duration, progress) of a media report, made safe.

    The player's numbers are not trusted: a position past the end counts as the end, a negative
    one as the start, and progress (the furthest fraction reached) never goes backwards. A report
    without a usable duration records no position and leaves progress where it was.
    """
    duration = _number(duration)
    position = _number(position)
    if duration is None or duration <= 0 or position is None:
        return None, duration if duration and duration > 0 else None, furthest
    position = min(max(position, 0.0), duration)
    fraction = position / duration
    progress = fraction if furthest is None else max(furthest, fraction)
    return position, duration, progress


def clamp_score(score: Any, max_score: Any) -> tuple[float | None, float | None, float | None]:
    """(score, max_score, scaled) with the score inside [0, max_score]; all None if unusable."""
    score, max_score = _number(score), _number(max_score)
    if score is None or max_score is None or max_score <= 0:
        return None, None, None
    score = min(max(score, 0.0), max_score)
    return score, max_score, score / max_score


# --- ingest -------------------------------------------------------------------------------------------


@dataclass
class IngestReport:
    read: int = 0  # events looked at
    ingested: int = 0  # facts written
    skipped: int = 0  # not learning events, or lacking a context, user or item
    batches: int = 0
    contexts: set[int] = field(default_factory=set)


def _event_columns():
    return select(
        Event.id, Event.kind, Event.platform_id, Event.context_pk, Event.user_pk, Event.data, Event.created_at
    )


def _read_events(statement) -> list[tuple]:
    """Event rows as plain tuples: (id, kind, platform_id, context_pk, user_pk, data, created_at).

    On PostgreSQL through the driver's own cursor: thousands of rows a batch, and building
    SQLAlchemy rows for them cost as much as the rest of the transformation.
    """
    bind = db.session.connection()
    if bind.dialect.name != "postgresql":
        return [tuple(row) for row in bind.execute(statement)]
    compiled = statement.compile(dialect=bind.dialect)
    with bind.connection.driver_connection.cursor() as cursor:
        cursor.execute(str(compiled), compiled.params)
        rows = cursor.fetchall()
    utc = timezone.utc
    return [(i, kind, p, c, u, data, created.astimezone(utc)) for i, kind, p, c, u, data, created in rows]


def ingest_pending(
    *, batch_size: int | None = None, max_batches: int | None = None, statistics: bool = True
) -> IngestReport:
    """Turn every event not yet ingested into facts, in batches; returns what was done.

    Safe to run concurrently (batches take the cursor row in turn) and again (nothing twice).
    `statistics=False` leaves the planner statistics to the caller (see `refresh_statistics`).
    """
    settings = _settings()
    size = batch_size or settings.ANALYTICS_INGEST_BATCH
    zone = analytics_zone(settings)
    report = IngestReport()
    learner_cache: dict[tuple[int, int], bool] = {}
    while max_batches is None or report.batches < max_batches:
        fresh = _ingest_batch(size, zone, learner_cache, report)
        report.batches += 1
        if fresh < size:
            break
    if statistics:
        refresh_statistics(report.ingested)
    return report


# PostgreSQL's autovacuum keeps the planner's statistics, but may lag behind a large catch-up.
ANALYZE_AFTER_POSTGRESQL = 100_000


def refresh_statistics(ingested: int) -> None:
    """Keep the query planner's statistics of the fact table current, so roll-ups use its indexes.

    SQLite has none until asked: without them it filters a course's facts through the wrong index
    and an incremental roll-up takes seconds instead of a fraction of one. A sampled ANALYZE
    (analysis_limit) costs a few milliseconds there.
    """
    if not ingested:
        return
    if _dialect() == "sqlite":
        db.session.execute(text("PRAGMA analysis_limit = 1000"))
        db.session.execute(text("ANALYZE analytics_facts"))
        db.session.commit()
    elif ingested >= ANALYZE_AFTER_POSTGRESQL:
        db.session.execute(text("ANALYZE analytics_facts"))
        db.session.commit()


def is_ingested(event_id: int) -> bool:
    """Whether ingest has already read this event (as a fact, or as an event it skips)."""
    row = db.session.execute(
        select(IngestCursor.last_event_id, IngestCursor.gaps).where(IngestCursor.name == CURSOR)
    ).first()
    if row is None or event_id > row.last_event_id:
        return False
    return not any(start <= event_id <= end for start, end, _seen in row.gaps or ())


def backlog() -> int:
    """Events written after the ingest mark (a health figure for operators)."""
    mark = db.session.scalar(select(IngestCursor.last_event_id).where(IngestCursor.name == CURSOR)) or 0
    return (
        db.session.scalar(
            select(func.count()).select_from(Event).where(Event.id > mark).execution_options(unscoped=True)
        )
        or 0
    )


def _claim_cursor(now: datetime):
    # Writing the cursor row first takes its lock (PostgreSQL) or the write lock (SQLite): batches
    # of concurrent runs take turns instead of reading the same events.
    if _dialect() == "postgresql":
        # Facts are derived from durable events, and the cursor moves in the same transaction: a
        # batch lost in a crash is read again, so its commit need not wait for the disk.
        db.session.execute(text("SET LOCAL synchronous_commit = off"))
    db.session.execute(
        _insert(IngestCursor)
        .values(name=CURSOR, last_event_id=0, gaps=[], updated_at=now)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    db.session.execute(update(IngestCursor).where(IngestCursor.name == CURSOR).values(updated_at=now))
    return db.session.execute(
        select(IngestCursor.last_event_id, IngestCursor.gaps).where(IngestCursor.name == CURSOR)
    ).one()


def _fill_gaps(gaps: list[list[Any]]) -> tuple[list[Any], list[list[Any]]]:
    """Events that have appeared inside known gaps, and the gaps that remain."""
    found: list[Any] = []
    for ranges in _chunks(gaps, 100):
        condition = or_(*(Event.id.between(start, end) for start, end, _seen in ranges))
        found.extend(_read_events(_event_columns().where(condition)))
    if not found:
        return [], gaps
    ids = sorted(row[0] for row in found)
    remaining: list[list[Any]] = []
    for start, end, seen in gaps:
        cursor = start
        for event_id in ids:
            if event_id < start or event_id > end:
                continue
            if event_id > cursor:
                remaining.append([cursor, event_id - 1, seen])
            cursor = event_id + 1
        if cursor <= end:
            remaining.append([cursor, end, seen])
    return found, remaining


def _ingest_batch(
    size: int, zone: tzinfo, learner_cache: dict[tuple[int, int], bool], report: IngestReport
) -> int:
    now = utcnow()
    now_ts = now.timestamp()
    mark, stored_gaps = _claim_cursor(now)
    gaps = [list(gap) for gap in stored_gaps or () if now_ts - gap[2] < GAP_RETRY_SECONDS]
    rows: list[Any] = []
    if gaps:
        found, gaps = _fill_gaps(gaps)
        rows.extend(found)
    fresh = _read_events(_event_columns().where(Event.id > mark).order_by(Event.id).limit(size))
    rows.extend(fresh)
    highest = mark
    for event_id, *_rest, created in fresh:
        # A hole before a recent event may be a transaction that has not committed yet.
        if event_id > highest + 1 and now_ts - created.timestamp() < GAP_RETRY_SECONDS:
            gaps.append([highest + 1, event_id - 1, now_ts])
        highest = event_id
    if len(gaps) > MAX_GAP_RANGES:
        log.warning("analytics ingest: %d id gaps pending; forgetting the oldest", len(gaps))
        gaps = gaps[-MAX_GAP_RANGES:]

    facts, states, dirty, dirty_learners = _facts_from(rows, zone, learner_cache, report)
    _bulk_write(Fact, FACT_COLUMNS, facts, conflict=("context_pk", "user_pk", "event_id"))
    _bulk_write(
        MediaState,
        MEDIA_COLUMNS,
        states,
        conflict=("context_pk", "user_pk", "item_id"),
        update=("max_progress",),
    )
    # DO UPDATE (not NOTHING) on the markers locks them, so a roll-up deleting one waits for this
    # transaction and then sees its facts.
    _bulk_write(
        DirtyDay,
        ("context_pk", "day", "platform_id", "touched_at"),
        [(context_pk, day, platform_id, now) for (context_pk, day), platform_id in dirty.items()],
        conflict=("context_pk", "day"),
        update=("touched_at",),
    )
    _bulk_write(
        DirtyLearner,
        ("context_pk", "user_pk", "platform_id", "touched_at"),
        [
            (context_pk, user_pk, platform_id, now)
            for (context_pk, user_pk), platform_id in dirty_learners.items()
        ],
        conflict=("context_pk", "user_pk"),
        update=("touched_at",),
    )
    db.session.execute(
        update(IngestCursor)
        .where(IngestCursor.name == CURSOR)
        .values(last_event_id=highest, gaps=gaps, updated_at=now)
    )
    db.session.commit()
    report.read += len(rows)
    report.ingested += len(facts)
    report.contexts.update(context_pk for context_pk, _day in dirty)
    return len(fresh)


def _bulk_write(
    model, columns: Sequence[str], rows: list[tuple], *, conflict: Sequence[str], update: Sequence[str] = ()
) -> None:
    """Insert many rows at once; on a key conflict keep the stored row, or take the new `update` values.

    PostgreSQL: COPY into a session-local staging table, then one INSERT ... SELECT ... ON CONFLICT.
    COPY streams rows without a statement each; measured here it writes facts several times
    faster than an executemany or an INSERT from unnest(arrays). SQLite (in process) takes an
    executemany.
    """
    if not rows:
        return
    table = model.__table__
    bind = db.session.connection()
    if bind.dialect.name != "postgresql":
        statement = _insert(model)
        if update:
            statement = statement.on_conflict_do_update(
                index_elements=list(conflict), set_={name: statement.excluded[name] for name in update}
            )
        else:
            statement = statement.on_conflict_do_nothing(index_elements=list(conflict))
        bind.execute(statement, [dict(zip(columns, row)) for row in rows])
        return
    quote = bind.dialect.identifier_preparer.quote
    names = ", ".join(quote(name) for name in columns)
    stage = quote(f"stage_{table.name}")
    raw = bind.connection.driver_connection  # the same connection and transaction as the session
    with raw.cursor() as cursor:
        created = bind.connection.info.setdefault("analytics_stages", set())
        if table.name not in created:
            # A temporary table lives as long as the database session; emptied at every commit.
            cursor.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {quote(table.name)}) ON COMMIT DELETE ROWS"
            )
            created.add(table.name)
        with cursor.copy(f"COPY {stage} ({names}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types([_copy_type(table.c[name]) for name in columns])
            for row in rows:
                copy.write_row(row)
        action = (
            "DO UPDATE SET " + ", ".join(f"{quote(name)} = EXCLUDED.{quote(name)}" for name in update)
            if update
            else "DO NOTHING"
        )
        cursor.execute(
            f"INSERT INTO {quote(table.name)} ({names}) SELECT {names} FROM {stage} "
            f"ON CONFLICT ({', '.join(quote(name) for name in conflict)}) {action}"
        )
        cursor.execute(f"TRUNCATE {stage}")


_COPY_TYPES = (
    (BigInteger, "int8"),
    (Integer, "int4"),
    (Boolean, "bool"),
    (Float, "float8"),
    (DateTime, "timestamptz"),
    (Date, "date"),
    (String, "text"),
)


def _copy_type(column) -> str:
    """The PostgreSQL type a column's values are sent as in a binary COPY."""
    kind = column.type.impl if isinstance(column.type, TypeDecorator) else column.type
    for cls, name in _COPY_TYPES:
        if isinstance(kind, cls):
            return name
    raise TypeError(f"no binary COPY type for {column}")


def _load_learner_flags(pairs: set[tuple[int, int]], cache: dict[tuple[int, int], bool]) -> None:
    missing = [pair for pair in pairs if pair not in cache]
    if not missing:
        return
    contexts = sorted({context_pk for context_pk, _ in missing})
    users = sorted({user_pk for _, user_pk in missing})
    for context_chunk in _chunks(contexts):
        for user_chunk in _chunks(users):
            for context_pk, user_pk, roles in db.session.execute(
                select(Enrollment.context_pk, Enrollment.user_pk, Enrollment.roles)
                .where(Enrollment.context_pk.in_(context_chunk), Enrollment.user_pk.in_(user_chunk))
                .execution_options(unscoped=True)
            ):
                cache[(context_pk, user_pk)] = INSTRUCTOR not in (roles or ())
    for pair in missing:
        # No enrollment row (a roster-only learner): a learner.
        cache.setdefault(pair, True)


def _load_media_state(keys: set[tuple[int, int, int]]) -> dict[tuple[int, int, int], float]:
    state: dict[tuple[int, int, int], float] = {}
    if not keys:
        return state
    users = sorted({user_pk for _, user_pk, _ in keys})
    contexts = sorted({context_pk for context_pk, _, _ in keys})
    for user_chunk in _chunks(users):
        for context_chunk in _chunks(contexts):
            for context_pk, user_pk, item_id, furthest in db.session.execute(
                select(
                    MediaState.context_pk, MediaState.user_pk, MediaState.item_id, MediaState.max_progress
                ).where(MediaState.user_pk.in_(user_chunk), MediaState.context_pk.in_(context_chunk))
            ):
                if (context_pk, user_pk, item_id) in keys:
                    state[(context_pk, user_pk, item_id)] = furthest
    return state


FACT_COLUMNS = (
    "event_id",
    "platform_id",
    "context_pk",
    "user_pk",
    "item_id",
    "kind",
    "is_learner",
    "occurred_at",
    "ts",
    "day",
    "position",
    "duration",
    "progress",
    "score",
    "max_score",
    "scaled",
    "ref_id",
)
MEDIA_COLUMNS = ("context_pk", "user_pk", "item_id", "platform_id", "max_progress")


def _facts_from(rows: list[Any], zone: tzinfo, learner_cache, report: IngestReport):
    """Fact rows (tuples in FACT_COLUMNS order), changed media states, and what became dirty."""
    usable = []
    for event_id, kind, platform_id, context_pk, user_pk, data, created in sorted(rows):
        data = data if isinstance(data, dict) else {}
        item_id = None if kind == LAUNCH else data.get("item_id")
        if (
            kind not in FACT_KINDS
            or context_pk is None
            or user_pk is None
            or (kind != LAUNCH and (isinstance(item_id, bool) or not isinstance(item_id, int)))
        ):
            report.skipped += 1
            continue
        usable.append((event_id, kind, platform_id, context_pk, user_pk, data, created, item_id))
    _load_learner_flags({(row[3], row[4]) for row in usable}, learner_cache)
    furthest = _load_media_state({(row[3], row[4], row[7]) for row in usable if row[1] == PROGRESS})
    changed: dict[tuple[int, int, int], int] = {}

    facts: list[tuple] = []
    dirty: dict[tuple[int, date], int] = {}
    dirty_learners: dict[tuple[int, int], int] = {}
    utc = timezone.utc
    for event_id, kind, platform_id, context_pk, user_pk, data, created, item_id in usable:
        day = created.date() if zone is utc else created.astimezone(zone).date()
        learner = learner_cache[(context_pk, user_pk)]
        position = duration = progress = score = max_score = scaled = ref_id = None
        if kind == PROGRESS:
            key = (context_pk, user_pk, item_id)
            before = furthest.get(key)
            position, duration, progress = clamp_progress(data.get("position"), data.get("duration"), before)
            if progress is not None and progress != before:
                furthest[key] = progress
                changed[key] = platform_id
        elif kind == SUBMITTED or kind == DELIVERED:
            score, max_score, scaled = clamp_score(data.get("score"), data.get("max_score"))
            ref = data.get("attempt_id" if kind == SUBMITTED else "delivery_id")
            ref_id = ref if isinstance(ref, int) and not isinstance(ref, bool) else None
        facts.append(
            (
                event_id,
                platform_id,
                context_pk,
                user_pk,
                item_id,
                kind,
                learner,
                created,
                created.timestamp(),
                day,
                position,
                duration,
                progress,
                score,
                max_score,
                scaled,
                ref_id,
            )
        )
        dirty[(context_pk, day)] = platform_id
        if learner:
            dirty_learners[(context_pk, user_pk)] = platform_id
    states = [(c, u, i, platform_id, furthest[(c, u, i)]) for (c, u, i), platform_id in changed.items()]
    return facts, states, dirty, dirty_learners


# --- roll-ups -----------------------------------------------------------------------------------------


@dataclass
class RollupReport:
    contexts: int = 0
    days: int = 0
    learners: int = 0


def rollup_pending(*, max_contexts: int | None = None) -> RollupReport:
    """Roll up every context with dirty days; returns what was done."""
    pending = sorted(
        set(db.session.execute(select(DirtyDay.platform_id, DirtyDay.context_pk).distinct()).all())
        | set(db.session.execute(select(DirtyLearner.platform_id, DirtyLearner.context_pk).distinct()).all()),
        key=lambda row: row[1],
    )
    db.session.commit()
    report = RollupReport()
    for platform_id, context_pk in pending[:max_contexts] if max_contexts else pending:
        days, learners = rollup_context(platform_id, context_pk)
        if days or learners:
            report.contexts += 1
            report.days += days
            report.learners += learners
    return report


def _lock_context(context_pk: int) -> None:
    if _dialect() == "postgresql":
        db.session.execute(select(func.pg_advisory_xact_lock(LOCK_NAMESPACE, context_pk)))


def rollup_context(platform_id: int, context_pk: int, *, full: bool = False) -> tuple[int, int]:
    """Recompute a context's roll-ups for its dirty days (or, `full`, from scratch).

    Returns (days, learners) recomputed. Commits.
    """
    settings = _settings()
    in_context = (Fact.platform_id == platform_id, Fact.context_pk == context_pk)
    _lock_context(context_pk)
    # Claiming the markers (deleting them) comes first: ingest re-marks anything it adds meanwhile.
    days = _claim(DirtyDay, DirtyDay.day, platform_id, context_pk)
    learners = set(_claim(DirtyLearner, DirtyLearner.user_pk, platform_id, context_pk))
    if full:
        for model in (ItemDay, ContextDay, LearnerItem, LearnerSummary):
            db.session.execute(
                delete(model).where(model.context_pk == context_pk, model.platform_id == platform_id)
            )
        days = list(db.session.scalars(select(distinct(Fact.day)).where(*in_context)))
        learners = set(
            db.session.scalars(select(distinct(Fact.user_pk)).where(*in_context, Fact.is_learner.is_(True)))
        )
    if not days and not learners and not full:
        db.session.commit()
        return 0, 0

    gap = settings.ANALYTICS_SESSION_GAP_SECONDS
    for day_chunk in _chunks(sorted(days)):
        _rollup_days(platform_id, context_pk, day_chunk, gap)

    rules = _completion_rules(platform_id, context_pk)
    stored = dict(
        db.session.execute(
            select(ItemSummary.item_id, ItemSummary.completion_rule).where(
                ItemSummary.context_pk == context_pk, ItemSummary.platform_id == platform_id
            )
        ).all()
    )
    if any(stored.get(item_id, rule) != rule for item_id, rule in rules.items()):
        # An item's kind became known (or changed): everyone's completion of it is recounted.
        learners.update(
            db.session.scalars(
                select(LearnerSummary.user_pk).where(
                    LearnerSummary.context_pk == context_pk, LearnerSummary.platform_id == platform_id
                )
            )
        )
    threshold = settings.ANALYTICS_COMPLETION_THRESHOLD
    for user_chunk in _chunks(sorted(learners)):
        _rollup_learners(platform_id, context_pk, user_chunk, rules, gap, threshold)
    _rollup_items(platform_id, context_pk, rules)
    _rollup_context_summary(platform_id, context_pk)
    db.session.commit()
    return len(days), len(learners)


def _claim(model, column, platform_id: int, context_pk: int) -> list[Any]:
    return list(
        db.session.scalars(
            delete(model)
            .where(model.context_pk == context_pk, model.platform_id == platform_id)
            .returning(column)
            .execution_options(synchronize_session=False)
        )
    )


def _timed_facts(gap: float, *conditions):
    """Facts with the seconds until the same learner's next event that day (None for the last).

    Time on task: the pause after an event counts for that event's item, unless it is longer than
    the session gap (the learner left). Partitioned by day, so day totals add up to learner totals.
    """
    following = func.lead(Fact.ts).over(
        partition_by=(Fact.user_pk, Fact.day), order_by=(Fact.ts, Fact.event_id)
    )
    sub = (
        select(
            Fact.platform_id,
            Fact.context_pk,
            Fact.user_pk,
            Fact.item_id,
            Fact.kind,
            Fact.day,
            Fact.occurred_at,
            Fact.progress,
            Fact.scaled,
            (following - Fact.ts).label("pause"),
        )
        .where(*conditions)
        .subquery()
    )
    spent = case((sub.c.pause <= gap, sub.c.pause), else_=0.0)
    return sub, func.coalesce(func.sum(spent), 0.0)


def _count(condition):
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _count_users(condition, user):
    return func.count(distinct(case((condition, user))))


def _rollup_days(platform_id: int, context_pk: int, days: Sequence[date], gap: float) -> None:
    for model in (ItemDay, ContextDay):
        db.session.execute(
            delete(model).where(
                model.platform_id == platform_id, model.context_pk == context_pk, model.day.in_(days)
            )
        )
    sub, spent = _timed_facts(
        gap,
        Fact.platform_id == platform_id,
        Fact.context_pk == context_pk,
        Fact.day.in_(days),
        Fact.is_learner.is_(True),
    )
    kind = sub.c.kind
    submitted = kind == SUBMITTED
    item_select = (
        select(
            sub.c.platform_id,
            sub.c.context_pk,
            sub.c.item_id,
            sub.c.day,
            _count(kind == VIEWED),
            _count_users(kind == VIEWED, sub.c.user_pk),
            func.count(distinct(sub.c.user_pk)),
            _count(kind == PROGRESS),
            _count(submitted),
            _count_users(submitted, sub.c.user_pk),
            func.coalesce(func.sum(case((submitted, sub.c.scaled))), 0.0),
            func.count(case((and_(submitted, sub.c.scaled.is_not(None)), 1))),
            _count(kind == DELIVERED),
            spent,
        )
        .where(sub.c.item_id.is_not(None))
        .group_by(sub.c.platform_id, sub.c.context_pk, sub.c.item_id, sub.c.day)
    )
    db.session.execute(
        ItemDay.__table__.insert().from_select(
            [
                "platform_id",
                "context_pk",
                "item_id",
                "day",
                "views",
                "viewers",
                "learners",
                "progress_events",
                "submissions",
                "submitters",
                "scaled_sum",
                "scored",
                "grades_delivered",
                "time_on_task",
            ],
            item_select,
        )
    )
    context_select = select(
        sub.c.platform_id,
        sub.c.context_pk,
        sub.c.day,
        func.count(distinct(sub.c.user_pk)),
        _count(kind == LAUNCH),
        _count(kind == VIEWED),
        _count(kind == PROGRESS),
        _count(submitted),
        _count(kind == DELIVERED),
        func.count(),
        spent,
    ).group_by(sub.c.platform_id, sub.c.context_pk, sub.c.day)
    db.session.execute(
        ContextDay.__table__.insert().from_select(
            [
                "platform_id",
                "context_pk",
                "day",
                "learners",
                "launches",
                "views",
                "progress_events",
                "submissions",
                "grades_delivered",
                "events",
                "time_on_task",
            ],
            context_select,
        )
    )


def _completion_rules(platform_id: int, context_pk: int) -> dict[int, str]:
    """How each item with learner activity in the context is completed, by its kind.

    Items the courses package no longer knows are judged by their activity: progress reports mean
    something to watch, submissions a quiz.
    """
    seen = db.session.execute(
        select(ItemDay.item_id, func.sum(ItemDay.progress_events), func.sum(ItemDay.submissions))
        .where(ItemDay.platform_id == platform_id, ItemDay.context_pk == context_pk)
        .group_by(ItemDay.item_id)
    ).all()
    kinds = catalog.item_kinds(platform_id, [row[0] for row in seen])
    rules: dict[int, str] = {}
    for item_id, progress_events, submissions in seen:
        if item_id in kinds:
            rules[item_id] = catalog.completion_rule(kinds[item_id])
        elif progress_events:
            rules[item_id] = catalog.WATCH
        elif submissions:
            rules[item_id] = catalog.SUBMIT
        else:
            rules[item_id] = catalog.OPEN
    return rules


def _rollup_learners(
    platform_id: int,
    context_pk: int,
    users: Sequence[int],
    rules: dict[int, str],
    gap: float,
    threshold: float,
) -> None:
    for model in (LearnerItem, LearnerSummary):
        db.session.execute(
            delete(model).where(
                model.platform_id == platform_id, model.context_pk == context_pk, model.user_pk.in_(users)
            )
        )
    sub, spent = _timed_facts(
        gap,
        Fact.platform_id == platform_id,
        Fact.context_pk == context_pk,
        Fact.user_pk.in_(users),
        Fact.is_learner.is_(True),
    )
    kind = sub.c.kind
    views = _count(kind == VIEWED)
    attempts = _count(kind == SUBMITTED)
    furthest = func.max(sub.c.progress)
    watch = [item_id for item_id, rule in rules.items() if rule == catalog.WATCH]
    submit = [item_id for item_id, rule in rules.items() if rule == catalog.SUBMIT]
    completed = case(
        (sub.c.item_id.in_(watch), func.coalesce(furthest, 0.0) >= threshold),
        (sub.c.item_id.in_(submit), attempts > 0),
        else_=views > 0,
    )
    item_select = (
        select(
            sub.c.platform_id,
            sub.c.context_pk,
            sub.c.user_pk,
            sub.c.item_id,
            func.min(sub.c.occurred_at),
            func.max(sub.c.occurred_at),
            views,
            _count(kind == PROGRESS),
            furthest,
            attempts,
            func.max(case((kind == SUBMITTED, sub.c.scaled))),
            spent,
            completed,
        )
        .where(sub.c.item_id.is_not(None))
        .group_by(sub.c.platform_id, sub.c.context_pk, sub.c.user_pk, sub.c.item_id)
    )
    db.session.execute(
        LearnerItem.__table__.insert().from_select(
            [
                "platform_id",
                "context_pk",
                "user_pk",
                "item_id",
                "first_at",
                "last_at",
                "views",
                "progress_events",
                "max_progress",
                "attempts",
                "best_scaled",
                "time_on_task",
                "completed",
            ],
            item_select,
        )
    )
    activity = db.session.execute(
        select(
            sub.c.user_pk,
            func.min(sub.c.occurred_at),
            func.max(sub.c.occurred_at),
            func.count(),
            func.count(distinct(sub.c.day)),
            spent,
        ).group_by(sub.c.user_pk)
    ).all()
    li = LearnerItem
    per_item = {
        row[0]: row[1:]
        for row in db.session.execute(
            select(
                li.user_pk,
                _count(li.views > 0),
                _count(li.completed.is_(True)),
                func.coalesce(func.sum(li.attempts), 0),
                _count(li.attempts > 0),
                func.avg(li.best_scaled),
            )
            .where(li.platform_id == platform_id, li.context_pk == context_pk, li.user_pk.in_(users))
            .group_by(li.user_pk)
        )
    }
    summaries = []
    for user_pk, first_at, last_at, events, active_days, time_on_task in activity:
        viewed, done, tries, quizzes, mean = per_item.get(user_pk, (0, 0, 0, 0, None))
        summaries.append(
            {
                "platform_id": platform_id,
                "context_pk": context_pk,
                "user_pk": user_pk,
                "first_at": first_at,
                "last_at": last_at,
                "events": events,
                "active_days": active_days,
                "time_on_task": float(time_on_task),
                "items_viewed": viewed,
                "items_completed": done,
                "attempts": tries,
                "quizzes_attempted": quizzes,
                "avg_scaled": float(mean) if mean is not None else None,
            }
        )
    if summaries:
        db.session.execute(LearnerSummary.__table__.insert(), summaries)


def _bin_condition(column, k: int):
    lower = k / SCORE_BINS
    if k == SCORE_BINS - 1:
        return column >= lower
    return and_(column >= lower, column < (k + 1) / SCORE_BINS)


def median_progress(platform_id: int, context_pk: int) -> dict[int, float]:
    """Per item, the median over learners of the furthest fraction watched."""
    li = LearnerItem
    where = (li.platform_id == platform_id, li.context_pk == context_pk, li.max_progress.is_not(None))
    if _dialect() == "postgresql":
        return {
            item_id: float(value)
            for item_id, value in db.session.execute(
                select(li.item_id, func.percentile_cont(0.5).within_group(li.max_progress))
                .where(*where)
                .group_by(li.item_id)
            )
        }
    return median_progress_portable(platform_id, context_pk)


def median_progress_portable(platform_id: int, context_pk: int) -> dict[int, float]:
    """The same medians computed in Python, for databases without percentile functions."""
    li = LearnerItem
    values: dict[int, list[float]] = defaultdict(list)
    for item_id, value in db.session.execute(
        select(li.item_id, li.max_progress).where(
            li.platform_id == platform_id, li.context_pk == context_pk, li.max_progress.is_not(None)
        )
    ):
        values[item_id].append(value)
    return {item_id: float(statistics.median(found)) for item_id, found in values.items()}


def _rollup_items(platform_id: int, context_pk: int, rules: dict[int, str]) -> None:
    li = LearnerItem
    db.session.execute(
        delete(ItemSummary).where(
            ItemSummary.platform_id == platform_id, ItemSummary.context_pk == context_pk
        )
    )
    rows = db.session.execute(
        select(
            li.item_id,
            func.count(),
            _count(li.views > 0),
            func.coalesce(func.sum(li.views), 0),
            _count(li.completed.is_(True)),
            func.count(li.max_progress),
            func.coalesce(func.sum(li.attempts), 0),
            _count(li.attempts > 0),
            func.avg(li.best_scaled),
            func.coalesce(func.sum(li.time_on_task), 0.0),
            func.max(li.last_at),
            *(_count(_bin_condition(li.best_scaled, k)) for k in range(SCORE_BINS)),
        )
        .where(li.platform_id == platform_id, li.context_pk == context_pk)
        .group_by(li.item_id)
    ).all()
    medians = median_progress(platform_id, context_pk)
    summaries = []
    for row in rows:
        (
            item_id,
            learners,
            viewers,
            views,
            completions,
            watchers,
            attempts,
            submitters,
            mean,
            time_on_task,
            last_at,
        ) = row[:11]
        summaries.append(
            {
                "platform_id": platform_id,
                "context_pk": context_pk,
                "item_id": item_id,
                "completion_rule": rules.get(item_id, catalog.OPEN),
                "learners": learners,
                "viewers": viewers,
                "views": views,
                "completions": completions,
                "watchers": watchers,
                "median_progress": medians.get(item_id),
                "attempts": attempts,
                "submitters": submitters,
                "avg_scaled": float(mean) if mean is not None else None,
                "score_bins": [int(count) for count in row[11:]],
                "time_on_task": float(time_on_task),
                "last_at": last_at,
            }
        )
    if summaries:
        db.session.execute(ItemSummary.__table__.insert(), summaries)


def _enrolled_learners(platform_id: int, context_pk: int) -> dict[int, datetime]:
    """Learners enrolled in the context (as of their last launch), with that launch's time."""
    found = {}
    for user_pk, roles, last_launch_at in db.session.execute(
        select(Enrollment.user_pk, Enrollment.roles, Enrollment.last_launch_at).where(
            Enrollment.platform_id == platform_id, Enrollment.context_pk == context_pk
        )
    ):
        if INSTRUCTOR not in (roles or ()):
            found[user_pk] = last_launch_at
    return found


def _rollup_context_summary(platform_id: int, context_pk: int) -> None:
    seen = set(
        db.session.scalars(
            select(LearnerSummary.user_pk).where(
                LearnerSummary.platform_id == platform_id, LearnerSummary.context_pk == context_pk
            )
        )
    )
    class_size = len(seen | set(_enrolled_learners(platform_id, context_pk)))
    last_event_at = db.session.scalar(
        select(func.max(LearnerSummary.last_at)).where(
            LearnerSummary.platform_id == platform_id, LearnerSummary.context_pk == context_pk
        )
    )
    db.session.execute(
        delete(ContextSummary).where(
            ContextSummary.platform_id == platform_id, ContextSummary.context_pk == context_pk
        )
    )
    db.session.add(
        ContextSummary(
            platform_id=platform_id,
            context_pk=context_pk,
            learners=class_size,
            last_event_at=last_event_at,
            rolled_up_at=utcnow(),
        )
    )


# --- what the pages read -------------------------------------------------------------------------------


@dataclass(frozen=True)
class EngagementDay:
    day: date
    learners: int
    launches: int
    views: int
    submissions: int
    minutes: float


@dataclass(frozen=True)
class ItemRow:
    item_id: int
    title: str
    kind: str | None
    public_id: str | None
    module_title: str
    rule: str
    learners: int
    viewers: int
    views: int
    completions: int
    completion_rate: float | None
    watchers: int
    median_progress: float | None
    attempts: int
    submitters: int
    avg_scaled: float | None
    score_bins: tuple[int, ...]
    minutes: float


@dataclass(frozen=True)
class ModuleRow:
    key: str
    title: str
    items: int
    learners_completed: int
    completion_rate: float | None
    mean_item_completion: float | None


@dataclass(frozen=True)
class LearnerRow:
    user_pk: int
    name: str
    last_active: datetime | None
    days_inactive: int | None
    items_completed: int
    minutes: float
    attempts: int
    avg_scaled: float | None
    reasons: tuple[str, ...]

    @property
    def at_risk(self) -> bool:
        return bool(self.reasons)


@dataclass(frozen=True)
class ActivityBucket:
    label: str
    learners: int


@dataclass(frozen=True)
class Dashboard:
    context: Context
    class_size: int
    rolled_up_at: datetime | None
    days: int
    engagement: list[EngagementDay]
    modules: list[ModuleRow]
    items: list[ItemRow]
    learners: list[LearnerRow]
    at_risk_total: int
    activity: list[ActivityBucket]
    at_risk_days: int
    at_risk_score: float

    @property
    def quizzes(self) -> list[ItemRow]:
        return [item for item in self.items if item.rule == catalog.SUBMIT]

    @property
    def at_risk(self) -> list[LearnerRow]:
        return [learner for learner in self.learners if learner.at_risk]


def get_context(platform_id: int, context_pk: int) -> Context | None:
    return db.session.scalar(
        select(Context).where(Context.platform_id == platform_id, Context.id == context_pk)
    )


def today(settings=None) -> date:
    return utcnow().astimezone(analytics_zone(settings)).date()


def engagement(platform_id: int, context_pk: int, days: int) -> list[EngagementDay]:
    """One row per day for the last `days` days (today included), zeros where nothing happened."""
    last = today()
    first = last - timedelta(days=days - 1)
    found = {
        row.day: row
        for row in db.session.scalars(
            select(ContextDay).where(
                ContextDay.platform_id == platform_id,
                ContextDay.context_pk == context_pk,
                ContextDay.day >= first,
                ContextDay.day <= last,
            )
        )
    }
    result = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        row = found.get(day)
        result.append(
            EngagementDay(day, row.learners, row.launches, row.views, row.submissions, row.time_on_task / 60)
            if row
            else EngagementDay(day, 0, 0, 0, 0, 0.0)
        )
    return result


def item_rows(
    platform_id: int, context_pk: int, class_size: int
) -> tuple[list[ItemRow], list[catalog.CatalogModule]]:
    """Every listed item (in course order, with or without activity), then unlisted items with activity."""
    outline = catalog.context_outline(platform_id, context_pk)
    summaries = {
        row.item_id: row
        for row in db.session.scalars(
            select(ItemSummary).where(
                ItemSummary.platform_id == platform_id, ItemSummary.context_pk == context_pk
            )
        )
    }
    listed = [(item, module.title) for module in outline for item in module.items]
    listed_ids = {item.item_id for item, _ in listed}
    others = sorted(item_id for item_id in summaries if item_id not in listed_ids)
    known = catalog.item_titles(platform_id, others)
    rows = []
    entries = [(item.item_id, item.title, item.kind, item.public_id, title) for item, title in listed]
    for item_id in others:
        title, public_id, kind = known.get(item_id, (f"Item {item_id} (removed)", None, None))
        entries.append((item_id, title, kind, public_id, "Other items"))
    for item_id, title, kind, public_id, module_title in entries:
        summary = summaries.get(item_id)
        rule = summary.completion_rule if summary else catalog.completion_rule(kind)
        completions = summary.completions if summary else 0
        rows.append(
            ItemRow(
                item_id=item_id,
                title=title,
                kind=kind,
                public_id=public_id,
                module_title=module_title,
                rule=rule,
                learners=summary.learners if summary else 0,
                viewers=summary.viewers if summary else 0,
                views=summary.views if summary else 0,
                completions=completions,
                completion_rate=completions / class_size if class_size else None,
                watchers=summary.watchers if summary else 0,
                median_progress=summary.median_progress if summary else None,
                attempts=summary.attempts if summary else 0,
                submitters=summary.submitters if summary else 0,
                avg_scaled=summary.avg_scaled if summary else None,
                score_bins=tuple(summary.score_bins) if summary and summary.score_bins else (0,) * SCORE_BINS,
                minutes=(summary.time_on_task / 60) if summary else 0.0,
            )
        )
    return rows, outline


def module_rows(
    platform_id: int,
    context_pk: int,
    outline: list[catalog.CatalogModule],
    items: list[ItemRow],
    class_size: int,
) -> list[ModuleRow]:
    """Per module: learners who completed every item of it, and the mean completion of its items.

    One pass over the completed (learner, item) rows for all modules at once: each row is mapped
    to its module, and a learner counts for a module when their count there equals its size.
    """
    li = LearnerItem
    by_id = {item.item_id: item for item in items}
    module_of = {item.item_id: index for index, module in enumerate(outline) for item in module.items}
    completers: dict[int, int] = {}
    if module_of:
        module = case(
            *(
                (li.item_id.in_([i.item_id for i in m.items]), index)
                for index, m in enumerate(outline)
                if m.items
            )
        ).label("module")
        per_learner = (
            select(li.user_pk, module, func.count().label("done"))
            .where(
                li.platform_id == platform_id,
                li.context_pk == context_pk,
                li.item_id.in_(list(module_of)),
                li.completed.is_(True),
            )
            .group_by(li.user_pk, module)
            .subquery()
        )
        sizes = case(
            *((per_learner.c.module == index, len(m.items)) for index, m in enumerate(outline) if m.items)
        )
        completers = dict(
            db.session.execute(
                select(per_learner.c.module, func.count())
                .where(per_learner.c.done == sizes)
                .group_by(per_learner.c.module)
            ).all()
        )
    rows = []
    for index, entry in enumerate(outline):
        ids = [item.item_id for item in entry.items]
        done = completers.get(index, 0)
        rates = [by_id[i].completion_rate for i in ids if by_id[i].completion_rate is not None]
        rows.append(
            ModuleRow(
                key=entry.key,
                title=entry.title,
                items=len(ids),
                learners_completed=done,
                completion_rate=done / class_size if class_size else None,
                mean_item_completion=sum(rates) / len(rates) if rates else None,
            )
        )
    return rows


# (label, fewest, most days since the last activity)
ACTIVITY_BUCKETS = (  # labels are lazy: shown in the reader's language
    (lazy_gettext("Today"), 0, 0),
    (lazy_gettext("1-2 days"), 1, 2),
    (lazy_gettext("3-6 days"), 3, 6),
    (lazy_gettext("1-2 weeks"), 7, 13),
    (lazy_gettext("2-4 weeks"), 14, 29),
    (lazy_gettext("30+ days"), 30, None),
)


@dataclass(frozen=True)
class _LearnerState:
    last_active: datetime | None
    avg_scaled: float | None
    items_completed: int
    minutes: float
    attempts: int


def _learner_states(platform_id: int, context_pk: int) -> dict[int, _LearnerState]:
    """Every learner of the context (enrolled, or active as a learner) with their roll-up figures.

    Plain column reads (no ORM objects): a big course has thousands of learners, and the
    dashboard reads this on every view.
    """
    ls = LearnerSummary
    states = {
        user_pk: _LearnerState(last_at, mean, completed, time_on_task / 60, attempts)
        for user_pk, last_at, mean, completed, time_on_task, attempts in db.session.execute(
            select(
                ls.user_pk, ls.last_at, ls.avg_scaled, ls.items_completed, ls.time_on_task, ls.attempts
            ).where(ls.platform_id == platform_id, ls.context_pk == context_pk)
        )
    }
    for user_pk, launched_at in _enrolled_learners(platform_id, context_pk).items():
        # Enrolled, nothing recorded yet: last seen at their last launch.
        states.setdefault(user_pk, _LearnerState(launched_at, None, 0, 0.0, 0))
    return states


def _risk(state: _LearnerState, today_local: date, zone: tzinfo, at_risk_days: int, at_risk_score: float):
    days_inactive = (
        (today_local - state.last_active.astimezone(zone).date()).days if state.last_active else None
    )
    reasons = []
    if days_inactive is None:
        reasons.append(gettext("no activity recorded"))
    elif days_inactive >= at_risk_days:
        reasons.append(ngettext("inactive for %(num)d day", "inactive for %(num)d days", days_inactive))
    if state.avg_scaled is not None and state.avg_scaled < at_risk_score:
        reasons.append(gettext("mean quiz score %(percent)s%%", percent=round(state.avg_scaled * 100)))
    return days_inactive, tuple(reasons)


def _urgency(row: LearnerRow):
    # Longest inactive (never active first), then lowest mean score.
    return (
        -(row.days_inactive if row.days_inactive is not None else 10**6),
        row.avg_scaled if row.avg_scaled is not None else 2,
        row.user_pk,
    )


def learner_rows(
    platform_id: int,
    context_pk: int,
    *,
    at_risk_days: int,
    at_risk_score: float,
    only_at_risk: bool = False,
    limit: int | None = None,
    states: dict[int, _LearnerState] | None = None,
) -> list[LearnerRow]:
    """Learners of the context, most urgent first, with why they are at risk, if they are."""
    zone = analytics_zone()
    today_local = utcnow().astimezone(zone).date()
    states = _learner_states(platform_id, context_pk) if states is None else states
    rows = []
    for user_pk, state in states.items():
        days_inactive, reasons = _risk(state, today_local, zone, at_risk_days, at_risk_score)
        if only_at_risk and not reasons:
            continue
        rows.append(
            LearnerRow(
                user_pk,
                "",
                state.last_active,
                days_inactive,
                state.items_completed,
                state.minutes,
                state.attempts,
                state.avg_scaled,
                reasons,
            )
        )
    rows.sort(key=_urgency)
    if limit is not None:
        rows = rows[:limit]
    names: dict[int, str] = {}
    for chunk in _chunks([row.user_pk for row in rows]):
        for user in db.session.scalars(
            select(User).where(User.platform_id == platform_id, User.id.in_(chunk))
        ):
            names[user.id] = user.display_name
    return [dataclasses.replace(row, name=names[row.user_pk]) for row in rows if row.user_pk in names]


def activity_buckets(states: Iterable[_LearnerState]) -> list[ActivityBucket]:
    """How many learners were last active today, 1-2 days ago, ... never."""
    zone = analytics_zone()
    today_local = utcnow().astimezone(zone).date()
    counts = [0] * len(ACTIVITY_BUCKETS)
    never = 0
    for state in states:
        if state.last_active is None:
            never += 1
            continue
        days = (today_local - state.last_active.astimezone(zone).date()).days
        for index, (_label, low, high) in enumerate(ACTIVITY_BUCKETS):
            if days >= low and (high is None or days <= high):
                counts[index] += 1
                break
    buckets = [ActivityBucket(label, count) for (label, _, _), count in zip(ACTIVITY_BUCKETS, counts)]
    buckets.append(ActivityBucket(gettext("Never"), never))
    return buckets


# At most this many at-risk learners are listed on the page; the learners download has them all.
AT_RISK_LISTED = 200


def dashboard(
    platform_id: int,
    context_pk: int,
    *,
    days: int = 30,
    at_risk_days: int | None = None,
    all_learners: bool = False,
) -> Dashboard | None:
    """Everything the teacher dashboard shows, from roll-up tables only.

    `learners` holds the listed at-risk learners, or with `all_learners` every learner (for the
    download).
    """
    settings = _settings()
    context = get_context(platform_id, context_pk)
    if context is None:
        return None
    summary = db.session.scalar(
        select(ContextSummary).where(
            ContextSummary.platform_id == platform_id, ContextSummary.context_pk == context_pk
        )
    )
    at_risk_days = at_risk_days or settings.ANALYTICS_AT_RISK_DAYS
    states = _learner_states(platform_id, context_pk)
    risk = dict(at_risk_days=at_risk_days, at_risk_score=settings.ANALYTICS_AT_RISK_SCORE, states=states)
    zone = analytics_zone(settings)
    today_local = utcnow().astimezone(zone).date()
    at_risk_total = sum(
        1
        for state in states.values()
        if _risk(state, today_local, zone, at_risk_days, settings.ANALYTICS_AT_RISK_SCORE)[1]
    )
    learners = (
        learner_rows(platform_id, context_pk, **risk)
        if all_learners
        else learner_rows(platform_id, context_pk, only_at_risk=True, limit=AT_RISK_LISTED, **risk)
    )
    class_size = len(states)
    items, outline = item_rows(platform_id, context_pk, class_size)
    return Dashboard(
        context=context,
        class_size=class_size,
        rolled_up_at=summary.rolled_up_at if summary else None,
        days=days,
        engagement=engagement(platform_id, context_pk, days),
        modules=module_rows(platform_id, context_pk, outline, items, class_size),
        items=items,
        learners=learners,
        at_risk_total=at_risk_total,
        activity=activity_buckets(states.values()),
        at_risk_days=at_risk_days,
        at_risk_score=settings.ANALYTICS_AT_RISK_SCORE,
    )


@dataclass(frozen=True)
class MyItem:
    item_id: int
    title: str
    kind: str | None
    module_title: str
    rule: str
    status: str  # "not started", "in progress" or "completed"
    progress: float | None
    attempts: int
    best_scaled: float | None
    minutes: float


@dataclass(frozen=True)
class MyProgress:
    context: Context
    items: list[MyItem]
    modules: list[tuple[str, int, int]]  # (title, completed, items)
    last_active: datetime | None
    minutes: float
    rolled_up_at: datetime | None

    @property
    def completed(self) -> int:
        return sum(1 for item in self.items if item.status == "completed")


def my_progress(platform_id: int, context_pk: int, user_pk: int) -> MyProgress | None:
    """One learner's own progress in one context."""
    context = get_context(platform_id, context_pk)
    if context is None:
        return None
    li = LearnerItem
    mine = {
        row.item_id: row
        for row in db.session.scalars(
            select(li).where(
                li.platform_id == platform_id, li.context_pk == context_pk, li.user_pk == user_pk
            )
        )
    }
    summary = db.session.scalar(
        select(LearnerSummary).where(
            LearnerSummary.platform_id == platform_id,
            LearnerSummary.context_pk == context_pk,
            LearnerSummary.user_pk == user_pk,
        )
    )
    rolled = db.session.scalar(
        select(ContextSummary.rolled_up_at).where(
            ContextSummary.platform_id == platform_id, ContextSummary.context_pk == context_pk
        )
    )
    outline = catalog.context_outline(platform_id, context_pk)
    items: list[MyItem] = []
    modules: list[tuple[str, int, int]] = []
    for module in outline:
        done = 0
        for entry in module.items:
            row = mine.get(entry.item_id)
            rule = catalog.completion_rule(entry.kind)
            if row is None:
                status = "not started"
            elif row.completed:
                status = "completed"
                done += 1
            else:
                status = "in progress"
            items.append(
                MyItem(
                    item_id=entry.item_id,
                    title=entry.title,
                    kind=entry.kind,
                    module_title=module.title,
                    rule=rule,
                    status=status,
                    progress=row.max_progress if row else None,
                    attempts=row.attempts if row else 0,
                    best_scaled=row.best_scaled if row else None,
                    minutes=(row.time_on_task / 60) if row else 0.0,
                )
            )
        modules.append((module.title, done, len(module.items)))
    return MyProgress(
        context=context,
        items=items,
        modules=modules,
        last_active=summary.last_at if summary else None,
        minutes=(summary.time_on_task / 60) if summary else 0.0,
        rolled_up_at=rolled,
    )


# --- exports ------------------------------------------------------------------------------------------


def export_facts(
    platform_id: int,
    context_pk: int,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    batch: int = 2000,
) -> Iterator[tuple[Fact, User]]:
    """Every fact of a context, learner by learner in event order, with its user.

    Read in keyset pages along the facts' primary key (context, user, event), so each page is an
    index range however big the course.
    """
    last = (0, 0)
    users: dict[int, User] = {}
    while True:
        stmt = select(Fact).where(
            Fact.platform_id == platform_id,
            Fact.context_pk == context_pk,
            tuple_(Fact.user_pk, Fact.event_id) > tuple_(*last),
        )
        if since is not None:
            stmt = stmt.where(Fact.occurred_at >= since)
        if until is not None:
            stmt = stmt.where(Fact.occurred_at < until)
        facts = list(db.session.scalars(stmt.order_by(Fact.user_pk, Fact.event_id).limit(batch)))
        if not facts:
            return
        missing = sorted({fact.user_pk for fact in facts} - set(users))
        for chunk in _chunks(missing):
            for user in db.session.scalars(
                select(User).where(User.platform_id == platform_id, User.id.in_(chunk))
            ):
                users[user.id] = user
        for fact in facts:
            user = users.get(fact.user_pk)
            if user is not None:
                yield fact, user
        last = (facts[-1].user_pk, facts[-1].event_id)
        if len(facts) < batch:
            return


def platform_of(platform_id: int) -> Platform | None:
    return db.session.get(Platform, platform_id)
