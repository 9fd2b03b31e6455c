"""Hostile posts at the admin area and the registration pages: never a 500, a refusal writes nothing.

The admin pages use Flask-WTF's session-bound CSRF token; each example posts with a valid one.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lti_tool import registry
from lti_tool.db import db
from tests.admin.conftest import CSRF_FIELD, admin_account, admin_client  # noqa: F401 - fixtures
from tests.security.hostile import FORM, HOSTILE, assert_refused_or_fine, form_body, hostile_fields, row_counts


@pytest.fixture
def many_logins(make_app):
    # Rate limits are tested on their own; here every example must reach the form's checks.
    return make_app(ADMIN_LOGIN_RATE_LIMIT="100000 per minute")


@pytest.fixture
def many_registrations(make_app):
    # As above: the registration limit (20 a minute) would answer most examples with a 429.
    return make_app(REGISTRATION_RATE_LIMIT="100000 per minute")


def csrf(client, path: str = "/admin/") -> str:
    return CSRF_FIELD.search(client.get(path).get_data(as_text=True)).group(1)


@pytest.fixture
def platform_id(app):
    with app.app_context():
        platform = registry.add_platform(
            registry.PlatformInput(
                issuer="https://moodle.example.edu",
                client_id="abc",
                auth_url="https://moodle.example.edu/auth",
                token_url="https://moodle.example.edu/token",
                jwks_url="https://moodle.example.edu/jwks",
                deployment_ids=("1",),
            )
        )
        db.session.commit()
        return platform.id, platform.clients[0].deployments[0].id


def post_raw(client, path: str, pairs, token: str):
    return client.post(path, data=form_body([("csrf_token", token), *pairs]), content_type=FORM)


def test_login_survives_hostile_fields(many_logins):
    from lti_tool.admin import service

    with many_logins.app_context():
        service.create_admin("it-admin@example.edu", "correct horse battery staple")
        db.session.commit()
    client = many_logins.test_client()
    token = csrf(client, "/admin/login")

    # Fewer examples: each one hashes a password, slowly on purpose.
    @settings(HOSTILE, max_examples=12)
    @given(pairs=hostile_fields(["email", "password", "next"]))
    def check(pairs):
        before = row_counts(many_logins)
        response = post_raw(client, "/admin/login", pairs, token)
        assert_refused_or_fine(many_logins, response, before)
        assert response.status_code in (400, 401), response.status_code

    check()


ADMIN_FORMS = {
    "new platform": ("/admin/platforms/new", ["preset", "site_url", "client_id", "deployment_ids", "name", "issuer"]),
    "edit platform": ("/admin/platforms/{id}/edit", ["name", "issuer", "auth_url", "token_url", "jwks_url", "public_key"]),
    "platform status": ("/admin/platforms/{id}/status", ["action"]),
    "add deployment": ("/admin/platforms/{id}/deployments", ["client_pk", "deployment_id"]),
    "add client": ("/admin/platforms/{id}/clients", ["client_id", "deployment_ids"]),
    "deployment status": ("/admin/platforms/{id}/deployments/{deployment}/status", ["action"]),
    "rotate keys": ("/admin/keys/rotate", ["confirm"]),
}


@pytest.mark.parametrize("name", list(ADMIN_FORMS))
def test_admin_forms_survive_hostile_fields(app, admin_client, platform_id, name):
    path, fields = ADMIN_FORMS[name]
    path = path.format(id=platform_id[0], deployment=platform_id[1])
    token = csrf(admin_client)

    @HOSTILE
    @given(pairs=hostile_fields(fields))
    def check(pairs):
        before = row_counts(app)
        response = post_raw(admin_client, path, pairs, token)
        assert_refused_or_fine(app, response, before)

    check()


@pytest.mark.parametrize("client_pk", ["0", "-1", "2147483648", "9" * 30, "1e3", "²"])
def test_out_of_range_client_ids_are_refused(app, admin_client, platform_id, client_pk):
    before = row_counts(app)
    response = post_raw(admin_client, f"/admin/platforms/{platform_id[0]}/deployments",
                        [("client_pk", client_pk), ("deployment_id", "2")], csrf(admin_client))
    assert response.status_code == 400
    assert row_counts(app) == before


@HOSTILE
@given(
    openid_configuration=st.one_of(st.none(), st.text(max_size=200), st.sampled_from([
        "http://127.0.0.1:1/", "file:///etc/passwd", "https://" + "a" * 3000 + ".example", "javascript:alert(1)",
        "https://lms.example.edu/\x00", "https://[::1]:99999/",
    ])),
    registration_token=st.one_of(st.none(), st.text(max_size=200), st.sampled_from(["tökén", "Ā" * 10, "a\r\nX-Evil: 1"])),
)
def test_registration_start_refuses_hostile_parameters(many_registrations, openid_configuration, registration_token):
    app = many_registrations
    client = app.test_client()
    params = {k: v for k, v in {"openid_configuration": openid_configuration, "registration_token": registration_token}.items() if v is not None}
    before = row_counts(app)
    response = client.get("/lti/register", query_string=params)
    # 502: the URL was acceptable but nothing usable answered there.
    assert response.status_code in (400, 502), response.get_data(as_text=True)[:300]
    assert {name for name, count in row_counts(app).items() if count != before[name]} <= {"cache_entries"}


@HOSTILE
@given(pairs=hostile_fields(["openid_configuration", "registration_token"]))
def test_registration_finish_refuses_hostile_fields(many_registrations, pairs):
    """The LMS's POST (no CSRF token: the single-use registration token authenticates it)."""
    app = many_registrations
    client = app.test_client()
    before = row_counts(app)
    response = client.post("/lti/register", data=form_body(pairs), content_type=FORM)
    assert response.status_code in (400, 502), response.get_data(as_text=True)[:300]
    assert {name for name, count in row_counts(app).items() if count != before[name]} <= {"cache_entries"}
