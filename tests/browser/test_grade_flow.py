"""A learner's quiz score reaches the LMS gradebook; the teacher's gradebook and the learner's own
grades page say so, inside the LMS page (third-party cookies blocked), and pass the accessibility
check."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import expect

from tests.browser.helpers import TOOL_FRAME, tool_frame
from tests.browser.review import review_frame
from tests.browser.test_course_flows import launch_link, placed  # noqa: F401 - the fixture
from tests.support.worker import WorkerProcess


def frame_launch_id(page) -> str:
    """The launch id the tool's page carries (in its address, or in its forms)."""
    frame = tool_frame(page)
    found = parse_qs(urlsplit(frame.url).query).get("launch_id")
    if found:
        return found[0]
    return frame.locator("input[name=launch_id]").first.get_attribute("value")


def test_the_score_reaches_the_lms_and_both_gradebooks_show_it(app, backend, tool, lms, page, placed):  # noqa: F811
    worker = WorkerProcess(app, "grades", "default").start() if backend == "postgresql" else None
    try:
        frame = launch_link(page, lms, "ada", "Planets quiz")
        frame.get_by_role("radio", name="Mercury").check()
        frame.get_by_label(re.compile("How many planets orbit the Sun")).fill("8")
        frame.get_by_role("button", name="Submit answers").click()
        expect(frame.get_by_role("heading", name="Attempt 1: 2 out of 2")).to_be_visible()

        # The learner's own grades, once the score has reached the LMS.
        learner = tool_frame(page)
        mine = f"{tool.url}/grades/mine?launch_id={frame_launch_id(page)}"
        learner.goto(mine)
        for _ in range(40):
            if learner.get_by_text(re.compile("Yes, since")).count():
                break
            page.wait_for_timeout(250)
            learner.goto(mine)
        expect(frame.get_by_role("heading", name="My grades")).to_be_visible()
        expect(frame.get_by_role("row", name=re.compile("Planets quiz"))).to_contain_text("Yes, since")
        review_frame(page, TOOL_FRAME, "tool-learner-my-grades")

        # The LMS holds it.
        page.goto(lms.course(profile="canvas", privacy="public"), wait_until="load")
        expect(page.locator("tr.gradebook-row[data-person=ada]")).to_contain_text("2.0 / 2")

        # The teacher's gradebook in the LMS frame: Ada's score is in the LMS; Grace, on the roster
        # (read when the teacher launched) but never in the tool, is listed too.
        frame = launch_link(page, lms, "tom", "Planets quiz")
        teacher = tool_frame(page)
        book = f"{tool.url}/grades/?launch_id={frame_launch_id(page)}"
        teacher.goto(book)
        for _ in range(40):
            if teacher.get_by_text("(has not opened the tool)").count():
                break
            page.wait_for_timeout(250)
            teacher.goto(book)
        expect(frame.get_by_role("heading", level=1)).to_have_text(re.compile("Gradebook"))
        ada = frame.get_by_role("row", name=re.compile("Ada Lovelace"))
        expect(ada).to_contain_text("In the LMS since")
        # Canvas's roster is anonymous by default: Grace is known by her user id only.
        grace = frame.get_by_role("row").filter(has_text="(has not opened the tool)")
        expect(grace).to_have_count(1)
        expect(grace).to_contain_text("No attempt")
        review_frame(page, TOOL_FRAME, "tool-teacher-gradebook")
    finally:
        if worker is not None:
            worker.stop()
