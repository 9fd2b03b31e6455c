"""Domain rules of courses: grading, ordering, publishing, access across contexts and platforms."""

from datetime import datetime, timedelta, timezone

import jwt
import pytest
from sqlalchemy import func, select

from courses import service
from courses.models import Course, CoursePlacement, Item, Module, Question
from grades.models import Attempt
from keys import service as keys_service
from lti_tool.db import db
from lti_tool.events import Event
from tests.courses.conftest import actor, dl_settings, form


@pytest.fixture
def teacher(lms):
    return lms.launch(sub="tom", role="instructor")


def make_course(a, title="Astronomy"):
    course = service.create_course(a, form(title=title))
    module = service.create_module(a, course, form(title="Week 1"))
    return course, module


def add_quiz(a, module, title="Quiz 1", **settings):
    item = service.save_item(a, kind="quiz", form=form(title=title, **settings), module=module)
    return item


def add_question(a, item, kind, **fields):
    return service.save_question(a, item, form(kind=kind, **fields))


# --- grading ------------------------------------------------------------------------------------


@pytest.fixture
def quiz(app, teacher):
    with app.app_context():
        a = actor(teacher)
        _, module = make_course(a)
        item = add_quiz(a, module)
        add_question(a, item, "single", prompt="Closest star?", points="2", choice_dash_1="Sun", choice_dash_2="Sirius", correct="1")
        add_question(a, item, "multiple", prompt="Planets?", choice_dash_1="Mars", choice_dash_2="Moon", choice_dash_3="Venus", correct=["1", "3"])
        add_question(a, item, "numeric", prompt="Pi?", numeric_answer="3.14", numeric_tolerance="0.01", points="1.5")
        add_question(a, item, "text", prompt="Our galaxy?", accepted_answers="Milky Way\nThe Milky Way")
        return item.public_id


def answers(item, single="c1", multiple=("c1", "c3"), numeric="3.14", text="milky way", **extra):
    q = {question.kind: service.field_name(question) for question in item.questions}
    values = {q["single"]: [single], q["multiple"]: list(multiple), q["numeric"]: [numeric], q["text"]: [text]}
    values.update(extra)
    return {name: value for name, value in values.items() if value != [None]}


def load(public_id):
    return db.session.scalar(select(Item).where(Item.public_id == public_id))


def test_all_right_scores_full_marks(app_ctx, quiz):
    item = load(quiz)
    graded = service.grade(item, answers(item))
    assert graded.score == graded.max_score == 5.5
    assert all(answer["correct"] for answer in graded.answers.values())


@pytest.mark.parametrize(
    "numeric, correct",
    [("3.14", True), ("3.15", True), ("3.13", True), ("3.1500", True), ("3,145", True), ("3.151", False),
     ("3.129", False), ("+3.14", True), ("314e-2", True), ("-3.14", False)],
)
def test_numeric_answers_count_within_the_tolerance_exactly(app_ctx, quiz, numeric, correct):
    item = load(quiz)
    graded = service.grade(item, answers(item, numeric=numeric))
    numeric_question = next(q for q in item.questions if q.kind == "numeric")
    assert graded.answers[str(numeric_question.id)]["correct"] is correct
    assert graded.score == (5.5 if correct else 4.0)


@pytest.mark.parametrize("text, correct", [("Milky Way", True), ("  the   MILKY way ", True), ("milkyway", False), ("Andromeda", False), ("ｍｉｌｋｙ　ｗａｙ", True)])
def test_short_text_ignores_case_and_spacing(app_ctx, quiz, text, correct):
    item = load(quiz)
    graded = service.grade(item, answers(item, text=text))
    question = next(q for q in item.questions if q.kind == "text")
    assert graded.answers[str(question.id)]["correct"] is correct


@pytest.mark.parametrize("chosen, correct", [(("c1", "c3"), True), (("c3", "c1"), True), (("c1",), False), (("c1", "c2", "c3"), False)])
def test_multiple_choice_needs_exactly_the_right_set(app_ctx, quiz, chosen, correct):
    item = load(quiz)
    graded = service.grade(item, answers(item, multiple=chosen))
    question = next(q for q in item.questions if q.kind == "multiple")
    assert graded.answers[str(question.id)]["correct"] is correct
    assert graded.answers[str(question.id)]["points"] == (1.0 if correct else 0.0)


