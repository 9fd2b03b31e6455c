"""Learner launches over HTTP: each item kind, drafts, access across contexts and platforms, quizzes."""

import html
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from courses import service
from courses.models import Course, CoursePlacement, Item
from grades.models import Attempt
from lti_tool.db import db, utcnow
from lti_tool.events import Event
from tests.courses.conftest import Page, actor, form


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


@pytest.fixture
def course(app, lms):
    """Tom's published course placed in course-1: a page, a link and a quiz, all published."""
    tom = lms.launch(sub="tom")
    with app.app_context():
        a = actor(tom)
        c = service.create_course(a, form(title="Astronomy", description="Stars and planets"))
        m = service.create_module(a, c, form(title="Week 1"))
        page = service.save_item(a, kind="page", form=form(title="Intro", body="<h2>Welcome</h2><p>Look up.</p>"), module=m)
        link = service.save_item(a, kind="link", form=form(title="NASA", url="https://www.nasa.gov/"), module=m)
        quiz = service.save_item(a, kind="quiz", form=form(title="Quiz 1", attempts_allowed="2", body="<p>Good luck</p>"), module=m)
        service.save_question(a, quiz, form(kind="single", prompt="Closest star?", choice_dash_1="Sun", choice_dash_2="Sirius", correct="1", points="2", feedback="It is the Sun."))
        service.save_question(a, quiz, form(kind="numeric", prompt="Planets?", numeric_answer="8"))
        draft = service.save_item(a, kind="page", form=form(title="Draft", body="<p>secret</p>"), module=m)
        for row in (c, m, page, link, quiz):
            row.published = True
        db.session.add(CoursePlacement(platform_id=tom.platform_id, course_pk=c.id, context_pk=tom.context_pk))
        db.session.commit()
        ids = {"course": c.public_id, "module": m.public_id, "page": page.public_id, "link": link.public_id,
               "quiz": quiz.public_id, "draft": draft.public_id, "quiz_pk": quiz.id}
        ids["questions"] = [service.field_name(q) for q in quiz.questions]
    return ids


def learner(app, lms, custom, **kwargs):
    return Page(app, lms.launch(sub=kwargs.pop("sub", "ada"), role="learner", custom=custom, **kwargs))


def events(app, kind):
    with app.app_context():
        return db.session.scalars(select(Event).where(Event.kind == kind).order_by(Event.id)).all()


def test_a_page_renders_sanitised_and_counts_a_view(app, lms, course):
    ada = learner(app, lms, {"course_item": course["page"]})
    with app.app_context():
        # Even HTML that reached the database unsanitised is cleaned when shown.
        db.session.scalar(select(Item).where(Item.public_id == course["page"])).body_html += '<script>alert(1)</script><img src="https://e.org/x.png" onerror="alert(2)">'
        db.session.commit()
    response = ada.get(f"/courses/view/item/{course['page']}")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "<h2>Welcome</h2><p>Look up.</p>" in body and "<script>alert" not in body and "onerror" not in body
    assert "Preview" not in body
    [event] = events(app, "item_viewed")
    assert event.data == {"item_id": event.data["item_id"]} and event.user_pk == ada.launch.user_pk


def test_a_link_opens_in_a_new_window(app, lms, course):
    body = learner(app, lms, {"course_item": course["link"]}).get(f"/courses/view/item/{course['link']}").get_data(as_text=True)
    assert '<a class="button" href="https://www.nasa.gov/" target="_blank" rel="noopener noreferrer">' in body
    assert "opens in a new window" in body


def test_drafts_show_a_friendly_message(app, lms, course):
    ada = learner(app, lms, {"course_item": course["draft"]})
    response = ada.get(f"/courses/view/item/{course['draft']}")
    assert response.status_code == 200
    assert "This item is not open yet" in text(response) and "secret" not in text(response)
    with app.app_context():
        db.session.scalar(select(Course)).published = False
        db.session.commit()
    page = learner(app, lms, {"course_item": course["page"]}, link="link-2")
    assert "This course is not open yet" in text(page.get(f"/courses/view/item/{course['page']}"))
    assert events(app, "item_viewed") == []


def test_course_and_module_links_list_published_items_only(app, lms, course):
    outline = learner(app, lms, {"course_outline": course["course"]})
    body = text(outline.get(f"/courses/view/course/{course['course']}"))
    assert "Stars and planets" in body and "Week 1" in body
    assert "Intro" in body and "NASA" in body and "Quiz 1" in body and "Draft" not in body
    assert outline.get(f"/courses/view/item/{course['quiz']}").status_code == 200
    assert outline.get(f"/courses/view/item/{course['draft']}").status_code == 200  # reachable, but "not open yet"
    module_link = learner(app, lms, {"course_module": course["module"]}, link="link-2")
    assert module_link.get(f"/courses/view/module/{course['module']}").status_code == 200
    assert module_link.get(f"/courses/view/course/{course['course']}").status_code == 403


def test_learners_cannot_wander_by_changing_the_url(app, lms, course):
    ada = learner(app, lms, {"course_item": course["page"]})
    for path in (f"/courses/view/item/{course['quiz']}", f"/courses/view/module/{course['module']}", f"/courses/view/course/{course['course']}"):
        response = ada.get(path)
        assert response.status_code == 403, path
    assert ada.post(f"/courses/view/item/{course['quiz']}/attempts", {course["questions"][0]: "c1", course["questions"][1]: "8"}).status_code == 403
    # The same link's custom parameter, launched from another LMS course.
    elsewhere = learner(app, lms, {"course_item": course["page"]}, context="course-2")
    assert elsewhere.get(f"/courses/view/item/{course['page']}").status_code == 403
    # ... or from another LMS altogether.
    other_lms = Page(app, lms.launch(issuer="https://other.example.org", sub="ada", role="learner", custom={"course_item": course["page"]}))
    response = other_lms.get(f"/courses/view/item/{course['page']}")
    assert response.status_code == 403 and "another LMS" in text(response)
    # Without a launch at all.
    assert app.test_client().get(f"/courses/view/item/{course['page']}").status_code == 401
    assert ada.get("/courses/view/item/NoSuchItemAtAllXXXXXX").status_code == 404
    assert events(app, "item_viewed") == []


