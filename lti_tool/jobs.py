"""Background jobs: RQ queues over Redis in production, in-process after commit when embedded.

The whole API other packages need:

    from lti_tool import jobs

    jobs.enqueue("grades", "grades.jobs.deliver_score", delivery.id, job_id=f"deliver-{delivery.id}")
    db.session.commit()   # the job is handed over here, never before

`enqueue(queue, func, *args, job_id=None, retry=None, at_front=False, delay=None) -> str`
    Queue a call of `func` (a top-level function, or its dotted path "package.jobs.function") with
    `args` (ids and other JSON scalars; never ORM objects). Returns the job id.

    * Joins the caller's transaction, like `events.publish`: the job is submitted when the current
      `db.session` transaction commits (one is begun if none is open), and dropped if it rolls back,
      so a worker never looks for a row that was not committed. Always commit after enqueueing.
    * With `REDIS_URL`, the job goes to the RQ queue `queue` (one of `QUEUES`) with that queue's
      timeout, result TTL and retries (exponential backoff with jitter), declared once in `QUEUES`.
    * Without Redis (embedded mode) the same function runs in this process right after the commit,
      in a fresh application context with its own session, outside the caller's transaction.
      Exceptions are logged, never raised into the caller: the package's sweeper re-enqueues
      whatever did not get done (the database row, not the queue, is the record of pending work).
    * `job_id` ("deliver-42"; letters, digits, `_` and `-`) makes the job unique while pending:
      enqueueing an id that is still queued, scheduled or running does nothing, so a sweeper can
      re-enqueue freely. A finished or failed job with that id is replaced.
    * `retry`: None for the queue's default, `NO_RETRY`, or `backoff(...)` / an `rq.Retry`.
    * `delay` (a timedelta) runs it later, through RQ's scheduler. Embedded mode has no timer: a
      delayed job is left to the package's sweeper.

`submit(...)` takes the same arguments, hands the job over at once (ignoring any open transaction)
and returns whether it worked: for sweepers and dispatchers that record the hand-over.

`on_commit(callback, *args)` runs `callback(*args)` once the current transaction commits (within
the application context; the committed session must not be used: open `fresh_app_context()`).
Jobs left in a transaction that ends without a commit are dropped with a warning in the log.

Job functions are top-level, take ids, and are idempotent: RQ may run one twice (a retry after a
crash), and sweepers re-enqueue. Workers (`flask worker`, see `lti_tool.worker`) run each job
inside an application context and remove its session afterwards.

Test runs and several tools can share one Redis: RQ's own key prefix (`rq:`) is process-wide, so
instead every queue name and job id carries `REDIS_KEY_PREFIX` (queue `lti:grades`, key
`rq:queue:lti:grades`, job `rq:job:lti_<id>`). A worker listens only to its own tool's queues, and
`purge()` finds every key of one namespace.
"""

from __future__ import annotations

import importlib
import logging
import random
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable

import redis
from flask import Flask, current_app
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, SessionTransaction

from lti_tool import observability, tracing
from lti_tool.db import db

log = logging.getLogger("lti_tool.jobs")

# Job arguments and results travel as JSON: only ids and plain values, never pickled objects.
SERIALIZER = JSONSerializer


def backoff(attempts: int, first: int, cap: int, jitter: float = 0.25) -> Retry:
    """Up to `attempts` retries, waiting first, 2*first, 4*first ... (at most `cap`) seconds.

    Each wait is spread by +/- `jitter` (drawn once per job), so jobs that failed together (an LMS
    or mail server outage) do not all come back in the same second.
    """
    waits = []
    for attempt in range(attempts):
        base = min(cap, first * 2**attempt)
        waits.append(max(1, round(base * random.uniform(1 - jitter, 1 + jitter))))
    return Retry(max=attempts, interval=waits)


@dataclass(frozen=True)
class QueueSpec:
    """Defaults for every job on one queue."""

    timeout: int  # seconds a job may run before the worker stops it
    retries: int  # retries after a failure (0: none)
    first_retry: int  # seconds before the first retry; doubled each time
    max_retry_wait: int  # seconds, upper bound of one wait
    result_ttl: int = 300  # seconds a finished job is kept (results are not used; ids are)
    failure_ttl: int = 14 * 24 * 3600  # seconds a failed job stays inspectable


