"""The whole set-up story over real HTTP: the development LMS registers the tool by LTI Dynamic
Registration, an admin of the tool approves it in the admin area, and a learner launches."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from lti_tool.admin import service
from lti_tool.db import db
from lti_tool.models import Deployment, Platform, User
from tests.support.browser import LtiBrowser
from tests.support.live_server import LiveServer, start_dev_platform

PASSWORD = "an admin passphrase"


def text(response) -> str:
    return html.unescape(response.text)


def registration_url(page) -> str:
    """Where the LMS's page sends the admin: the iframe's src (Canvas) or the link (Moodle)."""
    match = re.search(r'id="tool-registration" (?:src|href)="([^"]+)"', page.text)
    assert match, "the LMS page has no registration frame or link"
    return html.unescape(match.group(1))


def register_from_the_lms(lms, profile: str) -> LtiBrowser:
    lms_admin = LtiBrowser()
    course = lms_admin.get(lms.issuer + "/", params={"profile": profile})
    form = lms_admin.form(course, button="Register the tool")
    page = lms_admin.submit(form)
    assert page.status_code == 200
    confirm = lms_admin.get(registration_url(page))
    assert confirm.status_code == 200, text(confirm)
    assert "Register Course Studio with your" in text(confirm)
    done = lms_admin.submit(lms_admin.form(confirm, action="/lti/register"))
    assert done.status_code == 200, text(done)
    assert "org.imsglobal.lti.close" in done.text
    return lms_admin


def admin_browser(app, tool) -> LtiBrowser:
    with app.app_context():
        service.create_admin("it@example.edu", PASSWORD)
        db.session.commit()
    browser = LtiBrowser()
    login = browser.get(tool.url + "/admin/login")
    home = browser.submit(browser.form(login, action="/admin/login"), {"email": "it@example.edu", "password": PASSWORD})
    assert home.status_code == 200 and "it@example.edu" in text(home)
    return browser


def approve(browser, tool, platform_id: int, label: str):
    detail = browser.get(f"{tool.url}/admin/platforms/{platform_id}")
    result = browser.submit(browser.form(detail, button=label))
    assert result.status_code == 200
    return result


@pytest.fixture
def lms_factory(tmp_path):
    servers = []

    def start(tool_url: str, profile: str):
        server, config = start_dev_platform(tool_url, str(tmp_path / f"lms-{profile}"), profile=profile)
        servers.append(server)
        return config

    yield start
    for server in servers:
        server.stop()


def test_moodle_registers_the_tool_an_admin_approves_and_a_learner_launches(app, tool, lms_factory):
    lms = lms_factory(tool.url, "moodle")
    register_from_the_lms(lms, "moodle")

    registered = json.loads((Path(lms.key_dir) / "registration.json").read_text())
    with app.app_context():
        platform = db.session.scalar(select(Platform))
        assert (platform.issuer, platform.status, platform.product_family_code) == (lms.issuer, "pending", "moodle")
        client = platform.clients[0]
        assert client.client_id == registered["client_id"]
        # Moodle names the deployment in its answer; the tool stored it.
        assert [d.deployment_id for d in client.deployments] == ["1"]
        platform_id = platform.id
    # Moodle keeps the last of repeated messages: the tool put its main deep-linking entry there.
    deep = [m for m in registered["messages"] if m["type"] == "LtiDeepLinkingRequest"]
    assert [m["placements"] for m in deep] == [["link_selection", "assignment_selection"]]

    learner = LtiBrowser()
    refused = learner.get(lms.issuer + "/launch", params={"person": "ada", "profile": "moodle"})
    assert refused.status_code == 403
    assert "has not approved it yet" in text(refused)

    admin = admin_browser(app, tool)
    assert "Waiting for your approval" in text(admin.get(tool.url + "/admin/"))
    approve(admin, tool, platform_id, "Approve this platform")
    with app.app_context():
        assert db.session.get(Platform, platform_id).status == "active"

    landing = learner.get(lms.issuer + "/launch", params={"person": "ada", "profile": "moodle"})
    assert landing.status_code == 200, text(landing)
    assert "Welcome, Ada Lovelace" in text(landing)
    health = text(admin.get(f"{tool.url}/admin/platforms/{platform_id}"))
    assert "platform_pending" in health  # the refused launch shows in the health view
    assert "platform.approve" in health


def test_canvas_registers_in_an_iframe_and_its_deployment_is_approved_at_first_launch(make_app, lms_factory):
    app = make_app(UNKNOWN_DEPLOYMENTS="pending")
    tool = LiveServer(app)
    try:
        lms = lms_factory(tool.url, "canvas")
        lms_page = LtiBrowser().get(lms.issuer + "/register-tool", params={"profile": "canvas"})
        assert '<iframe id="tool-registration"' in lms_page.text
        register_from_the_lms(lms, "canvas")
        with app.app_context():
            platform = db.session.scalar(select(Platform))
            assert platform.clients[0].deployments == []  # Canvas names it at the first launch
            platform_id = platform.id
        admin = admin_browser(app, tool)
        approve(admin, tool, platform_id, "Approve this platform")

        learner = LtiBrowser()
        refused = learner.get(lms.issuer + "/launch", params={"person": "ada", "profile": "canvas"})
        assert refused.status_code == 403
        assert f"Deployment '{lms.canvas_deployment_id}'" in text(refused)
        with app.app_context():
            deployment = db.session.scalar(select(Deployment))
            assert (deployment.deployment_id, deployment.status) == (lms.canvas_deployment_id, "pending")
        approve(admin, tool, platform_id, "Approve")

        landing = learner.get(lms.issuer + "/launch", params={"person": "ada", "profile": "canvas"})
        assert landing.status_code == 200, text(landing)
        with app.app_context():
            # The registration asked Canvas for the public privacy level, and the LMS honours it.
            assert db.session.scalar(select(User)).name == "Ada Lovelace"
    finally:
        tool.stop()
