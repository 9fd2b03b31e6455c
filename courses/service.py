"""Courses as plain functions: who may see and edit what, authoring, quiz grading, deep linking.

Nothing here reads a Flask request. Views hand in an `Actor` (who is asking, from which LMS
context, through which LMS link) and form values as `{name: [values]}`; every input is checked
here and a problem raises a `CourseError` that says what is wrong (and, for forms, which field),
before anything is stored. Operations that change data commit; media objects that a change made
unreachable are deleted after the commit, so a failed transaction never loses a file.

Access rules:
- Everything is scoped to the actor's platform.
- A course is edited by its owner, and by instructors launching from an LMS context where the
  course is placed (co-teachers). Only the owner deletes a course.
- A learner opens content only through the LMS link they launched: the link's `custom` parameters
  name an item, a module or a whole course, the course must be placed in the launch's context,
  and what they open must lie inside what the link names.
"""

from __future__ import annotations

import logging
import re
import secrets
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, BinaryIO, Iterable, Mapping, Sequence, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_babel import gettext as _, lazy_gettext, ngettext
from pylti1p3.deep_link import DeepLink
from pylti1p3.deep_link_resource import DeepLinkResource
from pylti1p3.lineitem import LineItem
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from courses import sanitize
from courses import storage as media_storage
from courses.models import (
    AUDIO,
    GRADE_POLICIES,
    IMAGE,
    ITEM_KINDS,
    LINK,
    MEDIA_KINDS,
    MULTIPLE,
    NUMERIC,
    PAGE,
    QUESTION_KINDS,
    QUIZ,
    SHOW_AFTER_ATTEMPT,
    SHOW_AFTER_DUE,
    SHOW_ANSWERS,
    SINGLE,
    TEXT,
    VIDEO,
    Course,
    CoursePlacement,
    Item,
    Module,
    Question,
)
from lti_tool import events
from lti_tool.db import db, utcnow
from lti_tool.launch import DEEP_LINKING_SETTINGS, DEPLOYMENT_ID
from lti_tool.models import PlatformClient

log = logging.getLogger(__name__)

T = TypeVar("T")

# --- errors ---------------------------------------------------------------------------------------


