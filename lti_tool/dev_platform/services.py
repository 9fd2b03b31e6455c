"""The development LMS's LTI Advantage services: AGS line items, scores and results, and NRPS.

Like the rest of the platform this is plain Python: views hand in the request's values and send
back a `Reply`. Every call needs a bearer token this platform issued at its token endpoint, with
a scope that covers it, as real platforms require. What the tool sends is kept in
`gradebook.json` beside the platform key, so the course page can show the gradebook it received.

Behaviour copied from real platforms where tools tend to trip: Moodle's service URLs carry a
query string (`?type_id=1`), a score for a user who is not gradable (a teacher) is refused with
400 "Incorrect score received", and rosters come in pages linked by `Link: <...>; rel="next"`.
"""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping
from urllib.parse import urlencode

import jwt

from lti_tool.dev_platform.platform import (
    COURSE,
    PEOPLE,
    PROFILES,
    SCOPE_LINEITEM,
    SCOPE_LINEITEM_READONLY,
    SCOPE_NRPS,
    SCOPE_RESULT_READONLY,
    SCOPE_SCORE,
    DevPlatformError,
    Person,
    PlatformConfig,
    Profile,
    _locked,
    _read_json,
    _write_json,
    default_privacy,
    find_profile,
    placed_links,
    platform_key,
    subject_of,
)

LINEITEM_MEDIA = "application/vnd.ims.lis.v2.lineitem+json"
LINEITEMS_MEDIA = "application/vnd.ims.lis.v2.lineitemcontainer+json"
SCORE_MEDIA = "application/vnd.ims.lis.v1.score+json"
RESULTS_MEDIA = "application/vnd.ims.lis.v2.resultcontainer+json"
MEMBERSHIPS_MEDIA = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"

ACTIVITY_PROGRESS = ("Initialized", "Started", "InProgress", "Submitted", "Completed")
GRADING_PROGRESS = ("FullyGraded", "Pending", "PendingManual", "Failed", "NotReady")
GRADEBOOK_FILE = "gradebook.json"
RECEIVED_LOG_SIZE = 500
MAX_PAGE_SIZE = 1000


@dataclass
class Reply:
    body: Any
    status: int = 200
    media_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def _refuse(message: str, status: int = 400, error: str = "invalid_request") -> DevPlatformError:
    return DevPlatformError(message, status=status, oauth_error=error)


# --- access tokens -------------------------------------------------------------------------------


