"""The periodic schedule: one run per slot across any number of schedulers; the CLI around it."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from lti_tool import jobs, schedule
from tests.support.worker import WorkerProcess, wait_for


@pytest.fixture
def trace(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "periodic.txt"
    monkeypatch.setenv("JOBS_TEST_TRACE", str(path))
    monkeypatch.setattr(
        schedule,
        "SCHEDULE",
        [
            schedule.Periodic("tests.lti_tool.test_schedule.tick", every=timedelta(minutes=5), sweeper=True),
            schedule.Periodic("tests.lti_tool.test_schedule.tock", every=timedelta(days=1), offset=timedelta(hours=7)),
        ],
    )
    return path


def tick() -> None:
    _write("tick")


def tock() -> None:
    _write("tock")


def _write(word: str) -> None:
    import os

    with open(os.environ["JOBS_TEST_TRACE"], "a") as handle:
        handle.write(word + "\n")


def seen(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_the_declared_schedule_names_existing_jobs_on_known_queues():
    for entry in schedule.SCHEDULE:
        assert entry.queue in jobs.QUEUES
        jobs.resolve(entry.func)
    assert len({entry.key for entry in schedule.SCHEDULE}) == len(schedule.SCHEDULE)


def test_slots_follow_every_and_offset():
    daily = schedule.Periodic("x.y", every=timedelta(days=1), offset=timedelta(hours=7))
    morning = datetime(2026, 3, 10, 7, 0, tzinfo=timezone.utc)
    assert daily.slot(morning) == daily.slot(morning + timedelta(hours=23, minutes=59))
    assert daily.slot(morning - timedelta(seconds=1)) == daily.slot(morning) - 1
    assert daily.slot_start(daily.slot(morning + timedelta(hours=5))) == morning
    assert daily.next_run(morning + timedelta(hours=1)) == morning + timedelta(days=1)


def test_each_slot_runs_once_however_many_schedulers_ask(app_ctx, trace):
    now = datetime(2026, 3, 10, 12, 1, tzinfo=timezone.utc)
    assert schedule.run_due(now) == ["tests.lti_tool.test_schedule.tick", "tests.lti_tool.test_schedule.tock"]
    assert schedule.run_due(now + timedelta(minutes=1)) == []  # same slots
    assert schedule.run_due(now + timedelta(minutes=5)) == ["tests.lti_tool.test_schedule.tick"]
    if app_ctx.extensions.get("lti_redis") is None:
        assert seen(trace) == ["tick", "tock", "tick"]  # embedded: run in-process at once
    else:
        assert len(jobs.rq_queue("default").job_ids) == 3
        jobs.purge()


def test_concurrent_schedulers_claim_a_slot_once(app_ctx, trace):
    now = datetime(2026, 3, 10, 12, 1, tzinfo=timezone.utc)
    app = app_ctx
    results: list[list[str]] = []

    def scheduler():
        with app.app_context():
            results.append(schedule.run_due(now))

    threads = [threading.Thread(target=scheduler) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(name for result in results for name in result) == [
        "tests.lti_tool.test_schedule.tick",
        "tests.lti_tool.test_schedule.tock",
    ]
    if app_ctx.extensions.get("lti_redis") is not None:
        jobs.purge()


def test_flask_jobs_sweep_and_run_and_schedule(app, trace):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["jobs", "sweep"])
    assert result.exit_code == 0, result.output
    assert "tests.lti_tool.test_schedule.tick: done" in result.output
    assert seen(trace) == ["tick"]

    result = runner.invoke(args=["jobs", "run", "tock"])
    assert result.exit_code == 0 and seen(trace) == ["tick", "tock"]

    result = runner.invoke(args=["jobs", "run", "nope"])
    assert result.exit_code == 2 and "no periodic job 'nope'" in result.output

    result = runner.invoke(args=["jobs", "schedule"])
    assert "every 1 day, 0:00:00 (+7:00:00)" in result.output and "sweeper" in result.output


def test_flask_jobs_run_reports_a_failing_job(app, monkeypatch):
    monkeypatch.setattr(schedule, "SCHEDULE", [schedule.Periodic("tests.lti_tool.sample_jobs.explode", every=timedelta(minutes=1))])
    result = app.test_cli_runner().invoke(args=["jobs", "run", "explode"])
    assert result.exit_code == 1 and "FAILED" in result.output


def test_flask_worker_refuses_unknown_queues(app):
    result = app.test_cli_runner().invoke(args=["worker", "mail"])
    assert result.exit_code == 2 and "unknown queue(s) mail" in result.output


def test_flask_jobs_status(app):
    result = app.test_cli_runner().invoke(args=["jobs", "status"])
    assert result.exit_code == 0
    if app.extensions.get("lti_redis") is None:
        assert "there are no queues" in result.output
    else:
        assert "grades" in result.output and "failed" in result.output


@pytest.mark.stack("postgresql")
def test_a_worker_process_runs_the_periodic_jobs(make_app, backend, tmp_path, monkeypatch):
    app = make_app()
    path = tmp_path / "sweeps.txt"
    monkeypatch.setenv("JOBS_TEST_TRACE", str(path))
    with app.app_context():
        jobs.purge()
    # The real schedule: its event sweeper (every minute, on the default queue) runs at start.
    with WorkerProcess(app, "default", args=("--periodic",)) as worker:
        wait_for(lambda: "periodic job lti_tool.events.sweep_undispatched enqueued" in worker.log_tail, timeout=30)
        wait_for(lambda: "sweep_undispatched" in worker.log_tail and "Job OK" in worker.log_tail, timeout=30)
    with app.app_context():
        assert schedule.last_run(schedule.find("sweep_undispatched")) is not None
        jobs.purge()
