"""Teacher pages over HTTP: roles, CSRF, forms that say which field is wrong, and every action."""

import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from courses.models import Course, CoursePlacement, Item, Module, Question
from lti_tool.db import db
from tests.courses.conftest import Page, field_error


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def public_id_in(location: str, prefix: str) -> str:
    match = re.search(rf"/courses/{prefix}/([A-Za-z0-9_-]+)", location)
    assert match, location
    return match.group(1)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def tom(app, lms):
    return Page(app, lms.launch(sub="tom"))


@pytest.fixture
def built(app, tom):
    """A course with one module holding a page and a quiz (one question), made through the pages."""
    course = public_id_in(tom.post("/courses/", {"title": "Astronomy"}).headers["Location"], "c")
    tom.post(f"/courses/c/{course}/modules", {"title": "Week 1"})
    with app.app_context():
        module = db.session.scalar(select(Module.public_id))
    page = public_id_in(tom.post(f"/courses/m/{module}/items", {"kind": "page", "title": "Intro", "body": "<p>Hello</p>"}).headers["Location"], "i")
    quiz = public_id_in(tom.post(f"/courses/m/{module}/items", {"kind": "quiz", "title": "Quiz 1"}).headers["Location"], "i")
    tom.post(f"/courses/i/{quiz}/questions", {"kind": "text", "prompt": "Our galaxy?", "accepted_answers": "Milky Way"})
    return {"course": course, "module": module, "page": page, "quiz": quiz}


TEACHER_ROUTES = [
    ("GET", "/courses/"),
    ("POST", "/courses/"),
    ("GET", "/courses/c/{course}"),
    ("POST", "/courses/c/{course}"),
    ("POST", "/courses/c/{course}/publish"),
    ("GET", "/courses/c/{course}/delete"),
    ("POST", "/courses/c/{course}/delete"),
    ("POST", "/courses/c/{course}/modules"),
    ("POST", "/courses/m/{module}"),
    ("POST", "/courses/m/{module}/publish"),
    ("POST", "/courses/m/{module}/move"),
    ("GET", "/courses/m/{module}/delete"),
    ("POST", "/courses/m/{module}/delete"),
    ("GET", "/courses/m/{module}/items/new"),
    ("POST", "/courses/m/{module}/items"),
    ("GET", "/courses/i/{page}"),
    ("POST", "/courses/i/{page}"),
    ("POST", "/courses/i/{page}/publish"),
    ("POST", "/courses/i/{page}/move"),
    ("GET", "/courses/i/{page}/delete"),
    ("POST", "/courses/i/{page}/delete"),
    ("GET", "/courses/i/{quiz}/questions/new"),
    ("POST", "/courses/i/{quiz}/questions"),
    ("GET", "/courses/i/{quiz}/questions/{question}"),
    ("POST", "/courses/i/{quiz}/questions/{question}"),
    ("POST", "/courses/i/{quiz}/questions/{question}/move"),
    ("POST", "/courses/i/{quiz}/questions/{question}/delete"),
    ("GET", "/courses/deep-link"),
    ("POST", "/courses/deep-link"),
]


def _paths(app, built):
    with app.app_context():
        question = db.session.scalar(select(Question.id))
    return [(method, path.format(question=question, **built)) for method, path in TEACHER_ROUTES]


def test_every_teacher_route_needs_a_launch(app, built):
    client = app.test_client(use_cookies=False)
    for method, path in _paths(app, built):
        # GETs answer 401; POSTs without a launch fail the CSRF check first (400) — both change nothing.
        response = client.open(path, method=method)
        assert response.status_code == (401 if method == "GET" else 400), (method, path)
        if method == "POST":
            response = client.open(path, method=method, data={"launch_id": "expired-launch", "csrf_token": "x"})
            assert response.status_code == 400, (method, path)


def test_every_teacher_route_refuses_learners(app, lms, built):
    ada = Page(app, lms.launch(sub="ada", role="learner"))
    for method, path in _paths(app, built):
        response = ada.get(path) if method == "GET" else ada.post(path)
        assert response.status_code == 403, (method, path)
        assert "instructors" in text(response)


def test_instructors_of_another_context_cannot_touch_the_course(app, lms, built):
    sam = Page(app, lms.launch(sub="sam", context="course-2"))
    for method, path in _paths(app, built):
        if path.endswith(("/courses/", "/deep-link")):
            continue
        response = sam.get(path) if method == "GET" else sam.post(path, {"title": "Hijacked", "published": "1", "direction": "up"})
        assert response.status_code == 403, (method, path)
    with app.app_context():
        assert db.session.scalar(select(Course.title)) == "Astronomy"
        assert count(Item) == 2


def test_posts_need_the_launch_bound_csrf_token(app, tom):
    response = tom.client.post("/courses/", data={"launch_id": tom.launch.launch_id, "title": "No token"})
    assert response.status_code == 400
    assert "stale" in text(response)
    with app.app_context():
        assert count(Course) == 0


