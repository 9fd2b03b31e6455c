"""xAPI 1.0.3 statements for a context's learning events, for institutions with a learning record
store (LRS).

Who: the learner's LMS account (`account.homePage` is the LMS's issuer, `account.name` the LTI
`sub`), never an email address; the name only when ANALYTICS_XAPI_NAMES is on and the LMS shared it.
Did what: verbs from the ADL vocabulary. To what: the item's address in this tool, with the LMS
course as parent. Statement ids are derived from the tool and the event, so exporting twice gives
the same ids and an LRS keeps one copy.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterator

from analytics import catalog
from analytics.models import DELIVERED, LAUNCH, PROGRESS, SUBMITTED, VIEWED, Fact
from lti_tool.models import Context, Platform, User

ADL_VERBS = "http://adlnet.gov/expapi/verbs/"
ADL_ACTIVITIES = "http://adlnet.gov/expapi/activities/"
VERBS = {
    LAUNCH: "launched",
    VIEWED: "experienced",
    PROGRESS: "progressed",
    SUBMITTED: "completed",
    DELIVERED: "scored",
}
ACTIVITY_TYPES = {
    "video": "media",
    "audio": "media",
    "image": "media",
    "pdf": "file",
    "link": "link",
    "page": "lesson",
    "quiz": "assessment",
}
# Progress as a whole percentage (the cmi5 extension) and the player position in seconds (the
# xAPI video profile's extension): both are registered IRIs LRS reports understand.
PROGRESS_EXTENSION = "https://w3id.org/xapi/cmi5/result/extensions/progress"
TIME_EXTENSION = "https://w3id.org/xapi/video/extensions/time"


@dataclass(frozen=True)
class ExportContext:
    """Everything statements need besides the facts: who the LMS is and how to name things."""

    platform: Platform
    context: Context
    course_iri: str
    statement_namespace: str  # the tool's base URL; with the event id it makes statement ids
    tool_name: str
    include_names: bool
    completion_threshold: float
    item_iri: Callable[[int, str | None], str]  # (item id, public id) -> the item's address
    item_info: Callable[[int], tuple[str, str | None, str | None]]  # item id -> (title, public id, kind)


def timestamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def statement_id(namespace: str, event_id: int) -> str:
    return str(
        uuid.uuid5(uuid.NAMESPACE_URL, f"{namespace.rstrip('/')}/analytics/xapi/statements/{event_id}")
    )


def actor(user: User, issuer: str, include_names: bool) -> dict[str, Any]:
    agent: dict[str, Any] = {"objectType": "Agent", "account": {"homePage": issuer, "name": user.sub}}
    if include_names and user.name:
        agent["name"] = user.name
    return agent


def course_activity(export: ExportContext) -> dict[str, Any]:
    name = export.context.title or export.context.label or export.context.context_id
    return {
        "objectType": "Activity",
        "id": export.course_iri,
        "definition": {"type": ADL_ACTIVITIES + "course", "name": {"und": name}},
    }


def statement(fact: Fact, user: User, export: ExportContext) -> dict[str, Any]:
    verb = VERBS[fact.kind]
    course = course_activity(export)
    body: dict[str, Any] = {
        "id": statement_id(export.statement_namespace, fact.event_id),
        "actor": actor(user, export.platform.issuer, export.include_names),
        "verb": {"id": ADL_VERBS + verb, "display": {"en-US": verb}},
        "timestamp": timestamp(fact.occurred_at),
        "context": {"platform": export.tool_name},
    }
    if fact.kind == LAUNCH or fact.item_id is None:
        body["object"] = course
        return body
    title, public_id, kind = export.item_info(fact.item_id)
    definition: dict[str, Any] = {"name": {"und": title}}
    if kind in ACTIVITY_TYPES:
        definition["type"] = ADL_ACTIVITIES + ACTIVITY_TYPES[kind]
    body["object"] = {
        "objectType": "Activity",
        "id": export.item_iri(fact.item_id, public_id),
        "definition": definition,
    }
    body["context"]["contextActivities"] = {"parent": [course]}
    result: dict[str, Any] = {}
    if fact.kind == PROGRESS and fact.progress is not None:
        result["extensions"] = {PROGRESS_EXTENSION: int(round(fact.progress * 100))}
        if fact.position is not None:
            result["extensions"][TIME_EXTENSION] = round(fact.position, 3)
        result["completion"] = fact.progress >= export.completion_threshold
    elif fact.kind in (SUBMITTED, DELIVERED):
        if fact.scaled is not None:
            result["score"] = {
                "scaled": round(fact.scaled, 6),
                "raw": fact.score,
                "min": 0,
                "max": fact.max_score,
            }
        if fact.kind == SUBMITTED:
            result["completion"] = True
    if result:
        body["result"] = result
    return body


def statements(facts: Iterator[tuple[Fact, User]], export: ExportContext) -> Iterator[dict[str, Any]]:
    for fact, user in facts:
        if fact.kind in VERBS:
            yield statement(fact, user, export)


def item_info_lookup(platform_id: int) -> Callable[[int], tuple[str, str | None, str | None]]:
    """Titles, public ids and kinds of items, looked up once each."""
    known: dict[int, tuple[str, str | None, str | None]] = {}

    def lookup(item_id: int) -> tuple[str, str | None, str | None]:
        if item_id not in known:
            found = catalog.item_titles(platform_id, [item_id])
            known[item_id] = found.get(item_id, (f"Item {item_id}", None, None))
        return known[item_id]

    return lookup
