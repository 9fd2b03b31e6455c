"""Grades fixtures: a platform with a course, a link, a learner and a teacher."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import pytest

from grades.models import ContextService, ResourceLinkService
from keys import service as keys_service
from lti_tool import jobs, registry
from lti_tool.db import db
from lti_tool.models import Context, Enrollment, ResourceLink, User
from tests.grades.stub_lms import ALL_SCOPES, StubLMS


@dataclass
class Course:
    platform_id: int
    client_pk: int
    deployment_pk: int
    context_pk: int
    link_pk: int
    learner_pk: int
    teacher_pk: int

    def where(self, **overrides):
        base = dict(
            platform_id=self.platform_id,
            context_pk=self.context_pk,
            user_pk=self.learner_pk,
            resource_link_pk=self.link_pk,
        )
        return {**base, **overrides}


def make_course(
    issuer="https://lms.example.edu", client_id="tool-client", token_url=None, context_id="course-1"
):
    platform = registry.add_platform(
        registry.PlatformInput(
            issuer=issuer,
            client_id=client_id,
            auth_url=f"{issuer}/auth",
            token_url=token_url or f"{issuer}/token",
            jwks_url=f"{issuer}/jwks",
            deployment_ids=("1",),
        )
    )
    client = platform.clients[0]
    deployment = client.deployments[0]
    context = Context(
        platform_id=platform.id, deployment_pk=deployment.id, context_id=context_id, title="Biology 101"
    )
    learner = User(platform_id=platform.id, sub="learner-sub-1", name="Ada Lovelace")
    teacher = User(platform_id=platform.id, sub="teacher-sub-1", name="Tom Teacher")
    db.session.add_all([context, learner, teacher])
    db.session.flush()
    link = ResourceLink(
        platform_id=platform.id, context_pk=context.id, resource_link_id="link-1", title="Quiz 1"
    )
    db.session.add(link)
    db.session.add_all(
        [
            Enrollment(platform_id=platform.id, context_pk=context.id, user_pk=learner.id, roles=["learner"]),
            Enrollment(
                platform_id=platform.id, context_pk=context.id, user_pk=teacher.id, roles=["instructor"]
            ),
        ]
    )
    db.session.commit()
    return Course(platform.id, client.id, deployment.id, context.id, link.id, learner.id, teacher.id)


# Fast retries and short timeouts, so fault tests take seconds.
FAST = dict(
    GRADE_RETRY_FIRST_SECONDS=0.2,
    GRADE_RETRY_MAX_SECONDS=2,
    HTTP_TIMEOUT_SECONDS=2,
    GRADE_SWEEP_AFTER_SECONDS=0,
)


@pytest.fixture
def grades_app(make_app):
    app = make_app(**FAST)
    yield app
    with app.app_context():
        jobs.purge()


@pytest.fixture
def grades_ctx(grades_app):
    with grades_app.app_context():
        keys_service.ensure_keys()
        yield grades_app


@pytest.fixture
def course(grades_ctx) -> Course:
    return make_course()


@pytest.fixture
def lms() -> Iterator[StubLMS]:
    stub = StubLMS(query="type_id=7")
    yield stub
    stub.stop()


@pytest.fixture
def lms_course(grades_ctx, lms) -> Course:
    """A course on the stub LMS, whose launches granted every scope."""
    course = make_course(issuer=lms.url, client_id=lms.client_id, token_url=lms.token_url)
    connect(course, lms)
    return course


def connect(
    course: Course, lms: StubLMS, *, scopes=ALL_SCOPES[:3], roster=True, lineitems=True, lineitem=None
) -> None:
    """What a launch with these AGS/NRPS claims leaves behind (as `grades.launches` stores it)."""
    db.session.add(
        ContextService(
            platform_id=course.platform_id,
            context_pk=course.context_pk,
            client_pk=course.client_pk,
            deployment_pk=course.deployment_pk,
            lineitems_url=lms.lineitems_url if lineitems else None,
            ags_scopes=list(scopes),
            memberships_url=lms.members_url if roster else None,
            nrps_versions=["2.0"] if roster else [],
        )
    )
    db.session.add(
        ResourceLinkService(
            platform_id=course.platform_id,
            context_pk=course.context_pk,
            resource_link_pk=course.link_pk,
            lineitem_url=lineitem,
        )
    )
    db.session.commit()


@pytest.fixture
def enqueued(monkeypatch) -> list[int]:
    """Delivery ids handed to the queue, instead of running them."""
    ids: list[int] = []

    def record(call):
        if call.func == "grades.jobs.deliver_score":
            assert call.queue == "grades"
            ids.append(call.args[0])
        return True

    # The real enqueue (after-commit hand-over included); the hand-over is recorded instead of
    # made (other packages' jobs, such as notifications of grade events, are dropped).
    monkeypatch.setattr(jobs, "_submit", record)
    return ids
