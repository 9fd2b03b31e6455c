"""The registrations every login and launch looks up, kept in each process until one changes.

A login and its launch each need the platform client (by issuer and client id), its platform and
the deployment: three queries per request, the same rows every time. Each web process keeps
loaded copies of them instead, and hands the request its own session's instances of them
(`Session.merge(..., load=False)`, no SQL).

Correctness rests on a registry version in the shared cache (Redis in production): any commit that
adds, changes or deletes a platform, client or deployment — through the registry, the admin area,
dynamic registration or a bulk statement — replaces the version, and a process whose copies were
made under another version drops them all. So a platform disabled by an admin is refused by every
process from its next request on, at the price of one cache read per request. Changes made outside
the application (by hand in the database) are seen within MAX_AGE_SECONDS.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from flask import current_app, g, has_app_context, has_request_context
from sqlalchemy import event, select
from sqlalchemy.orm import ORMExecuteState, Session, joinedload

from lti_tool.cache import cache
from lti_tool.db import db
from lti_tool.models import Deployment, Platform, PlatformClient

VERSION_KEY = "registry-version"
# The version outlives any copy; if the cache ever loses it, a new one simply flushes every copy.
VERSION_TTL_SECONDS = 30 * 24 * 3600
EXTENSION_KEY = "lti_registrations"
# Copies are also dropped after this long, for changes made outside the application (by hand in
# the database, or by a restore), which no session event sees.
MAX_AGE_SECONDS = 60.0
_REGISTRY_CLASSES = (Platform, PlatformClient, Deployment)
_REGISTRY_TABLES = {cls.__table__.name for cls in _REGISTRY_CLASSES}
_CHANGED = "lti_registry_changed"
_VERSION_SEEN = "lti_registry_version"


def _current_version() -> str:
    # Read once per request: a launch looks up its client and then its deployment, and both
    # lookups belong to the same request (a change is still seen from the next request on).
    if has_request_context() and _VERSION_SEEN in g:
        return g.get(_VERSION_SEEN)
    version = cache().get(VERSION_KEY)
    if version is None:
        fresh = secrets.token_hex(8)
        version = fresh if cache().add(VERSION_KEY, fresh, VERSION_TTL_SECONDS) else cache().get(VERSION_KEY)
    if has_request_context():
        setattr(g, _VERSION_SEEN, str(version))
    return str(version)


def _copies() -> dict[str, Any]:
    """This app's copies, emptied when the registry version moved on."""
    version = _current_version()
    store = current_app.extensions.get(EXTENSION_KEY)
    now = time.monotonic()
    if store is None or store["version"] != version or now - store["made"] > MAX_AGE_SECONDS:
        store = {"version": version, "made": now, "clients": {}, "deployments": {}}
        current_app.extensions[EXTENSION_KEY] = store
    return store


def find_client(issuer: str, client_id: str) -> PlatformClient | None:
    """`registry.find_client`, with the platform loaded, from this process's copy when it has one."""
    store = _copies()
    key = (issuer, client_id)
    copy = store["clients"].get(key)
    if copy is None:
        with Session(db.engine) as loader:
            copy = loader.scalar(
                select(PlatformClient)
                .where(PlatformClient.issuer == issuer, PlatformClient.client_id == client_id)
                .options(joinedload(PlatformClient.platform))
            )
        if copy is None:
            return None  # unknown registrations are not remembered: adding one needs no flush
        store["clients"][key] = copy
    return db.session.merge(copy, load=False)


def find_deployment(client: PlatformClient, deployment_id: str) -> Deployment | None:
    """`registry.find_deployment`, from this process's copy when it has one."""
    store = _copies()
    key = (client.id, deployment_id)
    copy = store["deployments"].get(key)
    if copy is None:
        with Session(db.engine) as loader:
            copy = loader.scalar(
                select(Deployment).where(
                    Deployment.client_pk == client.id, Deployment.deployment_id == deployment_id
                )
            )
        if copy is None:
            return None
        store["deployments"][key] = copy
    return db.session.merge(copy, load=False)


def forget() -> None:
    """Drop this app's copies (they are rebuilt on the next lookup)."""
    current_app.extensions.pop(EXTENSION_KEY, None)
    if has_request_context():
        g.pop(_VERSION_SEEN, None)


# --- invalidation: every committed change to a registry row replaces the version ------------------


@event.listens_for(Session, "after_flush")
def _note_flushed_changes(session: Session, _context) -> None:
    # Pre-flush state is still visible here: what was added, changed or deleted.
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, _REGISTRY_CLASSES):
            session.info[_CHANGED] = True
            return


@event.listens_for(Session, "do_orm_execute")
def _note_bulk_changes(state: ORMExecuteState) -> None:
    # update(Platform)..., delete(deployments_table)...: statements that bypass the unit of work.
    if not (state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    if getattr(table, "name", None) in _REGISTRY_TABLES:
        state.session.info[_CHANGED] = True


@event.listens_for(Session, "after_commit")
def _publish_change(session: Session) -> None:
    # Only in the tool's own application: another app on the same models (the development LMS
    # served on its own) has no shared cache, and no copies to drop.
    if session.info.pop(_CHANGED, False) and has_app_context() and "lti_cache" in current_app.extensions:
        cache().set(VERSION_KEY, secrets.token_hex(8), VERSION_TTL_SECONDS)
        forget()
