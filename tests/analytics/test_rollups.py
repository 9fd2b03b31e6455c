"""Roll-ups equal what plain SQL over the facts and plain Python over the published events say."""

import statistics

import pytest
from sqlalchemy import select, text

from analytics import service
from analytics.models import ContextDay, DirtyDay, ItemDay, ItemSummary, LearnerItem, LearnerSummary
from lti_tool.db import db
from tests.analytics.conftest import make_campus, publish, seed_history
from tests.analytics.expected import work_out

RULES = {"intro": "watch", "lecture": "watch", "quiz1": "submit", "quiz2": "submit", "reading": "open"}


def _ingest_and_roll_up():
    service.ingest_pending(batch_size=100)
    service.rollup_pending()


def _rules(campus):
    return {campus.items[name]: rule for name, rule in RULES.items()}


def _day(value):
    return str(value)[:10]


@pytest.fixture
def history(campus):
    published = seed_history(campus)
    _ingest_and_roll_up()
    return published


def test_facts_match_the_events_table(campus, history):
    # Plain SQL on both tables: one fact per learning event of the context, nothing else.
    events = dict(
        db.session.execute(
            text("SELECT kind, COUNT(*) FROM events WHERE context_pk = :c GROUP BY kind"),
            {"c": campus.context_pk},
        ).all()
    )
    facts = dict(
        db.session.execute(
            text("SELECT kind, COUNT(*) FROM analytics_facts WHERE context_pk = :c GROUP BY kind"),
            {"c": campus.context_pk},
        ).all()
    )
    assert facts == events
    assert sum(facts.values()) == len(history)
    staff = db.session.execute(
        text("SELECT COUNT(*) FROM analytics_facts WHERE user_pk = :u AND is_learner = :no"),
        {"u": campus.teacher_pk, "no": False},
    ).scalar()
    assert staff == 10  # two previews a day, kept but flagged


def test_item_days_equal_plain_sql_counts(campus, history):
    sql = text(
        """
        SELECT item_id, day,
               SUM(CASE WHEN kind = 'item_viewed' THEN 1 ELSE 0 END),
               COUNT(DISTINCT CASE WHEN kind = 'item_viewed' THEN user_pk END),
               COUNT(DISTINCT user_pk),
               SUM(CASE WHEN kind = 'media_progress' THEN 1 ELSE 0 END),
               SUM(CASE WHEN kind = 'quiz_submitted' THEN 1 ELSE 0 END),
               COUNT(DISTINCT CASE WHEN kind = 'quiz_submitted' THEN user_pk END),
               SUM(CASE WHEN kind = 'grade_delivered' THEN 1 ELSE 0 END)
        FROM analytics_facts
        WHERE context_pk = :c AND is_learner = :yes AND item_id IS NOT NULL
        GROUP BY item_id, day
        """
    )
    plain = {
        (row[0], _day(row[1])): tuple(int(v) for v in row[2:])
        for row in db.session.execute(sql, {"c": campus.context_pk, "yes": True})
    }
    rolled = {
        (row.item_id, _day(row.day)): (
            row.views,
            row.viewers,
            row.learners,
            row.progress_events,
            row.submissions,
            row.submitters,
            row.grades_delivered,
        )
        for row in db.session.scalars(select(ItemDay).where(ItemDay.context_pk == campus.context_pk))
    }
    assert rolled == plain
    assert len(plain) > 10


