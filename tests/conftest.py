"""Shared fixtures.

Each test run creates its own PostgreSQL database (dropped at the end), its own SQLite file and its
own Redis key prefix, so no run depends on what another left behind. Tables come from the Alembic
migrations, exactly as a deployment creates them.

The `app` fixture runs each test on two stacks: SQLite with the embedded database cache (the
no-setup default) and PostgreSQL with Redis (production). `TEST_BACKENDS=sqlite` or
`TEST_BACKENDS=postgresql` narrows a local run to one of them.
"""

from __future__ import annotations

import os
import uuid
from typing import Any, Iterator

import psycopg
import pytest
import redis
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import delete

from lti_tool.app import create_app
from lti_tool.db import db
from lti_tool.i18n import TRANSLATIONS_DIR

POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
BACKENDS = [b for b in os.environ.get("TEST_BACKENDS", "sqlite,postgresql").split(",") if b]
RUN_ID = uuid.uuid4().hex[:10]


def pytest_sessionstart(session) -> None:
    # Compiled catalogs are build output; make them so a plain `pytest` tests the current .po files.
    from babel.messages.frontend import CommandLineInterface

    CommandLineInterface().run(["pybabel", "-q", "compile", "-d", str(TRANSLATIONS_DIR)])


def _with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    name = f"lti_test_{RUN_ID}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(POSTGRES_ADMIN_URL, name)
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_prefix() -> Iterator[str]:
    prefix = f"lti-test-{RUN_ID}:"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    # RQ's keys carry the prefix inside them (queue "rq:queue:<prefix>grades", job "rq:job:<run>_<id>").
    for pattern in (prefix + "*", f"rq:*:{prefix}*", f"rq:*:{prefix.rstrip(':')}_*"):
        for key in client.scan_iter(match=pattern, count=1000):
            client.delete(key)


@pytest.fixture(scope="session")
def instance_dir(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("instance"))


@pytest.fixture(scope="session")
def backend_settings(request, instance_dir, redis_prefix, tmp_path_factory) -> dict[str, dict[str, Any]]:
    """Settings overrides per backend; databases are created lazily, only for backends in use."""
    settings: dict[str, dict[str, Any]] = {}
    common = {"TOOL_ENV": "testing", "INSTANCE_PATH": instance_dir, "DEV_PLATFORM": False}
    if "sqlite" in BACKENDS:
        path = tmp_path_factory.mktemp("sqlite") / "tool.sqlite3"
        settings["sqlite"] = {**common, "DATABASE_URL": f"sqlite:///{path}"}
    if "postgresql" in BACKENDS:
        settings["postgresql"] = {
            **common,
            "DATABASE_URL": request.getfixturevalue("postgres_url"),
            "REDIS_URL": REDIS_URL,
            "REDIS_KEY_PREFIX": redis_prefix,
        }
    return settings


_migrated: set[str] = set()


def build_app(base: dict[str, Any], **overrides: Any) -> Flask:
    """An app on an already migrated test database, with extra settings for one test."""
    app = create_app({**base, **overrides})
    url = base["DATABASE_URL"]
    if url not in _migrated:
        with app.app_context():
            upgrade()
        _migrated.add(url)
    return app


def _clean(app: Flask) -> None:
    from keys import service as keys_service
    from lti_tool.platform_keys import forget_cached_keys

    with app.app_context():
        db.session.rollback()
        for table in reversed(db.metadata.sorted_tables):
            db.session.execute(delete(table))
        db.session.commit()
        db.session.remove()
        client = app.extensions.get("lti_redis")
        if client is not None:
            prefix = app.config["SETTINGS"].REDIS_KEY_PREFIX
            for key in client.scan_iter(match=prefix + "*", count=1000):
                client.delete(key)
            # Jobs a test queued and no worker ran must not reach the next test's workers.
            from lti_tool import jobs

            jobs.purge(app)
    forget_cached_keys()
    reset = getattr(keys_service, "forget_cached_keys", None)
    if reset:
        reset()


@pytest.fixture
def backend(request) -> str:
    return request.param


def pytest_generate_tests(metafunc) -> None:
    """Run each test on every stack in TEST_BACKENDS, or only on those its `stack` marker names:
    RQ worker processes exist on the Redis stack only, in-process jobs on the embedded one."""
    if "backend" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker("stack")
        stacks = [name for name in BACKENDS if marker is None or name in marker.args]
        metafunc.parametrize("backend", stacks, indirect=True)


@pytest.fixture
def make_app(backend, backend_settings) -> Iterator:
    """Build apps on this test's backend; every app made is cleaned up after the test."""
    made: list[Flask] = []

    def factory(**overrides: Any) -> Flask:
        app = build_app(backend_settings[backend], **overrides)
        made.append(app)
        return app

    yield factory
    if made:
        _clean(made[0])
    for app in made:
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def app(make_app) -> Flask:
    return make_app()


@pytest.fixture
def app_ctx(app) -> Iterator[Flask]:
    with app.app_context():
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()