def test_single_choice_wrong_answer_scores_nothing_for_it(app_ctx, quiz):
    item = load(quiz)
    graded = service.grade(item, answers(item, single="c2"))
    assert graded.score == 3.5


@pytest.mark.parametrize(
    "change, problem",
    [
        ({"single": None}, "Choose an answer"),
        ({"multiple": ()}, "Choose at least one answer"),
        ({"numeric": ""}, "Enter an answer"),
        ({"numeric": "three"}, "Enter a number"),
        ({"numeric": "nan"}, "Enter a number"),
        ({"numeric": "inf"}, "Enter a number"),
        ({"single": "c9"}, "not one of the choices"),
        ({"multiple": ("c1", "c1")}, "sent twice"),
        ({"multiple": ("c1", "zz")}, "not one of the choices"),
        ({"text": "x" * 501}, "at most 500"),
    ],
)
def test_missing_and_malformed_answers_name_the_question(app_ctx, quiz, change, problem):
    item = load(quiz)
    (kind, value), = change.items()
    question = next(q for q in item.questions if q.kind == kind)
    name = service.field_name(question)
    values = answers(item)
    if value is None:
        del values[name]
    else:
        values[name] = list(value) if isinstance(value, tuple) else [value]
    with pytest.raises(service.InvalidInput) as caught:
        service.grade(item, values)
    assert problem in caught.value.fields[name]
    assert list(caught.value.fields) == [name]


def test_two_values_for_a_single_answer_question_are_refused(app_ctx, quiz):
    item = load(quiz)
    values = answers(item)
    single = next(service.field_name(q) for q in item.questions if q.kind == "single")
    numeric = next(service.field_name(q) for q in item.questions if q.kind == "numeric")
    values[single] = ["c1", "c2"]
    values[numeric] = ["1", "2"]
    with pytest.raises(service.InvalidInput) as caught:
        service.grade(item, values)
    assert set(caught.value.fields) == {single, numeric}


def test_extra_answers_are_refused(app_ctx, quiz):
    item = load(quiz)
    with pytest.raises(service.InvalidInput, match="does not ask for"):
        service.grade(item, answers(item, **{"q-999999": ["x"]}))
    with pytest.raises(service.InvalidInput, match="does not ask for"):
        service.grade(item, answers(item, **{"score": ["100"]}))


# --- authoring: validation, ordering, publishing ---------------------------------------------------


def test_course_form_errors_name_each_field_and_store_nothing(app_ctx, teacher):
    a = actor(teacher)
    with pytest.raises(service.InvalidInput) as caught:
        service.create_course(a, form(title="  ", description="x" * 5001))
    assert set(caught.value.fields) == {"title", "description"}
    assert db.session.scalar(select(func.count()).select_from(Course)) == 0


@pytest.mark.parametrize(
    "kind, fields, field",
    [
        ("link", {"url": "javascript:alert(1)"}, "url"),
        ("link", {"url": ""}, "url"),
        ("page", {"body": "<script>alert(1)</script>"}, "body"),
        ("image", {"alt_text": ""}, "alt_text"),
        ("quiz", {"attempts_allowed": "0"}, "attempts_allowed"),
        ("quiz", {"attempts_allowed": "two"}, "attempts_allowed"),
        ("quiz", {"due_at": "tomorrow"}, "due_at"),
        ("quiz", {"due_at": "2030-01-01T10:00", "due_timezone": "Mars/Olympus"}, "due_at"),
        ("quiz", {"show_answers": "after_due"}, "show_answers"),
        ("quiz", {"show_answers": "always"}, "show_answers"),
        ("quiz", {"grade_policy": "lowest"}, "grade_policy"),
        ("video", {"caption_language": "english!"}, "caption_language"),
    ],
)
def test_item_form_errors(app_ctx, teacher, kind, fields, field):
    a = actor(teacher)
    _, module = make_course(a)
    with pytest.raises(service.InvalidInput) as caught:
        service.save_item(a, kind=kind, form=form(title="T", **fields), module=module)
    assert field in caught.value.fields
    assert db.session.scalar(select(func.count()).select_from(Item)) == 0


