"""The per-platform health view, fed by real launches (accepted and refused) and grade events."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from lti_tool import events, registry
from lti_tool.admin import service
from lti_tool.db import db, utcnow
from lti_tool.models import Context, LaunchLog, Platform, User
from tests.admin.conftest import page
from tests.support.live_server import LiveServer
from tests.support.tokens import ScriptedPlatform

TARGET = "http://localhost/lti/launch"


def scripted(issuer: str, client_id: str):
    platform = ScriptedPlatform(issuer, client_id=client_id, deployment_id="1")
    server = LiveServer(platform.jwks_app())
    platform.jwks_url = server.url + "/jwks"
    return platform, server


@pytest.fixture
def two_lms(app):
    made = [scripted("https://moodle.example.edu", "client-a"), scripted("https://other.example.edu", "client-b")]
    ids = []
    with app.app_context():
        for lms, _ in made:
            ids.append(
                registry.add_platform(
                    registry.PlatformInput(
                        issuer=lms.issuer, client_id=lms.client_id, auth_url=lms.issuer + "/auth",
                        token_url=lms.issuer + "/token", jwks_url=lms.jwks_url, deployment_ids=("1",),
                    )
                ).id
            )
        db.session.commit()
    yield [(lms, platform_id) for (lms, _), platform_id in zip(made, ids)]
    for _, server in made:
        server.stop()


def launch(client, lms, **claims):
    response = client.get(
        "/lti/login",
        query_string={"iss": lms.issuer, "login_hint": "1", "target_link_uri": TARGET, "client_id": lms.client_id},
    )
    if response.status_code != 302:
        return response
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    token = lms.sign(lms.claims(query["nonce"][0], target=TARGET, **claims))
    return client.post("/lti/launch", data={"id_token": token, "state": query["state"][0]})


def test_health_counts_this_platforms_launches_by_reason(app, client, admin_client, two_lms):
    (moodle, moodle_id), (other, _) = two_lms
    assert launch(client, moodle).status_code == 303
    assert launch(client, moodle).status_code == 303
    assert launch(client, moodle, exp=1).status_code == 400  # expired
    assert launch(client, moodle, **{"https://purl.imsglobal.org/spec/lti/claim/deployment_id": "9"}).status_code == 400
    assert launch(client, moodle, **{"https://purl.imsglobal.org/spec/lti/claim/deployment_id": "9"}).status_code == 400
    # A login naming an unknown deployment is logged before the platform id is known to the check.
    client.get("/lti/login", query_string={"iss": moodle.issuer, "login_hint": "1", "target_link_uri": TARGET,
                                            "client_id": moodle.client_id, "lti_deployment_id": "nope"})
    # Another institution's troubles are not this platform's.
    for _ in range(3):
        launch(client, other, exp=1)

    response = admin_client.get(f"/admin/platforms/{moodle_id}")
    assert response.status_code == 200
    html_page = page(response)
    failures = dict(re.findall(r'<tr data-reason="([a-z_]+)"><td>.*?</td><td>(\d+)</td>', html_page))
    assert failures == {"unknown_deployment": "3", "expired": "1"}

    with app.app_context():
        health = service.platform_health(db.session.get(Platform, moodle_id))
        assert (health.accepted, health.rejected) == (2, 4)
        last = db.session.scalar(
            select(LaunchLog.created_at).where(LaunchLog.outcome == "accepted").order_by(LaunchLog.id.desc())
        )
        assert health.last_launch_at == last
    assert last.strftime("%Y-%m-%d %H:%M UTC") in html_page


def test_health_only_counts_the_last_week(app, two_lms):
    (moodle, moodle_id), _ = two_lms
    with app.app_context():
        db.session.add(LaunchLog(platform_id=moodle_id, stage="launch", outcome="rejected", reason="expired",
                                 created_at=utcnow() - timedelta(days=8)))
        db.session.add(LaunchLog(platform_id=moodle_id, stage="launch", outcome="rejected", reason="bad_signature"))
        db.session.commit()
        health = service.platform_health(db.session.get(Platform, moodle_id))
        assert [(f.reason, f.count) for f in health.failures] == [("bad_signature", 1)]


def test_health_shows_grade_delivery_failures_from_events(app, client, admin_client, two_lms):
    (moodle, moodle_id), (other, other_id) = two_lms
    launch(client, moodle)
    launch(client, other)
    with app.app_context():
        for platform_id in (moodle_id, other_id):
            user = db.session.scalar(select(User).where(User.platform_id == platform_id))
            context = db.session.scalar(select(Context).where(Context.platform_id == platform_id))
            where = {"platform_id": platform_id, "user_pk": user.id, "context_pk": context.id}
            events.publish("grade_failed", **where, data={"item_id": 1, "delivery_id": 10, "reason": "HTTP 401 from the LMS"})
            events.publish("grade_failed", **where, data={"item_id": 1, "delivery_id": 10, "reason": "Incorrect score received"})
            events.publish("grade_failed", **where, data={"item_id": 2, "delivery_id": 11, "reason": "Incorrect score received"})
            events.publish("grade_delivered", **where, data={"item_id": 3, "delivery_id": 12, "score": 1, "max_score": 2})
        db.session.commit()
        grades = service.platform_health(db.session.get(Platform, moodle_id)).grades
        assert (grades.failed_deliveries, grades.failed_events, grades.delivered) == (2, 3, 1)
        assert grades.last_reason == "Incorrect score received"
    html_page = page(admin_client.get(f"/admin/platforms/{moodle_id}"))
    assert "Failed deliveries</dt><dd>2" in html_page


def test_queue_depth(app, admin_client, two_lms):
    (_, moodle_id), _ = two_lms
    html_page = page(admin_client.get(f"/admin/platforms/{moodle_id}"))
    if app.config["SETTINGS"].REDIS_URL:
        assert re.search(r'<tr data-queue="grades"><th scope="row">grades</th><td>0</td>', html_page)
    else:
        assert "nothing waits in a queue" in html_page