def test_course_list_and_creation(app, tom):
    page = tom.get("/courses/")
    assert page.status_code == 200
    assert "You have no courses yet" in text(page) and "Set this tool up for your course" in text(page)
    response = tom.post("/courses/", {"title": "Astronomy", "description": "Stars and planets"})
    assert response.status_code == 303
    edit = tom.client.get(response.headers["Location"])
    assert edit.status_code == 200 and "Astronomy" in text(edit)
    assert "Astronomy" in text(tom.get("/courses/"))


def test_invalid_course_form_is_shown_again_with_the_field_error(app, tom):
    response = tom.post("/courses/", {"title": "", "description": "kept"})
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert field_error(body, "title") == "Enter a title."
    assert 'aria-invalid="true"' in body and ">kept</textarea>" in body
    with app.app_context():
        assert count(Course) == 0


def test_course_details_publishing_and_deletion(app, tom, built):
    course = built["course"]
    assert tom.post(f"/courses/c/{course}", {"title": "Astronomy 2", "description": ""}).status_code == 303
    bad = tom.post(f"/courses/c/{course}", {"title": "x" * 201})
    assert bad.status_code == 400 and "at most 200 characters" in field_error(bad.get_data(as_text=True), "title")
    assert tom.post(f"/courses/c/{course}/publish", {"published": "yes"}).status_code == 400
    assert tom.post(f"/courses/c/{course}/publish", {"published": "1"}).status_code == 303
    with app.app_context():
        row = db.session.scalar(select(Course))
        assert (row.title, row.published) == ("Astronomy 2", True)
    confirm = tom.get(f"/courses/c/{course}/delete")
    assert confirm.status_code == 200 and "Delete the course" in text(confirm)
    assert tom.post(f"/courses/c/{course}/delete").status_code == 303
    with app.app_context():
        assert count(Course) == count(Module) == count(Item) == count(Question) == 0


def test_modules_add_rename_move_publish_delete(app, tom, built):
    course = built["course"]
    response = tom.post(f"/courses/c/{course}/modules", {"title": "Week 2"})
    assert response.status_code == 303 and "#module-" in response.headers["Location"]
    blank = tom.post(f"/courses/c/{course}/modules", {"title": " "})
    assert blank.status_code == 400 and field_error(blank.get_data(as_text=True), "new-module-title") == "Enter a module title."
    with app.app_context():
        week2 = db.session.scalar(select(Module.public_id).where(Module.title == "Week 2"))
    assert tom.post(f"/courses/m/{week2}/move", {"direction": "up"}).status_code == 303
    assert tom.post(f"/courses/m/{week2}/move", {"direction": "left"}).status_code == 400
    assert tom.post(f"/courses/m/{week2}", {"title": "Week 0"}).status_code == 303
    assert tom.post(f"/courses/m/{week2}/publish", {"published": "1"}).status_code == 303
    page = text(tom.get(f"/courses/c/{course}"))
    assert page.index("Week 0") < page.index("Week 1")
    with app.app_context():
        assert [(m.title, m.published) for m in db.session.scalars(select(Module).order_by(Module.position))] == [("Week 0", True), ("Week 1", False)]
    assert "its 0 items" in text(tom.get(f"/courses/m/{week2}/delete"))
    assert tom.post(f"/courses/m/{week2}/delete").status_code == 303
    with app.app_context():
        assert count(Module) == 1


@pytest.mark.parametrize("kind", ["video", "audio", "pdf", "image", "page", "link", "quiz"])
def test_new_item_form_for_each_kind(tom, built, kind):
    response = tom.get(f"/courses/m/{built['module']}/items/new", kind=kind)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert 'name="title"' in body and f'name="kind" value="{kind}"' in body
    if kind in ("video", "audio", "pdf", "image"):
        assert 'enctype="multipart/form-data"' in body and 'type="file"' in body and "data-dropzone" in body
        assert "<progress" in body and "upload.js" in body
    if kind == "video":
        assert 'name="captions"' in body


def test_new_item_of_an_unknown_kind_is_refused(tom, built):
    assert tom.get(f"/courses/m/{built['module']}/items/new", kind="flash").status_code == 400
    assert tom.post(f"/courses/m/{built['module']}/items", {"kind": "flash", "title": "x"}).status_code == 400


@pytest.mark.parametrize(
    "fields, field, message",
    [
        ({"kind": "link", "title": "Bad", "url": "javascript:alert(1)"}, "url", "Only web addresses starting with https://"),
        ({"kind": "page", "title": "Empty", "body": "<script>alert(1)</script>"}, "body", "Write the page's text"),
        ({"kind": "quiz", "title": "Q", "attempts_allowed": "-1"}, "attempts_allowed", "whole number of attempts"),
        ({"kind": "image", "title": "I"}, "file", "Choose the image file"),
    ],
)
def test_invalid_items_are_shown_again_with_the_field_error(app, tom, built, fields, field, message):
    response = tom.post(f"/courses/m/{built['module']}/items", fields)
    assert response.status_code == 400
    assert message in field_error(response.get_data(as_text=True), field)
    assert fields["title"] in text(response)  # what was typed is kept
    with app.app_context():
        assert count(Item) == 2