# The queues, and what a job on each gets unless it asks otherwise. One place, on purpose.
QUEUES: dict[str, QueueSpec] = {
    # Scores to the LMS: short calls, retried for about a day of LMS trouble before the sweeper's turn.
    "grades": QueueSpec(timeout=120, retries=8, first_retry=15, max_retry_wait=3600),
    # Mail and in-app notifications: an SMTP outage is ridden out by retries, then the sweeper.
    "notifications": QueueSpec(timeout=60, retries=6, first_retry=30, max_retry_wait=3600),
    # Event ingestion and roll-ups: roll-ups over big contexts may take minutes.
    "analytics": QueueSpec(timeout=900, retries=3, first_retry=60, max_retry_wait=900),
    # Everything else: event sweeping, roster syncs, housekeeping.
    "default": QueueSpec(timeout=300, retries=3, first_retry=30, max_retry_wait=600),
}

NO_RETRY = 0
_DEFAULT = object()
JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,200}")
_PENDING_KEY = "lti_jobs_on_commit"
# Jobs that are there (or about to run): enqueueing the same id again is a no-op.
_LIVE = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.STARTED, JobStatus.DEFERRED}


class JobError(ValueError):
    """A call that cannot become a job (unknown queue or function, an argument that is not an id)."""


@dataclass(frozen=True)
class Call:
    queue: str
    func: str
    args: tuple
    job_id: str
    unique: bool
    retry: Any
    at_front: bool
    delay: timedelta | None


# -- naming --------------------------------------------------------------------------------------


def namespace(app: Flask | None = None) -> str:
    """This tool's Redis key prefix (per test run in tests)."""
    return (app or current_app).config["SETTINGS"].REDIS_KEY_PREFIX


def queue_name(queue: str, app: Flask | None = None) -> str:
    """The RQ queue name of one of our queues: the namespace plus the queue ("lti:grades")."""
    return namespace(app) + queue


def job_id_prefix(app: Flask | None = None) -> str:
    """What our job ids start with: the namespace in job-id characters, then "_" ("lti_")."""
    # RQ job ids allow letters, digits, "_" and "-" only.
    return re.sub(r"[^A-Za-z0-9-]", "-", namespace(app)).strip("-") + "_"


def func_path(func: str | Callable) -> str:
    """The dotted path a worker imports, for a top-level function or its path."""
    if isinstance(func, str):
        return func
    module, name = getattr(func, "__module__", None), getattr(func, "__qualname__", "")
    if not module or module == "__main__" or "." in name or "<" in name:
        raise JobError(f"{func!r} is not a top-level function of an importable module; a worker cannot run it")
    return f"{module}.{name}"


def resolve(path: str) -> Callable:
    """Import the job function at `path`; JobError when there is none."""
    module_name, _, name = path.rpartition(".")
    try:
        func = getattr(importlib.import_module(module_name), name) if module_name else None
    except ImportError as error:
        raise JobError(f"job function {path!r}: cannot import {module_name!r} ({error})") from None
    except AttributeError:
        func = None
    if not callable(func):
        raise JobError(f"job function {path!r} does not exist")
    return func


def _check_args(path: str, args: tuple) -> tuple:
    for position, value in enumerate(args, 1):
        if value is None:
            raise JobError(
                f"{path}: argument {position} is None; jobs take ids (flush the session first so the row has one)"
            )
        if isinstance(value, db.Model):
            raise JobError(f"{path}: argument {position} is a {type(value).__name__} row; pass its id")
        if not isinstance(value, (int, float, str, bool)):
            raise JobError(f"{path}: argument {position} is a {type(value).__name__}; jobs take ids and plain values")
    return args


# -- enqueue ---------------------------------------------------------------------------------------


def enqueue(
    queue: str,
    func: str | Callable,
    *args: Any,
    job_id: str | None = None,
    retry: Retry | int | None = None,
    at_front: bool = False,
    delay: timedelta | None = None,
) -> str:
    """Queue `func(*args)` on `queue` once the caller's transaction commits. See the module doc."""
    call = _make_call(queue, func, args, job_id, retry, at_front, delay)
    on_commit(_submit, call)
    return call.job_id


