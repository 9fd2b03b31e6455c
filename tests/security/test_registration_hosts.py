"""The public registration page does not make the tool call hosts inside its own network."""

from __future__ import annotations

import socket

import pytest
from cryptography.fernet import Fernet

from config import load_settings
from lti_tool import dynamic_registration as dynreg

ADDRESSES = {"lms.example.edu": "93.184.215.14", "moodle.internal": "10.0.0.5", "metadata.internal": "169.254.169.254"}


@pytest.fixture
def dns(monkeypatch):
    """Names of this test resolve to their address; everything else (Redis, PostgreSQL) as usual."""
    real = socket.getaddrinfo

    def resolve(host, port=None, *args, **kwargs):
        if host in ADDRESSES:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ADDRESSES[host], port or 0))]
        if isinstance(host, str) and host.endswith(".invalid"):
            raise socket.gaierror("not found")
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:6379/", "https://moodle.internal/.well-known/openid-configuration", "https://metadata.internal/latest/meta-data/"]
)
def test_private_hosts_are_refused_before_any_request(make_app, dns, monkeypatch, url):
    app = make_app(REGISTRATION_PRIVATE_HOSTS=False)
    monkeypatch.setattr(dynreg.requests, "get", lambda *a, **k: pytest.fail("the tool fetched a private address"))
    response = app.test_client().get("/lti/register", query_string={"openid_configuration": url, "registration_token": "t"})
    assert response.status_code == 400
    assert "private network" in response.get_data(as_text=True) and "REGISTRATION_PRIVATE_HOSTS" in response.get_data(as_text=True)


def test_public_hosts_pass_and_private_registration_endpoints_are_refused(make_app, dns):
    app = make_app(REGISTRATION_PRIVATE_HOSTS=False)
    with app.app_context():
        dynreg.check_public_host("https://lms.example.edu/.well-known/openid-configuration")
        # The endpoint named inside a public host's answer is checked on its own.
        with pytest.raises(dynreg.RegistrationError, match="private network"):
            dynreg.check_public_host("https://moodle.internal/mod/lti/register.php")
        with pytest.raises(dynreg.RegistrationError, match="could not be found"):
            dynreg.check_public_host("https://nowhere.invalid/")


def test_production_refuses_private_hosts_unless_told():
    production = {
        "TOOL_ENV": "production",
        "SECRET_KEY": "s" * 40,
        "KEY_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "DATABASE_URL": "postgresql://db.example/tool",
    }
    assert load_settings(environ=production).REGISTRATION_PRIVATE_HOSTS is False
    assert load_settings(environ={**production, "REGISTRATION_PRIVATE_HOSTS": "1"}).REGISTRATION_PRIVATE_HOSTS is True
    assert load_settings(environ={}).REGISTRATION_PRIVATE_HOSTS is True
