"""Platforms and deployments in the admin area: add with presets, edit, approve, disable."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from lti_tool import registry
from lti_tool.admin.models import AdminAuditLog
from lti_tool.db import db
from lti_tool.models import Deployment, Platform, PlatformClient
from tests.admin.conftest import page, post


def add_form(client, **values):
    data = {"preset": "moodle", "site_url": "https://moodle.example.edu", "client_id": "abc123",
            "deployment_ids": "1", "name": "", "issuer": "", **values}
    return post(client, "/admin/platforms/new", data, form_page="/admin/platforms/new")


def make_platform(app, issuer="https://moodle.example.edu", client_id="abc123", status="active", deployments=("1",)):
    with app.app_context():
        platform = registry.add_platform(
            registry.PlatformInput(
                issuer=issuer, client_id=client_id, auth_url=issuer + "/mod/lti/auth.php",
                token_url=issuer + "/mod/lti/token.php", jwks_url=issuer + "/mod/lti/certs.php",
                deployment_ids=deployments, status=status, require_deployment=False,
            )
        )
        db.session.commit()
        return platform.id


def audit_actions(app) -> list[str]:
    with app.app_context():
        return [row.action for row in db.session.scalars(select(AdminAuditLog).order_by(AdminAuditLog.id))]


def test_add_a_moodle_from_its_site_url(app, admin_client):
    response = add_form(admin_client, deployment_ids="1\n2")
    assert response.status_code == 303
    with app.app_context():
        platform = db.session.scalar(select(Platform))
        assert (platform.issuer, platform.auth_url, platform.token_url, platform.jwks_url) == (
            "https://moodle.example.edu",
            "https://moodle.example.edu/mod/lti/auth.php",
            "https://moodle.example.edu/mod/lti/token.php",
            "https://moodle.example.edu/mod/lti/certs.php",
        )
        assert platform.status == "active" and platform.product_family_code == "moodle"
        assert [d.deployment_id for d in platform.clients[0].deployments] == ["1", "2"]
    assert response.headers["Location"] == f"/admin/platforms/{platform.id}"
    assert "platform.added" in audit_actions(app)


def test_add_a_hosted_canvas_tenant(app, admin_client):
    add_form(admin_client, preset="canvas", site_url="https://school.instructure.com/", client_id="10000000000001",
             deployment_ids="42:8865aa05b4b79b64a91a86042e43af5ea8ae79eb")
    with app.app_context():
        platform = db.session.scalar(select(Platform))
        assert platform.issuer == "https://canvas.instructure.com"
        assert platform.auth_url == "https://sso.canvaslms.com/api/lti/authorize_redirect"
        assert platform.jwks_url == "https://sso.canvaslms.com/api/lti/security/jwks"
        assert platform.token_url == "https://school.instructure.com/login/oauth2/token"
        assert platform.name == "Canvas at school.instructure.com"


@pytest.mark.parametrize(
    "values, message",
    [
        ({"site_url": "http://moodle.example.edu"}, "must use https://"),
        ({"site_url": "not a url"}, "must be an absolute https:// URL"),
        ({"client_id": ""}, "client id is required"),
        ({"deployment_ids": ""}, "at least one deployment id is required"),
        ({"preset": "blackboard"}, "unknown preset"),
        ({"issuer": "https://moodle.example.edu/?x=1"}, "must not have a query string"),
    ],
)
def test_bad_platform_input_changes_nothing(app, admin_client, values, message):
    response = add_form(admin_client, **values)
    assert response.status_code == 400
    assert message in page(response)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Platform)) == 0
    assert "platform.added" not in audit_actions(app)


def test_the_platform_list_shows_statuses(app, admin_client):
    make_platform(app, status="pending")
    listing = page(admin_client.get("/admin/"))
    assert "Waiting for your approval" in listing
    assert 'class="status status-pending"' in listing


def test_edit_a_platform(app, admin_client):
    platform_id = make_platform(app)
    form = {"name": "Our Moodle", "issuer": "https://lms.example.edu", "auth_url": "https://lms.example.edu/auth",
            "token_url": "https://lms.example.edu/token", "jwks_url": "https://lms.example.edu/jwks", "public_key": ""}
    response = post(admin_client, f"/admin/platforms/{platform_id}/edit", form, form_page=f"/admin/platforms/{platform_id}/edit")
    assert response.status_code == 303
    with app.app_context():
        platform = db.session.get(Platform, platform_id)
        assert (platform.name, platform.issuer, platform.jwks_url) == ("Our Moodle", "https://lms.example.edu", "https://lms.example.edu/jwks")
        # The registration is still found by (issuer, client id).
        assert registry.find_client("https://lms.example.edu", "abc123").platform_id == platform_id
        entry = db.session.scalars(select(AdminAuditLog).where(AdminAuditLog.action == "platform.edited")).one()
        assert set(entry.detail["changed"]) == {"name", "issuer", "auth_url", "token_url", "jwks_url"}


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("token_url", "ftp://lms.example.edu/token", "must be an absolute https:// URL"),
        ("auth_url", "http://lms.example.edu/auth", "must use https://"),
        ("jwks_url", "", "a JWKS URL (or a static public key) is required"),
        ("issuer", "", "issuer is required"),
        ("public_key", "not a key", "PEM-encoded public key"),
    ],
)
def test_editing_to_an_invalid_value_changes_nothing(app, admin_client, field, value, message):
    platform_id = make_platform(app)
    edit_page = f"/admin/platforms/{platform_id}/edit"
    form = {"name": "Renamed", "issuer": "https://moodle.example.edu", "auth_url": "https://moodle.example.edu/a",
            "token_url": "https://moodle.example.edu/t", "jwks_url": "https://moodle.example.edu/j", "public_key": "",
            field: value}
    response = post(admin_client, edit_page, form, form_page=edit_page)
    assert response.status_code == 400
    assert message in page(response)
    with app.app_context():
        platform = db.session.get(Platform, platform_id)
        assert (platform.name, platform.auth_url) == ("moodle.example.edu", "https://moodle.example.edu/mod/lti/auth.php")


def test_approve_disable_and_enable_a_platform(app, admin_client):
    platform_id = make_platform(app, status="pending")
    detail = page(admin_client.get(f"/admin/platforms/{platform_id}"))
    assert "waits for your approval" in detail
    for action, status in (("approve", "active"), ("disable", "disabled"), ("enable", "active")):
        response = post(admin_client, f"/admin/platforms/{platform_id}/status", {"action": action})
        assert response.status_code == 303
        with app.app_context():
            assert db.session.get(Platform, platform_id).status == status
    assert audit_actions(app)[-3:] == ["platform.approve", "platform.disable", "platform.enable"]


def test_an_unknown_status_action_is_refused(app, admin_client):
    platform_id = make_platform(app, status="pending")
    response = post(admin_client, f"/admin/platforms/{platform_id}/status", {"action": "delete"})
    assert response.status_code == 400
    with app.app_context():
        assert db.session.get(Platform, platform_id).status == "pending"


def test_deployments_add_approve_and_stay_within_their_platform(app, admin_client):
    first = make_platform(app)
    other = make_platform(app, issuer="https://other.example.edu", client_id="zzz", deployments=("x",))
    with app.app_context():
        client_pk = db.session.scalar(select(PlatformClient.id).where(PlatformClient.platform_id == first))
        other_deployment = db.session.scalar(select(Deployment.id).where(Deployment.platform_id == other))
        pending = Deployment(platform_id=first, client_pk=client_pk, deployment_id="new", status="pending")
        db.session.add(pending)
        db.session.commit()
        pending_pk = pending.id
    response = post(admin_client, f"/admin/platforms/{first}/deployments", {"client_pk": client_pk, "deployment_id": "2"})
    assert response.status_code == 303
    approve = post(admin_client, f"/admin/platforms/{first}/deployments/{pending_pk}/status", {"action": "approve"})
    assert approve.status_code == 303
    # Another platform's deployment cannot be reached through this platform's URL.
    crossed = post(admin_client, f"/admin/platforms/{first}/deployments/{other_deployment}/status", {"action": "disable"})
    assert crossed.status_code == 404
    foreign_client = post(admin_client, f"/admin/platforms/{other}/deployments", {"client_pk": client_pk, "deployment_id": "3"})
    assert foreign_client.status_code == 400
    with app.app_context():
        rows = {d.deployment_id: d.status for d in db.session.scalars(select(Deployment))}
    assert rows == {"1": "active", "new": "active", "2": "active", "x": "active"}


def test_a_duplicate_deployment_is_refused_with_a_message(app, admin_client):
    platform_id = make_platform(app)
    with app.app_context():
        client_pk = db.session.scalar(select(PlatformClient.id))
    response = post(admin_client, f"/admin/platforms/{platform_id}/deployments", {"client_pk": client_pk, "deployment_id": "1"})
    assert response.status_code == 303
    assert "already registered" in page(admin_client.get(f"/admin/platforms/{platform_id}"))


def test_add_another_client_id(app, admin_client):
    platform_id = make_platform(app)
    post(admin_client, f"/admin/platforms/{platform_id}/clients", {"client_id": "second", "deployment_ids": "5"})
    with app.app_context():
        client = registry.find_client("https://moodle.example.edu", "second")
        assert client.platform_id == platform_id and [d.deployment_id for d in client.deployments] == ["5"]


def test_an_unknown_platform_is_404(admin_client):
    assert admin_client.get("/admin/platforms/999").status_code == 404
