"""lti_tool.jobs: after-commit hand-over, embedded in-process runs, real RQ workers on Redis."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import pytest
from rq import Queue
from rq.job import Job, JobStatus

from lti_tool import jobs
from lti_tool.db import db
from lti_tool.models import User
from tests.lti_tool import sample_jobs
from tests.support.worker import WorkerProcess, run_burst, wait_for

RECORD = "tests.lti_tool.sample_jobs.record"


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


@pytest.fixture
def trace(tmp_path) -> Path:
    return tmp_path / "trace.txt"


@pytest.fixture
def embedded_app(make_app):
    return make_app()


@pytest.fixture
def redis_app(make_app):
    app = make_app()
    with app.app_context():
        jobs.purge()
    yield app
    with app.app_context():
        jobs.purge()


# -- validation (both stacks) -------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: jobs.enqueue("mail", RECORD, "x", "y"), "unknown queue 'mail'"),
        (lambda: jobs.enqueue("default", "tests.lti_tool.sample_jobs.nope"), "does not exist"),
        (lambda: jobs.enqueue("default", "no_such_module.f"), "cannot import"),
        (lambda: jobs.enqueue("default", RECORD, None, "y"), "argument 1 is None"),
        (lambda: jobs.enqueue("default", RECORD, ["a"], "y"), "argument 1 is a list"),
        (lambda: jobs.enqueue("default", RECORD, "x", "y", job_id="a:b"), "job id 'a:b'"),
        (lambda: jobs.enqueue("default", RECORD, "x", "y", retry=5), "retry must be"),
        (lambda: jobs.enqueue("default", lambda: None), "not a top-level function"),
    ],
)
def test_calls_that_cannot_be_jobs_are_refused_at_once(app_ctx, call, message):
    with pytest.raises(jobs.JobError, match=message):
        call()


def test_a_function_object_names_its_path(app_ctx):
    assert jobs.func_path(sample_jobs.record) == RECORD


def test_backoff_grows_to_its_cap_with_jitter():
    retry = jobs.backoff(6, first=10, cap=100, jitter=0.25)
    assert retry.max == 6
    bases = [10, 20, 40, 80, 100, 100]
    for wait, base in zip(retry.intervals, bases):
        assert 0.75 * base - 1 <= wait <= 1.25 * base + 1


def test_queue_names_and_job_ids_carry_the_namespace(app_ctx):
    prefix = app_ctx.config["SETTINGS"].REDIS_KEY_PREFIX
    assert jobs.queue_name("grades") == prefix + "grades"
    job_id = jobs.enqueue("default", RECORD, "x", "y", job_id="deliver-1")
    db.session.rollback()
    assert job_id.startswith(jobs.job_id_prefix()) and job_id.endswith("_deliver-1")
    assert ":" not in job_id


# -- embedded mode: in-process, after commit ----------------------------------------------------


@pytest.mark.stack("sqlite")
def test_embedded_job_runs_after_commit_and_sees_the_committed_row(embedded_app, platform_id, trace):
    with embedded_app.app_context():
        user = User(platform_id=platform_id, sub="ada")
        db.session.add(user)
        db.session.flush()
        jobs.enqueue("default", "tests.lti_tool.sample_jobs.record_user", str(trace), user.id)
        assert lines(trace) == []  # not inside the caller's transaction
        db.session.commit()
        assert lines(trace) == ["ada"]


@pytest.mark.stack("sqlite")
def test_embedded_job_of_a_rolled_back_transaction_never_runs(embedded_app, trace):
    with embedded_app.app_context():
        jobs.enqueue("default", RECORD, str(trace), "rolled back")
        db.session.rollback()
        db.session.commit()
        assert lines(trace) == []


@pytest.mark.stack("sqlite")
def test_a_job_enqueued_in_a_rolled_back_savepoint_is_dropped_the_rest_runs(embedded_app, platform_id, trace):
    with embedded_app.app_context():
        db.session.get(User, 1)  # open the transaction
        jobs.enqueue("default", RECORD, str(trace), "outer")
        savepoint = db.session.begin_nested()
        jobs.enqueue("default", RECORD, str(trace), "inner")
        savepoint.rollback()
        with db.session.begin_nested():
            jobs.enqueue("default", RECORD, str(trace), "released")
        assert lines(trace) == []
        db.session.commit()
        assert lines(trace) == ["outer", "released"]


@pytest.mark.stack("sqlite")
def test_enqueue_with_no_transaction_open_still_waits_for_the_commit(embedded_app, trace):
    with embedded_app.app_context():
        db.session.commit()
        jobs.enqueue("default", RECORD, str(trace), "after commit")
        assert lines(trace) == []
        db.session.commit()
        assert lines(trace) == ["after commit"]


@pytest.mark.stack("sqlite")
def test_submit_runs_an_embedded_job_at_once_and_reports_the_outcome(embedded_app, trace):
    with embedded_app.app_context():
        assert jobs.submit("default", RECORD, str(trace), "now") is True
        assert lines(trace) == ["now"]
        assert jobs.submit("default", "tests.lti_tool.sample_jobs.explode") is False


@pytest.mark.stack("sqlite")
def test_embedded_job_failure_is_logged_never_raised_into_the_caller(embedded_app, caplog):
    with embedded_app.app_context():
        db.session.get(User, 1)
        jobs.enqueue("default", "tests.lti_tool.sample_jobs.explode")
        with caplog.at_level(logging.ERROR, logger="lti_tool.jobs"):
            db.session.commit()  # does not raise
        assert "this job always fails" in caplog.text


@pytest.mark.stack("sqlite")
def test_jobs_left_in_a_transaction_closed_without_commit_are_dropped_with_a_warning(embedded_app, trace, caplog):
    with embedded_app.app_context():
        db.session.get(User, 1)
        jobs.enqueue("default", RECORD, str(trace), "forgotten")
        with caplog.at_level(logging.WARNING, logger="lti_tool.jobs"):
            db.session.remove()
        assert "1 job(s) dropped" in caplog.text
        assert lines(trace) == []


@pytest.mark.stack("sqlite")
def test_embedded_delayed_job_is_left_for_the_sweeper(embedded_app, trace):
    with embedded_app.app_context():
        assert jobs.submit("default", RECORD, str(trace), "later", delay=timedelta(seconds=30)) is False
        assert lines(trace) == []


@pytest.mark.stack("sqlite")
def test_embedded_jobs_enqueued_by_a_job_run_after_that_job_commits(embedded_app, platform_id, trace):
    with embedded_app.app_context():
        db.session.add(User(platform_id=platform_id, sub="grace"))
        db.session.commit()
        user_pk = db.session.query(User.id).scalar()
        db.session.get(User, user_pk)
        jobs.enqueue("default", "tests.lti_tool.sample_jobs.record_user", str(trace), user_pk)
        jobs.enqueue("default", RECORD, str(trace), "second")
        db.session.commit()
        assert lines(trace) == ["grace", "second"]


# -- Redis and real worker processes ---------------------------------------------------------------


@pytest.mark.stack("postgresql")
def test_redis_job_is_queued_only_at_commit_with_the_queue_defaults(redis_app, trace):
    with redis_app.app_context():
        db.session.get(User, 1)
        job_id = jobs.enqueue("grades", RECORD, str(trace), "x")
        queue = jobs.rq_queue("grades")
        assert queue.count == 0
        db.session.commit()
        assert queue.job_ids == [job_id]
        job = Job.fetch(job_id, connection=jobs.redis_connection(), serializer=jobs.SERIALIZER)
        spec = jobs.QUEUES["grades"]
        assert job.timeout == spec.timeout
        assert job.retries_left == spec.retries
        assert len(job.retry_intervals) == spec.retries
        assert job.args == [str(trace), "x"]
        # Another tool (or test run) on the same Redis has its own queue.
        assert Queue("grades", connection=jobs.redis_connection()).count == 0


@pytest.mark.stack("postgresql")
def test_a_pending_job_id_is_not_queued_twice_a_finished_one_is_replaced(redis_app, trace):
    with redis_app.app_context():
        first = jobs.enqueue("default", RECORD, str(trace), "a", job_id="dedupe-1")
        second = jobs.enqueue("default", RECORD, str(trace), "b", job_id="dedupe-1")
        db.session.commit()
        assert first == second
        queue = jobs.rq_queue("default")
        assert queue.job_ids == [first]
    run_burst(redis_app, "default")
    assert lines(trace) == ["a"]
    with redis_app.app_context():
        jobs.enqueue("default", RECORD, str(trace), "c", job_id="dedupe-1")
        db.session.commit()
        assert jobs.rq_queue("default").job_ids == [first]


@pytest.mark.stack("postgresql")
def test_worker_process_runs_jobs_in_the_app_context_after_commit(redis_app, platform_id, trace):
    with WorkerProcess(redis_app, "default"):
        with redis_app.app_context():
            user = User(platform_id=platform_id, sub="ada")
            db.session.add(user)
            db.session.flush()
            jobs.enqueue("default", "tests.lti_tool.sample_jobs.record_user", str(trace), user.id)
            db.session.commit()
        wait_for(lambda: lines(trace) == ["ada"])


@pytest.mark.stack("postgresql")
def test_a_failing_job_is_retried_with_backoff_until_it_succeeds(redis_app, trace):
    with redis_app.app_context():
        job_id = jobs.enqueue(
            "default", "tests.lti_tool.sample_jobs.fail_first", str(trace), 2, retry=jobs.backoff(3, first=1, cap=1, jitter=0)
        )
        db.session.commit()
    with WorkerProcess(redis_app, "default"):
        wait_for(lambda: lines(trace) == ["run 1", "run 2", "run 3"], timeout=30)
        with redis_app.app_context():
            job = Job.fetch(job_id, connection=jobs.redis_connection(), serializer=jobs.SERIALIZER)
            wait_for(lambda: job.get_status(refresh=True) == JobStatus.FINISHED)


@pytest.mark.stack("postgresql")
def test_a_job_past_its_timeout_is_stopped_by_the_in_process_worker(redis_app, trace, monkeypatch):
    monkeypatch.setitem(jobs.QUEUES, "default", jobs.QueueSpec(timeout=1, retries=0, first_retry=1, max_retry_wait=1))
    with redis_app.app_context():
        job_id = jobs.enqueue("default", "tests.lti_tool.sample_jobs.sleep_then_record", str(trace), 30)
        db.session.commit()
    run_burst(redis_app, "default")
    assert lines(trace) == ["started"]
    with redis_app.app_context():
        job = Job.fetch(job_id, connection=jobs.redis_connection(), serializer=jobs.SERIALIZER)
        assert job.get_status() == JobStatus.FAILED
        assert "JobTimeoutException" in (job.latest_result().exc_string or "")
        assert jobs.stats()["default"]["failed"] == 1
        assert jobs.requeue_failed("default") == 1
        assert jobs.rq_queue("default").count == 1


@pytest.mark.stack("postgresql")
def test_forking_worker_runs_jobs_too(redis_app, trace):
    with redis_app.app_context():
        jobs.enqueue("analytics", RECORD, str(trace), "forked")
        db.session.commit()
    output = run_burst(redis_app, "analytics", args=("--fork",))
    assert lines(trace) == ["forked"]
    assert "forking" in output


@pytest.mark.stack("postgresql")
def test_a_worker_listens_only_to_the_queues_it_was_given(redis_app, trace):
    with redis_app.app_context():
        jobs.enqueue("grades", RECORD, str(trace), "grades")
        jobs.enqueue("analytics", RECORD, str(trace), "analytics")
        db.session.commit()
    run_burst(redis_app, "grades")
    assert lines(trace) == ["grades"]
    with redis_app.app_context():
        assert jobs.rq_queue("analytics").count == 1


@pytest.mark.stack("postgresql")
def test_redis_down_at_commit_is_logged_and_the_caller_goes_on(make_app, backend, trace, caplog):
    make_app()  # the one the fixture cleans up afterwards, with a Redis that answers
    app = make_app(REDIS_URL="redis://127.0.0.1:1/0")
    with app.app_context():
        db.session.get(User, 1)
        jobs.enqueue("default", RECORD, str(trace), "x")
        with caplog.at_level(logging.ERROR, logger="lti_tool.jobs"):
            db.session.commit()
        assert "could not queue" in caplog.text
        assert jobs.submit("default", RECORD, str(trace), "x") is False
