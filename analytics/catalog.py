"""What the courses package has placed in a context, as analytics needs it: modules and items in
order, with their titles, kinds and learner-facing addresses.

The one place analytics reads course content. It only reads, and only what a learner of the
context could see (published courses, modules and items); items that have activity but are no
longer listed here (deleted or unpublished since) are still reported, under "Other items".
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from lti_tool.db import db

# How an item counts as completed, from its kind.
WATCH = "watch"  # video, audio: watched up to ANALYTICS_COMPLETION_THRESHOLD
SUBMIT = "submit"  # quiz: submitted at least once
OPEN = "open"  # everything else: opened
COMPLETION_RULES = (WATCH, SUBMIT, OPEN)

_RULE_OF_KIND = {"video": WATCH, "audio": WATCH, "quiz": SUBMIT}


def completion_rule(kind: str | None) -> str:
    return _RULE_OF_KIND.get(kind or "", OPEN)


@dataclass(frozen=True)
class CatalogItem:
    item_id: int
    public_id: str | None
    title: str
    kind: str | None
    module_key: str
    module_title: str


@dataclass(frozen=True)
class CatalogModule:
    key: str
    title: str
    items: tuple[CatalogItem, ...]


def context_outline(platform_id: int, context_pk: int) -> list[CatalogModule]:
    """Published modules (in course and module order) of the courses placed in a context."""
    try:
        from courses.models import Course, CoursePlacement, Item, Module
    except ImportError:  # a deployment without the courses package
        return []
    courses = db.session.execute(
        select(Course.id, Course.title)
        .join(CoursePlacement, CoursePlacement.course_pk == Course.id)
        .where(
            CoursePlacement.platform_id == platform_id,
            CoursePlacement.context_pk == context_pk,
            Course.platform_id == platform_id,
            Course.published.is_(True),
        )
        .order_by(CoursePlacement.id)
    ).all()
    if not courses:
        return []
    course_titles = {row.id: row.title for row in courses}
    modules = db.session.execute(
        select(Module.id, Module.course_pk, Module.title)
        .where(
            Module.platform_id == platform_id,
            Module.course_pk.in_(course_titles),
            Module.published.is_(True),
        )
        .order_by(Module.course_pk, Module.position, Module.id)
    ).all()
    items = db.session.execute(
        select(Item.id, Item.public_id, Item.title, Item.kind, Item.module_pk)
        .where(
            Item.platform_id == platform_id,
            Item.module_pk.in_([module.id for module in modules]),
            Item.published.is_(True),
        )
        .order_by(Item.module_pk, Item.position, Item.id)
    ).all()
    by_module: dict[int, list[CatalogItem]] = {}
    several = len(courses) > 1
    titles = {}
    for module in modules:
        title = f"{course_titles[module.course_pk]}: {module.title}" if several else module.title
        titles[module.id] = title
    for item in items:
        by_module.setdefault(item.module_pk, []).append(
            CatalogItem(
                item.id, item.public_id, item.title, item.kind, f"m{item.module_pk}", titles[item.module_pk]
            )
        )
    # Keep the courses in placement order, then their modules in the course's order.
    order = {course_pk: position for position, course_pk in enumerate(course_titles)}
    ordered = sorted(modules, key=lambda module: order[module.course_pk])
    return [
        CatalogModule(f"m{module.id}", titles[module.id], tuple(by_module.get(module.id, ())))
        for module in ordered
        if by_module.get(module.id)
    ]


def item_kinds(platform_id: int, item_ids: list[int]) -> dict[int, str]:
    """The kind of each item that still exists (listed or not), for completion rules."""
    if not item_ids:
        return {}
    try:
        from courses.models import Item
    except ImportError:
        return {}
    kinds: dict[int, str] = {}
    for start in range(0, len(item_ids), 500):
        chunk = item_ids[start : start + 500]
        for item_id, kind in db.session.execute(
            select(Item.id, Item.kind).where(Item.platform_id == platform_id, Item.id.in_(chunk))
        ):
            kinds[item_id] = kind
    return kinds


def item_titles(platform_id: int, item_ids: list[int]) -> dict[int, tuple[str, str | None, str]]:
    """(title, public id, kind) of items that still exist, listed or not."""
    if not item_ids:
        return {}
    try:
        from courses.models import Item
    except ImportError:
        return {}
    found: dict[int, tuple[str, str | None, str]] = {}
    for start in range(0, len(item_ids), 500):
        chunk = item_ids[start : start + 500]
        for row in db.session.execute(
            select(Item.id, Item.title, Item.public_id, Item.kind).where(
                Item.platform_id == platform_id, Item.id.in_(chunk)
            )
        ):
            found[row.id] = (row.title, row.public_id, row.kind)
    return found
