"""Signing in and out of the admin area: redirects, wrong passwords, rate limits, CSRF, cookies."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from lti_tool.admin import service
from lti_tool.admin.models import AdminAuditLog, AdminUser
from lti_tool.db import db
from tests.admin.conftest import EMAIL, PASSWORD, csrf_from, page, post, sign_in

ADMIN_PAGES = ["/admin/", "/admin/setup", "/admin/keys", "/admin/audit", "/admin/platforms/new"]


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_admin_pages_send_strangers_to_the_sign_in_page(client, path):
    response = client.get(path)
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/admin/login?next=")


def test_posts_without_a_session_change_nothing(app, client, admin_account):
    # A valid CSRF token (from the sign-in page) but no admin session.
    token = csrf_from(client, "/admin/login")
    response = client.post("/admin/keys/rotate", data={"csrf_token": token, "confirm": "yes"})
    assert response.status_code == 303 and response.headers["Location"].startswith("/admin/login")
    with app.app_context():
        assert service.recent_audit() == []


def test_sign_in_then_out(app, client, admin_account):
    response = sign_in(client, extra_field_ignored="1")
    assert response.status_code == 303 and response.headers["Location"] == "/admin/"
    home = client.get("/admin/")
    assert home.status_code == 200 and EMAIL in page(home)
    with app.app_context():
        assert db.session.get(AdminUser, admin_account).last_login_at is not None
    out = post(client, "/admin/logout", {})
    assert out.status_code == 303
    assert client.get("/admin/").status_code == 303
    with app.app_context():
        actions = [row.action for row in db.session.scalars(select(AdminAuditLog).order_by(AdminAuditLog.id))]
        assert actions == ["admin.login", "admin.logout"]


def test_the_session_cookie_is_scoped_and_http_only(make_app, admin_account):
    app = make_app(TOOL_BASE_URL="https://tool.example.edu")
    client = app.test_client()
    response = sign_in(client)
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("lti_admin_session="))
    for flag in ("HttpOnly", "Secure", "SameSite=Lax", "Path=/admin"):
        assert flag in cookie


def test_a_stolen_cookie_stops_working_after_sign_out(app, admin_client):
    cookie = admin_client.get_cookie("lti_admin_session", path="/admin").value
    post(admin_client, "/admin/logout", {})
    other = app.test_client()
    other.set_cookie("lti_admin_session", cookie, path="/admin")
    assert other.get("/admin/").status_code == 303


def test_each_sign_in_gets_a_new_session(app, admin_account):
    client = app.test_client()
    # A session id planted before sign-in (session fixation) is never the one that signs in.
    client.set_cookie("lti_admin_session", "planted-by-someone-else", path="/admin")
    sign_in(client)
    first = client.get_cookie("lti_admin_session", path="/admin").value
    assert first != "planted-by-someone-else"
    again = post(client, "/admin/login", {"email": EMAIL, "password": PASSWORD})
    assert again.status_code == 303
    second = client.get_cookie("lti_admin_session", path="/admin").value
    assert second != first
    stale = app.test_client()
    stale.set_cookie("lti_admin_session", first, path="/admin")
    assert stale.get("/admin/").status_code == 303  # the old session ended with the new sign-in


def test_a_password_change_ends_existing_sessions(app, admin_client, admin_account):
    with app.app_context():
        service.set_password(db.session.get(AdminUser, admin_account), "a brand new passphrase")
        db.session.commit()
    assert admin_client.get("/admin/").status_code == 303


@pytest.mark.parametrize(
    "email, password",
    [(EMAIL, "wrong password!!"), ("nobody@example.edu", PASSWORD), ("", ""), ("not an email", PASSWORD)],
)
def test_wrong_credentials_are_refused(client, admin_account, email, password):
    response = sign_in(client, email=email, password=password)
    assert response.status_code == 401
    assert "The email address or password is not right." in page(response)
    assert client.get("/admin/").status_code == 303


def test_email_is_not_case_sensitive(client, admin_account):
    assert sign_in(client, email="  IT-Admin@Example.EDU ").status_code == 303


def test_a_disabled_account_cannot_sign_in(app, client, admin_account):
    with app.app_context():
        db.session.get(AdminUser, admin_account).is_active = False
        db.session.commit()
    assert sign_in(client).status_code == 401


def test_passwords_are_stored_as_argon2id(app, admin_account):
    with app.app_context():
        stored = db.session.get(AdminUser, admin_account).password_hash
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_sign_in_attempts_are_rate_limited(make_app, admin_account):
    app = make_app(ADMIN_LOGIN_RATE_LIMIT="3 per minute")
    client = app.test_client()
    statuses = [sign_in(client, password="wrong password!!").status_code for _ in range(3)]
    assert statuses == [401, 401, 401]
    limited = sign_in(client)  # even the right password waits now
    assert limited.status_code == 429
    assert client.get("/admin/").status_code == 303


def test_the_rate_limit_also_counts_per_account(make_app, admin_account):
    app = make_app(ADMIN_LOGIN_RATE_LIMIT="2 per minute")
    for address in ("10.0.0.1", "10.0.0.2"):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        assert sign_in(client, password="wrong password!!").status_code == 401
    third = app.test_client()
    third.environ_base["REMOTE_ADDR"] = "10.0.0.3"
    assert sign_in(third, password="wrong password!!").status_code == 429


def test_a_forged_csrf_token_is_refused(app, admin_client):
    response = admin_client.post("/admin/keys/rotate", data={"csrf_token": "forged", "confirm": "yes"})
    assert response.status_code == 400
    assert "stale or was not sent from this tool's page" in page(response)
    missing = admin_client.post("/admin/logout", data={})
    assert missing.status_code == 400
    assert admin_client.get("/admin/").status_code == 200  # still signed in


def test_sign_in_needs_a_csrf_token(client, admin_account):
    response = client.post("/admin/login", data={"email": EMAIL, "password": PASSWORD})
    assert response.status_code == 400


@pytest.mark.parametrize("target, expected", [
    ("/admin/keys", "/admin/keys"),
    ("https://evil.example/admin", "/admin/"),
    ("//evil.example/admin", "/admin/"),
    ("/lti/home", "/admin/"),
])
def test_after_sign_in_only_admin_pages_are_next(client, admin_account, target, expected):
    response = sign_in(client, next=target)
    assert response.headers["Location"] == expected


def test_admin_pages_are_not_cached_or_framed(admin_client):
    response = admin_client.get("/admin/")
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