def submit(
    queue: str,
    func: str | Callable,
    *args: Any,
    job_id: str | None = None,
    retry: Retry | int | None = None,
    at_front: bool = False,
    delay: timedelta | None = None,
) -> bool:
    """Like `enqueue`, but at once, whatever transaction is open, and reporting the outcome.

    For dispatchers and sweepers whose rows are already committed and which record that the work
    was handed over: True when the job is on its queue (or already was, for a live `job_id`);
    embedded, True when the function ran without raising. False is logged.
    """
    return _submit(_make_call(queue, func, args, job_id, retry, at_front, delay))


def _make_call(queue, func, args, job_id, retry, at_front, delay) -> Call:
    if queue not in QUEUES:
        raise JobError(f"unknown queue {queue!r}; queues: {', '.join(QUEUES)}")
    path = func_path(func)
    resolve(path)  # a typo fails here, in the caller's test, not later in a worker
    _check_args(path, args)
    if job_id is not None and not JOB_ID.fullmatch(job_id):
        raise JobError(f"job id {job_id!r} may only hold letters, digits, '_' and '-' (at most 200)")
    if retry not in (None, NO_RETRY) and not isinstance(retry, Retry):
        raise JobError("retry must be None (queue default), jobs.NO_RETRY, or jobs.backoff(...)")
    if delay is not None and (not isinstance(delay, timedelta) or delay.total_seconds() < 0):
        raise JobError("delay must be a non-negative timedelta")
    return Call(
        queue=queue,
        func=path,
        args=tuple(args),
        job_id=job_id_prefix() + (job_id or uuid.uuid4().hex),
        unique=job_id is not None,
        retry=retry,
        at_front=at_front,
        delay=delay,
    )


def on_commit(callback: Callable[..., Any], *args: Any) -> None:
    """Run `callback(*args)` after the current transaction commits (one is begun if none is open).

    Dropped when the transaction (or the savepoint it was registered in) rolls back. The callback
    runs inside the caller's application context, but the committed session must not be used by
    it (SQLAlchemy forbids SQL in after-commit hooks): do database work in `fresh_app_context()`.
    """
    session = db.session()
    if not session.in_transaction():
        # Autobegin would wait for the first SQL; the commit this waits for needs a transaction now.
        session.begin()
    session.info.setdefault(_PENDING_KEY, []).append((session.get_nested_transaction(), callback, args))


def fresh_app_context():
    """A new application context (so a new session) of the current app."""
    return current_app._get_current_object().app_context()  # type: ignore[attr-defined]


def _run_callback(callback: Callable[..., Any], args: tuple) -> None:
    try:
        callback(*args)
    except Exception:
        # Never into the caller: what did not happen is still in the database for a sweeper.
        name = getattr(callback, "__name__", callback)
        log.exception("after-commit work %s failed; its sweeper will pick it up", name)


@sa_event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint was released; the outer transaction may still roll back
    pending = session.info.pop(_PENDING_KEY, None)
    for _tag, callback, args in pending or ():
        _run_callback(callback, args)


def _inside(tag: SessionTransaction | None, ended: SessionTransaction) -> bool:
    while tag is not None:
        if tag is ended:
            return True
        tag = tag.parent
    return False


@sa_event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, previous: SessionTransaction) -> None:
    pending = session.info.get(_PENDING_KEY)
    if not pending:
        return
    if previous.parent is None:
        session.info.pop(_PENDING_KEY, None)
    else:
        # Only what was registered inside the rolled-back savepoint goes.
        session.info[_PENDING_KEY] = [entry for entry in pending if not _inside(entry[0], previous)]


@sa_event.listens_for(Session, "after_transaction_end")
def _after_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None and session.info.get(_PENDING_KEY):
        dropped = session.info.pop(_PENDING_KEY)
        log.warning(
            "%d job(s) dropped: they were enqueued in a transaction that ended without a commit",
            len(dropped),
        )


# -- submission ----------------------------------------------------------------------------------


def redis_connection(app: Flask | None = None) -> redis.Redis | None:
    """The Redis client the web side enqueues with; None in embedded mode."""
    return (app or current_app).extensions.get("lti_redis")


def rq_queue(queue: str, connection: redis.Redis | None = None, app: Flask | None = None) -> Queue:
    """The RQ queue behind one of our queues."""
    spec = QUEUES[queue]
    return Queue(
        queue_name(queue, app),
        connection=connection or redis_connection(app),
        default_timeout=spec.timeout,
        serializer=SERIALIZER,
    )


