"""Hostile form posts at every state-changing page a launch opens: never a 500, and a refusal writes nothing.

Each example posts a body built by hand (duplicated keys, missing fields, NUL, bytes that are not
UTF-8, huge values, numbers that are not numbers) with a valid launch and CSRF token, so the
request gets past the door and the validation behind it is what is tested.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from courses import service
from courses.models import CoursePlacement
from lti_tool.csrf import launch_token
from lti_tool.db import db
from tests.courses.conftest import FakeLms, actor, dl_settings, form
from tests.security.hostile import (
    FORM,
    HOSTILE,
    NASTY_BYTES,
    NASTY_STRINGS,
    assert_refused_or_fine,
    form_body,
    hostile_fields,
    json_values,
    row_counts,
)


class Poster:
    """Posts raw bodies within one launch, with its launch id and CSRF token in front."""

    def __init__(self, app, launch):
        self.app = app
        self.launch_id = launch.launch_id
        self.client = app.test_client(use_cookies=False)
        with app.test_request_context():
            self.token = launch_token(launch.launch_id)

    def post(self, path: str, pairs, *, accept: str = "text/html"):
        head = [("launch_id", self.launch_id), ("csrf_token", self.token)]
        return self.client.post(path, data=form_body(head + list(pairs)), content_type=FORM, headers={"Accept": accept})

    def post_json(self, path: str, payload):
        headers = {"X-Launch-Id": self.launch_id, "X-CSRF-Token": self.token, "Accept": "application/json"}
        return self.client.post(path, json=payload, headers=headers)


@pytest.fixture
def studio(app):
    """Tom's placed course with a module, one item of each editable kind and a quiz with every question type."""
    lms = FakeLms(app)
    tom = lms.launch(sub="tom")
    with app.app_context():
        a = actor(tom)
        course = service.create_course(a, form(title="Astronomy"))
        module = service.create_module(a, course, form(title="Week 1"))
        service.create_module(a, course, form(title="Week 2"))
        page = service.save_item(a, kind="page", form=form(title="Intro", body="<p>Look up.</p>"), module=module)
        link = service.save_item(a, kind="link", form=form(title="NASA", url="https://www.nasa.gov/"), module=module)
        quiz = service.save_item(a, kind="quiz", form=form(title="Quiz 1"), module=module)
        questions = {
            "single": form(kind="single", prompt="Closest star?", choice_dash_1="Sun", choice_dash_2="Sirius", correct="1"),
            "multiple": form(kind="multiple", prompt="Planets?", choice_dash_1="Mars", choice_dash_2="Moon", correct="1"),
            "numeric": form(kind="numeric", prompt="How many planets?", numeric_answer="8", numeric_tolerance="0"),
            "text": form(kind="text", prompt="Our star?", accepted_answers="Sun\nSol"),
        }
        question_ids = {kind: service.save_question(a, quiz, values).id for kind, values in questions.items()}
        db.session.add(CoursePlacement(platform_id=tom.platform_id, course_pk=course.id, context_pk=tom.context_pk))
        db.session.commit()
        ids = {
            "course": course.public_id,
            "module": module.public_id,
            "page": page.public_id,
            "link": link.public_id,
            "quiz": quiz.public_id,
            "questions": question_ids,
        }
    return {"lms": lms, "tom": Poster(app, tom), **ids}


COURSE_FIELDS = ["title", "description"]
ITEM_FIELDS = ["kind", "title", "summary", "body", "url", "alt_text", "caption_language", "remove_captions",
               "attempts_allowed", "due_at", "due_timezone", "show_answers", "grade_policy"]
QUESTION_FIELDS = ["kind", "prompt", "feedback", "points", "choice-1", "choice-2", "choice-3", "correct",
                   "numeric_answer", "numeric_tolerance", "accepted_answers"]


def _paths(studio) -> dict[str, tuple[str, list[str]]]:
    """Each state-changing course form, with the fields its page sends."""
    c, mod, page, link, quiz = studio["course"], studio["module"], studio["page"], studio["link"], studio["quiz"]
    q = studio["questions"]
    return {
        "create course": ("/courses/", COURSE_FIELDS),
        "edit course": (f"/courses/c/{c}", COURSE_FIELDS),
        "publish course": (f"/courses/c/{c}/publish", ["published"]),
        "create module": (f"/courses/c/{c}/modules", ["title"]),
        "edit module": (f"/courses/m/{mod}", ["title"]),
        "publish module": (f"/courses/m/{mod}/publish", ["published"]),
        "move module": (f"/courses/m/{mod}/move", ["direction"]),
        "create item": (f"/courses/m/{mod}/items", ITEM_FIELDS),
        "edit page (rich text)": (f"/courses/i/{page}", ITEM_FIELDS),
        "edit link": (f"/courses/i/{link}", ITEM_FIELDS),
        "edit quiz": (f"/courses/i/{quiz}", ITEM_FIELDS),
        "publish item": (f"/courses/i/{page}/publish", ["published", "next"]),
        "move item": (f"/courses/i/{page}/move", ["direction"]),
        "create question": (f"/courses/i/{quiz}/questions", QUESTION_FIELDS),
        "edit single question": (f"/courses/i/{quiz}/questions/{q['single']}", QUESTION_FIELDS),
        "edit multiple question": (f"/courses/i/{quiz}/questions/{q['multiple']}", QUESTION_FIELDS),
        "edit numeric question": (f"/courses/i/{quiz}/questions/{q['numeric']}", QUESTION_FIELDS),
        "edit text question": (f"/courses/i/{quiz}/questions/{q['text']}", QUESTION_FIELDS),
        "move question": (f"/courses/i/{quiz}/questions/{q['text']}/move", ["direction"]),
    }


