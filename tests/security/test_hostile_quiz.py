"""Hostile quiz submissions from learners: never a 500, a refusal stores nothing, scores stay in [0, max]."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from courses import service
from courses.models import CoursePlacement, Item
from grades.models import Attempt, ScoreDelivery
from lti_tool.db import db, utcnow
from tests.courses.conftest import FakeLms, actor, form
from tests.security.hostile import HOSTILE, NASTY_BYTES, NASTY_STRINGS, assert_refused_or_fine, row_counts, text_values
from tests.security.test_hostile_forms import Poster

NUMBERS = ["1e309", "-1e309", "NaN", "-NaN", "sNaN", "Infinity", "-0", "+0", "0e999", "8e0", "8.000000000000000000001",
           "1e-999", "8,0", "٨", "８", "0x8", "8 ", " 8", "8\x00", "9" * 40, "9" * 41]


@pytest.fixture
def quizzes(app):
    """Two published quizzes in Tom's placed course (every question type in the first), and Ada's launch at it."""
    lms = FakeLms(app)
    tom = lms.launch(sub="tom")
    with app.app_context():
        a = actor(tom)
        course = service.create_course(a, form(title="Astronomy"))
        module = service.create_module(a, course, form(title="Week 1"))
        quiz = service.save_item(a, kind="quiz", form=form(title="Quiz 1"), module=module)
        other = service.save_item(a, kind="quiz", form=form(title="Quiz 2"), module=module)
        for target in (quiz, other):
            service.save_question(a, target, form(kind="single", prompt="Closest star?", choice_dash_1="Sun", choice_dash_2="Sirius", correct="1", points="2"))
        service.save_question(a, quiz, form(kind="multiple", prompt="Planets?", choice_dash_1="Mars", choice_dash_2="Moon", choice_dash_3="Venus", correct=["1", "3"]))
        service.save_question(a, quiz, form(kind="numeric", prompt="How many planets?", numeric_answer="8", numeric_tolerance="0.5", points="3"))
        service.save_question(a, quiz, form(kind="text", prompt="Our star?", accepted_answers="Sun\nSol"))
        for row in (course, module, quiz, other):
            row.published = True
        db.session.add(CoursePlacement(platform_id=tom.platform_id, course_pk=course.id, context_pk=tom.context_pk))
        db.session.commit()
        names = [service.field_name(q) for q in quiz.questions]
        foreign = [service.field_name(q) for q in other.questions]
        ids = {"quiz": quiz.public_id, "quiz_pk": quiz.id, "max": quiz.max_score}
    ada = lms.launch(sub="ada", role="learner", custom={"course_item": ids["quiz"]})
    return {**ids, "names": names, "foreign": foreign, "ada": Poster(app, ada), "lms": lms}


def scores_in_range(app) -> None:
    with app.app_context():
        for attempt in db.session.scalars(select(Attempt)):
            assert 0 <= attempt.score <= attempt.max_score, (attempt.score, attempt.max_score)
        for delivery in db.session.scalars(select(ScoreDelivery)):
            assert 0 <= delivery.score_given <= delivery.score_maximum
        db.session.remove()


def answer_pairs(names, foreign):
    """Answers for this quiz's questions, another quiz's, and made-up names; any count of each."""
    choice_ids = st.sampled_from(["c1", "c2", "c3", "c4", "c0", "c-1", "C1", "c1 ", ""])
    value = st.one_of(choice_ids.map(str.encode), st.sampled_from(NUMBERS).map(lambda s: s.encode()), text_values())
    name = st.one_of(
        st.sampled_from(names),
        st.sampled_from(foreign),
        st.sampled_from(["q-0", "q--1", "q-99999999999999999999", "q-", "q-1e3", "q-" + names[0][2:] + "\x00"]),
    )
    mine = st.lists(st.tuples(st.sampled_from(names), value), max_size=8)
    others = st.lists(st.tuples(name, value), max_size=2)
    return st.tuples(mine, others).map(lambda parts: parts[0] + parts[1])


@HOSTILE
@given(data=st.data())
def test_hostile_answers(app, quizzes, data):
    pairs = data.draw(answer_pairs(quizzes["names"], quizzes["foreign"]))
    before = row_counts(app)
    response = quizzes["ada"].post(f"/courses/view/item/{quizzes['quiz']}/attempts", pairs)
    assert_refused_or_fine(app, response, before)
    scores_in_range(app)


def test_numeric_answers_that_are_not_plain_numbers(app, quizzes):
    single, multiple, numeric, text = quizzes["names"]
    for number in NUMBERS:
        before = row_counts(app)
        pairs = [(single, "c1"), (multiple, "c1"), (multiple, "c3"), (numeric, number), (text, "sun")]
        response = quizzes["ada"].post(f"/courses/view/item/{quizzes['quiz']}/attempts", pairs)
        assert_refused_or_fine(app, response, before)
        if response.status_code == 303:
            with app.app_context():
                attempt = db.session.scalars(select(Attempt).order_by(Attempt.id.desc())).first()
                # Single, multiple and text are right (2 + 1 + 1); the numeric one only when it is ~8.
                assert attempt.score in (4.0, 7.0) and attempt.max_score == quizzes["max"], number
                db.session.remove()
    scores_in_range(app)


def test_nasty_values_in_every_answer(app, quizzes):
    for value in [s for s in NASTY_STRINGS if s] + [b.decode("latin-1") for b in NASTY_BYTES]:
        before = row_counts(app)
        pairs = [(name, value) for name in quizzes["names"]]
        response = quizzes["ada"].post(f"/courses/view/item/{quizzes['quiz']}/attempts", pairs)
        assert_refused_or_fine(app, response, before)
    scores_in_range(app)


def correct(quizzes):
    single, multiple, numeric, text = quizzes["names"]
    return [(single, "c1"), (multiple, "c1"), (multiple, "c3"), (numeric, "8"), (text, "Sun")]


def test_repeated_submissions_stop_at_the_attempt_limit(app, quizzes):
    with app.app_context():
        db.session.scalar(select(Item).where(Item.public_id == quizzes["quiz"])).attempts_allowed = 2
        db.session.commit()
    path = f"/courses/view/item/{quizzes['quiz']}/attempts"
    statuses = [quizzes["ada"].post(path, correct(quizzes)).status_code for _ in range(4)]
    assert statuses[:2] == [303, 303] and all(400 <= s < 500 for s in statuses[2:]), statuses
    with app.app_context():
        assert len(db.session.scalars(select(Attempt)).all()) == 2
    scores_in_range(app)


def test_submissions_after_the_due_date_are_refused(app, quizzes):
    with app.app_context():
        db.session.scalar(select(Item).where(Item.public_id == quizzes["quiz"])).due_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    before = row_counts(app)
    response = quizzes["ada"].post(f"/courses/view/item/{quizzes['quiz']}/attempts", correct(quizzes))
    assert response.status_code == 409 or 400 <= response.status_code < 500
    assert row_counts(app) == before


def test_answers_for_another_quiz_or_an_unknown_item_store_nothing(app, quizzes):
    before = row_counts(app)
    ada = quizzes["ada"]
    foreign = [(name, "c1") for name in quizzes["foreign"]]
    assert ada.post(f"/courses/view/item/{quizzes['quiz']}/attempts", correct(quizzes) + foreign).status_code == 400
    for public_id in ("A" * 22, "../" + quizzes["quiz"], quizzes["quiz"] + "\x00"):
        response = ada.post(f"/courses/view/item/{public_id}/attempts", correct(quizzes))
        assert 400 <= response.status_code < 500
    assert row_counts(app) == before


@HOSTILE
@given(payload=st.one_of(
    st.dictionaries(st.sampled_from(["position", "duration", "ended"]), st.one_of(
        st.floats(), st.integers(), st.text(max_size=10), st.booleans(), st.none(), st.lists(st.integers(), max_size=2)
    )),
    st.lists(st.integers(), max_size=3),
    st.text(max_size=20),
))
def test_media_progress_with_hostile_json(app, quizzes, payload):
    """The one JSON post a learner makes: numbers that are not numbers, wrong types, wrong shapes."""
    before = row_counts(app)
    response = quizzes["ada"].post_json(f"/courses/view/item/{quizzes['quiz']}/progress", payload)
    assert_refused_or_fine(app, response, before)


def test_media_progress_with_json_nested_too_deep(app, quizzes):
    before = row_counts(app)
    ada = quizzes["ada"]
    headers = {"X-Launch-Id": ada.launch_id, "X-CSRF-Token": ada.token, "Content-Type": "application/json"}
    for body in ("[" * 100_000 + "]" * 100_000, '{"position": ' * 50_000 + "1" + "}" * 50_000, '{"position": "\\ud800"}'):
        response = ada.client.post(f"/courses/view/item/{quizzes['quiz']}/progress", data=body, headers=headers)
        assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert row_counts(app) == before
