"""No open redirects (LTI login targets, the admin sign-in's `next`), and uploads served as the
files they were checked to be: sniffed content type, nosniff, inline with a clean file name."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from courses import service as courses
from courses.models import Item
from courses.storage import get_storage
from lti_tool.db import db
from tests.security.walk import ADMIN_EMAIL, ADMIN_PASSWORD, CSRF_FIELD
from tests.security.world import tiny_png

LOGIN = {"iss": "https://lms.example.edu", "login_hint": "learner-1", "client_id": "tool-client"}


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example.com/lti/launch",
        "//evil.example.com/lti/launch",
        "http://localhost.evil.example.com/lti/launch",
        "http://localhost:8080/lti/launch",
        "http://localhost@evil.example.com/lti/launch",
        "http://evil.example.com\\@localhost/lti/launch",
        "http://evil.example.com\\localhost/lti/launch",
        "javascript:alert(1)",
        "/lti/launch",
    ],
)
def test_a_login_may_only_target_this_tool(walk_app, world, target):
    response = walk_app.test_client().get("/lti/login", query_string={**LOGIN, "target_link_uri": target})
    assert response.status_code == 400 and "Location" not in response.headers
    assert "not part of this tool" in response.get_data(as_text=True)


def test_a_login_that_targets_this_tool_goes_to_the_lms_only(walk_app, world):
    response = walk_app.test_client().get("/lti/login", query_string={**LOGIN, "target_link_uri": "http://localhost/lti/launch"})
    assert response.status_code == 302 and response.headers["Location"].startswith("https://lms.example.edu/auth?")


@pytest.mark.parametrize(
    "next_url",
    ["https://evil.example.com/admin/", "//evil.example.com/admin", "/\\evil.example.com", "\\\\evil.example.com", "javascript:alert(1)", "/courses/"],
)
def test_signing_in_never_leaves_the_admin_area(walk_app, next_url):
    client = walk_app.test_client()
    token = CSRF_FIELD.search(client.get("/admin/login").get_data(as_text=True)).group(1)
    response = client.post("/admin/login", data={"csrf_token": token, "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "next": next_url})
    assert response.status_code == 303 and response.headers["Location"] == "/admin/"
    # Already signed in, the sign-in page forwards the same way.
    again = client.get("/admin/login", query_string={"next": next_url})
    assert again.status_code == 302 and again.headers["Location"] == "/admin/"


def test_signing_in_returns_to_the_admin_page_asked_for(walk_app):
    client = walk_app.test_client()
    token = CSRF_FIELD.search(client.get("/admin/login").get_data(as_text=True)).group(1)
    response = client.post("/admin/login", data={"csrf_token": token, "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "next": "/admin/keys"})
    assert response.headers["Location"] == "/admin/keys"


def media_link(app, world, public_id: str) -> str:
    with app.app_context():
        item = db.session.scalar(select(Item).where(Item.public_id == public_id))
        return get_storage().learner_url(item.media_key, content_type=item.media_content_type, filename=item.media_filename)


def test_media_is_served_inline_as_its_checked_type(walk_app, world):
    with walk_app.test_client().get(media_link(walk_app, world, world.ids["image"])) as response:
        assert response.status_code == 200 and response.data == tiny_png()
        assert response.headers["Content-Type"] == "image/png"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Disposition"] == "inline; filename=sky.png"
        assert "private" in response.headers["Cache-Control"]
        policy = response.headers["Content-Security-Policy"]
        assert "sandbox" in policy and "default-src 'none'" in policy


def test_a_hostile_file_name_cannot_change_the_type_or_the_headers(walk_app, world):
    hostile = '..\\../evil"\r\nX-Injected: 1\r\n.html'
    with walk_app.app_context(), walk_app.test_request_context():
        from lti_tool import identity

        launch = identity.load_launch(world.person("instructor").launch_id)
        actor = courses.Actor(platform_id=launch.platform_id, user_pk=launch.user_pk, context_pk=launch.context_pk, instructor=True)
        module = courses.module_for_edit(actor, world.ids["module"])
        item = courses.save_item(
            actor,
            kind="image",
            form={"title": ["Sky"], "alt_text": ["Sky"]},
            uploads={"file": courses.Upload(io.BytesIO(tiny_png()), hostile)},
            module=module,
        )
        public_id = item.public_id
    with walk_app.test_client().get(media_link(walk_app, world, public_id)) as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "image/png"
        assert "X-Injected" not in response.headers
        disposition = response.headers["Content-Disposition"]
    # The last part of the name only, without the control characters: no path, no second header.
    assert disposition.startswith("inline; filename=") and "\r" not in disposition and "\n" not in disposition
    assert ".." not in disposition and "/" not in disposition, disposition


def test_html_is_never_accepted_as_an_upload(walk_app, world):
    with walk_app.app_context(), walk_app.test_request_context():
        from lti_tool import identity

        launch = identity.load_launch(world.person("instructor").launch_id)
        actor = courses.Actor(platform_id=launch.platform_id, user_pk=launch.user_pk, context_pk=launch.context_pk, instructor=True)
        module = courses.module_for_edit(actor, world.ids["module"])
        page = b"<html><script>alert(1)</script></html>"
        for kind, name in (("image", "x.png"), ("pdf", "x.pdf"), ("video", "x.mp4")):
            with pytest.raises(courses.InvalidInput):
                courses.save_item(
                    actor, kind=kind, form={"title": ["X"], "alt_text": ["X"]},
                    uploads={"file": courses.Upload(io.BytesIO(page), name)}, module=module,
                )
