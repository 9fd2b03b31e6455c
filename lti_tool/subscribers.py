"""Who hears about which event: event kind -> [(queue, "package.jobs.function")].

The one place subscribers are declared. After the publisher commits, each subscriber of the
event's kind is enqueued on its queue with the event id as its only argument
(`function(event_id)`), and the event is marked dispatched. A subscriber must be idempotent: the
event sweeper re-dispatches events whose dispatch was lost, and RQ may run a job twice.

Adding a subscriber is one line here; tests/lti_tool/test_subscribers.py checks that every
function exists and every queue is known.
"""

from __future__ import annotations

SUBSCRIBERS: dict[str, list[tuple[str, str]]] = {
    "launch": [],
    "item_viewed": [],
    "media_progress": [],
    # Analytics ingests in batches: busy kinds (launch, views, media progress) wait for the
    # periodic analytics.jobs.refresh; these two show on teachers' dashboards at once.
    "quiz_submitted": [
        ("analytics", "analytics.jobs.ingest_event"),
    ],
    "item_published": [
        ("notifications", "notifications.jobs.on_item_published"),
    ],
    "grade_delivered": [
        ("notifications", "notifications.jobs.on_grade_delivered"),
        ("analytics", "analytics.jobs.ingest_event"),
    ],
    "grade_failed": [
        ("notifications", "notifications.jobs.on_grade_failed"),
    ],
}


def subscribers_of(kind: str) -> list[tuple[str, str]]:
    return SUBSCRIBERS.get(kind, [])
