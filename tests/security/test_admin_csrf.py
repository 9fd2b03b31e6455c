"""The admin area takes only its session's CSRF token: a launch's token (which anyone launched
from an LMS holds) does not make a cross-site form acceptable there."""

from __future__ import annotations

from sqlalchemy import func, select

from keys.models import ToolKey
from lti_tool.db import db
from tests.security.walk import Caller


def key_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(ToolKey))


def test_a_launch_token_does_not_pass_the_admin_areas_csrf_check(walk_app, world):
    admin = Caller(walk_app, "admin", world)
    learner = world.person("learner")
    before = key_count(walk_app)
    # A page on the LMS's site posts the attacker's own launch id and token with the admin's cookie.
    response = admin.client.post(
        "/admin/keys/rotate", data={"confirm": "yes", "launch_id": learner.launch_id, "csrf_token": learner.token}
    )
    assert response.status_code == 400 and "This form is stale" in response.get_data(as_text=True)
    assert key_count(walk_app) == before
    # With the session's token the same form works.
    response = admin.client.post("/admin/keys/rotate", data={"confirm": "yes", "csrf_token": admin.session_token})
    assert response.status_code == 303 and response.headers["Location"].endswith("/admin/keys")


def test_nested_admin_pages_refuse_a_launch_token_too(walk_app, world):
    from lti_tool.models import User

    admin = Caller(walk_app, "admin", world)
    learner = world.person("learner")
    leaver = world.ids["leaver"]
    response = admin.client.post(
        f"/admin/privacy/users/{leaver}/erase",
        data={"confirm": "leaver-1", "reason": "forged", "launch_id": learner.launch_id, "csrf_token": learner.token},
    )
    assert response.status_code == 400
    with walk_app.app_context():
        assert db.session.get(User, leaver).sub == "leaver-1", "nothing was erased"