FORMS = [
    "create course", "edit course", "publish course", "create module", "edit module", "publish module",
    "move module", "create item", "edit page (rich text)", "edit link", "edit quiz", "publish item", "move item",
    "create question", "edit single question", "edit multiple question", "edit numeric question",
    "edit text question", "move question",
]


@pytest.mark.parametrize("name", FORMS)
def test_teacher_forms_survive_hostile_fields(app, studio, name):
    path, fields = _paths(studio)[name]

    @HOSTILE
    @given(pairs=hostile_fields(fields), accept=st.sampled_from(["text/html", "application/json"]))
    def check(pairs, accept):
        before = row_counts(app)
        response = studio["tom"].post(path, pairs, accept=accept)
        assert_refused_or_fine(app, response, before)

    check()


@pytest.mark.parametrize("name", ["edit quiz", "create question", "edit numeric question", "edit single question"])
def test_every_nasty_value_in_every_field(app, studio, name):
    """Deterministic sweep: each nasty value in all fields at once (random sampling can miss one)."""
    path, fields = _paths(studio)[name]
    for value in [s.encode("utf-8") for s in NASTY_STRINGS] + NASTY_BYTES:
        before = row_counts(app)
        response = studio["tom"].post(path, [(field, value) for field in fields])
        assert_refused_or_fine(app, response, before)


@pytest.mark.parametrize("name", ["create course", "create item", "create question", "edit quiz", "publish course"])
def test_teacher_forms_refuse_json_of_any_shape(app, studio, name):
    """The forms read form fields; a JSON body of any shape is refused like an empty form."""
    path, _ = _paths(studio)[name]

    @HOSTILE
    @given(payload=json_values())
    def check(payload):
        before = row_counts(app)
        response = studio["tom"].post_json(path, payload)
        assert_refused_or_fine(app, response, before)
        assert 400 <= response.status_code < 500

    check()


@HOSTILE
@given(ident=st.text(max_size=80).filter(lambda s: "/" not in s and s not in ("", ".", "..")))
def test_unknown_or_malformed_ids_in_paths_are_404s(app, studio, ident):
    before = row_counts(app)
    for path in (f"/courses/c/{ident}", f"/courses/m/{ident}/publish", f"/courses/i/{ident}/move"):
        response = studio["tom"].post(path, [("published", "1"), ("direction", "up")])
        assert_refused_or_fine(app, response, before)
        assert response.status_code in (400, 404)


# --- deep linking selection -----------------------------------------------------------------------


@HOSTILE
@given(pairs=hostile_fields(["pick", "action"]))
def test_deep_link_selection_survives_hostile_picks(app, studio, pairs):
    tom_dl = Poster(app, studio["lms"].launch(sub="tom", deep_linking=dl_settings()))
    before = row_counts(app)
    response = tom_dl.post("/courses/deep-link", pairs)
    assert_refused_or_fine(app, response, before)


def test_deep_link_selection_with_unknown_and_foreign_picks_is_refused(app, studio):
    tom_dl = Poster(app, studio["lms"].launch(sub="tom", deep_linking=dl_settings()))
    eve = studio["lms"].launch(sub="eve")
    with app.app_context():
        foreign = service.create_course(actor(eve), form(title="Eve's")).public_id
    before = row_counts(app)
    for pick in (f"course:{foreign}", "course:" + "A" * 20, "item:../../x", "course:" + studio["course"] + "\x00"):
        response = tom_dl.post("/courses/deep-link", [("pick", pick)])
        assert response.status_code in (400, 403, 404), pick
    assert row_counts(app) == before


@HOSTILE
@given(settings_claim=json_values())
def test_deep_link_requests_with_any_settings_claim_never_fail(app, studio, settings_claim):
    """A platform's deep-linking settings of the wrong shape get a clear refusal, never a 500."""
    launch = studio["lms"].launch(sub="tom", deep_linking=settings_claim if isinstance(settings_claim, dict) else {"x": settings_claim})
    poster = Poster(app, launch)
    get = poster.client.get("/courses/deep-link", query_string={"launch_id": launch.launch_id})
    assert get.status_code < 500, get.get_data(as_text=True)[:500]
    before = row_counts(app)
    response = poster.post("/courses/deep-link", [("pick", f"course:{studio['course']}")])
    assert_refused_or_fine(app, response, before)


# --- the door: launch ids and CSRF tokens ----------------------------------------------------------

HOSTILE_TOKENS = ["", "é" * 64, "\x00" * 64, "a" * 10_000, "\u202e" + "a" * 63, "0" * 64]


