"""Analytics jobs (RQ, queue "analytics"): top-level, taking ids, safe to run twice.

`ingest_event` is the subscriber of the learning events teachers want to see at once (quiz
submissions, grades): it ingests everything pending up to and past that event in batches and rolls
up what changed. The busy kinds (launches, views, media progress) have no per-event job; `refresh`,
scheduled every minute, picks them up in batches of thousands.
"""

from __future__ import annotations

import logging

from analytics import service

log = logging.getLogger("analytics")


def ingest_event(event_id: int) -> None:
    """Subscriber: make sure event `event_id` (and every event before it) is ingested and rolled up."""
    if service.is_ingested(event_id):
        # An earlier run's batch took it; that run also rolled up, or left the day dirty for `refresh`.
        return
    refresh()


def refresh(max_batches: int | None = None) -> None:
    """Periodic: ingest new events, then roll up every context they touched."""
    ingested = service.ingest_pending(max_batches=max_batches)
    rolled = service.rollup_pending()
    if ingested.ingested or rolled.contexts:
        log.info(
            "analytics: %d events ingested in %d batches; %d contexts rolled up (%d days, %d learners)",
            ingested.ingested,
            ingested.batches,
            rolled.contexts,
            rolled.days,
            rolled.learners,
        )
