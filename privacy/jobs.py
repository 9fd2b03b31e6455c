"""Privacy jobs (RQ, queue "default"): top-level, no arguments, safe to run twice."""

from __future__ import annotations

import logging

from privacy import service

log = logging.getLogger("privacy")


def purge_expired() -> None:
    """Periodic: delete launch-log rows and raw events past their retention."""
    report = service.purge_expired()
    if report.launch_logs or report.events:
        log.info("retention: %d launch-log rows and %d events deleted", report.launch_logs, report.events)
    if report.events_waiting:
        # Analytics or event dispatch is behind: those events go once they have been handled.
        log.warning("retention: %d events past retention kept until analytics has counted them",
                    report.events_waiting)
