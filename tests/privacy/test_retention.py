"""Retention: launch logs and raw events past their days go, in batches, never before analytics
has counted an event and its subscribers were handed it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from config import SettingsError, load_settings
from lti_tool import registry, schedule
from lti_tool.db import db, utcnow
from lti_tool.events import Event
from lti_tool.models import LaunchLog
from privacy import jobs as privacy_jobs
from privacy import service

ISSUER = "https://lms.example.edu"


def _platform():
    platform = registry.add_platform(registry.PlatformInput(
        issuer=ISSUER, client_id="tool-client", auth_url=f"{ISSUER}/auth", token_url=f"{ISSUER}/token",
        jwks_url=f"{ISSUER}/jwks", deployment_ids=("1",)))
    db.session.commit()
    return platform


def _log(platform_id: int | None, days_ago: float, sub: str = "someone") -> int:
    row = LaunchLog(platform_id=platform_id, stage="launch", issuer=ISSUER, client_id="tool-client",
                    user_sub=sub, outcome="accepted", created_at=utcnow() - timedelta(days=days_ago))
    db.session.add(row)
    db.session.commit()
    return row.id


def _event(platform_id: int, days_ago: float, *, dispatched: bool = True) -> int:
    # Written as a row (not published) to set its age and dispatch state; analytics skips this kind.
    event = Event(kind="item_published", platform_id=platform_id, data={"item_id": 1},
                  created_at=utcnow() - timedelta(days=days_ago),
                  dispatched_at=utcnow() if dispatched else None)
    db.session.add(event)
    db.session.commit()
    return event.id


def _ingest():
    from analytics import service as analytics_service

    analytics_service.ingest_pending()
    db.session.commit()


def _ids(model) -> set[int]:
    return set(db.session.scalars(select(model.id)))


def test_launch_logs_past_their_retention_go_and_recent_ones_stay(app_ctx):
    platform = _platform()
    old = [_log(platform.id, 91), _log(None, 400)]
    recent = [_log(platform.id, 89), _log(platform.id, 0)]
    report = service.purge_expired()
    assert report.launch_logs == 2
    assert _ids(LaunchLog) == set(recent)
    assert not set(old) & _ids(LaunchLog)


def test_events_go_only_once_counted_by_analytics_and_dispatched(app_ctx):
    platform = _platform()
    counted = _event(platform.id, 400)
    undispatched = _event(platform.id, 400, dispatched=False)
    recent = _event(platform.id, 10)
    _ingest()
    not_counted = _event(platform.id, 400)  # written after analytics last read
    report = service.purge_expired()
    assert report.events == 1 and report.events_waiting == 2
    assert _ids(Event) == {undispatched, recent, not_counted}
    assert counted not in _ids(Event)
    # Once analytics has read it and dispatch is done, it goes on the next run.
    db.session.execute(update(Event).values(dispatched_at=utcnow()))
    db.session.commit()
    _ingest()
    assert service.purge_expired().events == 2
    assert _ids(Event) == {recent}


def test_nothing_goes_before_analytics_ever_ran(app_ctx):
    platform = _platform()
    old = _event(platform.id, 400)
    assert service.ingested_through() == 0
    assert service.purge_expired().events == 0
    assert _ids(Event) == {old}


def test_events_at_or_above_an_ingest_gap_are_kept(app_ctx):
    from analytics.models import IngestCursor

    db.session.add(IngestCursor(name="events", last_event_id=100, gaps=[[40, 45, 0.0], [60, 60, 0.0]]))
    db.session.commit()
    # An id in a gap may still commit (PostgreSQL); nothing at or past the first gap is safe.
    assert service.ingested_through() == 39


def test_zero_days_keeps_everything(make_app):
    app = make_app(LAUNCH_LOG_RETENTION_DAYS=0, EVENT_RETENTION_DAYS=0)
    with app.app_context():
        platform = _platform()
        _log(platform.id, 4000)
        _event(platform.id, 4000)
        _ingest()
        report = service.purge_expired()
        assert (report.launch_logs, report.events, report.events_waiting) == (0, 0, 0)
        assert db.session.scalar(select(func.count()).select_from(LaunchLog)) == 1
        assert db.session.scalar(select(func.count()).select_from(Event)) == 1


def test_purge_works_in_batches_and_a_run_stops_after_its_share(app_ctx, monkeypatch):
    platform = _platform()
    for _ in range(5):
        _log(platform.id, 200)
    monkeypatch.setattr(service, "PURGE_BATCH", 2)
    assert service.purge_expired(max_batches=2).launch_logs == 4
    assert service.purge_expired(max_batches=2).launch_logs == 1
    assert not _ids(LaunchLog)


def test_the_periodic_job_is_scheduled_and_runs(app_ctx):
    entry = schedule.find("purge_expired")
    assert entry.func == "privacy.jobs.purge_expired" and entry.queue == "default"
    assert entry.every == timedelta(hours=1)
    platform = _platform()
    _log(platform.id, 100)
    privacy_jobs.purge_expired()
    assert not _ids(LaunchLog)


def test_the_purge_command(app, runner):
    with app.app_context():
        platform = _platform()
        _log(platform.id, 100)
        _log(platform.id, 1)
    result = runner.invoke(args=["privacy", "purge"])
    assert result.exit_code == 0, result.output
    assert "Deleted 1 launch-log rows and 0 events." in result.output


@pytest.mark.parametrize("name", ["LAUNCH_LOG_RETENTION_DAYS", "EVENT_RETENTION_DAYS"])
def test_retention_below_a_week_is_refused(tmp_path, name):
    with pytest.raises(SettingsError, match=f"{name} must be 0 \\(keep forever\\) or at least 7 days"):
        load_settings({name: "3", "INSTANCE_PATH": str(tmp_path)})
    assert getattr(load_settings({name: "0", "INSTANCE_PATH": str(tmp_path)}), name) == 0
    defaults = load_settings({}, {"INSTANCE_PATH": str(tmp_path)})
    assert (defaults.LAUNCH_LOG_RETENTION_DAYS, defaults.EVENT_RETENTION_DAYS) == (90, 365)
