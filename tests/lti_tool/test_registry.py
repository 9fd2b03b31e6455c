import pytest
from sqlalchemy import func, select

from lti_tool import registry
from lti_tool.db import db
from lti_tool.models import Deployment, Platform, PlatformClient
from lti_tool.registry import PlatformInput, RegistryError

GOOD = dict(
    issuer="https://moodle.example.edu",
    client_id="abc123",
    auth_url="https://moodle.example.edu/mod/lti/auth.php",
    token_url="https://moodle.example.edu/mod/lti/token.php",
    jwks_url="https://moodle.example.edu/mod/lti/certs.php",
    deployment_ids=("1",),
)


def count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def test_add_platform_stores_client_and_deployments(app_ctx):
    platform = registry.add_platform(PlatformInput(**{**GOOD, "deployment_ids": ("1", "2", "1")}))
    db.session.commit()
    assert platform.name == "moodle.example.edu"
    client = registry.find_client(GOOD["issuer"], "abc123")
    assert client.platform_id == platform.id
    assert [d.deployment_id for d in client.deployments] == ["1", "2"]
    assert registry.find_deployment(client, "2") is not None
    assert registry.find_deployment(client, "3") is None


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("issuer", "http://moodle.example.edu", "must use https"),
        ("issuer", "moodle.example.edu", "absolute https"),
        ("issuer", "", "issuer is required"),
        ("auth_url", "ftp://x.example.edu/auth", "absolute https"),
        ("token_url", "https://user:pw@x.example.edu/token", "user name or password"),
        ("jwks_url", "https://x.example.edu:99999/certs", "not a valid URL"),
        ("client_id", "two words", "spaces"),
        ("client_id", "", "client id is required"),
        ("deployment_ids", (), "at least one deployment id"),
        ("deployment_ids", ("x" * 300,), "longer than 255"),
    ],
)
def test_add_platform_rejects_bad_input_and_writes_nothing(app_ctx, field, value, message):
    with pytest.raises(RegistryError, match=message):
        registry.add_platform(PlatformInput(**{**GOOD, field: value}))
    db.session.rollback()
    assert count(Platform) == count(PlatformClient) == count(Deployment) == 0


def test_localhost_may_use_http(app_ctx):
    registry.add_platform(
        PlatformInput(
            **{
                **GOOD,
                "issuer": "http://localhost:8000",
                "auth_url": "http://127.0.0.1:8000/auth",
                "token_url": "http://localhost/token",
                "jwks_url": "http://[::1]:8000/jwks",
            }
        )
    )


def test_needs_jwks_url_or_public_key(app_ctx):
    with pytest.raises(RegistryError, match="JWKS URL"):
        registry.add_platform(PlatformInput(**{**GOOD, "jwks_url": None}))
    with pytest.raises(RegistryError, match="PEM"):
        registry.add_platform(PlatformInput(**{**GOOD, "jwks_url": None, "public_key": "not a key"}))


def test_same_issuer_and_client_twice_is_refused(app_ctx):
    registry.add_platform(PlatformInput(**GOOD))
    with pytest.raises(RegistryError, match="already has client id"):
        registry.add_platform(PlatformInput(**GOOD))


def test_canvas_tenants_share_an_issuer_but_not_a_client(app_ctx):
    canvas = dict(
        issuer="https://canvas.instructure.com",
        auth_url="https://sso.canvaslms.com/api/lti/authorize_redirect",
        jwks_url="https://sso.canvaslms.com/api/lti/security/jwks",
        deployment_ids=("42:8865aa05b4b79b64a91a86042e43af5ea8ae79eb",),
    )
    a = registry.add_platform(PlatformInput(client_id="10000000000001", token_url="https://a.instructure.com/login/oauth2/token", **canvas))
    b = registry.add_platform(PlatformInput(client_id="10000000000002", token_url="https://b.instructure.com/login/oauth2/token", **canvas))
    db.session.commit()
    assert registry.find_client(canvas["issuer"], "10000000000001").platform_id == a.id
    assert registry.find_client(canvas["issuer"], "10000000000002").platform_id == b.id
    with pytest.raises(RegistryError, match="several platforms"):
        registry.get_platform(canvas["issuer"])
    assert registry.get_platform(str(b.id)) is b


def test_add_client_and_deployment(app_ctx):
    platform = registry.add_platform(PlatformInput(**GOOD))
    client = registry.add_client(platform, "second")
    registry.add_deployment(client, "7")
    with pytest.raises(RegistryError, match="already registered"):
        registry.add_deployment(client, "7")
    with pytest.raises(RegistryError, match="already has client id"):
        registry.add_client(platform, "second")
    db.session.commit()
    assert [c.client_id for c in platform.clients] == ["abc123", "second"]


def test_remove_platform_removes_its_rows(app_ctx):
    platform = registry.add_platform(PlatformInput(**GOOD))
    db.session.commit()
    registry.remove_platform(platform)
    db.session.commit()
    assert count(Platform) == count(PlatformClient) == count(Deployment) == 0
