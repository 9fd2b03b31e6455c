"""Registrations looked up by logins and launches come from a per-process copy, and every committed
change to a platform, client or deployment reaches every process's next lookup."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, event, text, update

from lti_tool import registrations, registry
from lti_tool.cache import cache
from lti_tool.db import db
from lti_tool.models import Deployment, Platform

ISSUER = "https://lms.example.edu"


@pytest.fixture
def platform(app_ctx):
    platform = registry.add_platform(
        registry.PlatformInput(
            issuer=ISSUER,
            client_id="client-1",
            auth_url=ISSUER + "/auth",
            token_url=ISSUER + "/token",
            jwks_url=ISSUER + "/jwks",
            deployment_ids=("deployment-1",),
        )
    )
    db.session.commit()
    return platform


@pytest.fixture
def registry_queries(app_ctx):
    """SQL statements that read registry tables."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if any(name in statement for name in ("FROM platform_clients", "FROM platforms", "FROM deployments")):
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    yield seen
    event.remove(db.engine, "before_cursor_execute", record)


def next_request():
    db.session.remove()  # a new request gets a new session


def test_second_lookup_runs_no_registry_query(platform, registry_queries):
    client = registrations.find_client(ISSUER, "client-1")
    deployment = registrations.find_deployment(client, "deployment-1")
    assert client.platform.status == "active" and deployment.deployment_id == "deployment-1"
    assert len(registry_queries) == 2
    next_request()
    client = registrations.find_client(ISSUER, "client-1")
    deployment = registrations.find_deployment(client, "deployment-1")
    assert client.platform.issuer == ISSUER and deployment.status == "active"
    assert client in db.session and deployment in db.session  # the request's own instances
    assert len(registry_queries) == 2


def test_unknown_registrations_are_not_found(platform):
    assert registrations.find_client(ISSUER, "client-2") is None
    assert registrations.find_client("https://other.example.edu", "client-1") is None
    client = registrations.find_client(ISSUER, "client-1")
    assert registrations.find_deployment(client, "deployment-2") is None


def test_a_status_change_committed_here_is_seen_at_once(platform):
    registrations.find_client(ISSUER, "client-1")
    next_request()
    registry.set_platform_status(db.session.get(Platform, platform.id), registry.DISABLED)
    db.session.commit()
    next_request()
    assert registrations.find_client(ISSUER, "client-1").platform.status == registry.DISABLED


def test_a_bulk_update_and_delete_are_seen(platform):
    client = registrations.find_client(ISSUER, "client-1")
    assert registrations.find_deployment(client, "deployment-1") is not None
    next_request()
    db.session.execute(update(Platform).where(Platform.id == platform.id).values(status=registry.PENDING))
    db.session.commit()
    next_request()
    client = registrations.find_client(ISSUER, "client-1")
    assert client.platform.status == registry.PENDING
    db.session.execute(delete(Deployment).where(Deployment.deployment_id == "deployment-1"))
    db.session.commit()
    next_request()
    assert (
        registrations.find_deployment(registrations.find_client(ISSUER, "client-1"), "deployment-1") is None
    )


def test_a_change_made_by_another_process_is_seen_through_the_shared_version(platform):
    registrations.find_client(ISSUER, "client-1")
    next_request()
    # Another process commits a change: this process's session never sees the write, only the
    # new registry version that the other process published in the shared cache.
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE platforms SET status = 'disabled' WHERE id = :id"), {"id": platform.id})
    assert registrations.find_client(ISSUER, "client-1").platform.status == "active"  # copy still valid here
    next_request()
    cache().set(registrations.VERSION_KEY, "changed-elsewhere", 60)
    assert registrations.find_client(ISSUER, "client-1").platform.status == "disabled"


def test_a_rolled_back_change_leaves_the_copies_consistent(platform):
    registrations.find_client(ISSUER, "client-1")
    next_request()
    db.session.get(Platform, platform.id).status = registry.DISABLED
    db.session.flush()
    db.session.rollback()
    next_request()
    assert registrations.find_client(ISSUER, "client-1").platform.status == "active"


def test_a_change_made_outside_the_application_is_seen_after_the_maximum_age(platform, monkeypatch):
    registrations.find_client(ISSUER, "client-1")
    next_request()
    with db.engine.begin() as conn:  # by hand in the database: no session, no new version
        conn.execute(text("UPDATE platforms SET status = 'disabled' WHERE id = :id"), {"id": platform.id})
    assert registrations.find_client(ISSUER, "client-1").platform.status == "active"
    next_request()
    monkeypatch.setattr(registrations, "MAX_AGE_SECONDS", 0.0)
    assert registrations.find_client(ISSUER, "client-1").platform.status == "disabled"
