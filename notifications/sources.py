"""What notifications read from the rest of the tool: people of a context, items, due dates, attempts.

Read-only, and kept in this one module so the coupling is visible: `courses` owns items and due
dates, `grades` owns attempts and the NRPS roster, `lti_tool` owns launches' enrollments. Every
query is filtered by platform and context.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select
from werkzeug.routing import BuildError

from courses import models as courses_models
from grades.models import Attempt, Membership
from lti_tool.db import db
from lti_tool.models import Context, Enrollment, Platform, User
from lti_tool.roles import INSTRUCTOR, LEARNER


@dataclass(frozen=True)
class ItemInfo:
    id: int
    platform_id: int
    public_id: str
    title: str
    kind: str
    course_title: str
    due_at: datetime | None
    # The course, its module and the item are all published: learners can open it.
    available: bool


def item_info(platform_id: int, item_id: int) -> ItemInfo | None:
    Item, Module, Course = courses_models.Item, courses_models.Module, courses_models.Course
    row = db.session.execute(
        select(Item, Module.published, Course.title, Course.published)
        .join(Module, Module.id == Item.module_pk)
        .join(Course, Course.id == Item.course_pk)
        .where(Item.id == item_id, Item.platform_id == platform_id)
    ).first()
    if row is None:
        return None
    item, module_published, course_title, course_published = row
    return ItemInfo(
        id=item.id,
        platform_id=item.platform_id,
        public_id=item.public_id,
        title=item.title,
        kind=item.kind,
        course_title=course_title,
        due_at=item.due_at,
        available=bool(item.published and module_published and course_published),
    )


@dataclass(frozen=True)
class DueItem:
    item: ItemInfo
    context_pk: int


def upcoming_due_items(now: datetime, within: timedelta) -> list[DueItem]:
    """Available quizzes due in (now, now + within], once per LMS context they are placed in."""
    Item, Module, Course = courses_models.Item, courses_models.Module, courses_models.Course
    Placement = courses_models.CoursePlacement
    rows = db.session.execute(
        select(Item, Course.title, Placement.context_pk)
        .join(Module, Module.id == Item.module_pk)
        .join(Course, Course.id == Item.course_pk)
        .join(Placement, (Placement.course_pk == Course.id) & (Placement.platform_id == Course.platform_id))
        .where(
            Item.kind == courses_models.QUIZ,
            Item.due_at > now,
            Item.due_at <= now + within,
            Item.published.is_(True),
            Module.published.is_(True),
            Course.published.is_(True),
            Item.platform_id == Course.platform_id,
        )
        .order_by(Item.due_at, Item.id, Placement.context_pk)
    ).all()
    return [
        DueItem(
            ItemInfo(
                id=item.id,
                platform_id=item.platform_id,
                public_id=item.public_id,
                title=item.title,
                kind=item.kind,
                course_title=course_title,
                due_at=item.due_at,
                available=True,
            ),
            context_pk,
        )
        for item, course_title, context_pk in rows
    ]


def item_path(item: ItemInfo) -> str | None:
    """The learner's page of an item, as a path inside the tool (None if courses has no such page)."""
    try:
        return current_app.url_map.bind("localhost").build("courses.view_item", {"public_id": item.public_id})
    except BuildError:
        return None


def completed(platform_id: int, context_pk: int, item_id: int) -> set[int]:
    """Users who submitted the item at least once in this context."""
    return set(
        db.session.scalars(
            select(Attempt.user_pk).where(
                Attempt.platform_id == platform_id, Attempt.context_pk == context_pk, Attempt.item_id == item_id
            )
        )
    )


def _people(platform_id: int, context_pk: int, role: str) -> set[int]:
    """Users with `role` in a context: from launches and from the NRPS roster, minus those the
    roster says have left (NRPS is the LMS's current word; a launch may be months old)."""
    found: set[int] = set()
    for user_pk, roles in db.session.execute(
        select(Enrollment.user_pk, Enrollment.roles).where(
            Enrollment.platform_id == platform_id, Enrollment.context_pk == context_pk
        )
    ):
        if _has(roles, role):
            found.add(user_pk)
    gone: set[int] = set()
    for user_pk, roles, status in db.session.execute(
        select(Membership.user_pk, Membership.roles, Membership.status).where(
            Membership.platform_id == platform_id, Membership.context_pk == context_pk
        )
    ):
        if status != "active":
            gone.add(user_pk)
        elif _has(roles, role):
            found.add(user_pk)
    return found - gone


def _has(roles, role: str) -> bool:
    roles = roles or []
    if role == LEARNER:
        # Teachers who also hold a learner role (test students, some LMS admins) are teachers here.
        return LEARNER in roles and INSTRUCTOR not in roles
    return role in roles


def learners_of(platform_id: int, context_pk: int) -> set[int]:
    return _people(platform_id, context_pk, LEARNER)


def teachers_of(platform_id: int, context_pk: int) -> set[int]:
    return _people(platform_id, context_pk, INSTRUCTOR)


def contexts_with_people() -> list[tuple[int, int]]:
    """(platform_id, context_pk) of every context anyone launched from or that has a roster."""
    launched = select(Enrollment.platform_id, Enrollment.context_pk)
    rostered = select(Membership.platform_id, Membership.context_pk)
    return sorted(set((row[0], row[1]) for row in db.session.execute(launched.union(rostered))))


def context_title(context_pk: int | None) -> str | None:
    if context_pk is None:
        return None
    context = db.session.get(Context, context_pk)
    return (context.title or context.label or "your course") if context else None


def platform_name(platform_id: int) -> str:
    platform = db.session.get(Platform, platform_id)
    return platform.name if platform else "your LMS"


def user_names(user_pks: set[int] | list[int]) -> dict[int, str]:
    if not user_pks:
        return {}
    return {user.id: user.display_name for user in db.session.scalars(select(User).where(User.id.in_(user_pks)))}
