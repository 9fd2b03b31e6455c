"""A teacher builds a course and places it with Deep Linking; a learner opens each placed link.

Everything goes over HTTP between the tool (one live server), the independent development LMS
(another live server, built on lti1p3platform) and a scripted browser. The LMS verifies the
deep-linking response against the tool's published key set before it places any link.
"""

import html
import re
from urllib.parse import urljoin, urlsplit

import pytest
from sqlalchemy import select

from grades.models import Attempt
from lti_tool.db import db
from tests.courses.conftest import tiny_mp4, tiny_pdf, tiny_vtt


@pytest.fixture
def app(make_app, tmp_path):
    # This test's own media directory, so the files it uploads can be checked and go away after.
    return make_app(MEDIA_DIR=str(tmp_path / "media"))


def text(response) -> str:
    return html.unescape(response.text)


def launch_id_of(url: str) -> str:
    return re.search(r"launch_id=([\w-]+)", url).group(1)


class Studio:
    """The teacher's side of the browser, inside one deep-linking launch."""

    def __init__(self, browser, tool_url: str, launch_id: str):
        self.browser = browser
        self.tool_url = tool_url
        self.launch_id = launch_id

    def page(self, path: str):
        return self.browser.get(self.tool_url + path, params={"launch_id": self.launch_id})

    def submit(self, response, *, action: str, button: str | None = None, **values):
        form = self.browser.form(response, action=action, button=button)
        result = self.browser.submit(form, values)
        assert result.status_code == 200, (action, result.status_code, text(result)[:2000])
        return result

    def upload(self, module_page, kind: str, files: dict, **values):
        adder = self.browser.form(module_page, action="/items/new")
        new = self.browser.submit(adder, {"kind": kind})
        form = self.browser.form(new, action="/items")
        response = self.browser.session.post(
            form.action,
            data={**form.values, **values},
            files={name: (filename, content) for name, (content, filename) in files.items()},
            allow_redirects=False,
        )
        assert response.status_code == 303, text(response)[:2000]
        return self.browser.get(urljoin(response.url, response.headers["Location"]))