def test_roll_ups_equal_the_published_history(campus, history):
    expected = work_out(history, campus.learner_pks, _rules(campus))

    days = {
        _day(row.day): row
        for row in db.session.scalars(select(ContextDay).where(ContextDay.context_pk == campus.context_pk))
    }
    assert set(days) == {_day(day) for day in expected.context_days}
    for day, want in expected.context_days.items():
        got = days[_day(day)]
        assert (
            got.learners,
            got.events,
            got.launches,
            got.views,
            got.progress_events,
            got.submissions,
            got.grades_delivered,
        ) == (
            len(want["users"]),
            want["events"],
            want["launch"],
            want["item_viewed"],
            want["media_progress"],
            want["quiz_submitted"],
            want["grade_delivered"],
        )
        assert got.time_on_task == pytest.approx(want["time"], abs=1e-6)

    item_days = {(row.item_id, _day(row.day)): row for row in db.session.scalars(select(ItemDay))}
    assert set(item_days) == {(item, _day(day)) for item, day in expected.item_days}
    for (item, day), want in expected.item_days.items():
        got = item_days[(item, _day(day))]
        assert got.learners == len(want["users"]) and got.viewers == len(want["viewers"])
        assert got.submitters == len(want["submitters"])
        assert got.scaled_sum == pytest.approx(want["scaled_sum"], abs=1e-9)
        assert got.time_on_task == pytest.approx(want["time"], abs=1e-6)

    learner_items = {(row.user_pk, row.item_id): row for row in db.session.scalars(select(LearnerItem))}
    assert set(learner_items) == set(expected.learner_items)
    for key, want in expected.learner_items.items():
        got = learner_items[key]
        assert (got.views, got.attempts, got.completed) == (
            want["views"],
            want["attempts"],
            want["completed"],
        ), key
        assert got.max_progress == (pytest.approx(want["progress"]) if want["progress"] is not None else None)
        assert got.best_scaled == (pytest.approx(want["best"]) if want["best"] is not None else None)
        assert got.time_on_task == pytest.approx(want["time"], abs=1e-6)

    learners = {row.user_pk: row for row in db.session.scalars(select(LearnerSummary))}
    assert set(learners) == set(expected.learners)
    for user, want in expected.learners.items():
        got = learners[user]
        assert (
            got.events,
            got.active_days,
            got.items_viewed,
            got.items_completed,
            got.attempts,
            got.quizzes_attempted,
        ) == (
            want["events"],
            want["active_days"],
            want["items_viewed"],
            want["items_completed"],
            want["attempts"],
            want["quizzes_attempted"],
        )
        assert got.time_on_task == pytest.approx(want["time"], abs=1e-6)
        assert got.avg_scaled == (
            pytest.approx(want["avg_scaled"]) if want["avg_scaled"] is not None else None
        )
        assert got.last_at == want["last_at"]

    items = {row.item_id: row for row in db.session.scalars(select(ItemSummary))}
    assert set(items) == set(expected.items)
    for item, want in expected.items.items():
        got = items[item]
        assert (
            got.learners,
            got.viewers,
            got.views,
            got.completions,
            got.watchers,
            got.attempts,
            got.submitters,
        ) == (
            want["learners"],
            want["viewers"],
            want["views"],
            want["completions"],
            want["watchers"],
            want["attempts"],
            want["submitters"],
        )
        assert got.score_bins == want["bins"]
        assert got.median_progress == (
            pytest.approx(want["median_progress"]) if want["median_progress"] is not None else None
        )
        assert got.avg_scaled == (
            pytest.approx(want["avg_scaled"]) if want["avg_scaled"] is not None else None
        )
        assert got.time_on_task == pytest.approx(want["time"], abs=1e-6)
        assert got.completion_rule == RULES[next(n for n, i in campus.items.items() if i == item)]


def test_day_totals_add_up_to_learner_totals(campus, history):
    # Time on task is cut by day the same way everywhere, so every view of it agrees.
    per_day = db.session.execute(select(ContextDay.time_on_task)).scalars().all()
    per_learner = db.session.execute(select(LearnerSummary.time_on_task)).scalars().all()
    assert sum(per_day) == pytest.approx(sum(per_learner))
    per_item_day = db.session.execute(select(ItemDay.time_on_task)).scalars().all()
    per_learner_item = db.session.execute(select(LearnerItem.time_on_task)).scalars().all()
    assert sum(per_item_day) == pytest.approx(sum(per_learner_item))


def test_medians_per_dialect_match_the_portable_fallback(campus, history):
    native = service.median_progress(campus.platform_id, campus.context_pk)
    portable = service.median_progress_portable(campus.platform_id, campus.context_pk)
    assert native.keys() == portable.keys() == {campus.items["intro"], campus.items["lecture"]}
    for item_id, value in native.items():
        values = db.session.scalars(
            select(LearnerItem.max_progress).where(
                LearnerItem.item_id == item_id, LearnerItem.max_progress.is_not(None)
            )
        ).all()
        assert value == pytest.approx(portable[item_id]) == pytest.approx(statistics.median(values))