def check_token(config: PlatformConfig, authorization: str | None, *accepted: str) -> set[str]:
    """The scopes of a valid bearer token this platform issued; refused unless one is in `accepted`."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _refuse(
            "Send the access token from the token endpoint as 'Authorization: Bearer <token>'.",
            401,
            "invalid_token",
        )
    try:
        claims = jwt.decode(
            token.strip(),
            platform_key(config).public_pem,
            algorithms=["RS256"],
            issuer=config.issuer,
            leeway=config.leeway_seconds,
            options={"require": ["exp", "iat", "iss", "sub"], "verify_aud": False},
        )
    except jwt.ExpiredSignatureError:
        raise _refuse(
            "The access token has expired; ask the token endpoint for a new one.", 401, "invalid_token"
        ) from None
    except jwt.PyJWTError:
        raise _refuse("The access token was not issued by this platform.", 401, "invalid_token") from None
    if claims.get("sub") != config.client_id:
        raise _refuse(
            f"The access token belongs to another client than {config.client_id!r}.", 401, "invalid_token"
        )
    scopes = set(str(claims.get("scopes") or "").split())
    if not scopes & set(accepted):
        raise _refuse(
            "The access token lacks the scope for this call: " + " or ".join(accepted),
            403,
            "insufficient_scope",
        )
    return scopes


# --- storage -------------------------------------------------------------------------------------


def _path(config: PlatformConfig):
    return config.key_path / GRADEBOOK_FILE


def _empty() -> dict[str, Any]:
    return {"line_items": {}, "scores": {}, "received": []}


def load_gradebook(config: PlatformConfig) -> dict[str, Any]:
    """Line items (made by the tool or by deep linking) and the scores received for them."""
    data = _read_json(_path(config), None)
    if not isinstance(data, dict):
        data = _empty()
    for key, default in _empty().items():
        data.setdefault(key, default)
    # Links placed with a lineItem got a gradebook column when they were placed.
    for link in placed_links(config):
        if link.line_item and link.id not in data["line_items"]:
            item = dict(link.line_item)
            data["line_items"][link.id] = {
                "label": str(item.get("label") or link.title),
                "scoreMaximum": item.get("scoreMaximum"),
                "resourceId": str(item.get("resourceId") or ""),
                "tag": str(item.get("tag") or ""),
                "resourceLinkId": link.id,
                "query": find_profile(link.profile or config.profile).service_query,
                "created_by": "deep linking",
                "created_at": link.placed_at or int(time.time()),
            }
    return data


def _save(config: PlatformConfig, data: dict[str, Any]) -> None:
    _write_json(_path(config), data)


def _check_context(context_id: str) -> None:
    if context_id != COURSE.context_id:
        raise _refuse(f"There is no course {context_id!r} on this platform.", 404, "not_found")


def _base(config: PlatformConfig) -> str:
    return config.issuer.rstrip("/")


def _line_item_url(config: PlatformConfig, item_id: str, query: str) -> str:
    url = f"{_base(config)}/ags/{COURSE.context_id}/lineitems/{item_id}/lineitem"
    return f"{url}?{query}" if query else url


def _public(config: PlatformConfig, item_id: str, item: Mapping[str, Any]) -> dict[str, Any]:
    body = {
        "id": _line_item_url(config, item_id, item.get("query", "")),
        "label": item["label"],
        "scoreMaximum": item["scoreMaximum"],
    }
    for name in ("resourceId", "tag", "resourceLinkId"):
        if item.get(name):
            body[name] = item[name]
    return body


def _query_of(params: Mapping[str, str]) -> str:
    # The Moodle-style query every service URL carries, kept on URLs this platform hands out.
    return urlencode({"type_id": params["type_id"]}) if params.get("type_id") else ""


# --- AGS: line items -----------------------------------------------------------------------------


def _text(body: Mapping[str, Any], name: str, *, required: bool = False, size: int = 255) -> str:
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise _refuse(f"The line item needs a {name}.")
        return ""
    if not isinstance(value, str):
        raise _refuse(f"The line item's {name} must be a string.")
    if len(value) > size:
        raise _refuse(f"The line item's {name} is longer than {size} characters.")
    return value


def _maximum(body: Mapping[str, Any]) -> float:
    value = body.get("scoreMaximum")
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise _refuse("scoreMaximum must be a number greater than 0.")
    return value


def list_line_items(config: PlatformConfig, context_id: str, params: Mapping[str, str]) -> Reply:
    _check_context(context_id)
    data = load_gradebook(config)
    wanted = {
        "resourceLinkId": params.get("resource_link_id"),
        "resourceId": params.get("resource_id"),
        "tag": params.get("tag"),
    }
    found = [
        _public(config, item_id, item)
        for item_id, item in data["line_items"].items()
        if item is not None
        and all(value is None or item.get(name, "") == value for name, value in wanted.items())
    ]
    return Reply(found, media_type=LINEITEMS_MEDIA)


def create_line_item(config: PlatformConfig, context_id: str, params: Mapping[str, str], body: Any) -> Reply:
    _check_context(context_id)
    if not isinstance(body, dict):
        raise _refuse(f"Send the line item as JSON ({LINEITEM_MEDIA}).")
    item = {
        "label": _text(body, "label", required=True),
        "scoreMaximum": _maximum(body),
        "resourceId": _text(body, "resourceId"),
        "tag": _text(body, "tag"),
        "resourceLinkId": _text(body, "resourceLinkId"),
        "query": _query_of(params),
        "created_by": "tool",
        "created_at": int(time.time()),
    }
    if item["resourceLinkId"] and item["resourceLinkId"] not in {link.id for link in _all_links(config)}:
        raise _refuse(f"There is no resource link {item['resourceLinkId']!r} in this course.")
    item_id = f"li-{uuid.uuid4().hex[:12]}"
    with _locked(config):
        data = load_gradebook(config)
        data["line_items"][item_id] = item
        _save(config, data)
    return Reply(_public(config, item_id, item), status=201, media_type=LINEITEM_MEDIA)


def _all_links(config: PlatformConfig):
    from lti_tool.dev_platform.platform import DEFAULT_LINK

    return [DEFAULT_LINK, *placed_links(config)]


def _item(data: dict[str, Any], item_id: str) -> dict[str, Any]:
    item = data["line_items"].get(item_id)
    if item is None:
        raise _refuse(f"There is no line item {item_id!r} in this course.", 404, "not_found")
    return item


def get_line_item(config: PlatformConfig, context_id: str, item_id: str) -> Reply:
    _check_context(context_id)
    return Reply(_public(config, item_id, _item(load_gradebook(config), item_id)), media_type=LINEITEM_MEDIA)


def update_line_item(config: PlatformConfig, context_id: str, item_id: str, body: Any) -> Reply:
    _check_context(context_id)
    if not isinstance(body, dict):
        raise _refuse(f"Send the line item as JSON ({LINEITEM_MEDIA}).")
    with _locked(config):
        data = load_gradebook(config)
        item = _item(data, item_id)
        item.update(label=_text(body, "label", required=True), scoreMaximum=_maximum(body))
        for name in ("resourceId", "tag"):
            if name in body:
                item[name] = _text(body, name)
        _save(config, data)
    return Reply(_public(config, item_id, item), media_type=LINEITEM_MEDIA)


def delete_line_item(config: PlatformConfig, context_id: str, item_id: str) -> Reply:
    _check_context(context_id)
    with _locked(config):
        data = load_gradebook(config)
        _item(data, item_id)
        # A tombstone, so a deleted deep-linked column is not revived from its link.
        data["line_items"][item_id] = None
        data["scores"].pop(item_id, None)
        _save(config, data)
    return Reply(None, status=204)


# --- AGS: scores and results ---------------------------------------------------------------------


def person_of(user_id: str) -> tuple[Person, Profile] | None:
    """Who a user id is, in whichever profile issued it."""
    for profile in PROFILES.values():
        for person in PEOPLE:
            if subject_of(person, profile) == user_id:
                return person, profile
    return None


def _timestamp(value: Any) -> datetime:
    if not isinstance(value, str):
        raise _refuse("The score needs a timestamp (ISO 8601 with a time zone).")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _refuse(f"timestamp {value!r} is not an ISO 8601 date and time.") from None
    if moment.tzinfo is None:
        raise _refuse("timestamp needs a time zone.")
    return moment


def post_score(
    config: PlatformConfig, context_id: str, item_id: str, content_type: str | None, body: Any
) -> Reply:
    _check_context(context_id)
    if (content_type or "").split(";")[0].strip().lower() != SCORE_MEDIA:
        raise _refuse(f"Scores must be sent as {SCORE_MEDIA}.", 415, "unsupported_media_type")
    if not isinstance(body, dict):
        raise _refuse("The score must be a JSON object.")
    user_id = body.get("userId")
    if not isinstance(user_id, str) or not user_id:
        raise _refuse("The score needs the learner's userId.")
    found = person_of(user_id)
    if found is None:
        raise _refuse(f"User {user_id!r} is not enrolled in this course.")
    person, _profile = found
    if person.role != "learner":
        # Moodle's answer for a teacher or anyone else who is not gradable.
        raise _refuse("Incorrect score received", 400, "invalid_score")
    activity = body.get("activityProgress")
    grading = body.get("gradingProgress")
    if activity not in ACTIVITY_PROGRESS:
        raise _refuse(f"activityProgress must be one of {', '.join(ACTIVITY_PROGRESS)}.")
    if grading not in GRADING_PROGRESS:
        raise _refuse(f"gradingProgress must be one of {', '.join(GRADING_PROGRESS)}.")
    moment = _timestamp(body.get("timestamp"))
    given = body.get("scoreGiven")
    maximum = body.get("scoreMaximum")
    if given is not None:
        if (
            isinstance(given, bool)
            or not isinstance(given, (int, float))
            or not math.isfinite(given)
            or given < 0
        ):
            raise _refuse("scoreGiven must be a number of at least 0.")
        if (
            isinstance(maximum, bool)
            or not isinstance(maximum, (int, float))
            or not math.isfinite(maximum)
            or maximum <= 0
        ):
            raise _refuse("scoreMaximum must be present with scoreGiven, and greater than 0.")
    comment = body.get("comment")
    if comment is not None and not isinstance(comment, str):
        raise _refuse("comment must be a string.")
    with _locked(config):
        data = load_gradebook(config)
        _item(data, item_id)
        scores = data["scores"].setdefault(item_id, {})
        current = scores.get(user_id)
        if current is not None and _timestamp(current["timestamp"]) > moment:
            # AGS: a platform must not let an older score replace a newer one.
            raise _refuse(
                "A score with a later timestamp was already received for this user.", 409, "conflict"
            )
        scores[user_id] = {
            "scoreGiven": given,
            "scoreMaximum": maximum,
            "activityProgress": activity,
            "gradingProgress": grading,
            "timestamp": body["timestamp"],
            "comment": comment,
            "received_at": time.time(),
        }
        data["received"] = [
            *data["received"],
            {
                "lineItem": item_id,
                "userId": user_id,
                "scoreGiven": given,
                "timestamp": body["timestamp"],
                "received_at": time.time(),
            },
        ][-RECEIVED_LOG_SIZE:]
        _save(config, data)
    return Reply(None, status=200)


def results(config: PlatformConfig, context_id: str, item_id: str, params: Mapping[str, str]) -> Reply:
    _check_context(context_id)
    data = load_gradebook(config)
    item = _item(data, item_id)
    url = _line_item_url(config, item_id, item.get("query", ""))
    found = []
    for user_id, score in data["scores"].get(item_id, {}).items():
        if params.get("user_id") and params["user_id"] != user_id:
            continue
        result = {
            "id": f"{url}/results/{user_id}",
            "scoreOf": url,
            "userId": user_id,
            "resultScore": score["scoreGiven"],
            "resultMaximum": score["scoreMaximum"] or 1,
        }
        if score.get("comment"):
            result["comment"] = score["comment"]
        found.append(result)
    return Reply(found, media_type=RESULTS_MEDIA)


# --- NRPS ----------------------------------------------------------------------------------------


def _positive(params: Mapping[str, str], name: str, default: int, limit: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= limit:
        raise _refuse(f"{name} must be a whole number from 1 to {limit}.")
    return int(raw)


def memberships(
    config: PlatformConfig, profile_key: str, context_id: str, params: Mapping[str, str]
) -> Reply:
    """The course's members, `limit` per page (the platform's page size by default)."""
    _check_context(context_id)
    profile = find_profile(profile_key)
    size = _positive(params, "limit", config.roster_page_size, MAX_PAGE_SIZE)
    page = _positive(params, "page", 1, 10_000)
    public = default_privacy(config, profile) == "public"
    everyone = []
    for person in PEOPLE:
        member: dict[str, Any] = {
            "status": "Active",
            "user_id": subject_of(person, profile),
            "roles": list(profile.roles[person.role]),
        }
        if public:
            member.update(
                name=person.name,
                given_name=person.given_name,
                family_name=person.family_name,
                email=person.email,
            )
        everyone.append(member)
    role = params.get("role")
    if role:
        # NRPS's role filter: a full role URI, or a context role's short name (Learner).
        everyone = [m for m in everyone if any(r == role or r.endswith("#" + role) for r in m["roles"])]
    start = (page - 1) * size
    base = f"{_base(config)}/nrps/{profile.key}/{COURSE.context_id}/memberships"
    query = {k: v for k, v in params.items() if k not in ("page",)}
    body = {
        "id": f"{base}?{urlencode(query)}" if query else base,
        "context": {"id": COURSE.context_id, "label": COURSE.label, "title": COURSE.title},
        "members": everyone[start : start + size],
    }
    headers = {}
    if start + size < len(everyone):
        headers["Link"] = f'<{base}?{urlencode({**query, "page": page + 1})}>; rel="next"'
    return Reply(body, media_type=MEMBERSHIPS_MEDIA, headers=headers)


# --- what the course page shows ------------------------------------------------------------------


@dataclass
class ReceivedColumn:
    id: str
    label: str
    maximum: Any
    created_by: str
    scores: dict[str, dict[str, Any]]


def received_gradebook(config: PlatformConfig) -> list[ReceivedColumn]:
    """The gradebook columns and the scores the tool sent, for the course page."""
    data = load_gradebook(config)
    columns = []
    for item_id, item in data["line_items"].items():
        if item is None:
            continue
        named = {}
        for user_id, score in data["scores"].get(item_id, {}).items():
            found = person_of(user_id)
            named[found[0].key if found else user_id] = score
        columns.append(
            ReceivedColumn(
                item_id, item["label"], item["scoreMaximum"], item.get("created_by", "tool"), named
            )
        )
    return columns


# Scopes each kind of call accepts.
READ_LINE_ITEMS = (SCOPE_LINEITEM, SCOPE_LINEITEM_READONLY)
WRITE_LINE_ITEMS = (SCOPE_LINEITEM,)
POST_SCORES = (SCOPE_SCORE,)
READ_RESULTS = (SCOPE_RESULT_READONLY,)
READ_MEMBERS = (SCOPE_NRPS,)
