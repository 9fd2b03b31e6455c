"""The deep-linking picker and its signed answer, over HTTP."""

import html
import re
from types import SimpleNamespace

import jwt
import pytest
from sqlalchemy import func, select

from courses.models import CoursePlacement
from keys import service as keys_service
from lti_tool import landing
from lti_tool.db import db
from tests.courses.conftest import Page, dl_settings

DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"


def make_content(page: Page) -> dict:
    course = re.search(r"/c/([\w-]+)", page.post("/courses/", {"title": "Astronomy"}).headers["Location"]).group(1)
    page.post(f"/courses/c/{course}/modules", {"title": "Week 1"})
    editor = page.get(f"/courses/c/{course}").get_data(as_text=True)
    module = re.search(r'id="module-([\w-]+)"', editor).group(1)
    quiz = re.search(r"/i/([\w-]+)", page.post(f"/courses/m/{module}/items", {"kind": "quiz", "title": "Quiz 1", "summary": "Check yourself"}).headers["Location"]).group(1)
    page.post(f"/courses/i/{quiz}/questions", {"kind": "numeric", "prompt": "2+2?", "numeric_answer": "4", "points": "5"})
    link = re.search(r"/i/([\w-]+)", page.post(f"/courses/m/{module}/items", {"kind": "link", "title": "NASA", "url": "https://nasa.gov"}).headers["Location"]).group(1)
    return {"course": course, "module": module, "quiz": quiz, "link": link}


def form_of(response) -> tuple[str, str]:
    body = response.get_data(as_text=True)
    action = html.unescape(re.search(r'<form id="deep-link-return" method="post" action="([^"]+)"', body).group(1))
    token = re.search(r'name="JWT" value="([^"]+)"', body).group(1)
    return action, token


def verify(app, token: str) -> dict:
    with app.app_context():
        key = keys_service.active_key()
    assert jwt.get_unverified_header(token)["kid"] == key.kid
    return jwt.decode(token, key.public_pem, algorithms=["RS256"], audience="https://lms.example.edu")


@pytest.fixture
def tom_dl(app, lms):
    return Page(app, lms.launch(sub="tom", deep_linking=dl_settings()))


def test_the_picker_offers_the_teachers_courses_with_checkboxes(app, tom_dl):
    content = make_content(tom_dl)
    page = tom_dl.get("/courses/deep-link")
    body = html.unescape(page.get_data(as_text=True))
    assert page.status_code == 200
    assert "choose content to add" in body
    for value in (f"course:{content['course']}", f"module:{content['module']}", f"item:{content['quiz']}", f"item:{content['link']}"):
        assert f'type="checkbox" name="pick" value="{value}"' in body
    assert "graded, out of 5" in body and "Cancel and add nothing" in body


def test_single_pick_platforms_get_radios(app, lms):
    page = Page(app, lms.launch(sub="tom", deep_linking=dl_settings(accept_multiple=False)))
    make_content(page)
    body = page.get("/courses/deep-link").get_data(as_text=True)
    assert 'type="radio" name="pick"' in body and 'type="checkbox" name="pick"' not in body


def test_placing_posts_a_signed_response_back_to_the_lms(app, tom_dl):
    content = make_content(tom_dl)
    response = tom_dl.post("/courses/deep-link", {"action": "place", "pick": [f"item:{content['quiz']}", f"item:{content['link']}"]})
    assert response.status_code == 200 and "no-store" in response.headers["Cache-Control"]
    assert 'document.getElementById("deep-link-return").submit()' in response.get_data(as_text=True)
    action, token = form_of(response)
    assert action == "https://lms.example.edu/deep-link-return?course=42&x=1"
    claims = verify(app, token)
    assert claims[DL + "data"] == "opaque-platform-data"
    assert claims[DL + "msg"] == "Added 2 items from the course studio."
    quiz, link = claims[DL + "content_items"]
    assert quiz["url"] == "http://localhost/lti/launch" and quiz["custom"] == {"course_item": content["quiz"]}
    assert quiz["lineItem"] == {"scoreMaximum": 5.0, "label": "Quiz 1", "resourceId": content["quiz"], "tag": "quiz"}
    assert quiz["text"] == "Check yourself" and quiz["iframe"] == {"width": 1024, "height": 768}
    assert link["title"] == "NASA" and "lineItem" not in link
    with app.app_context():
        placement = db.session.scalar(select(CoursePlacement))
        assert placement.context_pk == tom_dl.launch.context_pk


