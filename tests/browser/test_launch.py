"""Launches inside the LMS page with third-party cookies blocked: through the LMS's platform
storage where it offers it, through a new window where it does not."""

import re
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import expect
from sqlalchemy import select

from lti_tool.db import db
from lti_tool.models import Enrollment, LaunchLog, User
from tests.browser.helpers import (
    STORAGE_FRAME_NAME,
    TOOL_FRAME,
    Traffic,
    expect_new_window_offer,
    expect_welcome,
    launch,
    open_course,
    state_cookie_sent,
    tool_frame,
)
from tests.browser.review import review_frame, review_page


def launch_log(app) -> list[tuple[str, str | None]]:
    with app.app_context():
        return [(e.outcome, e.reason) for e in db.session.scalars(select(LaunchLog).order_by(LaunchLog.id))]


def roles(app) -> list[list[str]]:
    with app.app_context():
        return [e.roles for e in db.session.scalars(select(Enrollment))]


def test_learner_launches_inside_the_lms_through_platform_storage(app, tool, lms, page):
    traffic = Traffic(tool.url).attach(page)
    open_course(page, lms, profile="canvas")
    # Canvas offers platform storage by default.
    expect(page.get_by_label("Offer platform storage")).to_be_checked()

    frame = launch(page, "ada")
    expect_welcome(frame)

    # The launch came back without the tool's cookie, and was confirmed from the LMS's storage.
    (launch_post,) = traffic.to("/lti/launch", "POST")
    assert not state_cookie_sent(launch_post)
    (login,) = traffic.to("/lti/login")
    assert parse_qs(urlsplit(login.url).query)["lti_storage_target"] == [STORAGE_FRAME_NAME]
    assert len(traffic.to("/lti/launch/confirm", "POST")) == 1
    # The state and nonce live in the LMS's own storage frame, kept apart per tool origin.
    stored = page.frame(name=STORAGE_FRAME_NAME).evaluate("() => Object.keys(sessionStorage)")
    assert sorted(re.sub(r"\|(lti_state|lti_nonce)_.+$", r"|\1_…", key) for key in stored) == [
        f"lti-storage|{tool.url}|lti_nonce_…",
        f"lti-storage|{tool.url}|lti_state_…",
    ]
    assert urlsplit(tool_frame(page).url).path.startswith("/lti/")
    assert "launch_id=" in tool_frame(page).url
    assert launch_log(app) == [("accepted", None)]
    assert roles(app) == [["learner"]]
    with app.app_context():
        # Canvas's default privacy: the tool works with the opaque `sub` alone.
        assert db.session.scalar(select(User)).name is None

    review_page(page, "lms-course-page-with-tool")
    review_frame(page, TOOL_FRAME, "tool-learner-landing")


def test_without_platform_storage_the_learner_continues_in_a_new_window(app, tool, lms, page):
    traffic = Traffic(tool.url).attach(page.context)
    open_course(page, lms, profile="canvas", storage="off")
    expect(page.get_by_label("Offer platform storage")).not_to_be_checked()

    frame = launch(page, "ada")
    link = expect_new_window_offer(frame)
    expect(frame.get_by_role("heading", level=1)).to_have_text("The launch does not match a login started by this browser")
    (login,) = traffic.to("/lti/login")
    assert "lti_storage_target" not in parse_qs(urlsplit(login.url).query)
    review_frame(page, TOOL_FRAME, "tool-new-window-offer")

    with page.expect_popup() as opened:
        link.click()
    popup = opened.value
    expect_welcome(popup)
    assert urlsplit(popup.url).netloc == urlsplit(tool.url).netloc and "launch_id=" in popup.url
    # The second launch went through in a window of its own, where the tool's cookie is first-party.
    first, second = traffic.to("/lti/launch", "POST")
    assert not state_cookie_sent(first) and state_cookie_sent(second)
    assert launch_log(app) == [("rejected", "state_mismatch"), ("accepted", None)]
    assert roles(app) == [["learner"]]
    review_page(popup, "tool-learner-landing-new-window")


def test_teacher_launches_inside_the_lms(app, tool, lms, page):
    open_course(page, lms, profile="canvas", privacy="public")
    frame = launch(page, "tom")
    # A teacher lands on their courses in the tool, ready to build one.
    expect(frame.get_by_role("heading", level=1)).to_have_text("Your courses")
    assert "launch_id=" in tool_frame(page).url
    assert roles(app) == [["instructor"]]
    assert launch_log(app) == [("accepted", None)]
    review_frame(page, TOOL_FRAME, "tool-teacher-landing")


def test_the_lms_can_open_the_tool_in_a_new_window(app, tool, lms, page):
    # Moodle's "open in a new window" launch container: top-level, so cookies work.
    open_course(page, lms, profile="moodle", open="window")
    with page.expect_popup() as opened:
        page.locator("article.person").first.get_by_role("button", name="Launch the tool").click()
    expect_welcome(opened.value)
    expect(page.frame_locator(TOOL_FRAME).get_by_text("Launch the tool as one of the people above")).to_be_visible()
    assert launch_log(app) == [("accepted", None)]
