"""Ingest: events become facts in batches, untrusted numbers are clamped, and nothing counts twice."""

import math
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, func, insert, select, update

from analytics import service
from analytics.models import Fact, IngestCursor, ItemSummary, LearnerItem, MediaState
from lti_tool import events, registry
from lti_tool.db import db
from lti_tool.events import Event
from lti_tool.models import Platform
from tests.analytics.conftest import make_campus, publish, record_launch


def now():
    return datetime.now(timezone.utc).replace(microsecond=0)


def facts():
    return db.session.scalars(select(Fact).order_by(Fact.event_id)).all()


@pytest.mark.parametrize(
    "position, duration, furthest, expected",
    [
        (30, 60, None, (30.0, 60.0, 0.5)),
        (90, 60, None, (60.0, 60.0, 1.0)),  # past the end: the end
        (-5, 60, None, (0.0, 60.0, 0.0)),  # before the start: the start
        (15, 60, 0.5, (15.0, 60.0, 0.5)),  # backwards: progress stays where it was
        (45, 60, 0.5, (45.0, 60.0, 0.75)),
        (10, 0, 0.4, (None, None, 0.4)),  # no usable duration: no position, progress kept
        (10, -3, None, (None, None, None)),
        (math.nan, 60, 0.2, (None, 60.0, 0.2)),
        (10, math.inf, None, (None, None, None)),
        (True, 60, None, (None, 60.0, None)),
        ("10", 60, None, (None, 60.0, None)),
    ],
)
def test_media_progress_is_clamped(position, duration, furthest, expected):
    assert service.clamp_progress(position, duration, furthest) == expected


@pytest.mark.parametrize(
    "score, max_score, expected",
    [
        (7, 10, (7.0, 10.0, 0.7)),
        (12, 10, (10.0, 10.0, 1.0)),
        (-2, 10, (0.0, 10.0, 0.0)),
        (3, 0, (None, None, None)),
        (math.inf, 10, (None, None, None)),
    ],
)
def test_scores_are_clamped(score, max_score, expected):
    assert service.clamp_score(score, max_score) == expected


def test_media_reports_are_clamped_and_progress_never_goes_back(campus):
    learner, video = campus.learner_pks[0], campus.items["intro"]
    start = now()
    for offset, position in enumerate([100.0, 450.0, 50.0, 200.0, -10.0]):
        publish(
            campus,
            "media_progress",
            learner,
            start + timedelta(seconds=offset),
            item_id=video,
            position=position,
            duration=300.0,
        )
    db.session.commit()
    service.ingest_pending()
    rows = [(f.position, f.duration, f.progress) for f in facts()]
    assert rows == [
        (100.0, 300.0, pytest.approx(1 / 3)),
        (300.0, 300.0, 1.0),  # past the end counts as the end
        (50.0, 300.0, 1.0),  # a rewind does not undo what was watched
        (200.0, 300.0, 1.0),
        (0.0, 300.0, 1.0),
    ]
    assert db.session.scalar(select(MediaState.max_progress)) == 1.0


def test_progress_carries_across_batches_and_runs(campus):
    learner, video = campus.learner_pks[0], campus.items["lecture"]
    publish(campus, "media_progress", learner, now(), item_id=video, position=480.0, duration=600.0)
    db.session.commit()
    service.ingest_pending()
    publish(campus, "media_progress", learner, now(), item_id=video, position=60.0, duration=600.0)
    db.session.commit()
    service.ingest_pending()
    assert [f.progress for f in facts()] == [0.8, 0.8]


def test_ingest_reads_in_batches_and_skips_what_is_not_learning(campus):
    learner = campus.learner_pks[0]
    when = now()
    for n in range(250):
        publish(campus, "item_viewed", learner, when + timedelta(seconds=n), item_id=campus.items["reading"])
    events.publish(
        "item_published", platform_id=campus.platform_id, context_pk=campus.context_pk, data={"item_id": 1}
    )
    events.publish(
        "grade_failed",
        platform_id=campus.platform_id,
        user_pk=learner,
        context_pk=campus.context_pk,
        data={"item_id": 1, "delivery_id": 2, "reason": "LMS refused"},
    )
    # A launch outside any course: nothing to count it against.
    events.publish(
        "launch",
        platform_id=campus.platform_id,
        user_pk=learner,
        data={"message_type": "LtiResourceLinkRequest"},
    )
    db.session.commit()
    report = service.ingest_pending(batch_size=100)
    assert (report.read, report.ingested, report.skipped, report.batches) == (253, 250, 3, 3)
    assert report.contexts == {campus.context_pk}
    assert db.session.scalar(select(func.count()).select_from(Fact)) == 250
    last = db.session.scalar(select(func.max(Event.id)))
    assert db.session.scalar(select(IngestCursor.last_event_id)) == last
    assert service.is_ingested(last) and service.backlog() == 0


