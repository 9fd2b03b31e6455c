"""`flask worker [QUEUE ...]`: an RQ worker that runs each job inside the application context.

By default the worker runs jobs in its own process (RQ's `SimpleWorker`): about 250 no-op jobs a
second here, against about 70 for RQ's classic forking worker, which pays a fork per job. Job
timeouts are enforced either way (SIGALRM in the worker's main thread). The price of not forking:
a job that leaks memory or corrupts process state affects the jobs after it, and a job killed by
its timeout leaves the worker process running on. `WORKER_FORK=1` (or `--fork`) restores a fork
per job for isolation. A killed worker (SIGKILL, OOM, a lost host) loses nothing: RQ's maintenance
moves its abandoned job to retry or to the failed registry, and each package's sweeper re-enqueues
rows still pending in the database.

Every worker also runs RQ's scheduler (delayed jobs, retry waits) and, unless `--no-periodic`,
the periodic jobs of `lti_tool.schedule` in a thread; both are safe to run on many hosts.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
import uuid
from typing import Iterable

import redis
from flask import Flask
from rq.worker import SimpleWorker, Worker

from lti_tool import jobs, schedule, tracing
from lti_tool.db import db
from lti_tool.observability import JOB_DURATION, JOB_FAILURES

log = logging.getLogger("lti_tool.worker")


class _AppJobs:
    """Mixin: each job runs in a fresh application context, so a fresh database session."""

    app: Flask

    def perform_job(self, job, queue, execution) -> bool:  # noqa: D401 - RQ's hook
        started = time.perf_counter()
        with self.app.app_context(), tracing.job_span(self.app, job.func_name):
            ok = super().perform_job(job, queue, execution)  # type: ignore[misc]
        JOB_DURATION.labels(job.func_name).observe(time.perf_counter() - started)
        if not ok:
            JOB_FAILURES.labels(job.func_name).inc()
        return ok


class AppWorker(_AppJobs, SimpleWorker):
    """Runs jobs in the worker process (the default)."""


class ForkingAppWorker(_AppJobs, Worker):
    """Forks a child per job (`--fork`): slower, isolates each job's memory and state."""

    def main_work_horse(self, job, queue):
        # The child must not share the parent's database connections.
        with self.app.app_context():
            db.engine.dispose(close=False)
        return super().main_work_horse(job, queue)


def worker_connection(url: str) -> redis.Redis:
    # No socket timeout: a worker blocks on Redis for minutes waiting for jobs, by design.
    return redis.Redis.from_url(url, socket_connect_timeout=5, socket_keepalive=True, health_check_interval=30)


def parse_queues(names: Iterable[str]) -> list[str]:
    names = list(names) or list(jobs.QUEUES)
    unknown = [name for name in names if name not in jobs.QUEUES]
    if unknown:
        raise ValueError(f"unknown queue(s) {', '.join(unknown)}; queues: {', '.join(jobs.QUEUES)}")
    return list(dict.fromkeys(names))


def run_worker(
    app: Flask,
    queues: Iterable[str] = (),
    *,
    burst: bool = False,
    fork: bool | None = None,
    periodic: bool | None = None,
    max_jobs: int | None = None,
) -> bool:
    """Work the given queues (all by default) until stopped, or until empty with `burst`.

    `periodic` (default: on unless `burst`) runs the periodic scheduler in a thread. Without Redis
    there is no queue: jobs run inside the web process, and this runs only the periodic jobs.
    Returns whether any job ran.
    """
    settings = app.config["SETTINGS"]
    names = parse_queues(queues)
    periodic = (not burst) if periodic is None else periodic
    if not settings.REDIS_URL:
        return _run_embedded(app, burst=burst, periodic=periodic)

    connection = worker_connection(settings.REDIS_URL)
    worker_class = ForkingAppWorker if (settings.WORKER_FORK if fork is None else fork) else AppWorker
    worker = worker_class(
        [jobs.rq_queue(name, connection, app) for name in names],
        connection=connection,
        name=f"{jobs.job_id_prefix(app)}{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}",
        serializer=jobs.SERIALIZER,
        default_result_ttl=300,
        # RQ's maintenance re-queues (or fails) jobs of workers that died; look every minute, not ten.
        maintenance_interval=60,
    )
    worker.app = app
    stop = threading.Event()
    thread = None
    if periodic:
        thread = threading.Thread(target=schedule.run_forever, args=(app, stop), name="periodic", daemon=True)
        thread.start()
    mode = "forking" if worker_class is ForkingAppWorker else "in-process"
    log.info("worker %s on %s (%s)", worker.name, ", ".join(names), mode)
    try:
        return worker.work(burst=burst, with_scheduler=True, logging_level=settings.LOG_LEVEL, max_jobs=max_jobs)
    finally:
        stop.set()
        if thread is not None:
            thread.join(timeout=10)


def _run_embedded(app: Flask, *, burst: bool, periodic: bool) -> bool:
    if not periodic:
        log.info("no REDIS_URL: jobs run inside the web process after each commit; nothing to do here")
        return False
    if burst:
        with app.app_context():
            return bool(schedule.run_due())
    log.info("no REDIS_URL: jobs run inside the web process; this process runs the periodic jobs")
    run_scheduler(app)
    return True


def run_scheduler(app: Flask) -> None:
    """The periodic scheduler on its own (`flask scheduler`), until SIGINT or SIGTERM."""
    stop = threading.Event()

    def _stop(signum, frame):
        log.info("scheduler stopping on signal %s", signum)
        stop.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    schedule.run_forever(app, stop)
