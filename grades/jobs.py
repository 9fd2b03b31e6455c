"""Jobs of the grades package: top-level functions taking ids, safe to run twice.

`deliver_score` runs on the `grades` queue; `sync_roster` on `default`; `sweep_deliveries` is a
periodic job (declared in `lti_tool.schedule.SCHEDULE`).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app

from grades import delivery, roster, service

log = logging.getLogger(__name__)


def deliver_score(delivery_id: int) -> str:
    """Send one outbox row's score to the LMS (or schedule its retry, or mark it failed)."""
    outcome = delivery.deliver(int(delivery_id))
    log.debug("score delivery %s: %s", delivery_id, outcome)
    return outcome


def sync_roster(context_pk: int) -> str:
    """Read the context's roster from the LMS (NRPS, every page) and store the memberships."""
    return roster.sync(int(context_pk))


def sweep_deliveries() -> int:
    """Queue again the deliveries that stayed pending past their time (lost jobs, killed workers)."""
    older = timedelta(seconds=current_app.config["SETTINGS"].GRADE_SWEEP_AFTER_SECONDS)
    count = service.sweep_deliveries(older_than=older)
    if count:
        log.info("re-enqueued %d overdue score deliveries", count)
    return count
