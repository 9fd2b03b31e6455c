from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from grades import service
from grades.models import Attempt, ScoreDelivery
from lti_tool.db import db
from lti_tool.models import User
from tests.grades.conftest import make_course

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=timezone.utc)


def submit(course, score, *, item_id=7, allowed=None, policy="highest", at=None, **extra):
    return service.record_attempt(
        **course.where(**extra),
        item_id=item_id,
        answers={"q1": "b"},
        score=score,
        max_score=10,
        attempts_allowed=allowed,
        submitted_at=at,
        grade_policy=policy,
        label="Quiz: cells",
    )


def test_attempt_score_and_outbox_row_join_the_callers_transaction(course, enqueued):
    attempt = submit(course, 7, at=T0)
    assert attempt.number == 1
    assert enqueued == []  # nothing is queued before the commit
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Attempt)) == 0
    assert db.session.scalar(select(func.count()).select_from(ScoreDelivery)) == 0
    assert enqueued == []

    attempt = submit(course, 7, at=T0)
    db.session.commit()
    delivery = db.session.scalar(select(ScoreDelivery))
    assert enqueued == [delivery.id]
    assert (delivery.attempt_pk, delivery.score_given, delivery.score_maximum, delivery.status) == (
        attempt.id,
        7.0,
        10.0,
        "pending",
    )
    assert delivery.score_timestamp == T0
    assert delivery.line_item_label == "Quiz: cells"


def test_attempts_are_numbered_per_learner_and_item_and_listed_newest_first(course, enqueued):
    for score in (3, 5, 4):
        submit(course, score)
    submit(course, 9, item_id=8)
    other = User(platform_id=course.platform_id, sub="someone-else")
    db.session.add(other)
    db.session.flush()
    submit(course, 1, user_pk=other.id)
    db.session.commit()
    listed = service.attempts_for(platform_id=course.platform_id, user_pk=course.learner_pk, item_id=7)
    assert [(a.number, a.score) for a in listed] == [(3, 4.0), (2, 5.0), (1, 3.0)]
    assert service.count_attempts(platform_id=course.platform_id, user_pk=course.learner_pk, item_id=7) == 3
    assert service.count_attempts(platform_id=course.platform_id, user_pk=course.learner_pk, item_id=8) == 1
    assert service.count_attempts(platform_id=course.platform_id, user_pk=other.id, item_id=7) == 1
    assert len(enqueued) == 5


def test_attempt_limit_is_enforced_with_a_clear_message(course, enqueued):
    submit(course, 3, allowed=2)
    submit(course, 4, allowed=2)
    db.session.commit()
    with pytest.raises(service.AttemptLimitReached, match="used all 2 attempts") as caught:
        submit(course, 5, allowed=2)
    assert isinstance(caught.value, ValueError)
    db.session.commit()
    assert service.count_attempts(platform_id=course.platform_id, user_pk=course.learner_pk, item_id=7) == 2
    assert db.session.scalar(select(func.count()).select_from(ScoreDelivery)) == 2


@pytest.mark.parametrize(
    "policy, expected",
    [("highest", 8.0), ("latest", 5.0), ("average", round((6 + 8 + 5) / 3, 6))],
)
def test_grade_policy_decides_the_score_sent(course, enqueued, policy, expected):
    for minutes, score in ((0, 6), (1, 8), (2, 5)):
        submit(course, score, policy=policy, at=T0 + timedelta(minutes=minutes))
    db.session.commit()
    newest = db.session.scalars(select(ScoreDelivery).order_by(ScoreDelivery.id.desc())).first()
    assert newest.score_given == pytest.approx(expected)
    assert newest.score_timestamp == T0 + timedelta(minutes=2)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"score": 11}, "score must be between 0 and 10"),
        ({"score": -1}, "score must be between 0 and 10"),
        ({"score": float("nan")}, "score must be a finite number"),
        ({"score": True}, "score must be a finite number"),
        ({"max_score": 0, "score": 0}, "max_score must be greater than 0"),
        ({"grade_policy": "best"}, "grade_policy must be one of highest, latest, average"),
        ({"attempts_allowed": 0}, "attempts_allowed must be a positive whole number"),
        ({"item_id": "7"}, "item_id must be a positive whole number"),
        ({"submitted_at": datetime(2025, 1, 1)}, "submitted_at must be timezone-aware"),
        ({"answers": ["a"]}, "answers must be a dict"),
    ],
)
def test_malformed_attempts_are_rejected_and_add_nothing(course, enqueued, changes, message):
    args = dict(
        course.where(),
        item_id=7,
        answers={},
        score=5,
        max_score=10,
        attempts_allowed=None,
    )
    with pytest.raises(ValueError, match=message):
        service.record_attempt(**{**args, **changes})
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Attempt)) == 0
    assert enqueued == []


def test_attempts_cannot_cross_platforms(course, enqueued):
    other = make_course(issuer="https://other.example.edu", context_id="course-9")
    with pytest.raises(ValueError, match="does not belong to platform"):
        submit(course, 5, user_pk=other.learner_pk)
    with pytest.raises(ValueError, match="does not belong to platform"):
        submit(course, 5, context_pk=other.context_pk)
    with pytest.raises(ValueError, match="does not belong to context"):
        submit(course, 5, resource_link_pk=other.link_pk)
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Attempt)) == 0