def test_hostile_csrf_tokens_are_refused_not_crashed(app, studio):
    for token in HOSTILE_TOKENS:
        check_csrf_token(app, studio, token)


def check_csrf_token(app, studio, token):
    tom = studio["tom"]
    before = row_counts(app)
    body = form_body([("launch_id", tom.launch_id), ("csrf_token", token), ("title", "Sneaky")])
    by_form = tom.client.post("/courses/", data=body, content_type=FORM)
    # Headers travel as Latin-1: send what fits.
    header = token.encode("utf-8").decode("latin-1")
    by_header = tom.client.post(
        "/courses/", json={"title": "Sneaky"}, headers={"X-Launch-Id": tom.launch_id, "X-CSRF-Token": header}
    )
    for response in (by_form, by_header):
        assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert row_counts(app) == before


@HOSTILE
@given(launch_id=st.text(max_size=200), where=st.sampled_from(["form", "query", "header"]))
def test_hostile_launch_ids_are_refused(app, studio, launch_id, where):
    client = studio["tom"].client
    before = row_counts(app)
    if where == "form":
        response = client.post("/courses/", data=form_body([("launch_id", launch_id), ("title", "x")]), content_type=FORM)
    elif where == "query":
        response = client.get("/courses/", query_string={"launch_id": launch_id})
    else:
        header = launch_id.encode("utf-8", "surrogatepass").decode("latin-1").replace("\n", "").replace("\r", "")
        response = client.get("/courses/", headers={"X-Launch-Id": header})
    assert_refused_or_fine(app, response, before)
    assert 400 <= response.status_code < 500


# --- grades, notifications, analytics ---------------------------------------------------------------

HUGE_IDS = ["0", "2147483648", "9223372036854775808", "99999999999999999999999999"]


def test_out_of_range_ids_in_paths_are_404s(app, studio):
    for number in HUGE_IDS:
        check_out_of_range_id(app, studio, number)


def check_out_of_range_id(app, studio, number):
    tom = studio["tom"]
    before = row_counts(app)
    posts = [
        f"/notifications/{number}/read",
        f"/courses/i/{studio['quiz']}/questions/{number}",
        f"/courses/i/{studio['quiz']}/questions/{number}/move",
    ]
    for path in posts:
        response = tom.post(path, [("direction", "up"), ("prompt", "x")])
        assert response.status_code in (404, 405), (path, response.status_code)
    for path in (f"/analytics/contexts/{number}", f"/courses/i/{studio['quiz']}/questions/{number}"):
        response = tom.client.get(path, query_string={"launch_id": tom.launch_id})
        assert response.status_code in (403, 404), (path, response.status_code)
    assert row_counts(app) == before


ACTION_BUTTONS = ["/grades/retry-failed", "/grades/resend-all", "/grades/roster/sync", "/notifications/read-all"]


def test_action_buttons_ignore_hostile_extra_fields(app, studio):
    @HOSTILE
    @given(path=st.sampled_from(ACTION_BUTTONS), pairs=hostile_fields(["count", "notice", "id"]))
    def check(path, pairs):
        before = row_counts(app)
        response = studio["tom"].post(path, pairs)
        assert_refused_or_fine(app, response, before)

    check()


@pytest.mark.parametrize("role", ["instructor", "learner"])
def test_notification_preferences_survive_hostile_fields(app, studio, role):
    poster = Poster(app, studio["lms"].launch(sub=f"someone-{role}", role=role))
    names = ["email_item_published", "email_due_soon", "email_grade_delivered", "email_grade_failed", "email_roster_digest"]

    @HOSTILE
    @given(pairs=hostile_fields(names))
    def check(pairs):
        before = row_counts(app)
        response = poster.post("/notifications/preferences", pairs)
        assert_refused_or_fine(app, response, before)

    check()


QUERY_VALUES = st.one_of(
    st.sampled_from(["", "-1", "0", "7", "365", "366", "1e3", "NaN", "9" * 5000, "١٢", "2025-01-31", "2025-02-30",
                     "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "2025-01-31T08:00:00",
                     "2025-01-31T08:00:00Z", "\x00", "x" * 10_000]),
    st.text(max_size=40),
)


@HOSTILE
@given(params=st.dictionaries(st.sampled_from(["days", "inactive", "since", "until", "all", "notice", "count", "before", "attempt"]), QUERY_VALUES))
def test_query_parameters_never_fail(app, studio, params):
    tom = studio["tom"]
    lms_launch = studio["lms"].launch(sub="tom")
    context = lms_launch.context_pk
    before = row_counts(app)
    for path in (f"/analytics/contexts/{context}", f"/analytics/contexts/{context}/export/activity.csv",
                 f"/analytics/contexts/{context}/xapi.json", "/analytics/me", "/grades/", "/notifications/",
                 f"/courses/view/item/{studio['quiz']}"):
        response = tom.client.get(path, query_string={"launch_id": lms_launch.launch_id, **params})
        assert response.status_code < 500, (path, params, response.get_data(as_text=True)[:300])
        response.close()
    del before  # pages read; what they log (views, analytics catch-up) is not the point here
