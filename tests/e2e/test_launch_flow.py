import html
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from lti_tool.db import db
from lti_tool.models import Context, Enrollment, LaunchLog, User


def text(response) -> str:
    return html.unescape(response.text)


@pytest.mark.parametrize("profile", ["moodle", "canvas"])
def test_learner_launch(app, tool, lms, browser, profile):
    page = browser.get(lms.issuer + "/launch", params={"person": "ada", "profile": profile})
    # Canvas offers platform storage (lti_storage_target): the login answers a page that stores
    # state and nonce in the LMS's storage frame before going on; the others get a redirect.
    login_status = 200 if profile == "canvas" else 302
    assert [r.status_code for r in browser.chain] == [302, login_status, 200, 303, 200]
    initiation, login, auth, launch, landing = browser.chain
    assert ("lti-storage-login" in login.text) == (profile == "canvas")
    assert login.url.startswith(tool.url + "/lti/login")
    assert auth.url.startswith(lms.issuer + "/auth")
    assert launch.url == tool.url + "/lti/launch"
    assert urlsplit(landing.url).path == "/lti/home"
    assert "learner" in text(page) and "Introduction to Astronomy" in text(page)
    with app.app_context():
        user = db.session.scalar(select(User))
        context = db.session.scalar(select(Context))
        enrollment = db.session.scalar(select(Enrollment))
        assert context.context_id == "astro-101"
        assert enrollment.roles == ["learner"]
        if profile == "canvas":
            # Canvas's default privacy is anonymous: the tool works with `sub` alone.
            assert user.name is None and user.email is None
            assert "Welcome, User " in text(page)
        else:
            assert user.name == "Ada Lovelace"
            assert "Welcome, Ada Lovelace" in text(page)
        entry = db.session.scalar(select(LaunchLog).where(LaunchLog.outcome == "accepted"))
        assert entry.message_type == "LtiResourceLinkRequest"


@pytest.mark.parametrize("profile", ["moodle", "canvas"])
def test_instructor_launch(app, tool, lms, browser, profile):
    page = browser.get(lms.issuer + "/launch", params={"person": "tom", "profile": profile})
    assert page.status_code == 200
    assert "Set this tool up for your course" in text(page)
    with app.app_context():
        assert db.session.scalar(select(Enrollment)).roles == ["instructor"]


def test_moodle_admin_is_admin_and_instructor(app, tool, lms, browser):
    browser.get(lms.issuer + "/launch", params={"person": "alex", "profile": "moodle"})
    with app.app_context():
        assert db.session.scalar(select(Enrollment)).roles == ["instructor", "admin"]


def test_deep_linking_request_reaches_the_instructor(app, tool, lms, browser):
    page = browser.get(lms.issuer + "/deep-link", params={"person": "tom", "profile": "moodle"})
    assert page.status_code == 200
    assert "choose content to add" in text(page)
    with app.app_context():
        entry = db.session.scalar(select(LaunchLog).where(LaunchLog.outcome == "accepted"))
        assert entry.message_type == "LtiDeepLinkingRequest"


def test_pages_after_launch_need_no_cookie(app, tool, lms, browser):
    page = browser.get(lms.issuer + "/launch", params={"person": "ada", "profile": "moodle"})
    landing_url = page.url
    assert "launch_id=" in landing_url
    browser.session.cookies.clear()
    again = browser.get(landing_url)
    assert again.status_code == 200 and "Welcome, Ada Lovelace" in text(again)


def test_a_replayed_launch_post_is_refused(app, tool, lms, browser):
    browser.get(
        lms.issuer + "/launch",
        params={"person": "ada", "profile": "moodle"},
        stop_before=lambda method, url: url.startswith(tool.url + "/lti/launch"),
    )
    method, url, data = browser.pending
    first = browser.session.post(url, data=data, allow_redirects=False)
    assert first.status_code == 303
    replay = browser.session.post(url, data=data, allow_redirects=False)
    assert replay.status_code == 400
    assert "already used" in text(replay)
    with app.app_context():
        reasons = [e.reason for e in db.session.scalars(select(LaunchLog).order_by(LaunchLog.id))]
        assert reasons == [None, "nonce_replayed"]


def test_unknown_platform_sees_the_register_command(app, tool, tmp_path, browser):
    from tests.support.live_server import start_dev_platform

    server, config = start_dev_platform(tool.url, str(tmp_path / "other"))
    try:
        page = browser.get(config.issuer + "/launch", params={"person": "ada", "profile": "moodle"})
    finally:
        server.stop()
    assert page.status_code == 400
    assert f"flask --app wsgi platform add --issuer {config.issuer} --client-id dev-client" in text(page)
    with app.app_context():
        assert db.session.scalar(select(User)) is None
