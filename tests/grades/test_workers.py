"""Score delivery through real Redis and real `flask worker` processes to an LMS over HTTP.

PostgreSQL + Redis stack only (workers need a queue). The embedded stack's in-process delivery is
checked at the end.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from grades import service
from grades.models import ScoreDelivery
from lti_tool import jobs
from lti_tool.db import db
from lti_tool.models import User
from tests.support.worker import WorkerProcess, wait_for

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=timezone.utc)


def submit(course, score, *, user_pk=None, at=T0) -> int:
    service.record_attempt(
        **course.where(**({"user_pk": user_pk} if user_pk else {})),
        item_id=7,
        answers={},
        score=score,
        max_score=10,
        attempts_allowed=None,
        submitted_at=at,
        label="Cells quiz",
    )
    db.session.commit()
    return db.session.scalars(select(ScoreDelivery.id).order_by(ScoreDelivery.id.desc())).first()


def status(delivery_id: int) -> str:
    db.session.rollback()
    db.session.expire_all()
    return db.session.get(ScoreDelivery, delivery_id).status


@pytest.mark.stack("postgresql")
def test_a_worker_delivers_through_500s_and_honours_retry_after(grades_app, lms_course, lms):
    lms.script("score", (500,), (502,), (503,), (429, {"error": "slow down"}, {"Retry-After": "2"}))
    with WorkerProcess(grades_app, "grades") as worker:
        delivery_id = submit(lms_course, 6)
        wait_for(lambda: status(delivery_id) == "delivered", timeout=40, message=worker.log_tail)
    assert len(lms.sent) == 1 and lms.sent[0]["scoreGiven"] == 6
    tried = [path for method, path in lms.calls if "/scores" in path]
    assert len(tried) == 5  # four refusals, then the one that counted
    row = db.session.get(ScoreDelivery, delivery_id)
    assert row.tries == 5
    # The last wait was the LMS's Retry-After (2 s), longer than our own backoff at that point.
    assert row.delivered_at - row.created_at >= timedelta(seconds=2)


@pytest.mark.stack("postgresql")
def test_a_worker_killed_mid_delivery_loses_nothing(grades_app, lms_course, lms):
    lms.hold_scores.set()
    first = WorkerProcess(grades_app, "grades").start()
    try:
        delivery_id = submit(lms_course, 8)
        assert lms.held.wait(timeout=30), first.log_tail
        first.kill()  # SIGKILL while the score post is in flight
    finally:
        first.kill()
    lms.hold_scores.clear()
    lms.release.set()  # the held request finishes into a closed socket: the score never counted
    assert lms.sent == [] and status(delivery_id) == "pending"

    with WorkerProcess(grades_app, "grades") as second:
        # The periodic sweeper, run now instead of on its minute: it queues the stuck row again
        # (the dead worker's lock on this learner's score lapses by itself within seconds).
        def swept_and_delivered():
            if status(delivery_id) == "delivered":
                return True
            jobs.submit("grades", "grades.jobs.sweep_deliveries", job_id="test-sweep")
            return False

        wait_for(swept_and_delivered, timeout=60, interval=1, message=second.log_tail)
    assert [s["scoreGiven"] for s in lms.sent] == [8]


@pytest.mark.stack("postgresql")
def test_redis_flushed_after_the_commit_the_sweeper_still_delivers(grades_app, lms_course, lms):
    delivery_id = submit(lms_course, 5)
    assert jobs.rq_queue("grades").count == 1
    jobs.purge()  # Redis lost everything after the commit
    with WorkerProcess(grades_app, "grades") as worker:
        time.sleep(1)
        assert status(delivery_id) == "pending" and lms.sent == []
        jobs.submit("grades", "grades.jobs.sweep_deliveries")
        wait_for(lambda: status(delivery_id) == "delivered", timeout=30, message=worker.log_tail)
    assert [s["scoreGiven"] for s in lms.sent] == [5]


@pytest.mark.stack("postgresql")
def test_several_workers_share_one_token_and_keep_each_learners_order(
    grades_app, lms_course, lms
):
    learners = [User(platform_id=lms_course.platform_id, sub=f"learner-{n}") for n in range(12)]
    db.session.add_all(learners)
    db.session.commit()
    workers = [WorkerProcess(grades_app, "grades").start() for _ in range(3)]
    try:
        ids = []
        for n, learner in enumerate(learners):
            ids.append(submit(lms_course, n % 10, user_pk=learner.id))
            ids.append(submit(lms_course, (n + 1) % 10, user_pk=learner.id, at=T0 + timedelta(minutes=1)))
        wait_for(lambda: all(status(i) in ("delivered", "superseded") for i in ids), timeout=60)
    finally:
        for worker in workers:
            worker.stop()
    assert len(lms.token_requests) == 1
    assert len(lms.line_items) == 1  # created once, whatever the race
    for n, learner in enumerate(learners):
        received = lms.scores_for(learner.sub)
        assert received[-1]["scoreGiven"] == max(n % 10, (n + 1) % 10)  # highest, as of the newest attempt
        assert received[-1]["timestamp"] == "2025-03-01T09:01:00.000+00:00"


@pytest.mark.stack("sqlite")
def test_embedded_mode_delivers_in_process_after_the_commit(backend, grades_app, lms_course, lms):
    delivery_id = submit(lms_course, 9)
    assert status(delivery_id) == "delivered"
    assert [s["scoreGiven"] for s in lms.sent] == [9]