def test_items_edit_move_publish_delete(app, tom, built):
    page, quiz = built["page"], built["quiz"]
    edit = tom.get(f"/courses/i/{page}")
    assert edit.status_code == 200 and "Hello" in text(edit)
    assert tom.post(f"/courses/i/{page}", {"title": "Intro!", "body": '<p onclick="x()">New</p>'}).status_code == 303
    assert tom.post(f"/courses/i/{quiz}/move", {"direction": "up"}).status_code == 303
    assert tom.post(f"/courses/i/{page}/publish", {"published": "1", "next": "item"}).headers["Location"].split("?")[0].endswith(f"/courses/i/{page}")
    with app.app_context():
        items = db.session.scalars(select(Item).order_by(Item.position)).all()
        assert [i.title for i in items] == ["Quiz 1", "Intro!"]
        assert items[1].body_html == "<p>New</p>" and items[1].published
    assert tom.post(f"/courses/i/{page}/delete").status_code == 303
    with app.app_context():
        assert count(Item) == 1


def test_publishing_an_empty_quiz_says_why(app, tom, built):
    with app.app_context():
        db.session.execute(Question.__table__.delete())
        db.session.commit()
    response = tom.post(f"/courses/i/{built['quiz']}/publish", {"published": "1"})
    assert response.status_code == 400
    assert "Add at least one question" in text(response)


def test_questions_add_edit_move_delete(app, tom, built):
    quiz = built["quiz"]
    for kind in ("single", "multiple", "numeric", "text"):
        form = tom.get(f"/courses/i/{quiz}/questions/new", kind=kind)
        assert form.status_code == 200
    assert tom.get(f"/courses/i/{quiz}/questions/new", kind="essay").status_code == 400
    assert tom.get(f"/courses/i/{built['page']}/questions/new", kind="text").status_code == 400
    response = tom.post(f"/courses/i/{quiz}/questions", {"kind": "single", "prompt": "Closest star?", "choice-1": "Sun", "choice-2": "Sirius", "correct": "1", "points": "2"})
    assert response.status_code == 303
    bad = tom.post(f"/courses/i/{quiz}/questions", {"kind": "single", "prompt": "Q", "choice-1": "A", "choice-2": "B"})
    assert bad.status_code == 400 and field_error(bad.get_data(as_text=True), "correct") == "Mark exactly one choice as correct."
    with app.app_context():
        first, second = db.session.scalars(select(Question).order_by(Question.position)).all()
    assert tom.get(f"/courses/i/{quiz}/questions/{second.id}").status_code == 200
    edited = tom.post(f"/courses/i/{quiz}/questions/{second.id}", {"prompt": "Nearest star?", "choice-1": "Sun", "choice-2": "Sirius", "correct": "1", "points": "3"})
    assert edited.status_code == 303
    assert tom.post(f"/courses/i/{quiz}/questions/{second.id}/move", {"direction": "up"}).status_code == 303
    page = text(tom.get(f"/courses/i/{quiz}"))
    assert page.index("Nearest star?") < page.index("Our galaxy?") and "4 points in all" in page
    assert tom.get(f"/courses/i/{quiz}/questions/999999").status_code == 404
    assert tom.post(f"/courses/i/{quiz}/questions/{first.id}/delete").status_code == 303
    with app.app_context():
        assert [(q.prompt, q.points, q.position) for q in db.session.scalars(select(Question))] == [("Nearest star?", 3.0, 0)]


def test_a_co_teacher_edits_a_course_placed_in_their_context(app, lms, tom, built):
    with app.app_context():
        course = db.session.scalar(select(Course))
        db.session.add(CoursePlacement(platform_id=course.platform_id, course_pk=course.id, context_pk=tom.launch.context_pk))
        db.session.commit()
    grace = Page(app, lms.launch(sub="grace"))
    listing = text(grace.get("/courses/"))
    assert "Astronomy" in listing and "Co-teaching" in listing and "Placed in this LMS course" in listing
    assert grace.post(f"/courses/i/{built['page']}", {"title": "Edited by Grace", "body": "<p>x</p>"}).status_code == 303
    assert grace.post(f"/courses/c/{built['course']}/delete").status_code == 403
    assert "Delete course" not in text(grace.get(f"/courses/c/{built['course']}"))


def test_links_and_forms_carry_the_launch_id(tom, built):
    body = tom.get(f"/courses/c/{built['course']}").get_data(as_text=True)
    for href in re.findall(r'href="(/courses/[^"]*)"', body):
        assert "launch_id=" in href, href
    for form in re.findall(r"<form[^>]*>.*?</form>", body, re.S):
        assert tom.launch.launch_id in form
        if 'method="post"' in form:
            # The launch-bound token: it works inside the LMS frame, where cookies may be dropped.
            assert re.search(r'name="csrf_token" value="([^"]+)"', form).group(1) == tom.token
    action = re.search(r'<form method="post" action="([^"]+)"', body).group(1)
    assert parse_qs(urlsplit(html.unescape(action)).query)["launch_id"] == [tom.launch.launch_id]