def test_a_media_item_needs_its_file(app_ctx, teacher):
    a = actor(teacher)
    _, module = make_course(a)
    with pytest.raises(service.InvalidInput) as caught:
        service.save_item(a, kind="video", form=form(title="Launch"), module=module)
    assert caught.value.fields == {"file": "Choose the video file to upload."}


def test_pages_are_sanitised_when_saved(app_ctx, teacher):
    a = actor(teacher)
    _, module = make_course(a)
    item = service.save_item(
        a, kind="page", form=form(title="Intro", body='<p onclick="x()">Hello<script>alert(1)</script></p><a href="javascript:x">l</a>'), module=module
    )
    assert item.body_html == '<p>Hello</p><a rel="noopener noreferrer nofollow">l</a>'


def test_due_dates_are_read_in_the_teachers_time_zone(app_ctx, teacher):
    a = actor(teacher)
    _, module = make_course(a)
    item = add_quiz(a, module, due_at="2030-07-01T17:00", due_timezone="Europe/Paris", show_answers="after_due")
    assert item.due_at == datetime(2030, 7, 1, 15, 0, tzinfo=timezone.utc)
    assert service.due_local(item).strftime("%H:%M") == "17:00"


def test_question_form_errors(app_ctx, teacher):
    a = actor(teacher)
    _, module = make_course(a)
    item = add_quiz(a, module)
    cases = [
        ({"kind": "single", "prompt": "Q", "choice_dash_1": "A", "choice_dash_2": "B"}, "correct"),
        ({"kind": "single", "prompt": "Q", "choice_dash_1": "A", "choice_dash_2": "B", "correct": ["1", "2"]}, "correct"),
        ({"kind": "single", "prompt": "Q", "choice_dash_1": "A", "correct": "1"}, "choice-1"),
        ({"kind": "multiple", "prompt": "Q", "choice_dash_1": "A", "choice_dash_2": "a", "correct": "1"}, "choice-1"),
        ({"kind": "multiple", "prompt": "Q", "choice_dash_1": "A", "choice_dash_2": "B", "correct": "3"}, "correct"),
        ({"kind": "numeric", "prompt": "Q", "numeric_answer": "pi"}, "numeric_answer"),
        ({"kind": "numeric", "prompt": "Q", "numeric_answer": "1", "numeric_tolerance": "-1"}, "numeric_tolerance"),
        ({"kind": "text", "prompt": "Q", "accepted_answers": "  \n "}, "accepted_answers"),
        ({"kind": "text", "prompt": "", "accepted_answers": "a"}, "prompt"),
        ({"kind": "text", "prompt": "Q", "accepted_answers": "a", "points": "0"}, "points"),
        ({"kind": "text", "prompt": "Q", "accepted_answers": "a", "points": "1.005"}, "points"),
        ({"kind": "essay", "prompt": "Q"}, "kind"),
    ]
    for fields, field in cases:
        with pytest.raises(service.InvalidInput) as caught:
            service.save_question(a, item, form(**fields))
        assert field in caught.value.fields, fields
    assert db.session.scalar(select(func.count()).select_from(Question)) == 0