def test_teachers_preview_drafts_and_cannot_submit(app, lms, course):
    tom = Page(app, lms.launch(sub="tom"))
    draft = text(tom.get(f"/courses/view/item/{course['draft']}"))
    assert "Preview." in draft and "secret" in draft
    quiz = tom.get(f"/courses/view/item/{course['quiz']}").get_data(as_text=True)
    assert re.search(r'<button type="submit" class="button" disabled>Submit answers</button>', quiz)
    response = tom.post(f"/courses/view/item/{course['quiz']}/attempts", {course["questions"][0]: "c1", course["questions"][1]: "8"})
    assert response.status_code == 403 and "preview" in text(response)
    assert events(app, "item_viewed") == []


def test_taking_a_quiz(app, lms, course):
    ada = learner(app, lms, {"course_item": course["quiz"]})
    page = text(ada.get(f"/courses/view/item/{course['quiz']}"))
    assert "Good luck" in page and "Closest star?" in page and "0 used of 2" in page
    single, numeric = course["questions"]
    response = ada.post(f"/courses/view/item/{course['quiz']}/attempts", {single: "c1", numeric: "7"})
    assert response.status_code == 303
    assert "attempt=" in response.headers["Location"] and response.headers["Location"].endswith("#result")
    result = text(ada.client.get(response.headers["Location"]))
    assert "Attempt 1: 2 out of 3" in result
    assert "Correct answer: 8" in result and "It is the Sun." in result
    assert "1 attempt left" in result
    [submitted] = events(app, "quiz_submitted")
    assert submitted.data["score"] == 2.0 and submitted.data["max_score"] == 3.0
    assert len(events(app, "item_viewed")) == 1  # the result page is not a second visit

    second = ada.post(f"/courses/view/item/{course['quiz']}/attempts", {single: "c1", numeric: "8"})
    final = text(ada.client.get(second.headers["Location"]))
    assert "Attempt 2: 3 out of 3" in final and "All your attempts" in final and "Closed" in final
    third = ada.post(f"/courses/view/item/{course['quiz']}/attempts", {single: "c1", numeric: "8"})
    assert third.status_code == 409 and "used all 2 attempt" in text(third)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Attempt)) == 2
        attempt = db.session.scalar(select(Attempt).order_by(Attempt.number.desc()))
        assert attempt.resource_link_pk == ada.launch.resource_link_pk and attempt.item_id == course["quiz_pk"]


@pytest.mark.parametrize(
    "answers, status, message",
    [
        ({"numeric": "8"}, 400, "Choose an answer."),
        ({"single": "c1"}, 400, "Enter an answer."),
        ({"single": "c1", "numeric": "eight"}, 400, "Enter a number"),
        ({"single": "c7", "numeric": "8"}, 400, "not one of the choices"),
        ({"single": "c1", "numeric": "8", "q-0": "x"}, 400, "does not ask for"),
    ],
)
def test_bad_submissions_store_nothing(app, lms, course, answers, status, message):
    ada = learner(app, lms, {"course_item": course["quiz"]})
    single, numeric = course["questions"]
    data = {({"single": single, "numeric": numeric}.get(k, k)): v for k, v in answers.items()}
    response = ada.post(f"/courses/view/item/{course['quiz']}/attempts", data)
    assert response.status_code == status
    body = text(response)
    assert message in body
    if "q-0" not in data:
        assert "Nothing was recorded; your answers are kept below." in body
    if "numeric" in answers and answers["numeric"] == "eight":
        assert 'value="eight"' in body  # the learner's answers are kept
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Attempt)) == 0
    assert events(app, "quiz_submitted") == []


def test_submissions_after_the_due_date_are_refused(app, lms, course):
    with app.app_context():
        db.session.scalar(select(Item).where(Item.public_id == course["quiz"])).due_at = utcnow() - timedelta(hours=1)
        db.session.commit()
    ada = learner(app, lms, {"course_item": course["quiz"]})
    single, numeric = course["questions"]
    assert "The due date has passed" in text(ada.get(f"/courses/view/item/{course['quiz']}"))
    response = ada.post(f"/courses/view/item/{course['quiz']}/attempts", {single: "c1", numeric: "8"})
    assert response.status_code == 409
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Attempt)) == 0


@pytest.mark.parametrize(
    "policy, due_in, shown, note",
    [
        ("never", None, False, "chose not to show the correct answers"),
        ("after_due", timedelta(days=1), False, "shown after the due date"),
        ("after_attempt", None, True, None),
    ],
)
def test_show_answers_policy(app, lms, course, policy, due_in, shown, note):
    with app.app_context():
        quiz = db.session.scalar(select(Item).where(Item.public_id == course["quiz"]))
        quiz.show_answers = policy
        quiz.due_at = utcnow() + due_in if due_in else None
        db.session.commit()
    ada = learner(app, lms, {"course_item": course["quiz"]})
    single, numeric = course["questions"]
    result = text(ada.client.get(ada.post(f"/courses/view/item/{course['quiz']}/attempts", {single: "c2", numeric: "8"}).headers["Location"]))
    assert "Attempt 1: 1 out of 3" in result
    assert ("Correct answer: Sun" in result) is shown
    if note:
        assert note in result
