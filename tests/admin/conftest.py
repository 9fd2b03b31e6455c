"""Admin-area fixtures: an admin account, a signed-in test client, and CSRF tokens read from pages."""

from __future__ import annotations

import html
import re

import pytest

from lti_tool.admin import service
from lti_tool.db import db

EMAIL = "it-admin@example.edu"
PASSWORD = "correct horse battery staple"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def page(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def csrf_from(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, page(response)
    match = CSRF_FIELD.search(response.get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def sign_in(client, email: str = EMAIL, password: str = PASSWORD, **extra):
    token = csrf_from(client, "/admin/login")
    return client.post("/admin/login", data={"csrf_token": token, "email": email, "password": password, **extra})


def post(client, path: str, data: dict, *, form_page: str = "/admin/"):
    """Post like the page's form would: with the session's CSRF token."""
    return client.post(path, data={"csrf_token": csrf_from(client, form_page), **data})


@pytest.fixture
def admin_account(app):
    with app.app_context():
        admin = service.create_admin(EMAIL, PASSWORD)
        db.session.commit()
        return admin.id


@pytest.fixture
def admin_client(app, admin_account):
    client = app.test_client()
    response = sign_in(client)
    assert response.status_code == 303, page(response)
    return client
