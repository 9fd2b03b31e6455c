"""Analytics fixtures: a course with placed content, learners, launches, and a seeded event history.

`seeded` publishes a few days of learning events through `lti_tool.events.publish` (with their
times set in the past) and keeps the list, so tests can compute what the roll-ups must say on
their own, in plain Python and plain SQL, without the code under test.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from lti_tool import events, identity, registry
from lti_tool.db import db
from lti_tool.launch import (
    CONTEXT,
    DEPLOYMENT_ID,
    MESSAGE_TYPE,
    RESOURCE_LINK,
    RESOURCE_LINK_REQUEST,
    ROLES,
    ValidatedLaunch,
)
from lti_tool.models import Context, Enrollment, PlatformClient, User

MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
ROLE_URIS = {"instructor": MEMBERSHIP + "Instructor", "learner": MEMBERSHIP + "Learner"}


def public_id() -> str:
    return secrets.token_urlsafe(16)[:22]


@dataclass
class Campus:
    """One LMS with a course: registered platform, context, people and placed content."""

    issuer: str
    platform_id: int
    client_pk: int
    context_pk: int
    context_id: str
    teacher_pk: int
    learner_pks: list[int]
    items: dict[str, int] = field(default_factory=dict)  # name -> courses item id
    modules: dict[str, list[str]] = field(default_factory=dict)  # module title -> item names


def make_campus(
    issuer: str = "https://lms.example.edu",
    *,
    context_id: str = "bio-101",
    learners: int = 6,
    content: bool = True,
) -> Campus:
    platform = registry.add_platform(
        registry.PlatformInput(
            issuer=issuer,
            client_id="tool-client",
            auth_url=f"{issuer}/auth",
            token_url=f"{issuer}/token",
            jwks_url=f"{issuer}/jwks",
            deployment_ids=("1",),
        )
    )
    client = platform.clients[0]
    context = Context(
        platform_id=platform.id,
        deployment_pk=client.deployments[0].id,
        context_id=context_id,
        title="Biology 101",
    )
    teacher = User(platform_id=platform.id, sub="teacher-1", name="Tom Teacher")
    people = [User(platform_id=platform.id, sub=f"learner-{n}", name=f"Learner {n}") for n in range(learners)]
    db.session.add_all([context, teacher, *people])
    db.session.flush()
    db.session.add(
        Enrollment(platform_id=platform.id, context_pk=context.id, user_pk=teacher.id, roles=["instructor"])
    )
    for person in people:
        db.session.add(
            Enrollment(platform_id=platform.id, context_pk=context.id, user_pk=person.id, roles=["learner"])
        )
    campus = Campus(
        issuer, platform.id, client.id, context.id, context_id, teacher.id, [p.id for p in people]
    )
    if content:
        add_content(campus)
    db.session.commit()
    return campus


def add_content(campus: Campus) -> None:
    """A published course placed in the campus context: three modules, five items."""
    from courses.models import Course, CoursePlacement, Item, Module

    course = Course(
        public_id=public_id(),
        platform_id=campus.platform_id,
        owner_pk=campus.teacher_pk,
        title="Cells",
        published=True,
    )
    db.session.add(course)
    db.session.flush()
    db.session.add(
        CoursePlacement(platform_id=campus.platform_id, course_pk=course.id, context_pk=campus.context_pk)
    )
    layout = {
        "Week 1": [("intro", "video", "Intro video"), ("reading", "page", "Reading")],
        "Week 2": [("quiz1", "quiz", "Quiz 1"), ("lecture", "video", "Lecture 2")],
        "Week 3": [("quiz2", "quiz", "Quiz 2")],
    }
    for position, (title, entries) in enumerate(layout.items()):
        module = Module(
            public_id=public_id(),
            platform_id=campus.platform_id,
            course_pk=course.id,
            title=title,
            position=position,
            published=True,
        )
        db.session.add(module)
        db.session.flush()
        campus.modules[title] = []
        for item_position, (name, kind, item_title) in enumerate(entries):
            item = Item(
                public_id=public_id(),
                platform_id=campus.platform_id,
                course_pk=course.id,
                module_pk=module.id,
                kind=kind,
                title=item_title,
                position=item_position,
                published=True,
            )
            db.session.add(item)
            db.session.flush()
            campus.items[name] = item.id
            campus.modules[title].append(name)


def record_launch(campus: Campus, user_pk: int, role: str, *, context: bool = True) -> str:
    """A launch of `user_pk` recorded as a real launch is; returns the launch id pages carry."""
    client = db.session.get(PlatformClient, campus.client_pk)
    user = db.session.get(User, user_pk)
    claims: dict[str, Any] = {
        "iss": campus.issuer,
        "aud": client.client_id,
        "sub": user.sub,
        "name": user.name,
        MESSAGE_TYPE: RESOURCE_LINK_REQUEST,
        DEPLOYMENT_ID: client.deployments[0].deployment_id,
        ROLES: [ROLE_URIS[role]],
    }
    if context:
        claims[CONTEXT] = {"id": campus.context_id, "title": "Biology 101"}
        claims[RESOURCE_LINK] = {"id": "link-1", "title": "Cells"}
    record = identity.record_launch(
        ValidatedLaunch(claims, client, client.deployments[0], RESOURCE_LINK_REQUEST)
    )
    return record.launch_id


@dataclass
class Published:
    id: int
    kind: str
    user_pk: int
    context_pk: int | None
    item_id: int | None
    at: datetime
    data: dict[str, Any]


def publish(campus: Campus, kind: str, user_pk: int, at: datetime, **data: Any) -> Published:
    """Publish one event at time `at` (in the caller's transaction; flushed for its id)."""
    event = events.publish(
        kind, platform_id=campus.platform_id, user_pk=user_pk, context_pk=campus.context_pk, data=data
    )
    event.created_at = at
    db.session.flush()
    return Published(event.id, kind, user_pk, campus.context_pk, data.get("item_id"), at, dict(data))


DURATION = {"intro": 300.0, "lecture": 600.0}


def seed_history(campus: Campus, *, days: int = 5, seed: int = 7) -> list[Published]:
    """A few days of varied, messy activity: sessions with short and long pauses, media reports
    that go backwards and past the end, out-of-range quiz scores, grades reaching the LMS, and a
    teacher previewing. Committed."""
    rng = random.Random(seed)
    # Ending the day before yesterday (sessions may run past midnight): every event is in the past.
    start = (datetime.now(timezone.utc) - timedelta(days=days + 1)).replace(
        hour=8, minute=0, second=0, microsecond=0
    )
    published: list[Published] = []
    items = campus.items
    for day in range(days):
        for learner in campus.learner_pks:
            if rng.random() < 0.3:
                continue  # not every learner comes every day
            at = start + timedelta(days=day, minutes=rng.randrange(0, 600))
            published.append(publish(campus, "launch", learner, at, message_type="LtiResourceLinkRequest"))
            for _step in range(rng.randrange(2, 7)):
                # Mostly short pauses; sometimes one longer than the session gap (a break).
                at += timedelta(
                    seconds=rng.choice(
                        [rng.randrange(5, 400), rng.randrange(5, 400), rng.randrange(2000, 5000)]
                    )
                )
                name = rng.choice(["intro", "reading", "quiz1", "lecture", "quiz2"])
                if name in DURATION:
                    position = rng.choice(
                        [rng.uniform(0, DURATION[name]), DURATION[name] * 1.5, -5.0, rng.uniform(0, 60)]
                    )
                    published.append(
                        publish(
                            campus,
                            "media_progress",
                            learner,
                            at,
                            item_id=items[name],
                            position=position,
                            duration=DURATION[name],
                        )
                    )
                elif name.startswith("quiz"):
                    score = rng.choice([0.0, 2.5, 5.0, 7.5, 10.0, 12.0, -1.0, rng.uniform(0, 10)])
                    attempt = rng.randrange(1, 10**6)
                    published.append(
                        publish(
                            campus,
                            "quiz_submitted",
                            learner,
                            at,
                            item_id=items[name],
                            attempt_id=attempt,
                            score=score,
                            max_score=10.0,
                        )
                    )
                    if rng.random() < 0.5:
                        at += timedelta(seconds=3)
                        published.append(
                            publish(
                                campus,
                                "grade_delivered",
                                learner,
                                at,
                                item_id=items[name],
                                delivery_id=attempt,
                                score=min(max(score, 0), 10),
                                max_score=10.0,
                            )
                        )
                else:
                    published.append(publish(campus, "item_viewed", learner, at, item_id=items[name]))
        # The teacher previews: never counted as learning.
        at = start + timedelta(days=day, hours=3)
        published.append(publish(campus, "item_viewed", campus.teacher_pk, at, item_id=items["reading"]))
        published.append(
            publish(
                campus,
                "media_progress",
                campus.teacher_pk,
                at + timedelta(seconds=30),
                item_id=items["intro"],
                position=290.0,
                duration=300.0,
            )
        )
    db.session.commit()
    return published


@pytest.fixture
def campus(app_ctx) -> Campus:
    return make_campus()
