"""Who hears what: published items, delivered and failed grades, due dates, the roster digest."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from courses import models as cm
from courses import service as courses_service
from lti_tool.db import db, utcnow
from lti_tool.events import Event
from notifications import service
from notifications.models import EmailDelivery, Notification, RosterSeen
from tests.support.worker import run_burst


def stored_event(kind: str, **fields) -> int:
    """An event row as publish writes it, already dispatched: these tests call the subscriber."""
    event = Event(kind=kind, dispatched_at=utcnow(), **fields)
    db.session.add(event)
    db.session.commit()
    return event.id


def inbox(user_pk: int, kind: str | None = None) -> list[Notification]:
    query = select(Notification).where(Notification.user_pk == user_pk).order_by(Notification.id)
    if kind:
        query = query.where(Notification.kind == kind)
    return list(db.session.scalars(query))


@pytest.fixture
def people(campus):
    teacher = campus.launch("tom", "instructor")
    ada = campus.launch("ada")
    grace = campus.launch("grace", email=None)  # her LMS shares no address
    elsewhere = campus.launch("eve", context="course-2")  # another course, same LMS
    other_lms = campus.launch("mallory", issuer="https://other.example.org")  # another institution
    return {"teacher": teacher, "ada": ada, "grace": grace, "elsewhere": elsewhere, "other_lms": other_lms}


def test_publishing_an_item_tells_the_learners_of_that_context_only(app, campus, people):
    teacher = people["teacher"]
    course = campus.course(teacher, placed_in=[teacher.context_pk])
    item_id = campus.item(course, kind="page", title="Reading list", published=False)
    with app.app_context():
        actor = courses_service.Actor(
            platform_id=teacher.platform_id, user_pk=teacher.user_pk, context_pk=teacher.context_pk, instructor=True
        )
        item = db.session.get(cm.Item, item_id)
        courses_service.set_item_published(actor, item, True)  # commits; the event goes out
        if app.extensions.get("lti_redis") is not None:
            assert inbox(people["ada"].user_pk) == []  # queued for a worker
            run_burst(app, "notifications")
        ada = inbox(people["ada"].user_pk)
        assert [(n.kind, n.title) for n in ada] == [("item_published", "New in Statistics 101: Reading list")]
        assert ada[0].link and ada[0].link.endswith(db.session.get(cm.Item, item_id).public_id)
        assert len(inbox(people["grace"].user_pk)) == 1
        for nobody in ("teacher", "elsewhere", "other_lms"):
            assert inbox(people[nobody].user_pk) == []
        # ada has an address: an email is on its way (to the log, with no SMTP server set).
        assert db.session.scalar(select(EmailDelivery.status).where(EmailDelivery.notification_pk == ada[0].id)) == "sent"
        assert db.session.scalar(select(EmailDelivery.id).where(EmailDelivery.to_address.like("grace%"))) is None


def test_the_same_event_twice_notifies_once(app, campus, people):
    teacher = people["teacher"]
    course = campus.course(teacher, placed_in=[teacher.context_pk])
    item_id = campus.item(course, kind="page")
    with app.app_context():
        event_id = stored_event(
            "item_published", platform_id=teacher.platform_id, context_pk=teacher.context_pk, data={"item_id": item_id}
        )
        assert service.on_item_published(event_id) == 2
        assert service.on_item_published(event_id) == 0
        assert len(inbox(people["ada"].user_pk)) == 1
        assert db.session.scalar(select(db.func.count()).select_from(EmailDelivery)) == 1


def test_an_item_unpublished_again_before_the_job_ran_notifies_nobody(app, campus, people):
    teacher = people["teacher"]
    course = campus.course(teacher, placed_in=[teacher.context_pk])
    item_id = campus.item(course, kind="page", published=False)
    with app.app_context():
        event_id = stored_event(
            "item_published", platform_id=teacher.platform_id, context_pk=teacher.context_pk, data={"item_id": item_id}
        )
        assert service.on_item_published(event_id) == 0


def test_a_delivered_grade_tells_its_learner(app, campus, people):
    ada, teacher = people["ada"], people["teacher"]
    course = campus.course(teacher, placed_in=[teacher.context_pk])
    item_id = campus.item(course, title="Quiz 1")
    with app.app_context():
        event_id = stored_event(
            "grade_delivered",
            platform_id=ada.platform_id,
            user_pk=ada.user_pk,
            context_pk=ada.context_pk,
            data={"item_id": item_id, "delivery_id": 77, "score": 8.5, "max_score": 10},
        )
        assert service.on_grade_delivered(event_id) == 1
        assert service.on_grade_delivered(event_id) == 0
        [note] = inbox(ada.user_pk)
        assert note.title == "Your score for Quiz 1 is in your gradebook"
        assert "8.5 out of 10" in note.body and "Example LMS" in note.body
        assert inbox(teacher.user_pk) == []


def test_a_failed_grade_tells_the_teachers_of_the_context(app, campus, people):
    ada, teacher = people["ada"], people["teacher"]
    assistant = campus.launch("tara", "instructor")
    other_teacher = campus.launch("otto", "instructor", context="course-2")
    course = campus.course(teacher, placed_in=[teacher.context_pk])
    item_id = campus.item(course, title="Quiz 1")
    with app.app_context():
        event_id = stored_event(
            "grade_failed",
            platform_id=ada.platform_id,
            user_pk=ada.user_pk,
            context_pk=ada.context_pk,
            data={"item_id": item_id, "delivery_id": 5, "reason": "400 Incorrect score received"},
        )
        assert service.on_grade_failed(event_id) == 2
        [note] = inbox(teacher.user_pk)
        assert "Ada's score for “Quiz 1” could not be sent" in note.body
        assert "400 Incorrect score received" in note.body
        assert len(inbox(assistant.user_pk)) == 1
        assert inbox(other_teacher.user_pk) == [] and inbox(ada.user_pk) == []


def test_due_reminders_reach_only_learners_who_have_not_submitted(app, campus, people):
    teacher, ada, grace = people["teacher"], people["ada"], people["grace"]
    left = campus.launch("leo")  # launched once, then left the course: the roster says so
    campus.roster(left.platform_id, left.context_pk, left.user_pk, status="inactive")
    roster_only = campus.launch("rita", context="course-3")  # never launched in course-1 ...
    campus.roster(teacher.platform_id, teacher.context_pk, roster_only.user_pk)  # ... but on its roster
    now = utcnow()
    course = campus.course(teacher, placed_in=[teacher.context_pk, people["elsewhere"].context_pk])
    soon = campus.item(course, title="Quiz soon", due_at=now + timedelta(hours=5))
    campus.item(course, title="Quiz later", due_at=now + timedelta(hours=30))
    campus.item(course, title="Quiz past", due_at=now - timedelta(hours=1))
    campus.item(course, title="Quiz draft", due_at=now + timedelta(hours=2), published=False)
    campus.attempt(grace, soon)  # grace has submitted
    with app.app_context():
        assert service.send_due_reminders(now) == 3
        [note] = inbox(ada.user_pk)
        assert note.kind == "due_soon" and note.title == "Quiz soon is due in 5 hours"
        assert inbox(grace.user_pk) == []
        assert inbox(teacher.user_pk) == []
        assert inbox(left.user_pk) == []
        assert len(inbox(roster_only.user_pk)) == 1
        assert len(inbox(people["elsewhere"].user_pk)) == 1  # the course is placed there too
        assert inbox(people["other_lms"].user_pk) == []
        # The next run (every 15 minutes) reminds nobody twice.
        assert service.send_due_reminders(now + timedelta(minutes=15)) == 0
        # A moved due date is a new reminder.
        item = db.session.get(cm.Item, soon)
        item.due_at = now + timedelta(hours=7)
        db.session.commit()
        assert service.send_due_reminders(now + timedelta(minutes=30)) == 3


def test_roster_digest_lists_new_learners_once_to_the_teachers(app, campus, people):
    teacher, ada, grace = people["teacher"], people["ada"], people["grace"]
    with app.app_context():
        assert service.send_roster_digests() >= 1
        [digest] = inbox(teacher.user_pk, "roster_digest")
        assert digest.title == "2 new learners in Course 1"
        assert "Ada" in digest.body and "Grace" in digest.body
        assert inbox(ada.user_pk, "roster_digest") == []
        # Nothing new: no digest.
        before = db.session.scalar(select(db.func.count()).select_from(Notification))
        service.send_roster_digests()
        assert db.session.scalar(select(db.func.count()).select_from(Notification)) == before

    newcomer = campus.launch("nina", context="course-3")
    campus.roster(teacher.platform_id, teacher.context_pk, newcomer.user_pk)  # the NRPS sync found her
    with app.app_context():
        service.send_roster_digests()
        digests = inbox(teacher.user_pk, "roster_digest")
        assert len(digests) == 2 and digests[1].title == "1 new learner in Course 1"
        assert "Nina" in digests[1].body and "Ada" not in digests[1].body
        seen = set(db.session.scalars(select(RosterSeen.user_pk).where(RosterSeen.context_pk == teacher.context_pk)))
        assert seen == {ada.user_pk, grace.user_pk, newcomer.user_pk}


def test_learners_of_a_context_without_teachers_wait_for_the_first_teacher(app, campus, people):
    eve = people["elsewhere"]  # course-2 has a learner and no teacher yet
    with app.app_context():
        service.send_roster_digests()
        assert db.session.scalar(select(RosterSeen.id).where(RosterSeen.context_pk == eve.context_pk)) is None
    otto = campus.launch("otto", "instructor", context="course-2")
    with app.app_context():
        service.send_roster_digests()
        [digest] = inbox(otto.user_pk, "roster_digest")
        assert digest.title == "1 new learner in Course 2" and "Eve" in digest.body


def test_notify_refuses_unknown_kinds(app_ctx):
    with pytest.raises(ValueError, match="unknown notification kind"):
        service.notify(platform_id=1, user_pk=1, kind="gossip", title="t", body="b", dedupe_key="k")
