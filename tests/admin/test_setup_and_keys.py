"""The values to paste into an LMS, the Canvas developer-key JSON, and key rotation."""

from __future__ import annotations

from sqlalchemy import select

from keys import service as keys_service
from lti_tool.admin.models import AdminAuditLog
from lti_tool.db import db
from tests.admin.conftest import page, post

CANVAS_PLACEMENTS = {"course_navigation", "link_selection", "assignment_selection", "editor_button"}


def test_the_canvas_json_has_the_fields_canvas_documents(client):
    response = client.get("/lti/config/canvas.json")  # public: Canvas admins paste it, no sign-in
    assert response.status_code == 200
    key = response.get_json()
    assert set(key) >= {"title", "description", "target_link_uri", "oidc_initiation_url", "public_jwk_url",
                        "scopes", "extensions", "custom_fields"}
    assert key["title"] == "Course Studio"
    # Canvas derives the redirect URIs from target_link_uri.
    assert key["target_link_uri"] == "http://localhost/lti/launch"
    assert key["oidc_initiation_url"] == "http://localhost/lti/login"
    assert key["public_jwk_url"] == "http://localhost/.well-known/jwks.json"
    assert set(key["scopes"]) == {
        "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
        "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
        "https://purl.imsglobal.org/spec/lti-ags/scope/score",
        "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",
    }
    [extension] = key["extensions"]
    assert extension["platform"] == "canvas.instructure.com"
    assert extension["privacy_level"] == "public"
    assert extension["domain"] == "localhost"
    placements = {p["placement"]: p for p in extension["settings"]["placements"]}
    assert set(placements) == CANVAS_PLACEMENTS
    assert placements["course_navigation"]["message_type"] == "LtiResourceLinkRequest"
    for name in ("link_selection", "assignment_selection", "editor_button"):
        assert placements[name]["message_type"] == "LtiDeepLinkingRequest"
    for placement in placements.values():
        assert placement["target_link_uri"] == key["target_link_uri"]
    assert all(isinstance(v, str) for v in key["custom_fields"].values())


def test_the_canvas_json_follows_the_privacy_setting_and_base_url(make_app):
    app = make_app(CANVAS_PRIVACY_LEVEL="anonymous", TOOL_BASE_URL="https://tool.example.edu")
    key = app.test_client().get("/lti/config/canvas.json").get_json()
    assert key["extensions"][0]["privacy_level"] == "anonymous"
    assert key["target_link_uri"] == "https://tool.example.edu/lti/launch"


def test_the_setup_page_shows_what_to_paste(admin_client):
    html_page = page(admin_client.get("/admin/setup"))
    assert '<code id="register-url">http://localhost/lti/register</code>' in html_page
    for value in ("http://localhost/lti/launch", "http://localhost/lti/login", "http://localhost/.well-known/jwks.json",
                  "http://localhost/lti/config/canvas.json"):
        assert value in html_page


def test_keys_are_listed_and_rotated_only_when_confirmed(app, admin_client):
    with app.app_context():
        keys_service.ensure_keys()
        active = keys_service.active_key().kid
    listing = page(admin_client.get("/admin/keys"))
    assert active in listing and 'data-state="next"' in listing

    unconfirmed = post(admin_client, "/admin/keys/rotate", {}, form_page="/admin/keys")
    assert unconfirmed.status_code == 303
    assert "Tick the confirmation box" in page(admin_client.get("/admin/keys"))
    with app.app_context():
        assert keys_service.active_key().kid == active

    rotated = post(admin_client, "/admin/keys/rotate", {"confirm": "yes"}, form_page="/admin/keys")
    assert rotated.status_code == 303
    with app.app_context():
        assert keys_service.active_key().kid != active
        entry = db.session.scalar(select(AdminAuditLog).where(AdminAuditLog.action == "keys.rotated"))
        assert entry.detail["retired"] == active and entry.actor == "it-admin@example.edu"


def test_the_audit_page_lists_actions(admin_client):
    html_page = page(admin_client.get("/admin/audit"))
    assert "admin.login" in html_page
