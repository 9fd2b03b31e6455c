"""A teacher places content in the LMS course by deep linking; a learner plays its video (the
progress reaches the tool) and takes its quiz (and sees the score). All inside the LMS page, with
third-party cookies blocked: the launches go through the LMS's platform storage."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from courses import service
from grades.models import Attempt
from lti_tool.db import db
from lti_tool.events import Event
from lti_tool.models import Context, User
from tests.browser.helpers import TOOL_FRAME, deep_link, launch, open_course, person_card, tool_frame
from tests.browser.media import CAPTIONS, make_video
from tests.browser.review import review_frame, review_page


@dataclass(frozen=True)
class Content:
    video_id: int
    quiz_id: int


def form(**fields: str | list[str]) -> dict[str, list[str]]:
    return {name: value if isinstance(value, list) else [value] for name, value in fields.items()}


def build_course(app, teacher_name: str, video: bytes) -> Content:
    """The teacher's course, made with the tool's own functions (the teacher pages are tested in
    tests/courses): a published module with a captioned video and a two-question quiz."""
    with app.app_context():
        teacher = db.session.scalar(select(User).where(User.name == teacher_name))
        context = db.session.scalar(select(Context))
        actor = service.Actor(
            platform_id=teacher.platform_id, user_pk=teacher.id, context_pk=context.id, instructor=True
        )
        course = service.create_course(actor, form(title="The Solar System", description="Our neighbourhood."))
        module = service.create_module(actor, course, form(title="Week 1: the Sun and its planets"))
        sun = service.save_item(
            actor,
            kind="video",
            module=module,
            form=form(title="The Sun", summary="Two seconds about our star.", caption_language="en"),
            uploads={
                "file": service.Upload(io.BytesIO(video), "the-sun.webm"),
                "captions": service.Upload(io.BytesIO(CAPTIONS.encode()), "the-sun.en.vtt"),
            },
        )
        quiz = service.save_item(
            actor,
            kind="quiz",
            module=module,
            form=form(
                title="Planets quiz",
                summary="Two questions.",
                body="",
                attempts_allowed="",
                due_at="",
                show_answers="after_attempt",
                grade_policy="highest",
            ),
        )
        service.save_question(
            actor,
            quiz,
            form(
                kind="single",
                prompt="Which planet is closest to the Sun?",
                points="1",
                **{"choice-1": "Mercury", "choice-2": "Venus", "choice-3": "Mars", "correct": "1"},
            ),
        )
        service.save_question(
            actor, quiz, form(kind="numeric", prompt="How many planets orbit the Sun?", points="1", numeric_answer="8")
        )
        for item in (sun, quiz):
            service.set_item_published(actor, item, True)
        service.set_module_published(actor, module, True)
        service.set_course_published(actor, course, True)
        return Content(video_id=sun.id, quiz_id=quiz.id)


def launch_link(page, lms, person: str, link_title: str):
    open_course(page, lms, profile="canvas", privacy="public")
    person_card(page, person).get_by_label("Resource link").select_option(label=link_title)
    return launch(page, person)


@pytest.fixture
def placed(app, tool, lms, page) -> Content:
    """The teacher's deep-linking launch: they pick the video and the quiz; the LMS places both."""
    open_course(page, lms, profile="canvas", privacy="public")
    frame = deep_link(page, "tom")
    expect(frame.get_by_role("heading", name="You have no courses yet")).to_be_visible()
    # The video is encoded by this browser, on a page of the tool (WebCodecs needs a secure page).
    content = build_course(app, "Tom Teacher", make_video(tool_frame(page)))
    picker = tool_frame(page)
    picker.goto(picker.url)
    expect(frame.get_by_role("heading", level=1)).to_have_text(re.compile("Add content"))
    review_frame(page, TOOL_FRAME, "tool-deep-linking-picker")

    frame.get_by_role("checkbox", name=re.compile(r"Video The Sun")).check()
    frame.get_by_role("checkbox", name=re.compile(r"Quiz Planets quiz")).check()
    frame.get_by_role("button", name="Add to the LMS course").click()
    expect(frame.get_by_role("heading", name="Content received from the tool")).to_be_visible()
    expect(frame.get_by_text("2 links placed in Introduction to Astronomy.")).to_be_visible()
    review_frame(page, TOOL_FRAME, "lms-deep-linking-result")

    frame.get_by_role("link", name="Back to Introduction to Astronomy").click()
    expect(page.locator("tr.course-link")).to_have_count(3)
    for title in ("The Sun", "Planets quiz"):
        expect(page.locator("tr.course-link", has_text=title)).to_have_count(1)
    return content


def test_a_learner_plays_the_placed_video_and_its_progress_arrives(app, tool, lms, page, placed):
    frame = launch_link(page, lms, "ada", "The Sun")
    expect(frame.get_by_role("heading", level=1)).to_have_text("The Sun")
    video = frame.locator("video")
    expect(video.locator("track[kind=captions]")).to_have_count(1)
    review_frame(page, TOOL_FRAME, "tool-learner-video")

    # Play with the keyboard, as the page says; the video reports its progress when it ends.
    with page.expect_response(lambda r: r.url.split("?")[0].endswith("/progress") and r.request.method == "POST") as sent:
        video.focus()
        page.keyboard.press("Space")
    # (Its body is not read: the page sends it with keepalive, whose answers the browser does not keep.)
    assert sent.value.status == 200
    with app.app_context():
        ada = db.session.scalar(select(User).where(User.name == "Ada Lovelace"))
        rows = db.session.scalars(select(Event).where(Event.kind == "media_progress")).all()
        # The player reports when it pauses at the end and when it ends: the same position each time.
        assert rows and {(e.user_pk, e.data["item_id"], e.data["position"], e.data["duration"]) for e in rows} == {
            (ada.id, placed.video_id, 2.0, 2.0)
        }


def test_a_learner_takes_the_placed_quiz_and_sees_the_score(app, tool, lms, page, placed):
    frame = launch_link(page, lms, "ada", "Planets quiz")
    expect(frame.get_by_role("heading", level=1)).to_have_text("Planets quiz")
    review_frame(page, TOOL_FRAME, "tool-learner-quiz")

    frame.get_by_role("radio", name="Mercury").check()
    frame.get_by_label(re.compile("How many planets orbit the Sun")).fill("8")
    frame.get_by_role("button", name="Submit answers").click()
    expect(frame.get_by_role("heading", name="Attempt 1: 2 out of 2")).to_be_visible()
    review_frame(page, TOOL_FRAME, "tool-learner-quiz-result")
    with app.app_context():
        ada = db.session.scalar(select(User).where(User.name == "Ada Lovelace"))
        attempts = db.session.scalars(select(Attempt)).all()
        assert [(a.user_pk, a.item_id, a.number, a.score, a.max_score) for a in attempts] == [
            (ada.id, placed.quiz_id, 1, 2.0, 2.0)
        ]
    review_page(page, "lms-course-page-after-deep-linking")
