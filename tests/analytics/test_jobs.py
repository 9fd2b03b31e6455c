"""Analytics jobs: declared where the worker finds them, run in-process when embedded, and by a real
`flask worker` process on Redis; `flask analytics ...` for operators."""

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from analytics import jobs as analytics_jobs
from analytics import service
from analytics.models import Fact, ItemSummary, LearnerSummary
from lti_tool import jobs, schedule, subscribers
from lti_tool.db import db
from tests.analytics.conftest import make_campus, publish, seed_history
from tests.support.worker import WorkerProcess, wait_for


def test_declared_for_the_dispatcher_and_the_scheduler():
    for kind in ("quiz_submitted", "grade_delivered"):
        assert ("analytics", "analytics.jobs.ingest_event") in subscribers.subscribers_of(kind)
    entry = schedule.find("analytics.jobs.refresh")
    assert (entry.queue, entry.every) == ("analytics", timedelta(minutes=1))
    assert jobs.resolve("analytics.jobs.ingest_event") is analytics_jobs.ingest_event
    assert jobs.resolve(entry.func) is analytics_jobs.refresh


@pytest.mark.stack("sqlite")
def test_a_quiz_submission_reaches_the_dashboard_at_once_when_embedded(app_ctx, backend):
    campus = make_campus(learners=2)
    now = datetime.now(timezone.utc)
    publish(campus, "item_viewed", campus.learner_pks[0], now, item_id=campus.items["quiz1"])
    db.session.commit()
    # Views wait for the periodic refresh...
    assert db.session.scalar(select(func.count()).select_from(Fact)) == 0
    publish(
        campus,
        "quiz_submitted",
        campus.learner_pks[0],
        now,
        item_id=campus.items["quiz1"],
        attempt_id=1,
        score=6.0,
        max_score=8.0,
    )
    db.session.commit()
    # ...a submission is dispatched after the commit, and takes everything before it along.
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Fact)) == 2
    summary = db.session.scalar(select(ItemSummary).where(ItemSummary.item_id == campus.items["quiz1"]))
    assert (summary.views, summary.attempts, summary.avg_scaled) == (1, 1, 0.75)


def test_the_subscriber_is_idempotent(app_ctx):
    campus = make_campus(learners=1)
    event = publish(
        campus,
        "item_viewed",
        campus.learner_pks[0],
        datetime.now(timezone.utc),
        item_id=campus.items["reading"],
    )
    db.session.commit()
    analytics_jobs.ingest_event(event.id)
    analytics_jobs.ingest_event(event.id)
    analytics_jobs.refresh()
    assert db.session.scalar(select(func.count()).select_from(Fact)) == 1
    assert db.session.scalar(select(ItemSummary.views)) == 1


@pytest.mark.stack("postgresql")
def test_a_real_worker_ingests_and_rolls_up(make_app, backend):
    app = make_app()
    with app.app_context():
        campus = make_campus(learners=4)
        history = seed_history(campus, days=2)
        expected_learners = len({e.user_pk for e in history if e.user_pk in campus.learner_pks})
    with WorkerProcess(app, "analytics") as worker:
        # The submissions in the history were dispatched to the analytics queue on commit.
        with app.app_context():
            wait_for(
                lambda: (
                    db.session.scalar(select(func.count()).select_from(LearnerSummary)) == expected_learners
                    and service.backlog() == 0
                ),
                timeout=60,
                message="the worker did not roll up:\n" + worker.log_tail,
            )
            db.session.remove()
        # The periodic refresh as the scheduler queues it, run by the same worker.
        with app.app_context():
            publish(
                campus,
                "item_viewed",
                campus.learner_pks[0],
                datetime.now(timezone.utc),
                item_id=campus.items["reading"],
            )
            db.session.commit()
            before = db.session.scalar(select(func.count()).select_from(Fact))
            assert jobs.submit("analytics", "analytics.jobs.refresh", job_id="refresh-test")
            wait_for(
                lambda: db.session.scalar(select(func.count()).select_from(Fact)) == before + 1,
                timeout=60,
                message="the refresh job did not run:\n" + worker.log_tail,
            )
            db.session.remove()
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Fact)) == len(history) + 1
        assert jobs.stats()["analytics"]["failed"] == 0


def test_cli(app_ctx, runner):
    campus = make_campus(learners=2)
    now = datetime.now(timezone.utc)
    for n, learner in enumerate(campus.learner_pks * 3):
        publish(campus, "item_viewed", learner, now + timedelta(seconds=n), item_id=campus.items["reading"])
    db.session.commit()
    status = runner.invoke(args=["analytics", "status"])
    assert status.exit_code == 0 and "events waiting: 6" in status.output, status.output
    result = runner.invoke(args=["analytics", "refresh"])
    assert result.exit_code == 0, result.output
    assert "6 events ingested" in result.output and "1 contexts rolled up" in result.output
    status = runner.invoke(args=["analytics", "status"])
    assert "events waiting: 0" in status.output and "contexts waiting for a roll-up: 0" in status.output
    before = db.session.execute(select(ItemSummary.item_id, ItemSummary.views, ItemSummary.completions)).all()
    rebuilt = runner.invoke(args=["analytics", "rebuild", "--context", str(campus.context_pk)])
    assert rebuilt.exit_code == 0 and "1 context(s) rebuilt" in rebuilt.output
    db.session.expire_all()
    assert sorted(
        db.session.execute(select(ItemSummary.item_id, ItemSummary.views, ItemSummary.completions)).all()
    ) == sorted(before)
    missing = runner.invoke(args=["analytics", "rebuild", "--context", "999999"])
    assert missing.exit_code != 0 and "no context with id 999999" in missing.output