def test_reordering_modules_items_and_questions(app_ctx, teacher):
    a = actor(teacher)
    course, first = make_course(a)
    second = service.create_module(a, course, form(title="Week 2"))
    assert [m.title for m in course.modules] == ["Week 1", "Week 2"]
    assert service.move_module(a, second, "up") is True
    assert [m.title for m in db.session.get(Course, course.id).modules] == ["Week 2", "Week 1"]
    assert service.move_module(a, second, "up") is False  # already first

    pages = [service.save_item(a, kind="page", form=form(title=t, body="<p>x</p>"), module=first) for t in "ABC"]
    service.move_item(a, pages[2], "up")
    service.move_item(a, pages[0], "down")
    assert [i.title for i in db.session.get(Module, first.id).items] == ["C", "A", "B"]
    assert [i.position for i in db.session.get(Module, first.id).items] == [0, 1, 2]
    with pytest.raises(service.InvalidInput):
        service.move_item(a, pages[0], "sideways")

    service.delete_item(a, pages[1])
    assert [(i.title, i.position) for i in db.session.get(Module, first.id).items] == [("C", 0), ("A", 1)]

    quiz = add_quiz(a, first)
    q1 = add_question(a, quiz, "text", prompt="one", accepted_answers="1")
    q2 = add_question(a, quiz, "text", prompt="two", accepted_answers="2")
    service.move_question(a, q2, "up")
    assert [q.prompt for q in db.session.get(Item, quiz.id).questions] == ["two", "one"]
    assert q1.position == 1


def test_publish_rules(app_ctx, teacher):
    a = actor(teacher)
    course, module = make_course(a)
    quiz = add_quiz(a, module)
    with pytest.raises(service.InvalidInput, match="at least one question"):
        service.set_item_published(a, quiz, True)
    assert not quiz.published
    add_question(a, quiz, "text", prompt="Q", accepted_answers="a")
    service.set_item_published(a, quiz, True)
    assert quiz.published
    with pytest.raises(service.InvalidInput, match="unpublish it first"):
        service.delete_question(a, quiz.questions[0])
    link = service.save_item(a, kind="link", form=form(title="NASA", url="https://nasa.gov"), module=module)
    service.set_item_published(a, link, True)
    service.set_item_published(a, link, False)
    assert not link.published


def test_publishing_an_item_of_a_placed_course_announces_it_in_each_placing_context(app, lms):
    tom = lms.launch(sub="tom", context="course-1")
    other_context = lms.launch(sub="tom", context="course-2")
    with app.app_context():
        a = actor(tom)
        course, module = make_course(a)
        link = service.save_item(a, kind="link", form=form(title="NASA", url="https://nasa.gov"), module=module)
        for launch in (tom, other_context):
            db.session.add(CoursePlacement(platform_id=tom.platform_id, course_pk=course.id, context_pk=launch.context_pk))
        db.session.commit()
        service.set_item_published(a, link, True)
        service.set_item_published(a, link, True)  # already published: no second announcement
        events = db.session.scalars(select(Event).where(Event.kind == "item_published")).all()
        assert sorted(e.context_pk for e in events) == sorted([tom.context_pk, other_context.context_pk])
        assert all(e.data == {"item_id": link.id} for e in events)


# --- access -----------------------------------------------------------------------------------------


@pytest.fixture
def placed(app, lms):
    """Tom's course with two published modules of published pages, placed in course-1."""
    tom = lms.launch(sub="tom", context="course-1")
    with app.app_context():
        a = actor(tom)
        course, m1 = make_course(a)
        m2 = service.create_module(a, course, form(title="Week 2"))
        p1 = service.save_item(a, kind="page", form=form(title="P1", body="<p>1</p>"), module=m1)
        p2 = service.save_item(a, kind="page", form=form(title="P2", body="<p>2</p>"), module=m2)
        for row in (course, m1, m2, p1, p2):
            row.published = True
        db.session.add(CoursePlacement(platform_id=tom.platform_id, course_pk=course.id, context_pk=tom.context_pk))
        other = service.create_course(a, form(title="Unplaced"))
        db.session.commit()
        return {
            "tom": tom, "course": course.public_id, "m1": m1.public_id, "m2": m2.public_id,
            "p1": p1.public_id, "p2": p2.public_id, "other": other.public_id,
        }


