"""Event dispatch: subscribers enqueued after the publisher commits; the sweeper redelivers."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from lti_tool import events, jobs, subscribers
from lti_tool.db import db, utcnow
from lti_tool.events import Event
from tests.support.worker import run_burst


@pytest.fixture
def trace(tmp_path, monkeypatch):
    path = tmp_path / "events.txt"
    # In-process runs and worker processes (which inherit the environment) write here.
    monkeypatch.setenv("JOBS_TEST_TRACE", str(path))
    monkeypatch.setitem(subscribers.SUBSCRIBERS, "item_viewed", [("analytics", "tests.lti_tool.sample_jobs.record_event")])
    return path


def seen(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


@pytest.fixture
def where(where, app_ctx):
    if app_ctx.extensions.get("lti_redis") is not None:
        jobs.purge()
    return where


def test_every_declared_subscriber_exists_on_a_known_queue():
    assert set(subscribers.SUBSCRIBERS) <= set(events.KINDS)
    for kind, subs in subscribers.SUBSCRIBERS.items():
        for queue, func in subs:
            assert queue in jobs.QUEUES, (kind, queue)
            jobs.resolve(func)


def test_event_without_subscribers_is_dispatched_when_written(where):
    event = events.publish("launch", platform_id=where["platform_id"], user_pk=where["user_pk"], data={"message_type": "x"})
    db.session.commit()
    assert db.session.get(Event, event.id).dispatched_at is not None


def test_subscribers_run_after_the_publisher_commits(where, trace, backend, app_ctx):
    event = events.publish("item_viewed", **where, data={"item_id": 7})
    assert seen(trace) == []
    db.session.commit()
    if backend == "postgresql":
        assert seen(trace) == []  # on its queue, for a worker
        assert len(jobs.rq_queue("analytics").job_ids) == 1
        run_burst(app_ctx, "analytics")
    assert seen(trace) == ["item_viewed:7"]
    db.session.expire_all()
    assert db.session.get(Event, event.id).dispatched_at is not None


def test_a_rolled_back_event_is_never_dispatched(where, trace, app_ctx):
    events.publish("item_viewed", **where, data={"item_id": 7})
    db.session.rollback()
    db.session.commit()
    assert db.session.scalar(select(Event.id)) is None
    if app_ctx.extensions.get("lti_redis") is not None:
        assert jobs.rq_queue("analytics").count == 0
    assert seen(trace) == []


def test_the_sweeper_dispatches_events_whose_dispatch_was_lost(where, trace, backend, app_ctx):
    event = events.publish("item_viewed", **where, data={"item_id": 9})
    db.session.commit()
    if backend == "postgresql":
        jobs.purge()  # Redis lost the queued job
    else:
        trace.unlink()  # the in-process run happened; pretend the process died before it
    # As if the process died between the commit and the dispatch:
    db.session.execute(update(Event).where(Event.id == event.id).values(dispatched_at=None))
    db.session.commit()

    assert events.sweep_undispatched() == 0  # too young: its own dispatch may still be under way
    db.session.execute(
        update(Event).where(Event.id == event.id).values(created_at=utcnow() - timedelta(minutes=2))
    )
    db.session.commit()
    assert events.sweep_undispatched() == 1
    if backend == "postgresql":
        run_burst(app_ctx, "analytics")
    assert seen(trace) == ["item_viewed:9"]
    db.session.expire_all()
    assert db.session.get(Event, event.id).dispatched_at is not None
    assert events.sweep_undispatched() == 0


@pytest.mark.stack("postgresql")
def test_an_event_is_not_queued_twice_while_its_job_is_pending(where, trace, backend, app_ctx):
    event = events.publish("item_viewed", **where, data={"item_id": 3})
    db.session.commit()
    events.dispatch([(event.id, "item_viewed")])  # the sweeper racing the first dispatch
    assert len(jobs.rq_queue("analytics").job_ids) == 1


@pytest.mark.stack("sqlite")
def test_a_failing_subscriber_leaves_the_event_for_the_sweeper_embedded(where, backend, monkeypatch):
    monkeypatch.setitem(subscribers.SUBSCRIBERS, "item_viewed", [("analytics", "tests.lti_tool.sample_jobs.explode")])
    event = events.publish("item_viewed", **where, data={"item_id": 3})
    db.session.commit()  # the failure is logged, not raised
    db.session.expire_all()
    assert db.session.get(Event, event.id).dispatched_at is None