def test_teacher_builds_places_and_learner_opens_each_item(app, tool, lms, browser):
    # --- Tom asks the LMS to add content: the deep-linking request lands on the picker. ---
    picker = browser.get(lms.issuer + "/deep-link", params={"person": "tom", "profile": "moodle"})
    assert picker.status_code == 200 and urlsplit(picker.url).path == "/courses/deep-link"
    assert "choose content to add" in text(picker) and "You have no courses yet" in text(picker)
    studio = Studio(browser, tool.url, launch_id_of(picker.url))

    # --- He builds a course in the tool, without leaving the launch. ---
    index = studio.page("/courses/")
    course_page = studio.submit(index, action="/courses/", title="Introduction to the Night Sky")
    course_page = studio.submit(course_page, action="/modules", title="Week 1: Stars")

    new_page = browser.submit(browser.form(course_page, action="/items/new"), {"kind": "page"})
    page_item = studio.submit(new_page, action="/items", title="Welcome", body="<h2>Hello, stargazers</h2><p>Look up tonight.</p>")
    studio.submit(page_item, action="/publish", published="1", next="item")

    new_quiz = browser.submit(browser.form(course_page, action="/items/new"), {"kind": "quiz"})
    quiz_item = studio.submit(new_quiz, action="/items", title="Star quiz", attempts_allowed="3")
    new_question = browser.submit(browser.form(quiz_item, action="/questions/new"), {"kind": "single"})
    quiz_item = studio.submit(new_question, action="/questions", prompt="Which star is closest to Earth?",
                              **{"choice-1": "The Sun", "choice-2": "Proxima Centauri", "correct": "1", "points": "2"})
    new_question = browser.submit(browser.form(quiz_item, action="/questions/new"), {"kind": "numeric"})
    quiz_item = studio.submit(new_question, action="/questions", prompt="How many planets orbit the Sun?", numeric_answer="8")
    studio.submit(quiz_item, action="/publish", published="1", next="item")

    video_item = studio.upload(course_page, "video", {"file": (tiny_mp4(), "stars.mp4"), "captions": (tiny_vtt(), "stars.vtt")},
                               title="Why stars twinkle")
    studio.submit(video_item, action="/publish", published="1", next="item")
    pdf_item = studio.upload(course_page, "pdf", {"file": (tiny_pdf(), "star-chart.pdf")}, title="Star chart")
    studio.submit(pdf_item, action="/publish", published="1", next="item")

    # Publish the course and its module (the items are published already).
    course_page = studio.page(urlsplit(course_page.url).path)
    publish = [f for f in browser.forms(course_page) if re.search(r"/courses/[cm]/[\w-]+/publish", f.action) and f.values["published"] == "1"]
    assert len(publish) == 2
    for form in publish:
        assert browser.submit(form).status_code == 200

    # --- Back in the picker, he places the four items. ---
    picker = studio.page("/courses/deep-link")
    form = browser.form(picker, action="/courses/deep-link", fields={"action": "place"})
    body = picker.text
    picks = re.findall(r'name="pick" value="(item:[\w-]+)"', body)
    assert len(picks) == 4
    returned = browser.open("POST", form.action, data=[*form.fields, *[("pick", pick) for pick in picks]])
    # The tool's page auto-posted the signed response to the LMS, which verified it with the tool's JWKS.
    assert urlsplit(returned.url).path == "/dev/lms/deep-link-return", text(returned)[:2000]
    assert returned.status_code == 200, text(returned)
    result = text(returned)
    assert "4 links placed in Introduction to Astronomy" in result
    assert "Added 4 items from the course studio." in result
    assert "Star quiz (out of 3.0)" in result  # the quiz's gradebook column: 2 + 1 points

    # --- Ada opens each placed link from the LMS course page. ---
    course_listing = browser.get(lms.issuer + "/", params={"profile": "moodle"})
    links = dict(
        (html.unescape(title).strip(), link_id)
        for link_id, title in re.findall(r'<tr class="course-link" data-link-id="([^"]+)">\s*<td>([^<]+)', course_listing.text)
    )
    assert {"Welcome", "Star quiz", "Why stars twinkle", "Star chart"} <= set(links)

    learner = type(browser)()

    def open_link(title):
        page = learner.get(lms.issuer + "/launch", params={"person": "ada", "profile": "moodle", "link": links[title]})
        assert page.status_code == 200, text(page)[:2000]
        assert urlsplit(page.url).path.startswith("/courses/view/item/")
        return page

    welcome = open_link("Welcome")
    assert "Hello, stargazers" in text(welcome) and "Preview" not in text(welcome)

    video = open_link("Why stars twinkle")
    video_src = re.search(r'<video controls[^>]* src="([^"]+)"', video.text).group(1)
    assert re.search(r'<track kind="captions" src="[^"]+" srclang="en"', video.text)
    played = learner.session.get(tool.url + html.unescape(video_src), headers={"Range": "bytes=0-23"})
    assert played.status_code == 206 and played.content == tiny_mp4()[:24]

    chart = open_link("Star chart")
    pdf_src = re.search(r'<iframe class="pdf-viewer" src="([^"]+)"', chart.text).group(1)
    pdf = learner.session.get(tool.url + html.unescape(pdf_src))
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf" and pdf.content == tiny_pdf()

    quiz = open_link("Star quiz")
    assert "Which star is closest to Earth?" in text(quiz)
    form = learner.form(quiz, action="/attempts")
    names = sorted(set(re.findall(r'name="(q-\d+)"', quiz.text)))
    choice = re.search(r'name="(q-\d+)" value="(c1)"', quiz.text)
    numeric = next(name for name in names if name != choice.group(1))
    scored = learner.submit(form, {choice.group(1): "c1", numeric: "8"})
    assert scored.status_code == 200 and "Attempt 1: 3 out of 3" in text(scored)

    with app.app_context():
        attempt = db.session.scalar(select(Attempt))
        assert (attempt.score, attempt.max_score) == (3.0, 3.0)