def test_learner_reaches_only_what_their_link_names(app, lms, placed):
    item_link = lms.launch(sub="ada", role="learner", custom={"course_item": placed["p1"]})
    module_link = lms.launch(sub="ada", role="learner", custom={"course_module": placed["m1"]}, link="link-2")
    course_link = lms.launch(sub="ada", role="learner", custom={"course_outline": placed["course"]}, link="link-3")
    with app.app_context():
        item, viewing = service.item_for_viewing(actor(item_link), placed["p1"])
        assert item.title == "P1" and viewing == service.Viewing(False, None)
        with pytest.raises(service.Forbidden):
            service.item_for_viewing(actor(item_link), placed["p2"])
        with pytest.raises(service.Forbidden):
            service.module_for_viewing(actor(item_link), placed["m1"])

        service.item_for_viewing(actor(module_link), placed["p1"])
        with pytest.raises(service.Forbidden):
            service.item_for_viewing(actor(module_link), placed["p2"])
        with pytest.raises(service.Forbidden):
            service.course_for_viewing(actor(module_link), placed["course"])

        for public_id in ("p1", "p2"):
            service.item_for_viewing(actor(course_link), placed[public_id])
        service.course_for_viewing(actor(course_link), placed["course"])


def test_learner_of_another_context_is_refused(app, lms, placed):
    elsewhere = lms.launch(sub="ada", role="learner", context="course-2", custom={"course_item": placed["p1"]})
    with app.app_context():
        with pytest.raises(service.Forbidden, match="not part of the LMS course"):
            service.item_for_viewing(actor(elsewhere), placed["p1"])


def test_the_same_ids_from_another_platform_are_refused(app, lms, placed):
    other = lms.launch(issuer="https://other-lms.example.org", sub="tom", role="instructor", custom={"course_item": placed["p1"]})
    with app.app_context():
        a = actor(other)
        with pytest.raises(service.Forbidden, match="another LMS"):
            service.item_for_viewing(a, placed["p1"])
        with pytest.raises(service.Forbidden, match="another LMS"):
            service.course_for_edit(a, placed["course"])
        assert service.editable_courses(a) == []


def test_unknown_and_malformed_ids_are_not_found(app_ctx, placed):
    a = actor(placed["tom"])
    for public_id in ("A" * 22, "../etc/passwd", ""):
        with pytest.raises(service.NotFound):
            service.item_for_viewing(a, public_id)


def test_co_teachers_edit_placed_courses_but_only_owners_delete(app, lms, placed):
    grace = lms.launch(sub="grace", role="instructor", context="course-1")
    stranger = lms.launch(sub="sam", role="instructor", context="course-2")
    with app.app_context():
        co = actor(grace)
        course = service.course_for_edit(co, placed["course"])
        assert [c.public_id for c in service.editable_courses(co)] == [placed["course"]]
        service.update_course(co, course, form(title="Astronomy II"))
        with pytest.raises(service.Forbidden, match="Only the teacher who made"):
            service.delete_course(co, course)
        with pytest.raises(service.Forbidden):
            service.course_for_edit(co, placed["other"])  # not placed here
        with pytest.raises(service.Forbidden):
            service.course_for_edit(actor(stranger), placed["course"])
        # A learner is never an editor, even of a course placed in their context.
        ada = lms.launch(sub="ada", role="learner", context="course-1")
        assert not service.can_edit(actor(ada), course)


def test_drafts_show_a_friendly_message_to_learners_and_previews_to_editors(app, lms, placed):
    with app.app_context():
        item = db.session.scalar(select(Item).where(Item.public_id == placed["p1"]))
        item.module.published = False
        db.session.commit()
    ada = lms.launch(sub="ada", role="learner", custom={"course_item": placed["p1"]})
    with app.app_context():
        _, viewing = service.item_for_viewing(actor(ada), placed["p1"])
        assert viewing.unavailable.startswith("This module is not open yet")
        _, preview = service.item_for_viewing(actor(placed["tom"]), placed["p1"])
        assert preview == service.Viewing(True, None)


# --- quiz submission ----------------------------------------------------------------------------------