def _retry_for(call: Call, spec: QueueSpec) -> Retry | None:
    if call.retry is NO_RETRY:
        return None
    if call.retry is not None:
        return call.retry
    return backoff(spec.retries, spec.first_retry, spec.max_retry_wait) if spec.retries else None


def _submit(call: Call) -> bool:
    connection = redis_connection()
    if connection is None:
        return _run_embedded(call)
    spec = QUEUES[call.queue]
    queue = rq_queue(call.queue, connection)
    options = dict(
        args=call.args,
        job_timeout=spec.timeout,
        result_ttl=spec.result_ttl,
        failure_ttl=spec.failure_ttl,
        retry=_retry_for(call, spec),
        job_id=call.job_id,
        unique=call.unique,
        description=f"{call.func}{call.args}",
    )
    try:
        for _ in range(3):
            try:
                if call.delay:
                    queue.enqueue_in(call.delay, call.func, **options)
                else:
                    queue.enqueue(call.func, at_front=call.at_front, **options)
                return True
            except DuplicateJobError:
                if not _replace_if_done(call.job_id, connection):
                    return True  # the same job is queued or running: nothing to add
        log.warning("job %s kept being replaced concurrently; left as it is", call.job_id)
        return True
    except redis.RedisError:
        # Redis is down or unreachable: the row stays pending and its sweeper queues it later.
        log.exception("could not queue %s%s on %s", call.func, call.args, call.queue)
        return False


def _replace_if_done(job_id: str, connection: redis.Redis) -> bool:
    """Delete a finished/failed job holding `job_id` so it can be queued again; False if it is live."""
    try:
        job = Job.fetch(job_id, connection=connection, serializer=SERIALIZER)
    except NoSuchJobError:
        return True
    if job.get_status(refresh=False) in _LIVE:
        return False
    job.delete()
    return True


def _run_embedded(call: Call) -> bool:
    if call.delay:
        log.info("%s%s: delayed jobs do not run in embedded mode; its sweeper retries it", call.func, call.args)
        return False
    return run_job(call.func, *call.args)


def run_job(func: str | Callable, *args: Any) -> bool:
    """Run a job function now, in this process, in a fresh application context.

    True when it returned; False (logged) when it raised. Used by embedded mode and `flask jobs run`.
    """
    path = func_path(func)
    try:
        target = resolve(path)
        with fresh_app_context(), tracing.job_span(current_app, path):
            target(*args)
        return True
    except Exception:
        log.exception("job %s%s failed", path, args)
        return False


# -- inspection and housekeeping -------------------------------------------------------------------


def stats(app: Flask | None = None) -> dict[str, dict[str, int]]:
    """Per queue: jobs queued, running, scheduled (retries waiting) and failed."""
    connection = redis_connection(app)
    if connection is None:
        return {}
    result = {}
    for name in QUEUES:
        queue = rq_queue(name, connection, app)
        result[name] = {
            "queued": queue.count,
            "started": queue.started_job_registry.count,
            "scheduled": queue.scheduled_job_registry.count,
            "failed": queue.failed_job_registry.count,
        }
    return result


def requeue_failed(queue: str, app: Flask | None = None) -> int:
    """Put every failed job of `queue` back on it; returns how many."""
    connection = redis_connection(app)
    if connection is None:
        return 0
    registry = rq_queue(queue, connection, app).failed_job_registry
    count = 0
    for job_id in registry.get_job_ids():
        try:
            registry.requeue(job_id)
            count += 1
        except NoSuchJobError:
            registry.remove(job_id)
    return count


def purge(app: Flask | None = None) -> int:
    """Delete every RQ key of this tool's namespace (queues, registries, jobs); returns how many.

    For test runs and for a deliberate reset: queued jobs are lost (their rows remain, and the
    sweepers queue them again).
    """
    connection = redis_connection(app)
    if connection is None:
        return 0
    deleted = 0
    for marker in {namespace(app), job_id_prefix(app)}:
        for key in connection.scan_iter(match=f"rq:*:{_glob_escape(marker)}*", count=1000):
            deleted += connection.delete(key)
    return deleted


def _glob_escape(text: str) -> str:
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


def _queue_depths() -> dict[str, int]:
    return {name: row["queued"] for name, row in stats().items()}


# /metrics reports how many jobs wait on each queue.
observability.queue_depth_reader = _queue_depths
