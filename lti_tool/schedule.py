"""Periodic jobs: the one list, and the loop that enqueues them.

Adding a periodic job is one line in `SCHEDULE`. Time is cut into slots of `every` (shifted by
`offset`, so `every=timedelta(days=1), offset=timedelta(hours=7)` means daily at 07:00 UTC); the
first scheduler to claim a slot enqueues the job, once. The claim is an atomic add in the shared
cache (Redis `SET NX`, or the database in embedded mode), so any number of schedulers may run on
any number of hosts (each `flask worker` runs one unless told not to, and `flask scheduler` is one
on its own) without a job running twice per slot, and a restart does not re-run a slot already
done. A slot nobody claimed in time (no scheduler was up) runs late, once, when one starts.

Why not RQ's own `CronScheduler` (RQ 3): each running instance enqueues every job on its own, with
no coordination between hosts, and it fires interval jobs immediately on every start. Its
`RQScheduler` (delayed jobs and retry waits) is used: `flask worker` starts it.

Periodic job functions take no arguments, are idempotent, and do little work themselves: they
find what is due and enqueue per-row jobs, or handle it in small batches.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from flask import Flask

from lti_tool import jobs
from lti_tool.cache import cache
from lti_tool.db import utcnow

log = logging.getLogger("lti_tool.schedule")
EPOCH = datetime(2000, 1, 3, tzinfo=timezone.utc)  # a Monday, so weekly slots start on Mondays
TICK_SECONDS = 5.0


@dataclass(frozen=True)
class Periodic:
    """`func` ("package.jobs.function") enqueued on `queue` once per slot of `every`."""

    func: str
    every: timedelta
    queue: str = "default"
    offset: timedelta = timedelta(0)
    # Sweepers re-enqueue what a lost queue dropped; `flask jobs sweep` runs them all at once.
    sweeper: bool = False
    name: str = field(default="")

    @property
    def key(self) -> str:
        return self.name or self.func

    def slot(self, now: datetime) -> int:
        """The number of the slot `now` falls in."""
        return math.floor((now - EPOCH - self.offset) / self.every)

    def slot_start(self, slot: int) -> datetime:
        return EPOCH + self.offset + slot * self.every

    def next_run(self, now: datetime) -> datetime:
        return self.slot_start(self.slot(now) + 1)


SCHEDULE: list[Periodic] = [
    Periodic("lti_tool.events.sweep_undispatched", every=timedelta(minutes=1), sweeper=True),
    Periodic("grades.jobs.sweep_deliveries", every=timedelta(minutes=1), queue="grades", sweeper=True),
    Periodic("notifications.jobs.sweep_pending_email", every=timedelta(minutes=5), queue="notifications", sweeper=True),
    Periodic("notifications.jobs.send_due_reminders", every=timedelta(minutes=15), queue="notifications"),
    Periodic("analytics.jobs.refresh", every=timedelta(minutes=1), queue="analytics"),
    # Retention: hourly, in bounded batches, so a backlog is worked off over a few runs.
    Periodic("privacy.jobs.purge_expired", every=timedelta(hours=1), offset=timedelta(minutes=17)),
    Periodic(
        "notifications.jobs.send_roster_digests",
        every=timedelta(days=1),
        offset=timedelta(hours=7),
        queue="notifications",
    ),
]


def find(name: str) -> Periodic:
    for entry in SCHEDULE:
        if name in (entry.key, entry.func, entry.func.rpartition(".")[2]):
            return entry
    raise LookupError(f"no periodic job {name!r}; see `flask jobs schedule`")


def _slot_key(entry: Periodic, slot: int) -> str:
    return f"periodic:{entry.key}:{slot}"


def run_due(now: datetime | None = None) -> list[str]:
    """Claim and enqueue every entry whose current slot nobody has claimed; returns their names.

    Needs an application context.
    """
    now = now or utcnow()
    started = []
    for entry in SCHEDULE:
        slot = entry.slot(now)
        # Kept a little past the slot's end, so a slow scheduler cannot claim the same slot again.
        ttl = int(entry.every.total_seconds()) + 300
        if not cache().add(_slot_key(entry, slot), {"claimed_at": now.isoformat()}, ttl):
            continue
        last = {"slot_start": entry.slot_start(slot).isoformat(), "claimed_at": now.isoformat()}
        cache().set(f"periodic-last:{entry.key}", last, 90 * 24 * 3600)
        job_id = "periodic-" + re.sub(r"[^A-Za-z0-9_-]", "-", entry.key) + f"-{slot}"
        try:
            jobs.submit(entry.queue, entry.func, job_id=job_id)
        except jobs.JobError:
            log.exception("periodic job %s cannot be queued", entry.key)  # the others still run
            continue
        started.append(entry.key)
    return started


def last_run(entry: Periodic) -> dict | None:
    return cache().get(f"periodic-last:{entry.key}")


def run_forever(app: Flask, stop: threading.Event, tick: float = TICK_SECONDS) -> None:
    """The scheduler loop: every `tick` seconds, enqueue what is due, until `stop` is set."""
    log.info("periodic scheduler started with %d jobs", len(SCHEDULE))
    while not stop.is_set():
        try:
            with app.app_context():
                for name in run_due():
                    log.info("periodic job %s enqueued", name)
        except Exception:
            # Redis or the database is briefly away: try again on the next tick.
            log.exception("periodic scheduler tick failed")
        stop.wait(tick)
    log.info("periodic scheduler stopped")
