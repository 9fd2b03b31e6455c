"""Two LMSs with the same course, people and titles: nothing of one reaches the other's users.

Both platforms have a context "course-1", a teacher "teacher-1" and a learner "learner-1", and
courses, items and notifications with the same titles. Only the content carries each platform's
marker. Every route a launch can use is walked as each platform's learner and instructor: first
with their own ids (no page may show the other platform's marker, and their own pages must show
theirs, or the check could not fail), then with the other platform's ids, which must be refused
as the table says (`OTHER_PLATFORM_IDS`) and change nothing there.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from courses.models import Course, Item, Module, Question
from notifications.models import Notification
from lti_tool.db import db
from tests.security.route_roles import CAPABILITY_URLS, OTHER_PLATFORM_IDS, ROUTES
from tests.security.walk import Caller
from tests.security.world import build_world

MARKER_A = "MARKER-A-7f3c"
MARKER_B = "MARKER-B-91d2"
# Placeholders that name the platform itself, not one of its objects.
NOT_OBJECTS = {"issuer", "marker", "client", "login_hint", "tool", "platform", "deployment"}
# Pages where a user's own platform data must show: proof the walk reads real data.
MUST_SHOW_OWN = {
    "instructor": {
        "lti.home", "courses.edit_course", "courses.edit_item", "courses.edit_question", "courses.view_course",
        "courses.view_item", "grades.gradebook", "grades.export_csv", "analytics.export_csv",
        "notifications.index", "notifications.unread",
    },
    "learner": {"lti.home", "courses.view_course", "courses.view_item", "notifications.index", "notifications.unread"},
}

LAUNCH_ROUTES = [route for route in ROUTES if route.auth != "admin"]


def names_objects(route) -> bool:
    text = route.path + " ".join(f"{k}{v}" for k, v in route.data.items())
    return bool(set(re.findall(r"{(\w+)}", text)) - NOT_OBJECTS)


@pytest.fixture
def worlds(walk_app):
    return build_world(walk_app, "https://lms-a.example.edu", MARKER_A), build_world(walk_app, "https://lms-b.example.edu", MARKER_B)


def body_of(response) -> str:
    return response.get_data().decode("utf-8", "replace")


def snapshot(app, platform_id: int) -> dict[str, object]:
    """What the other platform holds: the walk with its ids must leave all of it as it was."""
    with app.app_context():
        count = lambda model: db.session.scalar(select(func.count()).select_from(model).where(model.platform_id == platform_id))  # noqa: E731
        return {
            "courses": count(Course),
            "modules": count(Module),
            "items": count(Item),
            "questions": count(Question),
            "published": sorted(db.session.scalars(select(Item.public_id).where(Item.platform_id == platform_id, Item.published.is_(True)))),
            "read": db.session.scalar(
                select(func.count()).select_from(Notification).where(Notification.platform_id == platform_id, Notification.read_at.is_not(None))
            ),
            "course_text": sorted(db.session.execute(select(Course.title, Course.description).where(Course.platform_id == platform_id)).all()),
        }


def test_the_table_says_how_other_platforms_ids_are_answered():
    takes_ids = {route.endpoint for route in LAUNCH_ROUTES if names_objects(route)} - CAPABILITY_URLS
    assert takes_ids == set(OTHER_PLATFORM_IDS)


@pytest.mark.parametrize("role", ["learner", "instructor"])
@pytest.mark.parametrize("side", ["a", "b"])
def test_no_route_shows_another_platforms_data(walk_app, worlds, role, side):
    mine, theirs = worlds if side == "a" else worlds[::-1]
    caller = Caller(walk_app, role, mine)
    before = snapshot(walk_app, theirs.platform_id)
    leaks, wrong, shown = [], [], set()
    # The other platform's ids first (nothing of mine is deleted yet), then my own.
    for route in sorted(LAUNCH_ROUTES, key=lambda route: route.last):
        if route.endpoint in CAPABILITY_URLS or not names_objects(route):
            continue
        with caller.request(route, theirs) as response:
            if theirs.marker in body_of(response):
                leaks.append(f"{route.method} {route.path} with the other platform's ids")
            expected = OTHER_PLATFORM_IDS[route.endpoint] if route.allows(role) else route.expected(role)
            if response.status_code != expected:
                wrong.append(f"{route.method} {route.path} ({route.endpoint}) with the other platform's ids: "
                             f"expected {expected}, got {response.status_code}")
    assert snapshot(walk_app, theirs.platform_id) == before, "a request with another platform's ids changed its data"
    for route in sorted(LAUNCH_ROUTES, key=lambda route: route.last):
        with caller.request(route) as response:
            body = body_of(response)
            if theirs.marker in body:
                leaks.append(f"{route.method} {route.path}")
            if mine.marker in body:
                shown.add(route.endpoint)
    assert not leaks, "the other platform's data was shown on: " + "; ".join(leaks)
    assert not wrong, "\n".join(wrong)
    assert MUST_SHOW_OWN[role] <= shown, f"own data missing from {sorted(MUST_SHOW_OWN[role] - shown)}"


def test_a_notification_of_someone_else_on_the_same_platform_is_not_found(walk_app, world):
    learner = Caller(walk_app, "learner", world)
    theirs = world.ids["notification_instructor"]
    person = world.person("learner")
    response = learner.client.post(f"/notifications/{theirs}/read", data={"launch_id": person.launch_id, "csrf_token": person.token})
    assert response.status_code == 404
    with walk_app.app_context():
        assert db.session.get(Notification, theirs).read_at is None
