"""Fixtures shared by the tests of events and jobs: one registered LMS with a learner in a course."""

from __future__ import annotations

import pytest

from lti_tool import registry
from lti_tool.db import db
from lti_tool.models import Context, User


@pytest.fixture
def platform_id(app_ctx) -> int:
    platform = registry.add_platform(
        registry.PlatformInput(
            issuer="https://lms.example.edu",
            client_id="c",
            auth_url="https://lms.example.edu/a",
            token_url="https://lms.example.edu/t",
            jwks_url="https://lms.example.edu/k",
            deployment_ids=("1",),
        )
    )
    db.session.commit()
    return platform.id


@pytest.fixture
def where(platform_id) -> dict[str, int]:
    """The platform, user and context an event is about."""
    deployment_pk = registry.get_platform(platform_id).clients[0].deployments[0].id
    user = User(platform_id=platform_id, sub="u1")
    context = Context(platform_id=platform_id, deployment_pk=deployment_pk, context_id="c1")
    db.session.add_all([user, context])
    db.session.commit()
    return dict(platform_id=platform_id, user_pk=user.id, context_pk=context.id)
