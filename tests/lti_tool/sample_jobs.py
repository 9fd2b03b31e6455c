"""Job functions for the jobs tests: top-level and importable by a worker process.

They leave their traces in a file named by the test, so the test process sees what a worker did.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from lti_tool.db import db
from lti_tool.models import User


def record(path: str, value: str) -> None:
    with open(path, "a") as handle:
        handle.write(f"{value}\n")


def record_user(path: str, user_pk: int) -> None:
    """Reads the row its id names, as real jobs do: proves the job saw the committed row."""
    user = db.session.get(User, user_pk)
    record(path, user.sub if user else "missing")


def fail_first(path: str, failures: int) -> None:
    """Fails `failures` times, then succeeds; every run leaves a line."""
    runs = len(Path(path).read_text().splitlines()) if os.path.exists(path) else 0
    record(path, f"run {runs + 1}")
    if runs < failures:
        raise RuntimeError(f"failing on purpose (run {runs + 1})")


def sleep_then_record(path: str, seconds: float) -> None:
    record(path, "started")
    time.sleep(seconds)
    record(path, "finished")


def explode(*_ids) -> None:
    raise RuntimeError("this job always fails")


def record_event(event_id: int) -> None:
    """An event subscriber: writes kind and item to the file named by JOBS_TEST_TRACE."""
    from lti_tool.events import Event

    event = db.session.get(Event, event_id)
    record(os.environ["JOBS_TEST_TRACE"], f"{event.kind}:{event.data['item_id']}")
