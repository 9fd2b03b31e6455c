"""The browser really blocks the tool's cookies inside the LMS page, and nothing else explains it:
the same launch in a browser that allows third-party cookies keeps the tool's state cookie."""

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from lti_tool.db import db
from lti_tool.models import LaunchLog
from tests.browser.conftest import ALLOW_THIRD_PARTY_COOKIES, launch_chromium
from tests.browser.helpers import (
    Traffic,
    expect_new_window_offer,
    expect_welcome,
    launch,
    open_course,
    state_cookie_sent,
)


def reasons(app) -> list[str | None]:
    with app.app_context():
        return [entry.reason for entry in db.session.scalars(select(LaunchLog).order_by(LaunchLog.id))]


def test_a_cookie_the_tool_sets_in_the_lms_frame_is_not_sent_back(app, tool, lms, page):
    traffic = Traffic(tool.url).attach(page)
    # Moodle offers no platform storage: the launch depends on the state cookie alone.
    open_course(page, lms, profile="moodle")
    frame = launch(page, "ada")
    expect_new_window_offer(frame)

    # The tool did set its state cookie at login, as it does in production ...
    assert any(c.startswith("lti1p3_state_") and "SameSite=None" in c and "Secure" in c for c in traffic.set_cookies)
    # ... and the browser did not send it back with the launch.
    (launch_post,) = traffic.to("/lti/launch", "POST")
    assert not state_cookie_sent(launch_post)
    assert not [c for c in page.context.cookies() if urlsplit(tool.url).hostname == c["domain"]]
    assert reasons(app) == ["state_mismatch"]


def test_a_browser_that_allows_third_party_cookies_sends_the_state_cookie(
    app, tool, lms, playwright_driver, tls, tmp_path
):
    # The control for the test above: one preference apart, the cookie comes back and the
    # launch completes inside the frame without any help.
    context = launch_chromium(playwright_driver, tmp_path / "profile", ALLOW_THIRD_PARTY_COOKIES, tls)
    try:
        page = context.new_page()
        traffic = Traffic(tool.url).attach(page)
        open_course(page, lms, profile="moodle")
        expect_welcome(launch(page, "ada"))
        (launch_post,) = traffic.to("/lti/launch", "POST")
        assert state_cookie_sent(launch_post)
    finally:
        context.close()
    assert reasons(app) == [None]


@pytest.mark.parametrize("partitioned_cookies", [True])
def test_chromium_keeps_the_partitioned_state_cookie_in_the_frame(app, tool, lms, page, partitioned_cookies):
    # Chromium's own behaviour, with the tool's cookies untouched: a partitioned (CHIPS) cookie
    # still travels inside the LMS frame with third-party cookies blocked, so the launch
    # completes there even where the LMS offers no platform storage.
    traffic = Traffic(tool.url).attach(page)
    open_course(page, lms, profile="moodle")
    frame = launch(page, "ada")
    expect_welcome(frame)
    assert any("Partitioned" in c for c in traffic.set_cookies if c.startswith("lti1p3_state_"))
    (launch_post,) = traffic.to("/lti/launch", "POST")
    assert state_cookie_sent(launch_post)
    expect(frame.get_by_text("Open in a new window")).to_have_count(0)
    assert reasons(app) == [None]
