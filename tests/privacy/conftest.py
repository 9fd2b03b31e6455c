"""Privacy fixtures: one learner with data in every package, made through the packages' services.

`build_world` registers an LMS with a course, gives one learner a distinctive identity, and makes
their launches (accepted and refused), learning events, a quiz attempt with a free-text answer and
its score delivery, a roster entry, notifications (their own, and teachers' that quote them),
email choices, and analytics figures. Another learner and the teacher get data too, so tests can
check that erase leaves them alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import String, Text, select, update
from sqlalchemy.types import JSON

from lti_tool import events
from lti_tool.db import db
from lti_tool.models import LaunchLog, User
from tests.admin.conftest import admin_account, admin_client  # noqa: F401 - fixtures for the admin pages
from tests.analytics.conftest import Campus, make_campus, publish, record_launch

TARGET = {
    "sub": "zq-7781-lms-sub",
    "name": "Zelda Quarkington",
    "given_name": "Zelda",
    "family_name": "Quarkington",
    "email": "zelda.quarkington@example.edu",
    "picture": "https://lms.example.edu/pix/zq7781.png",
    "locale": "en-GB",
}
FREE_TEXT = "Mitochondria make energy, wrote the learner in her own words"
PERSONAL = [TARGET[key] for key in ("sub", "name", "given_name", "family_name", "email", "picture")] + [FREE_TEXT]


@dataclass
class World:
    campus: Campus
    target_pk: int
    other_pk: int
    teacher_pk: int
    launch_ids: list[str]


def _quiz_attempt(campus: Campus, user_pk: int, answers: dict[str, Any], score: float, comment: str | None = None):
    from grades import service as grades_service

    return grades_service.record_attempt(
        platform_id=campus.platform_id,
        context_pk=campus.context_pk,
        user_pk=user_pk,
        resource_link_pk=None,
        item_id=campus.items["quiz1"],
        answers=answers,
        score=score,
        max_score=10.0,
        attempts_allowed=None,
        comment=comment,
    )


def build_world(issuer: str = "https://lms.example.edu") -> World:
    from analytics import service as analytics_service
    from grades.models import Membership
    from notifications import service as notifications_service

    campus = make_campus(issuer, learners=3)
    target_pk, other_pk = campus.learner_pks[0], campus.learner_pks[1]
    target = db.session.get(User, target_pk)
    for key, value in TARGET.items():
        setattr(target, key, value)
    other = db.session.get(User, other_pk)
    other.name, other.email = "Otto Otherlearner", "otto@example.edu"
    db.session.commit()

    launch_ids = [record_launch(campus, target_pk, "learner"), record_launch(campus, target_pk, "learner"),
                  record_launch(campus, other_pk, "learner"), record_launch(campus, campus.teacher_pk, "instructor")]
    # A refused launch of the learner, as the launch view logs it.
    db.session.add(LaunchLog(platform_id=campus.platform_id, stage="launch", issuer=issuer, client_id="tool-client",
                             deployment_id="1", user_sub=TARGET["sub"], outcome="rejected", reason="nonce_reused",
                             detail=f"the nonce of {TARGET['sub']} was used before"))
    db.session.commit()

    at = datetime.now(timezone.utc) - timedelta(days=2)
    for person in (target_pk, other_pk):
        publish(campus, "item_viewed", person, at, item_id=campus.items["reading"])
        publish(campus, "media_progress", person, at + timedelta(minutes=1), item_id=campus.items["intro"],
                position=200.0, duration=300.0)
    attempt = _quiz_attempt(campus, target_pk, {"q-text": FREE_TEXT, "q-choice": ["c2"]}, 7.5,
                            comment=f"Well done, {TARGET['given_name']}")
    other_attempt = _quiz_attempt(campus, other_pk, {"q-text": "Otto's answer"}, 5.0)
    db.session.flush()
    publish(campus, "quiz_submitted", target_pk, at + timedelta(minutes=5), item_id=campus.items["quiz1"],
            attempt_id=attempt.id, score=7.5, max_score=10.0)
    publish(campus, "quiz_submitted", other_pk, at + timedelta(minutes=6), item_id=campus.items["quiz1"],
            attempt_id=other_attempt.id, score=5.0, max_score=10.0)
    db.session.add(Membership(platform_id=campus.platform_id, context_pk=campus.context_pk, user_pk=target_pk,
                              roles=["learner"], lti_roles=["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"]))
    db.session.commit()
    # Deliveries settle as the LMS answered (no LMS here: set them, on both backends alike).
    from grades.models import ScoreDelivery

    db.session.execute(update(ScoreDelivery).values(status="delivered", delivered_at=datetime.now(timezone.utc),
                                                    sent_score=ScoreDelivery.score_given))
    db.session.commit()

    # A score that failed: the teachers' notification quotes the learner by name.
    failed = events.publish("grade_failed", platform_id=campus.platform_id, user_pk=target_pk,
                            context_pk=campus.context_pk,
                            data={"item_id": campus.items["quiz1"], "delivery_id": 999,
                                  "reason": f"user {TARGET['sub']} is not in the gradebook"})
    db.session.commit()
    notifications_service.on_grade_failed(failed.id)
    # The learner's own notification (with its email) and email choices.
    notifications_service.notify(platform_id=campus.platform_id, user_pk=target_pk, context_pk=campus.context_pk,
                                 kind="grade_delivered", title="Your score reached the gradebook",
                                 body=f"Hello {TARGET['given_name']}, your score of 7.5 is in the LMS.",
                                 dedupe_key="test:delivered:1")
    notifications_service.notify(platform_id=campus.platform_id, user_pk=other_pk, context_pk=campus.context_pk,
                                 kind="grade_delivered", title="Your score reached the gradebook",
                                 body="Hello Otto, your score of 5 is in the LMS.", dedupe_key="test:delivered:2")
    db.session.commit()
    notifications_service.set_email_choices(campus.platform_id, target_pk, {"item_published": False})
    # The daily digest tells the teacher who joined, by name.
    notifications_service.send_roster_digests()
    db.session.commit()

    analytics_service.ingest_pending()
    analytics_service.rollup_pending()
    db.session.commit()
    return World(campus, target_pk, other_pk, campus.teacher_pk, launch_ids)


@pytest.fixture
def world(app_ctx) -> World:
    return build_world()


def text_dump() -> str:
    """Every text and JSON value in every table, as one string to search."""
    parts: list[str] = []
    for table in db.metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, (String, Text, JSON))
                   or isinstance(getattr(c.type, "impl", None), (String, Text, JSON))]
        if not columns:
            continue
        for row in db.session.execute(select(*columns)):
            for value in row:
                if value is not None:
                    parts.append(f"{table.name}: {json.dumps(value, ensure_ascii=False, default=str)}")
    return "\n".join(parts)


def rows_of(table_name: str) -> list[dict[str, Any]]:
    table = db.metadata.tables[table_name]
    result = db.session.execute(select(table).order_by(*table.primary_key.columns))
    return [dict(row._mapping) for row in result]