def test_incremental_roll_up_equals_a_full_rebuild(campus, history):
    # New activity on the last day: only that day (and its learners) is recomputed...
    last = max(event.at for event in history)
    learner = campus.learner_pks[0]
    publish(campus, "item_viewed", learner, last, item_id=campus.items["reading"])
    publish(
        campus,
        "media_progress",
        learner,
        last,
        item_id=campus.items["lecture"],
        position=599.0,
        duration=600.0,
    )
    db.session.commit()
    service.ingest_pending()
    assert db.session.scalars(select(DirtyDay.day)).all() != []
    report = service.rollup_pending()
    assert (report.contexts, report.days, report.learners) == (1, 1, 1)  # one day, one learner

    def value(v):
        # Sums of floats may differ in the last bits with the order the database adds them in.
        return round(v, 6) if isinstance(v, float) else str(v)

    def snapshot():
        return {
            model.__tablename__: sorted(
                tuple(sorted((k, value(v)) for k, v in row.items()))
                for row in db.session.execute(select(model.__table__)).mappings()
                if row["context_pk"] == campus.context_pk
            )
            for model in (ItemDay, ContextDay, LearnerItem, LearnerSummary, ItemSummary)
        }

    incremental = snapshot()
    service.rollup_context(campus.platform_id, campus.context_pk, full=True)
    assert snapshot() == incremental


def test_running_a_roll_up_again_changes_nothing(campus, history):
    before = db.session.execute(select(ItemSummary.item_id, ItemSummary.views, ItemSummary.completions)).all()
    assert service.rollup_pending().contexts == 0  # nothing dirty
    service.rollup_context(campus.platform_id, campus.context_pk, full=True)
    after = db.session.execute(select(ItemSummary.item_id, ItemSummary.views, ItemSummary.completions)).all()
    assert sorted(after) == sorted(before)


def test_another_lms_is_rolled_up_on_its_own(campus, history):
    other = make_campus("https://other.example.org", context_id="bio-101", learners=2, content=False)
    publish(other, "item_viewed", other.learner_pks[0], history[-1].at, item_id=campus.items["reading"])
    db.session.commit()
    _ingest_and_roll_up()
    theirs = db.session.scalars(select(ItemSummary).where(ItemSummary.context_pk == other.context_pk)).all()
    assert [(row.item_id, row.views, row.platform_id) for row in theirs] == [
        (campus.items["reading"], 1, other.platform_id)
    ]
    ours = db.session.scalar(
        select(ItemSummary.views).where(
            ItemSummary.context_pk == campus.context_pk, ItemSummary.item_id == campus.items["reading"]
        )
    )
    expected = work_out(history, campus.learner_pks, _rules(campus))
    assert ours == expected.items[campus.items["reading"]]["views"]


def test_an_item_whose_kind_becomes_known_is_recounted_for_everyone(app_ctx):
    # Items the courses package no longer lists are judged by their activity; when the first
    # progress report shows an item is something to watch, "opened" no longer means "completed".
    campus = make_campus(content=False)
    ghost = 987654
    when = seed_time()
    for learner in campus.learner_pks[:3]:
        publish(campus, "item_viewed", learner, when, item_id=ghost)
    db.session.commit()
    _ingest_and_roll_up()
    assert db.session.scalar(select(ItemSummary.completions).where(ItemSummary.item_id == ghost)) == 3
    publish(
        campus, "media_progress", campus.learner_pks[3], when, item_id=ghost, position=10.0, duration=100.0
    )
    db.session.commit()
    _ingest_and_roll_up()
    summary = db.session.scalar(select(ItemSummary).where(ItemSummary.item_id == ghost))
    assert (summary.completion_rule, summary.completions, summary.learners) == ("watch", 0, 4)
    assert (
        db.session.scalar(
            select(LearnerSummary.items_completed).where(LearnerSummary.user_pk == campus.learner_pks[0])
        )
        == 0
    )


def seed_time():
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).replace(microsecond=0)
