"""Who is launching, where: users, contexts, resource links and roles from a validated launch,
and the launch data that later pages find through their launch id (no cookie needed)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from functools import lru_cache, wraps
from typing import Any, Callable, TypeVar

from flask import abort, current_app, g, request
from flask_babel import gettext as _, lazy_gettext
from sqlalchemy import bindparam, select, text
from sqlalchemy.exc import IntegrityError

from lti_tool import events, hooks
from lti_tool import i18n, tenancy
from lti_tool.cache import cache
from lti_tool.db import db, utcnow
from lti_tool.launch import CONTEXT, RESOURCE_LINK, ROLES, ValidatedLaunch
from lti_tool.models import Context, Enrollment, LaunchLog, ResourceLink, User
from lti_tool.roles import ADMIN, INSTRUCTOR, LEARNER, map_roles

LAUNCH_ID_PARAM = "launch_id"
LAUNCH_ID_HEADER = "X-Launch-Id"

T = TypeVar("T")


def _clip(value: Any, size: int) -> str | None:
    # NUL bytes cannot be stored in PostgreSQL text; a name with one keeps the rest.
    return value.replace("\x00", "")[:size] or None if isinstance(value, str) and value else None


def _get_or_create(model: type[T], lookup: dict[str, Any], values: dict[str, Any]) -> T:
    """Find the row by its natural key or insert it; a concurrent first launch may win the race."""
    stmt = select(model).filter_by(**lookup)
    row = db.session.scalar(stmt)
    if row is None:
        try:
            with db.session.begin_nested():
                row = model(**lookup, **values)
                db.session.add(row)
        except IntegrityError:
            row = db.session.scalar(stmt)
            if row is None:
                raise
    for name, value in values.items():
        if value is not None and getattr(row, name) != value:
            setattr(row, name, value)
    return row


def _upsert(
    model: type[T], key: dict[str, Any], values: dict[str, Any], *, new_only: dict[str, Any]
) -> T:
    """`_get_or_create` in one statement, for the rows every launch writes (users, enrollments).

    INSERT ... ON CONFLICT (its unique key) DO UPDATE ... RETURNING: one round trip instead of a
    SELECT now and an UPDATE at the commit, and a concurrent first launch needs no savepoint. A
    value the launch leaves out (None) keeps the stored one, as in `_get_or_create`; `new_only`
    is written by the insert only. On PostgreSQL each call takes a number from the id sequence
    even when it updates; integer ids last billions of launches.
    """
    stmt = _upsert_statement(model, tuple(key), tuple(values), tuple(new_only))
    return db.session.scalars(
        stmt, {**key, **values, **new_only}, execution_options={"populate_existing": True}
    ).one()


@lru_cache(maxsize=8)
def _upsert_statement(
    model: type, key: tuple[str, ...], names: tuple[str, ...], new_only: tuple[str, ...]
):
    # Textual, because SQLAlchemy never caches the compiled form of the dialects' insert() with
    # ON CONFLICT: built from it, each launch compiled two statements, which cost more than it
    # saved. The same SQL runs on PostgreSQL and SQLite (3.35+, for RETURNING). Table and column
    # names come from the model; every value is a bound parameter.
    table = model.__table__  # type: ignore[attr-defined]
    inserted = key + names + new_only
    updates = ", ".join(f"{name} = coalesce(excluded.{name}, {table.name}.{name})" for name in names)
    placeholders = ", ".join(":" + name for name in inserted)
    sql = (
        f"INSERT INTO {table.name} ({', '.join(inserted)}) VALUES ({placeholders}) "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates} "
        f"RETURNING {', '.join(column.name for column in table.c)}"
    )
    statement = (
        text(sql)
        .bindparams(*(bindparam(name, type_=table.c[name].type) for name in inserted))
        .columns(*(getattr(model, column.key) for column in table.c))
    )
    return select(model).from_statement(statement)


@dataclass(frozen=True)
class LaunchRecord:
    launch_id: str
    user: User
    context: Context | None
    resource_link: ResourceLink | None
    roles: list[str]


def record_launch(launch: ValidatedLaunch) -> LaunchRecord:
    """Store the people and places of a valid launch, log it, commit, and cache its data."""
    claims = launch.claims
    platform_id = launch.client.platform_id
    now = utcnow()
    user = _upsert(
        User,
        {"platform_id": platform_id, "sub": claims["sub"][:255]},
        {
            "name": _clip(claims.get("name"), 300),
            "given_name": _clip(claims.get("given_name"), 200),
            "family_name": _clip(claims.get("family_name"), 200),
            "email": _clip(claims.get("email"), 320),
            "picture": _clip(claims.get("picture"), 1000),
            "locale": _clip(claims.get("locale"), 35),
            "last_launch_at": now,
        },
        new_only={"created_at": now},
    )
    lti_roles = [role[:300] for role in claims.get(ROLES, [])][:50]
    roles = map_roles(lti_roles)
    context = resource_link = None
    context_claim = claims.get(CONTEXT)
    if context_claim:
        types = context_claim.get("type")
        context = _get_or_create(
            Context,
            {
                "platform_id": platform_id,
                "deployment_pk": launch.deployment.id,
                "context_id": context_claim["id"][:255],
            },
            {
                "title": _clip(context_claim.get("title"), 500),
                "label": _clip(context_claim.get("label"), 255),
                "types": [t[:200] for t in types if isinstance(t, str)][:10] if isinstance(types, list) else None,
            },
        )
        # Keyed by its unique (context, user); the context is this platform's.
        _upsert(
            Enrollment,
            {"context_pk": context.id, "user_pk": user.id},
            {"roles": roles, "lti_roles": lti_roles, "last_launch_at": now},
            new_only={"platform_id": platform_id},
        )
        link_claim = claims.get(RESOURCE_LINK)
        if isinstance(link_claim, dict) and isinstance(link_claim.get("id"), str):
            custom = claims.get("https://purl.imsglobal.org/spec/lti/claim/custom")
            resource_link = _get_or_create(
                ResourceLink,
                {"platform_id": platform_id, "context_pk": context.id, "resource_link_id": link_claim["id"][:255]},
                {
                    "title": _clip(link_claim.get("title"), 500),
                    "custom": custom if isinstance(custom, dict) else None,
                },
            )
    launch_id = secrets.token_urlsafe(32)
    db.session.add(
        LaunchLog(
            platform_id=platform_id,
            stage="launch",
            issuer=launch.client.issuer,
            client_id=launch.client.client_id,
            deployment_id=launch.deployment.deployment_id,
            message_type=launch.message_type,
            user_sub=user.sub,
            outcome="accepted",
            launch_id=launch_id,
        )
    )
    # A learning event (analytics counts launches), committed with the launch it records.
    events.publish(
        "launch",
        platform_id=platform_id,
        user_pk=user.id,
        context_pk=context.id if context else None,
        data={"message_type": launch.message_type},
    )
    # Every id is read before the commit: after it, each read would reload its row (expired).
    current = CurrentLaunch(
        launch_id=launch_id,
        platform_id=platform_id,
        client_pk=launch.client.id,
        deployment_pk=launch.deployment.id,
        user_pk=user.id,
        context_pk=context.id if context else None,
        resource_link_pk=resource_link.id if resource_link else None,
        roles=tuple(roles),
        message_type=launch.message_type,
        claims=claims,
    )
    db.session.commit()
    settings = current_app.config["SETTINGS"]
    cache().set(
        f"launch:{launch_id}",
        {
            "platform_id": current.platform_id,
            "client_pk": current.client_pk,
            "deployment_pk": current.deployment_pk,
            "user_pk": current.user_pk,
            "context_pk": current.context_pk,
            "resource_link_pk": current.resource_link_pk,
            "roles": roles,
            "message_type": current.message_type,
            "claims": claims,
        },
        settings.LAUNCH_TTL_SECONDS,
    )
    record = LaunchRecord(launch_id, user, context, resource_link, roles)
    hooks.run_launch_hooks(current)
    return record


@dataclass(frozen=True)
class CurrentLaunch:
    """The launch a page belongs to, as stored when it was validated."""

    launch_id: str
    platform_id: int
    client_pk: int
    deployment_pk: int
    user_pk: int
    context_pk: int | None
    resource_link_pk: int | None
    roles: tuple[str, ...]
    message_type: str
    claims: dict[str, Any]

    def has_role(self, *roles: str) -> bool:
        return any(role in self.roles for role in roles)

    @property
    def is_instructor(self) -> bool:
        return INSTRUCTOR in self.roles

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.roles

    @property
    def is_learner(self) -> bool:
        return LEARNER in self.roles


def load_launch(launch_id: str | None) -> CurrentLaunch | None:
    if not launch_id or len(launch_id) > 100:
        return None
    data = cache().get(f"launch:{launch_id}")
    if not data:
        return None
    return CurrentLaunch(
        launch_id=launch_id,
        platform_id=data["platform_id"],
        client_pk=data["client_pk"],
        deployment_pk=data["deployment_pk"],
        user_pk=data["user_pk"],
        context_pk=data["context_pk"],
        resource_link_pk=data["resource_link_pk"],
        roles=tuple(data["roles"]),
        message_type=data["message_type"],
        claims=data["claims"],
    )


def launch_id_from_request() -> str | None:
    return (
        (request.view_args or {}).get(LAUNCH_ID_PARAM)
        or request.args.get(LAUNCH_ID_PARAM)
        or (request.form.get(LAUNCH_ID_PARAM) if request.method == "POST" else None)
        or request.headers.get(LAUNCH_ID_HEADER)
    )


def current_launch() -> CurrentLaunch:
    """The launch of this request; 401 when the page carries none or it expired."""
    if "launch" not in g:
        g.launch = load_launch(launch_id_from_request())
        if g.launch is not None:
            # From here on this request's queries see the launch's platform only.
            tenancy.set_tenant(g.launch.platform_id)
            i18n.launch_loaded()
    if g.launch is None:
        abort(
            401,
            description=_(
                "Your session with this tool has ended or this page was opened outside your LMS. Open the "
                "tool again from your course in the LMS.",
            ),
        )
    return g.launch


# How the refusal below names the people a page is for, in the page's language.
ROLE_PLURALS = {LEARNER: lazy_gettext(
    "learners",
), INSTRUCTOR: lazy_gettext("instructors"), ADMIN: lazy_gettext("admins")}


def requires_role(*roles: str) -> Callable:
    """View decorator: the request must carry a live launch whose user has one of `roles`."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            launch = current_launch()
            if not launch.has_role(*roles):
                people = _(" or ").join(str(ROLE_PLURALS.get(role, role)) for role in roles)
                abort(
                    403,
                    description=_(
                        "This page is for %(roles)s of this course, and your LMS role does not include that.",
                        roles=people,
                    ),
                )
            return view(*args, **kwargs)

        return wrapped

    return decorator


def requires_launch(view: Callable) -> Callable:
    @wraps(view)
    def wrapped(*args, **kwargs):
        current_launch()
        return view(*args, **kwargs)

    return wrapped