def test_ingesting_again_changes_nothing(campus):
    learner = campus.learner_pks[0]
    when = now()
    publish(campus, "item_viewed", learner, when, item_id=campus.items["reading"])
    publish(
        campus,
        "media_progress",
        learner,
        when + timedelta(seconds=5),
        item_id=campus.items["intro"],
        position=150.0,
        duration=300.0,
    )
    publish(
        campus,
        "quiz_submitted",
        learner,
        when + timedelta(seconds=9),
        item_id=campus.items["quiz1"],
        attempt_id=1,
        score=8.0,
        max_score=10.0,
    )
    db.session.commit()
    service.ingest_pending()
    service.rollup_pending()
    before = [(f.event_id, f.kind, f.progress, f.scaled) for f in facts()]
    summary = db.session.execute(select(ItemSummary.item_id, ItemSummary.views, ItemSummary.attempts)).all()
    assert service.ingest_pending().ingested == 0

    # Every event delivered again (a lost cursor, a replayed queue): nothing is counted twice.
    db.session.execute(update(IngestCursor).values(last_event_id=0, gaps=[]))
    db.session.commit()
    report = service.ingest_pending()
    service.rollup_pending()
    assert report.read == 3
    assert [(f.event_id, f.kind, f.progress, f.scaled) for f in facts()] == before
    assert (
        db.session.execute(select(ItemSummary.item_id, ItemSummary.views, ItemSummary.attempts)).all()
        == summary
    )


def test_an_event_committed_late_below_the_mark_is_still_ingested(campus):
    # PostgreSQL hands out ids before commit: id 2 may commit after id 3 was read.
    learner = campus.learner_pks[0]
    when = now()
    first = publish(campus, "item_viewed", learner, when, item_id=campus.items["reading"])
    late = publish(campus, "item_viewed", learner, when, item_id=campus.items["reading"])
    last = publish(campus, "item_viewed", learner, when, item_id=campus.items["reading"])
    db.session.commit()
    row = db.session.execute(select(Event.__table__).where(Event.id == late.id)).mappings().one()
    db.session.execute(delete(Event).where(Event.id == late.id))
    db.session.commit()

    service.ingest_pending()
    assert [f.event_id for f in facts()] == [first.id, last.id]
    assert not service.is_ingested(late.id) and service.is_ingested(last.id)
    assert [late.id, late.id] in [gap[:2] for gap in db.session.scalar(select(IngestCursor.gaps))]

    db.session.execute(insert(Event.__table__).values(**row))  # the slow transaction commits
    db.session.commit()
    report = service.ingest_pending()
    assert report.ingested == 1
    assert [f.event_id for f in facts()] == [first.id, late.id, last.id]
    assert [late.id, late.id] not in [gap[:2] for gap in db.session.scalar(select(IngestCursor.gaps))]
    assert service.is_ingested(late.id)


def test_old_gaps_are_not_watched(campus):
    # A hole before an event older than the retry window is a rolled-back insert, not a late one.
    learner = campus.learner_pks[0]
    long_ago = now() - timedelta(seconds=service.GAP_RETRY_SECONDS + 60)
    publish(campus, "item_viewed", learner, long_ago, item_id=campus.items["reading"])
    gone = publish(campus, "item_viewed", learner, long_ago, item_id=campus.items["reading"])
    publish(campus, "item_viewed", learner, long_ago, item_id=campus.items["reading"])
    db.session.commit()
    db.session.execute(delete(Event).where(Event.id == gone.id))
    db.session.commit()
    service.ingest_pending()
    assert db.session.scalar(select(IngestCursor.gaps)) == []


def test_teachers_are_kept_but_not_counted(campus):
    when = now()
    publish(campus, "item_viewed", campus.teacher_pk, when, item_id=campus.items["reading"])
    publish(campus, "item_viewed", campus.learner_pks[0], when, item_id=campus.items["reading"])
    db.session.commit()
    service.ingest_pending()
    service.rollup_pending()
    assert [(f.user_pk, f.is_learner) for f in facts()] == [
        (campus.teacher_pk, False),
        (campus.learner_pks[0], True),
    ]
    assert db.session.scalar(select(ItemSummary.views)) == 1
    assert db.session.scalars(select(LearnerItem.user_pk)).all() == [campus.learner_pks[0]]


def test_a_real_launch_is_a_learning_event(campus):
    record_launch(campus, campus.learner_pks[1], "learner")
    service.ingest_pending()
    fact = db.session.scalar(select(Fact))
    assert (fact.kind, fact.user_pk, fact.context_pk, fact.item_id, fact.is_learner) == (
        "launch",
        campus.learner_pks[1],
        campus.context_pk,
        None,
        True,
    )


def test_days_follow_the_configured_time_zone(make_app):
    app = make_app(ANALYTICS_TIMEZONE="Pacific/Auckland")
    with app.app_context():
        campus = make_campus(learners=1)
        # 20:00 UTC on 1 March is 09:00 on 2 March in Auckland (UTC+13 in March).
        publish(
            campus,
            "item_viewed",
            campus.learner_pks[0],
            datetime(2025, 3, 1, 20, 0, tzinfo=timezone.utc),
            item_id=7,
        )
        db.session.commit()
        service.ingest_pending()
        assert str(db.session.scalar(select(Fact.day))) == "2025-03-02"


def test_facts_go_with_their_platform(campus):
    # Removing an LMS removes everything analytics holds for it, through the database's cascades.
    other = make_campus("https://other.example.org", learners=1, content=False)
    publish(other, "item_viewed", other.learner_pks[0], now(), item_id=5)
    publish(campus, "item_viewed", campus.learner_pks[0], now(), item_id=5)
    db.session.commit()
    service.ingest_pending()
    service.rollup_pending()
    registry.remove_platform(db.session.get(Platform, other.platform_id))
    db.session.commit()
    assert [(f.platform_id, f.context_pk) for f in facts()] == [(campus.platform_id, campus.context_pk)]
    assert db.session.scalars(select(ItemSummary.platform_id)).all() == [campus.platform_id]