@pytest.fixture
def open_quiz(app, lms):
    tom = lms.launch(sub="tom")
    with app.app_context():
        a = actor(tom)
        course, module = make_course(a)
        quiz = add_quiz(a, module, attempts_allowed="2")
        add_question(a, quiz, "text", prompt="Our galaxy?", accepted_answers="Milky Way")
        for row in (course, module, quiz):
            row.published = True
        db.session.add(CoursePlacement(platform_id=tom.platform_id, course_pk=course.id, context_pk=tom.context_pk))
        db.session.commit()
        public_id = quiz.public_id
    ada = lms.launch(sub="ada", role="learner", custom={"course_item": public_id})
    return public_id, ada


def submit(public_id, launch, text="milky way", now=None):
    a = actor(launch)
    item, viewing = service.item_for_viewing(a, public_id)
    return service.submit_quiz(a, item, viewing, {service.field_name(item.questions[0]): [text]}, now=now)


def test_a_submission_records_the_attempt_and_its_event_together(app_ctx, open_quiz):
    public_id, ada = open_quiz
    attempt = submit(public_id, ada)
    assert (attempt.number, attempt.score, attempt.max_score) == (1, 1.0, 1.0)
    event = db.session.scalar(select(Event).where(Event.kind == "quiz_submitted"))
    assert event.data == {"item_id": attempt.item_id, "attempt_id": attempt.id, "score": 1.0, "max_score": 1.0}
    assert event.user_pk == ada.user_pk and event.context_pk == ada.context_pk
    stored = db.session.get(Attempt, attempt.id)
    assert stored.resource_link_pk == ada.resource_link_pk
    assert list(stored.answers.values())[0]["answer"] == "milky way"


def test_attempts_beyond_the_limit_are_refused_and_store_nothing(app_ctx, open_quiz):
    public_id, ada = open_quiz
    submit(public_id, ada)
    submit(public_id, ada, text="wrong")
    with pytest.raises(service.Closed, match="all 2 attempt"):
        submit(public_id, ada)
    assert db.session.scalar(select(func.count()).select_from(Attempt)) == 2
    assert db.session.scalar(select(func.count()).select_from(Event).where(Event.kind == "quiz_submitted")) == 2


def test_submissions_after_the_due_date_are_refused(app_ctx, open_quiz):
    public_id, ada = open_quiz
    item = load(public_id)
    item.due_at = datetime.now(timezone.utc) - timedelta(minutes=1)
    db.session.commit()
    with pytest.raises(service.Closed, match="due date has passed"):
        submit(public_id, ada)
    assert db.session.scalar(select(func.count()).select_from(Attempt)) == 0


def test_previews_record_nothing(app_ctx, open_quiz, lms):
    public_id, _ = open_quiz
    tom = lms.launch(sub="tom")
    with pytest.raises(service.Forbidden, match="preview"):
        submit(public_id, tom)


def test_show_answers_policy():
    item = Item(show_answers="never")
    assert not service.answers_visible(item)
    item.show_answers = "after_attempt"
    assert service.answers_visible(item)
    item.show_answers = "after_due"
    item.due_at = datetime.now(timezone.utc) + timedelta(hours=1)
    assert not service.answers_visible(item)
    assert service.answers_visible(item, now=item.due_at + timedelta(seconds=1))


def test_grading_info_for_the_grades_package(app_ctx, open_quiz):
    public_id, ada = open_quiz
    item = load(public_id)
    info = service.grading_info(platform_id=ada.platform_id, item_id=item.id)
    assert (info.public_id, info.max_score, info.grade_policy, info.attempts_allowed) == (public_id, 1.0, "highest", 2)
    assert service.grading_info(platform_id=ada.platform_id + 1, item_id=item.id) is None


# --- learner events -----------------------------------------------------------------------------------


