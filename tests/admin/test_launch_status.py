"""Launches from pending or disabled platforms and deployments, and UNKNOWN_DEPLOYMENTS=pending,
over HTTP against a scripted LMS whose key set is served by a real HTTP server."""

from __future__ import annotations

import html
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from lti_tool import registry
from lti_tool.db import db
from lti_tool.models import Deployment, LaunchLog, Platform, User
from tests.support.live_server import LiveServer
from tests.support.tokens import CLAIM, ScriptedPlatform

ISSUER = "https://moodle.example.edu"
TARGET = "http://localhost/lti/launch"


@pytest.fixture
def lms():
    platform = ScriptedPlatform(ISSUER, client_id="client-1", deployment_id="1")
    with LiveServer(platform.jwks_app()) as server:
        platform.jwks_url = server.url + "/jwks"
        yield platform


def register(app, lms, *, status="active", deployments=("1",)):
    with app.app_context():
        platform = registry.add_platform(
            registry.PlatformInput(
                issuer=lms.issuer,
                client_id=lms.client_id,
                auth_url=ISSUER + "/mod/lti/auth.php",
                token_url=ISSUER + "/mod/lti/token.php",
                jwks_url=lms.jwks_url,
                deployment_ids=deployments,
                require_deployment=False,
                status=status,
            )
        )
        db.session.commit()
        return platform.id


def page(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def login(client, lms, **params):
    query = {"iss": lms.issuer, "login_hint": "42", "target_link_uri": TARGET, "client_id": lms.client_id, **params}
    return client.get("/lti/login", query_string=query)


def launch(client, lms, deployment_id: str | None = None):
    response = login(client, lms)
    if response.status_code != 302:
        return response
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    claims = lms.claims(query["nonce"][0], target=TARGET)
    if deployment_id is not None:
        claims[CLAIM + "deployment_id"] = deployment_id
    return client.post("/lti/launch", data={"id_token": lms.sign(claims), "state": query["state"][0]})


def last_log(app) -> LaunchLog:
    with app.app_context():
        return db.session.scalars(select(LaunchLog).order_by(LaunchLog.id.desc())).first()


def set_status(app, platform_id: int, status: str, deployment_id: str | None = None) -> None:
    with app.app_context():
        if deployment_id is None:
            registry.set_platform_status(db.session.get(Platform, platform_id), status)
        else:
            deployment = db.session.scalar(select(Deployment).where(Deployment.deployment_id == deployment_id))
            registry.set_deployment_status(deployment, status)
        db.session.commit()


def test_a_pending_platform_cannot_launch_until_approved(app, client, lms):
    platform_id = register(app, lms, status="pending")
    refused = login(client, lms)
    assert refused.status_code == 403
    assert "has not approved it yet" in page(refused)
    entry = last_log(app)
    assert (entry.reason, entry.platform_id, entry.stage) == ("platform_pending", platform_id, "login")
    set_status(app, platform_id, "active")
    assert launch(client, lms).status_code == 303


def test_a_disabled_platform_is_refused_at_login_and_launch(app, client, lms):
    platform_id = register(app, lms)
    response = login(client, lms)
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    set_status(app, platform_id, "disabled")  # disabled while the learner was half way
    claims = lms.claims(query["nonce"][0], target=TARGET)
    refused = client.post("/lti/launch", data={"id_token": lms.sign(claims), "state": query["state"][0]})
    assert refused.status_code == 403
    assert "disabled by an administrator" in page(refused)
    assert last_log(app).reason == "platform_disabled"
    assert login(client, lms).status_code == 403
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_a_disabled_deployment_is_refused(app, client, lms):
    platform_id = register(app, lms)
    set_status(app, platform_id, "disabled", deployment_id="1")
    refused = launch(client, lms)
    assert refused.status_code == 403
    assert last_log(app).reason == "deployment_disabled"
    assert login(client, lms, lti_deployment_id="1").status_code == 403


def test_unknown_deployments_are_rejected_by_default(app, client, lms):
    register(app, lms)
    refused = launch(client, lms, deployment_id="99")
    assert refused.status_code == 400
    assert last_log(app).reason == "unknown_deployment"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Deployment)) == 1


def test_unknown_deployments_wait_for_approval_when_set_to_pending(make_app, lms):
    app = make_app(UNKNOWN_DEPLOYMENTS="pending")
    client = app.test_client()
    register(app, lms, deployments=())
    # An unsigned login naming a new deployment goes ahead, and records nothing.
    assert login(client, lms, lti_deployment_id="dep-new").status_code == 302
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Deployment)) == 0

    refused = launch(client, lms, deployment_id="dep-new")
    assert refused.status_code == 403
    assert "Deployment 'dep-new'" in page(refused) and "must approve it" in page(refused)
    assert last_log(app).reason == "deployment_pending"
    again = launch(client, lms, deployment_id="dep-new")
    assert again.status_code == 403
    with app.app_context():
        rows = list(db.session.scalars(select(Deployment)))
        assert [(d.deployment_id, d.status) for d in rows] == [("dep-new", "pending")]
        assert db.session.scalar(select(func.count()).select_from(User)) == 0

    set_status(app, rows[0].platform_id, "active", deployment_id="dep-new")
    assert launch(client, lms, deployment_id="dep-new").status_code == 303


def test_a_login_naming_a_pending_deployment_is_refused(make_app, lms):
    app = make_app(UNKNOWN_DEPLOYMENTS="pending")
    client = app.test_client()
    register(app, lms, deployments=())
    launch(client, lms, deployment_id="dep-new")
    refused = login(client, lms, lti_deployment_id="dep-new")
    assert refused.status_code == 403
    assert last_log(app).reason == "deployment_pending"
