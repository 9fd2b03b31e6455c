"""RQ job functions of notifications: top-level, taking ids, idempotent (see service.py)."""

from __future__ import annotations

from notifications import service


def on_item_published(event_id: int) -> int:
    return service.on_item_published(event_id)


def on_grade_delivered(event_id: int) -> int:
    return service.on_grade_delivered(event_id)


def on_grade_failed(event_id: int) -> int:
    return service.on_grade_failed(event_id)


def send_email(delivery_id: int) -> str:
    return service.send_email(delivery_id)


def send_due_reminders() -> int:
    """Periodic: reminders for quizzes due within 24 hours."""
    return service.send_due_reminders()


def send_roster_digests() -> int:
    """Periodic (daily): new learners per context, to its teachers."""
    return service.send_roster_digests()


def sweep_pending_email() -> dict[str, int]:
    """Periodic sweeper: emails whose job was lost, interrupted sends, hopeless ones."""
    return service.sweep_pending_email()