def test_media_progress_is_clamped_and_validated(app_ctx, teacher, lms):
    a = actor(teacher)
    course, module = make_course(a)
    video = Item(public_id=service.new_public_id(), platform_id=course.platform_id, course_pk=course.id, module=module,
                 kind="video", title="V", media_key="video/x", published=True)
    course.published = module.published = True
    db.session.add(video)
    db.session.add(CoursePlacement(platform_id=course.platform_id, course_pk=course.id, context_pk=teacher.context_pk))
    db.session.commit()
    ada = actor(lms.launch(sub="ada", role="learner", custom={"course_item": video.public_id}))
    item, viewing = service.item_for_viewing(ada, video.public_id)
    assert service.record_progress(ada, item, viewing, {"position": 130.5, "duration": 120}) == {"position": 120.0, "duration": 120.0}
    assert service.record_progress(ada, item, viewing, {"position": 0, "duration": 60.25}) == {"position": 0.0, "duration": 60.25}
    bad = [
        {"position": -1, "duration": 10},
        {"position": "10", "duration": 10},
        {"position": True, "duration": 10},
        {"position": 1, "duration": 0},
        {"position": 1},
        {"position": 1, "duration": 10, "extra": 1},
        {"position": float("nan"), "duration": 10},
        [1, 2],
    ]
    for payload in bad:
        with pytest.raises(service.InvalidInput):
            service.record_progress(ada, item, viewing, payload)
    events = db.session.scalars(select(Event).where(Event.kind == "media_progress").order_by(Event.id)).all()
    assert [e.data["position"] for e in events] == [120.0, 0.0]


# --- deep linking ----------------------------------------------------------------------------------------


def test_deep_link_settings_are_read_leniently():
    claims = {"https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings": dl_settings(accept_multiple="false", accept_presentation_document_targets=["window"], data=...)}
    request = service.deep_link_request(claims)
    assert not request.accept_multiple and request.presentation == "window" and request.data is None
    absent = service.deep_link_request({"https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings": {"deep_link_return_url": "https://x.example/r"}})
    assert absent.accepts_resource_links and not absent.accept_multiple and absent.presentation is None
    with pytest.raises(service.InvalidInput):
        service.deep_link_request({})
    with pytest.raises(service.InvalidInput, match="not a web address"):
        service.deep_link_request({"https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings": {"deep_link_return_url": "javascript:alert(1)"}})


def test_placing_signs_one_resource_link_per_pick(app, lms):
    tom = lms.launch(sub="tom", deep_linking=dl_settings())
    with app.app_context():
        a = actor(tom)
        course, module = make_course(a)
        quiz = add_quiz(a, module, summary="Check yourself")
        add_question(a, quiz, "text", prompt="Q", accepted_answers="a", points="4")
        page = service.save_item(a, kind="page", form=form(title="Intro", body="<p>Hi</p>"), module=module)
        request, token = service.place_picks(
            a, client_pk=tom.client_pk, claims=tom.claims,
            values=[f"item:{quiz.public_id}", f"item:{page.public_id}", f"module:{module.public_id}", f"item:{quiz.public_id}"],
            launch_url="https://tool.example/lti/launch",
        )
        key = keys_service.active_key()
        claims = jwt.decode(token, key.public_pem, algorithms=["RS256"], audience="https://lms.example.edu")
        assert jwt.get_unverified_header(token)["kid"] == key.kid
        assert claims["iss"] == "tool-client"
        assert claims["https://purl.imsglobal.org/spec/lti/claim/message_type"] == "LtiDeepLinkingResponse"
        assert claims["https://purl.imsglobal.org/spec/lti/claim/deployment_id"] == "1"
        assert claims["https://purl.imsglobal.org/spec/lti-dl/claim/data"] == "opaque-platform-data"
        items = claims["https://purl.imsglobal.org/spec/lti-dl/claim/content_items"]
        assert [i["custom"] for i in items] == [{"course_item": quiz.public_id}, {"course_item": page.public_id}, {"course_module": module.public_id}]
        assert items[0] == {
            "type": "ltiResourceLink", "title": "Quiz 1", "url": "https://tool.example/lti/launch", "text": "Check yourself",
            "custom": {"course_item": quiz.public_id}, "iframe": {"width": 1024, "height": 768},
            "lineItem": {"scoreMaximum": 4.0, "label": "Quiz 1", "resourceId": quiz.public_id, "tag": "quiz"},
        }
        assert "lineItem" not in items[1] and "lineItem" not in items[2]
        placement = db.session.scalar(select(CoursePlacement))
        assert (placement.course_pk, placement.context_pk, placement.placed_by_pk) == (course.id, tom.context_pk, tom.user_pk)