class CourseError(Exception):
    """Bad input or a refused action; nothing was changed. `fields` maps form fields to messages."""

    status = 400
    title = lazy_gettext("This could not be done")

    def __init__(self, message: str, *, fields: Mapping[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.fields: dict[str, str] = dict(fields or {})


class InvalidInput(CourseError):
    status = 400
    title = lazy_gettext("Please correct the form")


class Forbidden(CourseError):
    status = 403
    title = lazy_gettext("Not available to you")


class NotFound(CourseError):
    status = 404
    title = lazy_gettext("Not found")


class Closed(CourseError):
    """The action is valid in general but not any more (attempts used up, due date passed)."""

    status = 409
    title = lazy_gettext("No longer possible")


class TooLarge(CourseError):
    status = 413
    title = lazy_gettext("The file is too large")


class UnsupportedFile(InvalidInput):
    """An upload whose bytes are not of the item's kind (whatever its name says)."""

    status = 415
    title = lazy_gettext("This kind of file cannot be used here")


def _invalid(errors: Mapping[str, str]) -> InvalidInput:
    count = len(errors)
    summary = (
        _("One field needs attention.") if count == 1 else _("%(count)s fields need attention.", count=count)
    )
    return InvalidInput(summary, fields=errors)


# --- who is asking --------------------------------------------------------------------------------

ITEM_TARGET, MODULE_TARGET, COURSE_TARGET = "item", "module", "course"
# The `custom` parameters a placed LMS link carries, most specific first.
CUSTOM_KEYS = {"course_item": ITEM_TARGET, "course_module": MODULE_TARGET, "course_outline": COURSE_TARGET}
PUBLIC_ID = re.compile(r"^[A-Za-z0-9_-]{16,32}$")


@dataclass(frozen=True)
class Target:
    """What an LMS link points at: one item, one module or a whole course, by public id."""

    kind: str
    public_id: str


@dataclass(frozen=True)
class Actor:
    platform_id: int
    user_pk: int
    context_pk: int | None
    instructor: bool
    # The LMS link this launch came through, and what its custom parameters point at.
    resource_link_pk: int | None = None
    target: Target | None = None


def target_from_custom(custom: Any) -> Target | None:
    """The content an LMS link's `custom` claim names, or None for a link that names none."""
    if not isinstance(custom, Mapping):
        return None
    for key, kind in CUSTOM_KEYS.items():
        value = custom.get(key)
        if isinstance(value, str) and value.strip():
            return Target(kind, value.strip()[:64])
    return None


def new_public_id() -> str:
    return secrets.token_urlsafe(16)


# --- lookups and access ---------------------------------------------------------------------------


def _by_public_id(
    model: type[T], public_id: str, actor: Actor, what: str, options: Sequence[Any] = ()
) -> T:
    if not isinstance(public_id, str) or not PUBLIC_ID.match(public_id):
        raise NotFound(_("There is no %(what)s with this address; it may have been deleted.", what=what))
    stmt = select(model).where(model.public_id == public_id)  # type: ignore[attr-defined]
    stmt = stmt.options(*options)
    row = db.session.scalar(stmt)
    if row is None or row.platform_id != actor.platform_id:  # type: ignore[attr-defined]
        # Launch-scoped sessions see their platform's rows only; look once more, unscoped, so that
        # another institution's content is refused (403) rather than reported missing (404).
        elsewhere = db.session.scalar(
            select(model.platform_id).where(model.public_id == public_id).execution_options(unscoped=True)  # type: ignore[attr-defined]
        )
        if elsewhere is not None and elsewhere != actor.platform_id:
            raise Forbidden(_(
                "This %(what)s belongs to another LMS and cannot be opened from yours.",
                what=what,
            ))
        raise NotFound(_("There is no %(what)s with this address; it may have been deleted.", what=what))
    return row


# What each page reads of a row and its relatives, loaded with the row itself: reading them lazily
# costs one statement per relative (and per module or item in an outline: a statement per row).
_WITH_COURSE = (joinedload(Module.course),)
_ITEM_WITH_COURSE = (joinedload(Item.module).joinedload(Module.course),)
_OUTLINE = (selectinload(Course.modules).selectinload(Module.items),)
_EDITOR = (
    selectinload(Course.modules).selectinload(Module.items).selectinload(Item.questions),
    selectinload(Course.placements).joinedload(CoursePlacement.context),
)


def is_placed(course: Course, context_pk: int | None) -> bool:
    if context_pk is None:
        return False
    return (
        db.session.scalar(
            select(CoursePlacement.id).where(
                CoursePlacement.platform_id == course.platform_id,
                CoursePlacement.course_pk == course.id,
                CoursePlacement.context_pk == context_pk,
            )
        )
        is not None
    )


def placed_course_ids(courses: Sequence[Course], context_pk: int | None) -> set[int]:
    """The ids of `courses` placed in the context: `is_placed` for a whole list, in one statement."""
    if context_pk is None or not courses:
        return set()
    return set(
        db.session.scalars(
            select(CoursePlacement.course_pk).where(
                CoursePlacement.platform_id.in_({course.platform_id for course in courses}),
                CoursePlacement.course_pk.in_([course.id for course in courses]),
                CoursePlacement.context_pk == context_pk,
            )
        )
    )


def can_edit(actor: Actor, course: Course) -> bool:
    if course.platform_id != actor.platform_id or not actor.instructor:
        return False
    return course.owner_pk == actor.user_pk or is_placed(course, actor.context_pk)


def _editable_condition(actor: Actor):
    placed_here = select(CoursePlacement.course_pk).where(
        CoursePlacement.platform_id == actor.platform_id, CoursePlacement.context_pk == actor.context_pk
    )
    conditions = [Course.owner_pk == actor.user_pk]
    if actor.context_pk is not None:
        conditions.append(Course.id.in_(placed_here))
    return Course.platform_id == actor.platform_id, or_(*conditions)


def editable_courses(actor: Actor, *, with_content: bool = False) -> list[Course]:
    """The courses the actor may edit: their own, and those placed in the launch's context."""
    if not actor.instructor:
        return []
    stmt = select(Course).where(*_editable_condition(actor)).order_by(Course.updated_at.desc(), Course.id.desc())
    if with_content:
        stmt = stmt.options(selectinload(Course.modules).selectinload(Module.items).selectinload(Item.questions))
    return list(db.session.scalars(stmt))


def course_for_edit(actor: Actor, public_id: str, *, with_content: bool = False) -> Course:
    """The course, checked editable; `with_content` also loads what the editor page lists."""
    course = _by_public_id(Course, public_id, actor, _("course"), _EDITOR if with_content else ())
    _check_editor(actor, course)
    return course


def module_for_edit(actor: Actor, public_id: str) -> Module:
    module = _by_public_id(Module, public_id, actor, _("module"), _WITH_COURSE)
    _check_editor(actor, module.course)
    return module


def item_for_edit(actor: Actor, public_id: str) -> Item:
    item = _by_public_id(Item, public_id, actor, _("item"), _ITEM_WITH_COURSE)
    _check_editor(actor, item.module.course)
    return item


def question_for_edit(actor: Actor, item: Item, question_id: Any) -> Question:
    try:
        wanted = int(question_id)
    except (TypeError, ValueError):
        raise NotFound(_("There is no such question in this quiz.")) from None
    for question in item.questions:
        if question.id == wanted:
            return question
    raise NotFound(_("There is no such question in this quiz."))


def _check_editor(actor: Actor, course: Course) -> None:
    if not can_edit(actor, course):
        raise Forbidden(
            _(
                "Only the teacher who made this course, and instructors of an LMS course it is placed in, "
                "can change it.",
            )
        )


@dataclass(frozen=True)
class Viewing:
    """How the actor sees a course, module or item: as its editor (a preview) or as a learner."""

    preview: bool
    # Why a learner cannot use it yet (draft), or None when it is available.
    unavailable: str | None


def _learner_reach(actor: Actor, course: Course, module: Module | None, item: Item | None) -> None:
    if actor.context_pk is None or not is_placed(course, actor.context_pk):
        raise Forbidden(_("This content is not part of the LMS course you opened the tool from."))
    target = actor.target
    if target is None:
        raise Forbidden(_("Open this content from its link in your LMS course."))
    allowed = (
        (target.kind == COURSE_TARGET and target.public_id == course.public_id)
        or (target.kind == MODULE_TARGET and module is not None and target.public_id == module.public_id)
        or (target.kind == ITEM_TARGET and item is not None and target.public_id == item.public_id)
    )
    if not allowed:
        raise Forbidden(
            _(
                "The LMS link you opened leads to other content in this tool. Open this content from its "
                "own link in your LMS course.",
            )
        )


def _unavailable(course: Course, module: Module | None = None, item: Item | None = None) -> str | None:
    if not course.published:
        return _("This course is not open yet. Your teacher is still preparing it; please come back later.")
    if module is not None and not module.published:
        return _("This module is not open yet. Your teacher is still preparing it; please come back later.")
    if item is not None and not item.published:
        return _("This item is not open yet. Your teacher is still preparing it; please come back later.")
    return None


def course_for_viewing(actor: Actor, public_id: str) -> tuple[Course, Viewing]:
    course = _by_public_id(Course, public_id, actor, _("course"), _OUTLINE)
    if can_edit(actor, course):
        return course, Viewing(True, None)
    _learner_reach(actor, course, None, None)
    return course, Viewing(False, _unavailable(course))


def module_for_viewing(actor: Actor, public_id: str) -> tuple[Module, Viewing]:
    module = _by_public_id(Module, public_id, actor, _("module"), _WITH_COURSE)
    if can_edit(actor, module.course):
        return module, Viewing(True, None)
    _learner_reach(actor, module.course, module, None)
    return module, Viewing(False, _unavailable(module.course, module))


def item_for_viewing(actor: Actor, public_id: str) -> tuple[Item, Viewing]:
    item = _by_public_id(Item, public_id, actor, _("item"), _ITEM_WITH_COURSE)
    course = item.module.course
    if can_edit(actor, course):
        return item, Viewing(True, None)
    _learner_reach(actor, course, item.module, item)
    return item, Viewing(False, _unavailable(course, item.module, item))


def visible_items(module: Module, viewing: Viewing) -> list[Item]:
    """The items of a module as the viewer sees them in a list: learners see published ones only."""
    if viewing.preview:
        return list(module.items)
    return [item for item in module.items if item.published]


def visible_modules(course: Course, viewing: Viewing) -> list[Module]:
    if viewing.preview:
        return list(course.modules)
    return [module for module in course.modules if module.published]


def learner_can_open(actor: Actor, item: Item) -> bool:
    """Whether a link to `item` would open for this learner (for lists: hide what would be a 403)."""
    target = actor.target
    if target is None:
        return False
    return (
        target.kind == COURSE_TARGET
        or (target.kind == MODULE_TARGET and item.module.public_id == target.public_id)
        or (target.kind == ITEM_TARGET and item.public_id == target.public_id)
    )


# --- form helpers ---------------------------------------------------------------------------------

Form = Mapping[str, Sequence[str]]


def _one(form: Form, name: str) -> str:
    values = form.get(name) or []
    # NUL never means anything in typed text, and PostgreSQL cannot store it.
    return values[0].replace("\x00", "") if values else ""


def _text(
    form: Form, name: str, label: str, errors: dict[str, str], *, required: bool = True, max_len: int = 200
) -> str:
    value = _one(form, name).strip()
    if required and not value:
        errors[name] = _("Enter %(label)s.", label=label)
    elif len(value) > max_len:
        errors[name] = _(
            "%(label)s must be at most %(max_len)s characters (it has %(value)s).",
            label=label[0].upper() + label[1:],
            max_len=max_len,
            value=len(value),
        )
    return value


def _choice(form: Form, name: str, allowed: Iterable[str], default: str, errors: dict[str, str], label: str) -> str:
    value = _one(form, name).strip() or default
    allowed = tuple(allowed)
    if value not in allowed:
        errors[name] = _("Choose one of the offered %(label)s.", label=label)
    return value


def _checkbox(form: Form, name: str) -> bool:
    return _one(form, name) in ("1", "on", "true", "yes")


def _decimal(text: str) -> Decimal | None:
    """A finite decimal from what a person typed (a comma works as the decimal mark), else None."""
    text = text.strip().replace(" ", "").replace("\u00a0", "")
    if "," in text and "." not in text and text.count(",") == 1:
        text = text.replace(",", ".")
    if not text or len(text) > 40 or not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d{1,3})?", text):
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


# --- courses --------------------------------------------------------------------------------------


def _check_course_form(form: Form) -> dict[str, Any]:
    errors: dict[str, str] = {}
    values = {
        "title": _text(form, "title", _("a title"), errors),
        "description": _text(form, "description", _("a description"), errors, required=False, max_len=5000),
    }
    if errors:
        raise _invalid(errors)
    return values


def create_course(actor: Actor, form: Form) -> Course:
    if not actor.instructor:
        raise Forbidden(_("Only instructors create courses."))
    values = _check_course_form(form)
    course = Course(public_id=new_public_id(), platform_id=actor.platform_id, owner_pk=actor.user_pk, **values)
    db.session.add(course)
    db.session.commit()
    return course


def update_course(actor: Actor, course: Course, form: Form) -> Course:
    _check_editor(actor, course)
    values = _check_course_form(form)
    for name, value in values.items():
        setattr(course, name, value)
    db.session.commit()
    return course


def delete_course(actor: Actor, course: Course) -> None:
    _check_editor(actor, course)
    if course.owner_pk != actor.user_pk:
        raise Forbidden(_(
            "Only the teacher who made this course can delete it; it may be used in other LMS courses.",
        ))
    keys = [key for module in course.modules for item in module.items for key in item.media_keys()]
    db.session.delete(course)
    db.session.commit()
    delete_objects(keys)


def set_course_published(actor: Actor, course: Course, published: bool) -> Course:
    _check_editor(actor, course)
    course.published = published
    db.session.commit()
    return course


def placements_of(course: Course) -> list[CoursePlacement]:
    return list(course.placements)


# --- modules --------------------------------------------------------------------------------------


def _check_module_form(form: Form) -> dict[str, Any]:
    errors: dict[str, str] = {}
    values = {"title": _text(form, "title", _("a module title"), errors)}
    if errors:
        raise _invalid(errors)
    return values


def create_module(actor: Actor, course: Course, form: Form) -> Module:
    _check_editor(actor, course)
    values = _check_module_form(form)
    module = Module(
        public_id=new_public_id(),
        platform_id=course.platform_id,
        course=course,
        position=_next_position(course.modules),
        **values,
    )
    db.session.add(module)
    _touch(course)
    db.session.commit()
    return module


def update_module(actor: Actor, module: Module, form: Form) -> Module:
    _check_editor(actor, module.course)
    values = _check_module_form(form)
    module.title = values["title"]
    _touch(module.course)
    db.session.commit()
    return module


def delete_module(actor: Actor, module: Module) -> None:
    course = module.course
    _check_editor(actor, course)
    keys = [key for item in module.items for key in item.media_keys()]
    course.modules.remove(module)
    _renumber(course.modules)
    _touch(course)
    db.session.commit()
    delete_objects(keys)


def set_module_published(actor: Actor, module: Module, published: bool) -> Module:
    _check_editor(actor, module.course)
    module.published = published
    _touch(module.course)
    db.session.commit()
    return module


# --- ordering -------------------------------------------------------------------------------------

UP, DOWN = "up", "down"


def _next_position(siblings: Sequence[Any]) -> int:
    return max((s.position for s in siblings), default=-1) + 1


def _renumber(siblings: Sequence[Any]) -> None:
    for index, sibling in enumerate(siblings):
        sibling.position = index


def _move(siblings: list[Any], row: Any, direction: str) -> bool:
    """Swap `row` with its neighbour; False when it is already at that end."""
    if direction not in (UP, DOWN):
        raise InvalidInput(_("Move up or down."), fields={"direction": _("Choose up or down.")})
    ordered = sorted(siblings, key=lambda s: (s.position, s.id))
    index = ordered.index(row)
    other = index - 1 if direction == UP else index + 1
    if other < 0 or other >= len(ordered):
        return False
    ordered[index], ordered[other] = ordered[other], ordered[index]
    _renumber(ordered)
    return True


def move_module(actor: Actor, module: Module, direction: str) -> bool:
    _check_editor(actor, module.course)
    moved = _move(list(module.course.modules), module, direction)
    _touch(module.course)
    db.session.commit()
    db.session.refresh(module.course)
    return moved


def move_item(actor: Actor, item: Item, direction: str) -> bool:
    _check_editor(actor, item.module.course)
    moved = _move(list(item.module.items), item, direction)
    _touch(item.module.course)
    db.session.commit()
    db.session.refresh(item.module)
    return moved


def move_question(actor: Actor, question: Question, direction: str) -> bool:
    _check_editor(actor, question.item.module.course)
    moved = _move(list(question.item.questions), question, direction)
    db.session.commit()
    db.session.refresh(question.item)
    return moved


def _touch(course: Course) -> None:
    course.updated_at = utcnow()


# --- items ----------------------------------------------------------------------------------------

LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$")
MAX_ATTEMPTS = 100


@dataclass
class Upload:
    """A file from a form: its stream (read once, never whole into memory) and the name it was sent with."""

    stream: BinaryIO
    filename: str


def _parse_due(form: Form, errors: dict[str, str]) -> tuple[datetime | None, str | None]:
    raw = _one(form, "due_at").strip()
    zone_name = _one(form, "due_timezone").strip() or "UTC"
    if not raw:
        return None, None
    try:
        zone = ZoneInfo(zone_name) if len(zone_name) <= 64 else None
    except (ZoneInfoNotFoundError, ValueError):
        zone = None
    if zone is None:
        errors["due_at"] = _(
            "The time zone %(zone_name)s is not known; choose a zone like Europe/Paris or UTC.",
            zone_name=repr(zone_name[:64]),
        )
        return None, None
    for pattern in ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"):
        try:
            local = datetime.strptime(raw, pattern)
            break
        except ValueError:
            continue
    else:
        errors["due_at"] = _("Enter the due date and time like 2026-03-14 17:00.")
        return None, None
    if not 2000 <= local.year <= 2200:
        errors["due_at"] = _("Enter a due date between the years 2000 and 2200.")
        return None, None
    return local.replace(tzinfo=zone).astimezone(timezone.utc), zone_name


def due_local(item: Item) -> datetime | None:
    """The due date in the zone the teacher set it in."""
    if item.due_at is None:
        return None
    try:
        zone = ZoneInfo(item.due_timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return item.due_at.astimezone(zone)


def check_item_form(kind: str, form: Form) -> dict[str, Any]:
    """The cleaned fields of an item form for `kind`; InvalidInput naming each wrong field."""
    if kind not in ITEM_KINDS:
        raise InvalidInput(_(
            "Unknown item kind %(kind)s.",
            kind=repr(kind[:20]),
        ), fields={"kind": _("Choose one of the offered kinds.")})
    errors: dict[str, str] = {}
    values: dict[str, Any] = {
        "title": _text(form, "title", _("a title"), errors),
        "summary": _text(form, "summary", _("a summary"), errors, required=False, max_len=500),
    }
    if kind in (PAGE, QUIZ):
        raw = _one(form, "body")
        if len(raw) > sanitize.MAX_HTML_CHARS:
            errors["body"] = _(
                "The text is longer than %(MAX_HTML_CHARS)s characters.",
                MAX_HTML_CHARS=sanitize.MAX_HTML_CHARS,
            )
        else:
            cleaned = sanitize.clean_html(raw)
            if kind == PAGE and not sanitize.html_has_text(cleaned):
                errors["body"] = _("Write the page's text (scripts and other unsafe parts are removed).")
            values["body_html"] = cleaned
    if kind == LINK:
        try:
            values["url"] = sanitize.check_web_url(_one(form, "url"))
        except ValueError as exc:
            errors["url"] = str(exc)
    if kind == IMAGE:
        values["alt_text"] = _text(form, "alt_text", _(
            "a text alternative for people who cannot see the image",
        ), errors, max_len=500)
    if kind == VIDEO:
        language = _one(form, "caption_language").strip() or "en"
        if not LANGUAGE_TAG.match(language):
            errors["caption_language"] = _("Enter the captions' language as a code like en, fr or pt-BR.")
        values["caption_language"] = language
        values["remove_captions"] = _checkbox(form, "remove_captions")
    if kind == QUIZ:
        raw_attempts = _one(form, "attempts_allowed").strip()
        if raw_attempts:
            # isascii: "²".isdigit() is true, and int() refuses it (and thousands of digits).
            plain = raw_attempts.isascii() and raw_attempts.isdigit() and len(raw_attempts) <= 6
            if not plain or not 1 <= int(raw_attempts) <= MAX_ATTEMPTS:
                errors["attempts_allowed"] = _(
                    "Enter a whole number of attempts from 1 to %(MAX_ATTEMPTS)s, or leave it empty for no "
                    "limit.",
                    MAX_ATTEMPTS=MAX_ATTEMPTS,
                )
            else:
                values["attempts_allowed"] = int(raw_attempts)
        else:
            values["attempts_allowed"] = None
        values["due_at"], values["due_timezone"] = _parse_due(form, errors)
        values["show_answers"] = _choice(form, "show_answers", SHOW_ANSWERS, SHOW_AFTER_ATTEMPT, errors, _(
            "answer policies",
        ))
        if values["show_answers"] == SHOW_AFTER_DUE and values["due_at"] is None and "due_at" not in errors:
            errors["show_answers"] = _(
                "Answers shown after the due date need a due date: set one, or choose another policy.",
            )
        values["grade_policy"] = _choice(form, "grade_policy", GRADE_POLICIES, GRADE_POLICIES[0], errors, _(
            "grade policies",
        ))
    if errors:
        raise _invalid(errors)
    return values


def save_item(
    actor: Actor,
    *,
    kind: str,
    form: Form,
    uploads: Mapping[str, Upload] | None = None,
    module: Module | None = None,
    item: Item | None = None,
) -> Item:
    """Create an item in `module`, or update `item`, with its uploaded files.

    Fields are checked first, then files are stored (type sniffed, size limited), then the row is
    committed. Any failure leaves nothing stored; files that the change replaced are deleted after
    the commit.
    """
    uploads = {name: upload for name, upload in (uploads or {}).items() if upload is not None}
    if item is not None:
        kind = item.kind
        course = item.module.course
    else:
        assert module is not None
        course = module.course
    _check_editor(actor, course)
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    try:
        values = check_item_form(kind, form)
    except InvalidInput as exc:
        errors.update(exc.fields)  # reported together with the file problems below
    remove_captions = values.pop("remove_captions", False)

    unexpected = sorted(set(uploads) - {"file", "captions"})
    if unexpected:
        errors[unexpected[0]] = _("This form has no such file field.")
    if "file" in uploads and kind not in MEDIA_KINDS:
        errors["file"] = _("This kind of item has no file to upload.")
    if "captions" in uploads and kind != VIDEO:
        errors["captions"] = _("Captions can only be added to a video.")
    if kind in MEDIA_KINDS and item is None and "file" not in uploads:
        errors["file"] = _("Choose the %(kind)s file to upload.", kind=_KIND_NOUNS[kind])
    if errors:
        raise _invalid(errors)

    stored: list[Any] = []
    replaced: list[str] = []
    try:
        media = _store(uploads.get("file"), kind, "file", stored)
        captions = _store(uploads.get("captions"), "captions", "captions", stored)
        if item is None:
            item = Item(
                public_id=new_public_id(),
                platform_id=course.platform_id,
                course_pk=course.id,
                module=module,
                kind=kind,
                position=_next_position(module.items),
            )
            db.session.add(item)
        for name, value in values.items():
            setattr(item, name, value)
        if media is not None:
            if item.media_key:
                replaced.append(item.media_key)
            item.media_key = media.key
            item.media_content_type = media.content_type
            item.media_size = media.size
            item.media_filename = _clip_filename(uploads["file"].filename)
            item.media_sha256 = media.sha256
        if captions is not None or remove_captions:
            if item.caption_key:
                replaced.append(item.caption_key)
            item.caption_key = captions.key if captions else None
            item.caption_size = captions.size if captions else None
            item.caption_filename = _clip_filename(uploads["captions"].filename) if captions else None
        _touch(course)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        delete_objects([obj.key for obj in stored])
        raise
    delete_objects(replaced)
    return item


_KIND_NOUNS = {VIDEO: lazy_gettext(
    "video",
), AUDIO: lazy_gettext("audio"), "pdf": lazy_gettext("PDF"), IMAGE: lazy_gettext("image")}


def _clip_filename(name: str) -> str:
    # Only the last path part, printable, and short: it is shown and used in download names.
    base = re.split(r"[\\/]", name or "")[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip()
    return base[:255] or "file"


def _store(upload: Upload | None, kind: str, field_name: str, stored: list[Any]):
    if upload is None:
        return None
    try:
        obj = media_storage.get_storage().save(upload.stream, kind=kind, filename=_clip_filename(upload.filename))
    except media_storage.UploadTooLarge as exc:
        raise TooLarge(str(exc) or "The file is larger than this tool accepts.", fields={field_name: str(exc)}) from None
    except media_storage.UploadRejected as exc:
        error = UnsupportedFile if exc.reason == "type" else InvalidInput
        raise error(str(exc), fields={field_name: str(exc)}) from None
    stored.append(obj)
    return obj


def delete_item(actor: Actor, item: Item) -> None:
    module = item.module
    _check_editor(actor, module.course)
    keys = item.media_keys()
    module.items.remove(item)
    _renumber(module.items)
    _touch(module.course)
    db.session.commit()
    delete_objects(keys)


def delete_objects(keys: Iterable[str]) -> None:
    """Delete stored media after the rows that referenced them are gone; a failure only logs."""
    keys = [key for key in keys if key]
    if not keys:
        return
    backend = media_storage.get_storage()
    for key in keys:
        try:
            backend.delete(key)
        except Exception:  # the row is gone already: an orphaned object is logged, not raised
            log.exception("could not delete media object %s; it is left orphaned in storage", key)


def publish_problem(item: Item) -> str | None:
    """Why `item` cannot be published yet, or None."""
    if item.kind in MEDIA_KINDS and not item.media_key:
        return _("Upload its file before publishing it.")
    if item.kind == QUIZ and not item.questions:
        return _("Add at least one question before publishing the quiz.")
    if item.kind == PAGE and not sanitize.html_has_text(item.body_html or ""):
        return _("Write the page before publishing it.")
    if item.kind == LINK and not item.url:
        return _("Give the link a web address before publishing it.")
    return None


def set_item_published(actor: Actor, item: Item, published: bool) -> Item:
    course = item.module.course
    _check_editor(actor, course)
    if published:
        problem = publish_problem(item)
        if problem:
            raise InvalidInput(problem, fields={"published": problem})
    newly = published and not item.published
    item.published = published
    if newly:
        # Subscribers (notifications, analytics) learn about it in every LMS course that shows it.
        for placement in course.placements:
            events.publish(
                "item_published",
                platform_id=course.platform_id,
                user_pk=actor.user_pk,
                context_pk=placement.context_pk,
                data={"item_id": item.id},
            )
    _touch(course)
    db.session.commit()
    return item


# --- quiz questions -------------------------------------------------------------------------------

MAX_CHOICES = 10
MAX_POINTS = Decimal(1000)


def _check_question_form(kind: str, form: Form) -> dict[str, Any]:
    if kind not in QUESTION_KINDS:
        raise InvalidInput(_(
            "Unknown question type.",
        ), fields={"kind": _("Choose one of the offered question types.")})
    errors: dict[str, str] = {}
    values: dict[str, Any] = {
        "kind": kind,
        "prompt": _text(form, "prompt", _("the question"), errors, max_len=5000),
        "feedback": _text(form, "feedback", _("feedback"), errors, required=False, max_len=5000),
        "choices": [],
        "accepted_answers": [],
        "numeric_answer": None,
        "numeric_tolerance": None,
    }
    raw_points = _one(form, "points").strip() or "1"
    points = _decimal(raw_points)
    if points is None or points <= 0 or points > MAX_POINTS or points.as_tuple().exponent < -2:  # type: ignore[operator]
        errors["points"] = _(
            "Enter the points as a number above 0 and at most 1000, with up to two decimals.",
        )
    else:
        values["points"] = float(points)

    if kind in (SINGLE, MULTIPLE):
        correct = set(form.get("correct") or [])
        choices = []
        for index in range(1, MAX_CHOICES + 1):
            text = _one(form, f"choice-{index}").strip()
            if len(text) > 1000:
                errors[f"choice-{index}"] = _("A choice must be at most 1000 characters.")
            if text:
                choices.append({"id": f"c{index}", "text": text, "correct": str(index) in correct})
        unknown = correct - {str(i) for i in range(1, MAX_CHOICES + 1)}
        marked_blank = [c for c in correct - unknown if not _one(form, f"choice-{c}").strip()]
        right = [c for c in choices if c["correct"]]
        if unknown or marked_blank:
            errors["correct"] = _("Only choices with text can be marked correct.")
        elif len(choices) < 2:
            errors["choice-1"] = _("Write at least two choices.")
        elif kind == SINGLE and len(right) != 1:
            errors["correct"] = _("Mark exactly one choice as correct.")
        elif kind == MULTIPLE and not right:
            errors["correct"] = _("Mark at least one choice as correct.")
        elif len({c["text"].casefold() for c in choices}) != len(choices):
            errors["choice-1"] = _("Two choices have the same text; learners could not tell them apart.")
        values["choices"] = choices
    elif kind == NUMERIC:
        answer = _decimal(_one(form, "numeric_answer"))
        if answer is None:
            errors["numeric_answer"] = _("Enter the correct answer as a number, like 3.14.")
        else:
            values["numeric_answer"] = str(answer)
        raw_tolerance = _one(form, "numeric_tolerance").strip() or "0"
        tolerance = _decimal(raw_tolerance)
        if tolerance is None or tolerance < 0:
            errors["numeric_tolerance"] = _(
                "Enter the tolerance as a number of 0 or more (0: exactly the answer).",
            )
        else:
            values["numeric_tolerance"] = str(tolerance)
    elif kind == TEXT:
        answers = [line.strip() for line in _one(form, "accepted_answers").splitlines() if line.strip()]
        if not answers:
            errors["accepted_answers"] = _("Enter at least one accepted answer, one per line.")
        elif len(answers) > 50 or any(len(a) > 200 for a in answers):
            errors["accepted_answers"] = _(
                "Enter at most 50 accepted answers of at most 200 characters each.",
            )
        values["accepted_answers"] = answers
    if errors:
        raise _invalid(errors)
    return values


def save_question(actor: Actor, item: Item, form: Form, question: Question | None = None) -> Question:
    _check_editor(actor, item.module.course)
    if item.kind != QUIZ:
        raise InvalidInput(_("Only quizzes have questions."))
    kind = question.kind if question is not None else _one(form, "kind").strip()
    values = _check_question_form(kind, form)
    if question is None:
        if len(item.questions) >= 200:
            raise InvalidInput(_("A quiz can have at most 200 questions."))
        question = Question(platform_id=item.platform_id, item=item, position=_next_position(item.questions))
        db.session.add(question)
    for name, value in values.items():
        setattr(question, name, value)
    _touch(item.module.course)
    db.session.commit()
    return question


def delete_question(actor: Actor, question: Question) -> None:
    item = question.item
    _check_editor(actor, item.module.course)
    if item.published and len(item.questions) == 1:
        raise InvalidInput(_(
            "A published quiz needs a question: unpublish it first, or add another question.",
        ))
    item.questions.remove(question)
    _renumber(item.questions)
    _touch(item.module.course)
    db.session.commit()


# --- grading --------------------------------------------------------------------------------------

QUIZ_FORM_FIELDS = {"launch_id", "csrf_token"}
MAX_ANSWER_CHARS = 500


def normalize_text_answer(text: str) -> str:
    """Case- and spacing-insensitive form of a short answer (also unifying look-alike characters)."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def field_name(question: Question) -> str:
    return f"q-{question.id}"


@dataclass
class Graded:
    score: float
    max_score: float
    # Per question id (as text): what was answered, whether it was right, the points given.
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)


def grade(item: Item, form: Form) -> Graded:
    """Score a quiz submission; InvalidInput naming each missing, extra or malformed answer."""
    questions = {field_name(q): q for q in item.questions}
    extra = sorted(name for name in form if name not in questions and name not in QUIZ_FORM_FIELDS)
    if extra:
        shown = ", ".join(repr(name[:40]) for name in extra[:5])
        raise InvalidInput(_(
            "The submission has answers this quiz does not ask for (%(shown)s); reload the quiz and try "
            "again.",
            shown=shown,
        ))
    errors: dict[str, str] = {}
    graded = Graded(score=0.0, max_score=item.max_score)
    total = Decimal(0)
    for name, question in questions.items():
        values = [value.replace("\x00", "") for value in form.get(name) or []]
        if any(len(v) > MAX_ANSWER_CHARS * 4 for v in values):
            errors[name] = _("This answer is far too long.")
            continue
        try:
            answer, correct = _grade_one(question, values)
        except ValueError as exc:
            errors[name] = str(exc)
            continue
        points = Decimal(str(question.points)) if correct else Decimal(0)
        total += points
        graded.answers[str(question.id)] = {
            "answer": answer,
            "correct": correct,
            "points": float(points),
            "max_points": question.points,
        }
    if errors:
        raise _invalid(errors)
    graded.score = float(total)
    return graded


def _grade_one(question: Question, values: list[str]) -> tuple[Any, bool]:
    kind = question.kind
    if kind == SINGLE:
        if not values or not values[0]:
            raise ValueError(_("Choose an answer."))
        if len(values) > 1:
            raise ValueError(_("Choose only one answer."))
        ids = {c["id"] for c in question.choices}
        if values[0] not in ids:
            raise ValueError(_("This answer is not one of the choices; reload the quiz and try again."))
        right = next(c["id"] for c in question.choices if c["correct"])
        return values[0], values[0] == right
    if kind == MULTIPLE:
        chosen = [v for v in values if v]
        if not chosen:
            raise ValueError(_("Choose at least one answer."))
        if len(set(chosen)) != len(chosen):
            raise ValueError(_("The same choice was sent twice; reload the quiz and try again."))
        ids = {c["id"] for c in question.choices}
        if not set(chosen) <= ids:
            raise ValueError(_("An answer is not one of the choices; reload the quiz and try again."))
        right = {c["id"] for c in question.choices if c["correct"]}
        ordered = [c["id"] for c in question.choices if c["id"] in set(chosen)]
        return ordered, set(chosen) == right
    if len(values) != 1:
        raise ValueError(_("Enter an answer.") if not values else _("Send one answer only."))
    text = values[0].strip()
    if not text:
        raise ValueError(_("Enter an answer."))
    if len(text) > MAX_ANSWER_CHARS:
        raise ValueError(_(
            "Answers must be at most %(MAX_ANSWER_CHARS)s characters.",
            MAX_ANSWER_CHARS=MAX_ANSWER_CHARS,
        ))
    if kind == NUMERIC:
        number = _decimal(text)
        if number is None:
            raise ValueError(_("Enter a number, like 42 or 3.14."))
        expected = Decimal(question.numeric_answer or "0")
        tolerance = Decimal(question.numeric_tolerance or "0")
        return text, abs(number - expected) <= tolerance
    if kind == TEXT:
        accepted = {normalize_text_answer(a) for a in question.accepted_answers}
        return text, normalize_text_answer(text) in accepted
    raise ValueError(_("This question cannot be answered."))  # an unknown kind in the database


def answers_visible(item: Item, now: datetime | None = None) -> bool:
    """Whether learners may see which answers were right (after they have submitted an attempt)."""
    now = now or utcnow()
    if item.show_answers == SHOW_AFTER_ATTEMPT:
        return True
    if item.show_answers == SHOW_AFTER_DUE:
        return item.due_at is not None and now >= item.due_at
    return False


def correct_answer_text(question: Question) -> str:
    if question.kind in (SINGLE, MULTIPLE):
        return "; ".join(c["text"] for c in question.choices if c["correct"])
    if question.kind == NUMERIC:
        tolerance = Decimal(question.numeric_tolerance or "0")
        return f"{question.numeric_answer}" + (f" (± {tolerance})" if tolerance else "")
    return " / ".join(question.accepted_answers)


def answer_text(question: Question, answer: Any) -> str:
    """A stored answer as the learner would recognise it."""
    if question.kind in (SINGLE, MULTIPLE):
        ids = answer if isinstance(answer, list) else [answer]
        texts = {c["id"]: c["text"] for c in question.choices}
        return "; ".join(texts.get(i, "(a choice that was removed)") for i in ids)
    return str(answer)


@dataclass
class QuizState:
    attempts: list[Any]
    used: int
    allowed: int | None
    # Why no further attempt can be submitted, or None.
    closed: str | None
    answers_visible: bool

    @property
    def left(self) -> int | None:
        return None if self.allowed is None else max(self.allowed - self.used, 0)


def quiz_state(actor: Actor, item: Item, now: datetime | None = None) -> QuizState:
    # Imported here: grades may import courses' public functions, and a cycle must not form.
    from grades import service as grades

    now = now or utcnow()
    attempts = grades.attempts_for(platform_id=actor.platform_id, user_pk=actor.user_pk, item_id=item.id)
    closed = None
    if item.due_at is not None and now > item.due_at:
        closed = _("The due date has passed; this quiz no longer accepts answers.")
    elif item.attempts_allowed is not None and len(attempts) >= item.attempts_allowed:
        closed = _("You have used all your attempts at this quiz.")
    return QuizState(
        attempts=attempts,
        used=len(attempts),
        allowed=item.attempts_allowed,
        closed=closed,
        answers_visible=answers_visible(item, now),
    )


def submit_quiz(actor: Actor, item: Item, viewing: Viewing, form: Form, now: datetime | None = None):
    """Grade a learner's answers and record the attempt with its event, in one transaction."""
    from grades import service as grades

    now = now or utcnow()
    if item.kind != QUIZ:
        raise InvalidInput(_("Only quizzes take answers."))
    if viewing.preview:
        raise Forbidden(_(
            "This is a preview for teachers: answers are not recorded. Learners take the quiz from the LMS.",
        ))
    if viewing.unavailable:
        raise Forbidden(viewing.unavailable)
    if actor.context_pk is None:
        raise Forbidden(_("Open the quiz from your LMS course to take it."))
    if not item.questions:
        raise Closed(_("This quiz has no questions yet."))
    if item.due_at is not None and now > item.due_at:
        raise Closed(_("The due date has passed; this quiz no longer accepts answers."))
    if item.attempts_allowed is not None:
        used = grades.count_attempts(platform_id=actor.platform_id, user_pk=actor.user_pk, item_id=item.id)
        if used >= item.attempts_allowed:
            raise Closed(ngettext(
                "You have used your %(num)d attempt at this quiz.",
                "You have used all %(num)d attempts at this quiz.",
                item.attempts_allowed,
            ))
    graded = grade(item, form)
    try:
        attempt = grades.record_attempt(
            platform_id=actor.platform_id,
            context_pk=actor.context_pk,
            user_pk=actor.user_pk,
            resource_link_pk=actor.resource_link_pk,
            item_id=item.id,
            answers=graded.answers,
            score=graded.score,
            max_score=graded.max_score,
            attempts_allowed=item.attempts_allowed,
            submitted_at=now,
            grade_policy=item.grade_policy,
            label=item.title,
        )
        db.session.flush()
        events.publish(
            "quiz_submitted",
            platform_id=actor.platform_id,
            user_pk=actor.user_pk,
            context_pk=actor.context_pk,
            data={"item_id": item.id, "attempt_id": attempt.id, "score": graded.score, "max_score": graded.max_score},
        )
        db.session.commit()
    except grades.AttemptLimitReached:
        # Another submission took the last attempt at the same moment.
        db.session.rollback()
        raise Closed(_("You have used all your attempts at this quiz.")) from None
    except BaseException:
        db.session.rollback()
        raise
    return attempt


@dataclass(frozen=True)
class GradingInfo:
    """What the grades package needs to know about a gradable item."""

    item_id: int
    public_id: str
    title: str
    max_score: float
    grade_policy: str
    attempts_allowed: int | None
    due_at: datetime | None


def grading_info(*, platform_id: int, item_id: int) -> GradingInfo | None:
    """Public for the grades package: a quiz's maximum score and grade policy (None if gone)."""
    item = db.session.scalar(select(Item).where(Item.platform_id == platform_id, Item.id == item_id))
    if item is None or item.kind != QUIZ:
        return None
    return GradingInfo(
        item_id=item.id,
        public_id=item.public_id,
        title=item.title,
        max_score=item.max_score,
        grade_policy=item.grade_policy,
        attempts_allowed=item.attempts_allowed,
        due_at=item.due_at,
    )


# --- learner events -------------------------------------------------------------------------------


def record_view(actor: Actor, item: Item, viewing: Viewing) -> None:
    """A learner opened an item (previews and unavailable items are not views)."""
    if viewing.preview or viewing.unavailable or actor.context_pk is None:
        return
    events.publish(
        "item_viewed",
        platform_id=actor.platform_id,
        user_pk=actor.user_pk,
        context_pk=actor.context_pk,
        data={"item_id": item.id},
    )
    db.session.commit()


MAX_MEDIA_SECONDS = 7 * 24 * 3600


def record_progress(actor: Actor, item: Item, viewing: Viewing, payload: Any) -> dict[str, float]:
    """A learner's position in a video or audio; the position is clamped to [0, duration]."""
    if item.kind not in (VIDEO, AUDIO):
        raise InvalidInput(_("Only videos and audio report playing progress."))
    if viewing.preview:
        raise Forbidden(_("Previews do not record progress."))
    if viewing.unavailable:
        raise Forbidden(viewing.unavailable)
    if actor.context_pk is None:
        raise Forbidden(_("Open this from your LMS course."))
    if not isinstance(payload, Mapping):
        raise InvalidInput(_("Send a JSON object with position and duration in seconds."))
    errors: dict[str, str] = {}
    numbers: dict[str, float] = {}
    for name in ("position", "duration"):
        value = payload.get(name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            errors[name] = _("%(name)s must be a number of seconds.", name=name)
        elif value != value or value in (float("inf"), float("-inf")):
            errors[name] = _("%(name)s must be a finite number.", name=name)
        elif value < 0:
            errors[name] = _("%(name)s cannot be negative.", name=name)
        else:
            numbers[name] = float(value)
    if "duration" in numbers and not 0 < numbers["duration"] <= MAX_MEDIA_SECONDS:
        errors["duration"] = _("duration must be above 0 and at most a week.")
    extra = sorted(set(payload) - {"position", "duration"})
    if extra:
        errors[str(extra[0])[:40]] = _("Unknown field.")
    if errors:
        raise InvalidInput("; ".join(errors.values()), fields=errors)
    duration = round(numbers["duration"], 3)
    position = round(min(numbers["position"], duration), 3)
    events.publish(
        "media_progress",
        platform_id=actor.platform_id,
        user_pk=actor.user_pk,
        context_pk=actor.context_pk,
        data={"item_id": item.id, "position": position, "duration": duration},
    )
    db.session.commit()
    return {"position": position, "duration": duration}


# --- deep linking ---------------------------------------------------------------------------------

RESOURCE_LINK_TYPE = "ltiResourceLink"
DL_CLAIM = "https://purl.imsglobal.org/spec/lti-dl/claim/"
QUIZ_TAG = "quiz"
PICK = re.compile(r"^(course|module|item):([A-Za-z0-9_-]{16,32})$")
# How placed links ask to be shown, when the LMS lets the tool choose.
IFRAME_SIZE = {"width": 1024, "height": 768}
WINDOW_NAME = "course_studio"


def _flag(value: Any, default: bool) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return default


@dataclass(frozen=True)
class DeepLinkRequest:
    """The deep_linking_settings of an LtiDeepLinkingRequest, read leniently where platforms vary."""

    return_url: str
    accept_types: tuple[str, ...]
    presentation_targets: tuple[str, ...]
    accept_multiple: bool
    accept_lineitem: bool
    data: Any
    title: str | None
    text: str | None

    @property
    def accepts_resource_links(self) -> bool:
        return RESOURCE_LINK_TYPE in self.accept_types

    @property
    def presentation(self) -> str | None:
        if "iframe" in self.presentation_targets:
            return "iframe"
        if "window" in self.presentation_targets:
            return "window"
        return None


def deep_link_request(claims: Mapping[str, Any]) -> DeepLinkRequest:
    settings = claims.get(DEEP_LINKING_SETTINGS)
    if not isinstance(settings, Mapping) or not isinstance(settings.get("deep_link_return_url"), str):
        # The launch validation refuses these already; a launch of another kind lands here.
        raise InvalidInput(_(
            "This launch is not a deep-linking request: open the tool from your LMS's “add content” button.",
        ))

    def strings(name: str) -> tuple[str, ...]:
        value = settings.get(name)
        return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()

    return_url = settings["deep_link_return_url"]
    if urlsplit(return_url).scheme.lower() not in ("https", "http"):
        # The answer page posts a form there: anything but a web address (javascript:) is refused.
        raise InvalidInput(_(
            "The LMS gave a deep_link_return_url that is not a web address; nothing can be sent back.",
        ))
    accept_types = strings("accept_types") if "accept_types" in settings else (RESOURCE_LINK_TYPE,)
    return DeepLinkRequest(
        return_url=return_url,
        accept_types=accept_types,
        presentation_targets=strings("accept_presentation_document_targets"),
        # A platform that does not say it takes several items gets one: that is always valid.
        accept_multiple=_flag(settings.get("accept_multiple"), False),
        accept_lineitem=_flag(settings.get("accept_lineitem"), True),
        data=settings.get("data"),
        title=settings.get("title") if isinstance(settings.get("title"), str) else None,
        text=settings.get("text") if isinstance(settings.get("text"), str) else None,
    )


@dataclass(frozen=True)
class Pick:
    kind: str  # course, module or item
    course: Course
    module: Module | None = None
    item: Item | None = None

    @property
    def public_id(self) -> str:
        row = self.item or self.module or self.course
        return row.public_id

    @property
    def title(self) -> str:
        row = self.item or self.module or self.course
        return row.title

    @property
    def text(self) -> str:
        if self.item is not None:
            return self.item.summary or ""
        if self.module is not None:
            return _("A module of %(course)s", course=self.course.title)
        return (self.course.description or "")[:500]

    @property
    def custom(self) -> dict[str, str]:
        key = {ITEM_TARGET: "course_item", MODULE_TARGET: "course_module", COURSE_TARGET: "course_outline"}[self.kind]
        return {key: self.public_id}


def resolve_picks(actor: Actor, values: Sequence[str], request: DeepLinkRequest) -> list[Pick]:
    """The picked courses, modules and items; the actor must be able to edit every one of them."""
    if not request.accepts_resource_links:
        raise InvalidInput(_(
            "Your LMS does not accept LTI links here, so nothing can be placed; choose Cancel.",
        ))
    if actor.context_pk is None:
        raise InvalidInput(
            _(
                "This request does not come from an LMS course, so the tool cannot tell who may open the "
                "content. Add content from inside a course.",
            )
        )
    wanted: list[tuple[str, str]] = []
    for value in values:
        match = PICK.match(value or "")
        if not match:
            raise InvalidInput(_(
                "The selection is not valid; reload the page and pick again.",
            ), fields={"pick": _("Unknown selection.")})
        if (match.group(1), match.group(2)) not in wanted:
            wanted.append((match.group(1), match.group(2)))
    if not wanted:
        raise InvalidInput(_(
            "Pick something to add, or choose Cancel.",
        ), fields={"pick": _("Pick at least one course, module or item.")})
    if len(wanted) > 1 and not request.accept_multiple:
        raise InvalidInput(_(
            "Your LMS accepts one item here: pick only one.",
        ), fields={"pick": _("Pick only one.")})
    if len(wanted) > 100:
        raise InvalidInput(_("Pick at most 100 items at once."), fields={"pick": _("Pick at most 100.")})
    picks: list[Pick] = []
    models = {"course": Course, "module": Module, "item": Item}
    for kind, public_id in wanted:
        row = db.session.scalar(select(models[kind]).where(models[kind].public_id == public_id))  # type: ignore[attr-defined]
        if row is None:
            raise InvalidInput(
                _(
                    "A picked %(kind)s no longer exists; reload the page and pick again.",
                    kind={"course": _("course"), "module": _("module")}.get(kind, _("item")),
                ),
                fields={"pick": _("Something picked no longer exists.")},
            )
        if isinstance(row, Course):
            pick = Pick(COURSE_TARGET, row)
        elif isinstance(row, Module):
            pick = Pick(MODULE_TARGET, row.course, row)
        else:
            pick = Pick(ITEM_TARGET, row.module.course, row.module, row)
        if pick.course.platform_id != actor.platform_id or not can_edit(actor, pick.course):
            raise Forbidden(_(
                "You can only place content from courses you teach; nothing was sent to your LMS.",
            ))
        if pick.item is not None and pick.item.is_gradable and request.accept_lineitem and not pick.item.questions:
            raise InvalidInput(
                _(
                    "The quiz “%(item)s” has no questions yet; add them before placing it, so its grade "
                    "column knows the maximum score.",
                    item=pick.item.title,
                ),
                fields={"pick": _("A picked quiz has no questions.")},
            )
        picks.append(pick)
    return picks


class _ResourceLink(DeepLinkResource):
    """pylti1p3's resource link, plus the `text` and presentation fields the spec defines."""

    def __init__(self) -> None:
        self._text: str | None = None
        self._presentation: tuple[str, dict[str, Any]] | None = None

    def set_text(self, value: str) -> _ResourceLink:
        self._text = value
        return self

    def set_presentation(self, target: str, properties: dict[str, Any]) -> _ResourceLink:
        self._presentation = (target, properties)
        return self

    def to_dict(self) -> dict[str, object]:
        data = super().to_dict()
        if self._text:
            data["text"] = self._text
        if self._presentation:
            data[self._presentation[0]] = self._presentation[1]
        return data


class _DeepLinkResponse(DeepLink):
    """pylti1p3's response, adding a message for the LMS to show and leaving out an absent `data`."""

    def __init__(self, registration, deployment_id: str, settings, message: str | None) -> None:
        super().__init__(registration, deployment_id, settings)
        self._message = message

    def get_message_jwt(self, resources):
        claims = super().get_message_jwt(resources)
        if "data" not in self._deep_link_settings:
            claims.pop(DL_CLAIM + "data", None)
        if self._message:
            claims[DL_CLAIM + "msg"] = self._message
        return claims


def content_items(picks: Sequence[Pick], request: DeepLinkRequest, *, launch_url: str) -> list[_ResourceLink]:
    resources = []
    for pick in picks:
        resource = (
            _ResourceLink()
            .set_title(pick.title)
            .set_url(launch_url)
            .set_custom_params(pick.custom)
        )
        if pick.text:
            resource.set_text(pick.text)
        if request.presentation == "iframe":
            resource.set_presentation("iframe", dict(IFRAME_SIZE))
        elif request.presentation == "window":
            resource.set_presentation("window", {"targetName": WINDOW_NAME})
        if pick.item is not None and pick.item.is_gradable and request.accept_lineitem:
            resource.set_lineitem(
                LineItem()
                .set_score_maximum(pick.item.max_score)
                .set_label(pick.item.title)
                .set_resource_id(pick.item.public_id)
                .set_tag(QUIZ_TAG)
            )
        resources.append(resource)
    return resources


def _signed_response(client: PlatformClient, claims: Mapping[str, Any], request: DeepLinkRequest, resources, message):
    from lti_tool.tool_config import DatabaseToolConf

    registration = DatabaseToolConf().find_registration_by_params(client.issuer, client.client_id)
    if registration is None:
        raise Forbidden(_("This LMS registration was removed from the tool; nothing can be placed."))
    settings: dict[str, Any] = {
        "deep_link_return_url": request.return_url,
        "accept_types": list(request.accept_types),
        "accept_presentation_document_targets": list(request.presentation_targets),
    }
    if "data" in (claims.get(DEEP_LINKING_SETTINGS) or {}):
        settings["data"] = request.data  # echoed untouched, as the spec requires
    deployment_id = claims.get(DEPLOYMENT_ID)
    return _DeepLinkResponse(registration, str(deployment_id), settings, message).get_response_jwt(resources)


def _client(actor: Actor, client_pk: int) -> PlatformClient:
    client = db.session.get(PlatformClient, client_pk)
    if client is None or client.platform_id != actor.platform_id:
        raise Forbidden(_("This LMS registration was removed from the tool; nothing can be placed."))
    return client


def place_picks(
    actor: Actor, *, client_pk: int, claims: Mapping[str, Any], values: Sequence[str], launch_url: str
) -> tuple[DeepLinkRequest, str]:
    """Check the picks, record their courses as placed in the launch's context, and sign the response.

    Returns the request's settings and the LtiDeepLinkingResponse JWT to post to its return URL.
    """
    request = deep_link_request(claims)
    picks = resolve_picks(actor, values, request)
    client = _client(actor, client_pk)
    resources = content_items(picks, request, launch_url=launch_url)
    count = len(picks)
    message = ngettext(
        "Added %(num)d item from the course studio.",
        "Added %(num)d items from the course studio.",
        count,
    )
    token = _signed_response(client, claims, request, resources, message)
    for course in {pick.course.id: pick.course for pick in picks}.values():
        _record_placement(actor, course)
    db.session.commit()
    return request, token


def _record_placement(actor: Actor, course: Course) -> None:
    now = utcnow()
    lookup = select(CoursePlacement).where(
        CoursePlacement.course_pk == course.id, CoursePlacement.context_pk == actor.context_pk
    )
    placement = db.session.scalar(lookup)
    if placement is None:
        try:
            with db.session.begin_nested():
                db.session.add(
                    CoursePlacement(
                        platform_id=actor.platform_id,
                        course_pk=course.id,
                        context_pk=actor.context_pk,
                        placed_by_pk=actor.user_pk,
                        created_at=now,
                        last_placed_at=now,
                    )
                )
            return
        except IntegrityError:
            # Placed by a concurrent request a moment ago.
            placement = db.session.scalar(lookup)
            if placement is None:
                raise
    placement.last_placed_at = now


def cancel_deep_link(actor: Actor, *, client_pk: int, claims: Mapping[str, Any]) -> tuple[DeepLinkRequest, str]:
    """An empty response: the teacher placed nothing (the spec's way to cancel)."""
    request = deep_link_request(claims)
    client = _client(actor, client_pk)
    return request, _signed_response(client, claims, request, [], None)


def count_placed_contexts(course: Course) -> int:
    return db.session.scalar(select(func.count()).select_from(CoursePlacement).where(CoursePlacement.course_pk == course.id)) or 0