def test_cancel_posts_an_empty_response(app, tom_dl):
    make_content(tom_dl)
    response = tom_dl.post("/courses/deep-link", {"action": "cancel"})
    _, token = form_of(response)
    claims = verify(app, token)
    assert claims[DL + "content_items"] == [] and DL + "msg" not in claims
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CoursePlacement)) == 0


def test_picking_another_teachers_items_is_refused_and_sends_nothing(app, lms, tom_dl):
    other = Page(app, lms.launch(sub="grace", context="course-7"))
    theirs = make_content(other)
    response = tom_dl.post("/courses/deep-link", {"action": "place", "pick": f"item:{theirs['quiz']}"})
    assert response.status_code == 403
    assert "JWT" not in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CoursePlacement)) == 0


@pytest.mark.parametrize("picks, message", [([], "Pick something to add"), (["item:../../x"], "not valid")])
def test_bad_picks_show_the_picker_again(tom_dl, picks, message):
    make_content(tom_dl)
    response = tom_dl.post("/courses/deep-link", {"action": "place", "pick": picks})
    assert response.status_code == 400
    body = html.unescape(response.get_data(as_text=True))
    assert message in body and 'name="JWT"' not in body and 'name="pick"' in body


def test_platforms_that_take_no_lti_links_get_an_explanation(app, lms):
    page = Page(app, lms.launch(sub="tom", deep_linking=dl_settings(accept_types=["file", "html"])))
    make_content(page)
    body = page.get("/courses/deep-link").get_data(as_text=True)
    assert "Nothing this tool makes fits here" in body and "file, html" in body
    assert 'name="pick"' not in body and "Cancel and add nothing" in body


def test_the_picker_needs_a_deep_linking_launch_by_an_instructor(app, lms):
    ordinary = Page(app, lms.launch(sub="tom"))
    assert ordinary.get("/courses/deep-link").status_code == 400
    assert ordinary.post("/courses/deep-link", {"action": "cancel"}).status_code == 400
    learner = Page(app, lms.launch(sub="ada", role="learner", deep_linking=dl_settings()))
    assert learner.get("/courses/deep-link").status_code == 403


def test_teacher_pages_work_inside_a_deep_linking_launch(tom_dl):
    body = tom_dl.get("/courses/").get_data(as_text=True)
    assert "Choose content for your LMS" in body


def test_launches_land_where_their_message_points(app, lms):
    def landing_for(role, message_type, custom=None):
        record = SimpleNamespace(launch_id="L1", roles=[role])
        validated = SimpleNamespace(message_type=message_type, claims={"https://purl.imsglobal.org/spec/lti/claim/custom": custom} if custom else {})
        with app.test_request_context():
            return landing.landing_url(record, validated)

    assert landing_for("instructor", "LtiDeepLinkingRequest") == "/courses/deep-link?launch_id=L1"
    assert landing_for("learner", "LtiDeepLinkingRequest") is None
    assert landing_for("learner", "LtiResourceLinkRequest", {"course_item": "abc"}) == "/courses/view/item/abc?launch_id=L1"
    assert landing_for("learner", "LtiResourceLinkRequest", {"course_module": "m"}) == "/courses/view/module/m?launch_id=L1"
    assert landing_for("learner", "LtiResourceLinkRequest", {"course_outline": "c"}) == "/courses/view/course/c?launch_id=L1"
    assert landing_for("instructor", "LtiResourceLinkRequest") == "/courses/?launch_id=L1"
    assert landing_for("learner", "LtiResourceLinkRequest") is None