def test_picks_of_someone_elses_course_are_refused_and_place_nothing(app, lms):
    owner = lms.launch(sub="tom", context="course-9")
    other = lms.launch(sub="grace", deep_linking=dl_settings())
    with app.app_context():
        course, _ = make_course(actor(owner))
        with pytest.raises(service.Forbidden):
            service.place_picks(actor(other), client_pk=other.client_pk, claims=other.claims,
                                values=[f"course:{course.public_id}"], launch_url="https://tool.example/lti/launch")
        assert db.session.scalar(select(func.count()).select_from(CoursePlacement)) == 0


@pytest.mark.parametrize(
    "settings, values, problem",
    [
        (dl_settings(accept_multiple=False), ["course:{c}", "module:{m}"], "only one"),
        (dl_settings(), [], "Pick something"),
        (dl_settings(), ["course:nope"], "not valid"),
        (dl_settings(), ["item:" + "Z" * 22], "no longer exists"),
        (dl_settings(accept_types=["file", "html"]), ["course:{c}"], "does not accept LTI links"),
        (dl_settings(), ["item:{q}"], "has no questions yet"),
    ],
)
def test_bad_picks(app, lms, settings, values, problem):
    tom = lms.launch(sub="tom", deep_linking=settings)
    with app.app_context():
        a = actor(tom)
        course, module = make_course(a)
        quiz = add_quiz(a, module)
        values = [v.format(c=course.public_id, m=module.public_id, q=quiz.public_id) for v in values]
        with pytest.raises(service.InvalidInput, match=problem):
            service.place_picks(a, client_pk=tom.client_pk, claims=tom.claims, values=values, launch_url="https://t.example/lti/launch")
        assert db.session.scalar(select(func.count()).select_from(CoursePlacement)) == 0


def test_line_items_are_left_out_when_the_platform_does_not_accept_them(app, lms):
    tom = lms.launch(sub="tom", deep_linking=dl_settings(accept_lineitem=False, accept_presentation_document_targets=["window"]))
    with app.app_context():
        a = actor(tom)
        _, module = make_course(a)
        quiz = add_quiz(a, module)
        _, token = service.place_picks(a, client_pk=tom.client_pk, claims=tom.claims, values=[f"item:{quiz.public_id}"],
                                       launch_url="https://t.example/lti/launch")
        item = jwt.decode(token, options={"verify_signature": False})["https://purl.imsglobal.org/spec/lti-dl/claim/content_items"][0]
        assert "lineItem" not in item and item["window"] == {"targetName": "course_studio"}


def test_cancel_answers_an_empty_response(app, lms):
    tom = lms.launch(sub="tom", deep_linking=dl_settings())
    with app.app_context():
        request, token = service.cancel_deep_link(actor(tom), client_pk=tom.client_pk, claims=tom.claims)
        claims = jwt.decode(token, keys_service.active_key().public_pem, algorithms=["RS256"], audience="https://lms.example.edu")
        assert claims["https://purl.imsglobal.org/spec/lti-dl/claim/content_items"] == []
        assert claims["https://purl.imsglobal.org/spec/lti-dl/claim/data"] == "opaque-platform-data"
        assert request.return_url == "https://lms.example.edu/deep-link-return?course=42&x=1"


def test_nul_characters_never_reach_the_database(app_ctx, teacher, lms):
    a = actor(teacher)
    course, module = make_course(a, title="Astro\x00nomy")
    quiz = add_quiz(a, module)
    add_question(a, quiz, "text", prompt="Q\x00?", accepted_answers="yes\x00\nsure")
    db.session.expire_all()
    assert db.session.get(Course, course.id).title == "Astronomy"
    question = db.session.get(Item, quiz.id).questions[0]
    assert (question.prompt, question.accepted_answers) == ("Q?", ["yes", "sure"])
    graded = service.grade(db.session.get(Item, quiz.id), {service.field_name(question): ["ye\x00s"]})
    assert graded.score == 1.0 and graded.answers[str(question.id)]["answer"] == "yes"
