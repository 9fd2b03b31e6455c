"""The application factory: the one place where settings, extensions and packages meet."""

from __future__ import annotations

import os
import sqlite3
from typing import Any, Mapping

from flask import Flask
from flask_migrate import Migrate
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

from config import load_settings
from config.settings import PROJECT_ROOT
from lti_tool import cache, csrf, errors, i18n, limits, observability, security, tracing
from lti_tool.db import RowIdConverter, db

migrate = Migrate()


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # SQLite enforces foreign keys (and so ON DELETE CASCADE) only when asked, per connection.
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()


def create_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    settings = load_settings(overrides=overrides)
    app = Flask(
        __name__,
        instance_path=settings.INSTANCE_PATH,
        instance_relative_config=False,
    )
    # Before any blueprint adds its routes: they bind their converters when added.
    app.url_map.converters["int"] = RowIdConverter
    app.config.update(
        SETTINGS=settings,
        SECRET_KEY=settings.SECRET_KEY,
        SQLALCHEMY_DATABASE_URI=_database_uri(settings.DATABASE_URL),
        SQLALCHEMY_ENGINE_OPTIONS=_engine_options(settings.DATABASE_URL),
        TESTING=settings.TOOL_ENV == "testing",
        # Launch pages live in an LMS iframe on another site: cookies must be allowed to cross.
        SESSION_COOKIE_SAMESITE="None" if settings.TOOL_BASE_URL.startswith("https") else "Lax",
        SESSION_COOKIE_SECURE=settings.TOOL_BASE_URL.startswith("https"),
        WTF_CSRF_TIME_LIMIT=None,
    )
    if settings.PROXY_FIX_HOPS:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app,
            x_for=settings.PROXY_FIX_HOPS,
            x_proto=settings.PROXY_FIX_HOPS,
            x_host=settings.PROXY_FIX_HOPS,
            x_port=settings.PROXY_FIX_HOPS,
        )
    # The embedded SQLite file, development secrets and local media live here.
    os.makedirs(settings.INSTANCE_PATH, exist_ok=True)

    observability.init_app(app)
    i18n.init_app(app)
    db.init_app(app)
    # Batch mode lets Alembic alter tables on SQLite as well as PostgreSQL.
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True, compare_type=True)
    cache.init_app(app)
    errors.init_app(app)
    csrf.init_app(app)
    security.init_app(app)
    limits.init_app(app)
    tracing.init_app(app)
    _register_packages(app, settings)
    return app


def _register_packages(app: Flask, settings) -> None:
    # Imported here: the shell knows its feature packages only to register them.
    from keys import cli as keys_cli
    from keys import models as _keys_models  # noqa: F401 - tables known to migrations
    from lti_tool import events as _events  # noqa: F401
    from grades import models as _grades_models  # noqa: F401 - tables known to migrations
    from keys import views as keys_views
    from lti_tool import cli as lti_cli
    from lti_tool import views as lti_views

    app.register_blueprint(lti_views.bp)
    from lti_tool.admin import cli as admin_cli
    from lti_tool.admin import models as _admin_models  # noqa: F401 - tables known to migrations
    from lti_tool.admin import registration_views, views as admin_views
    from privacy import cli as privacy_cli
    from privacy import models as _privacy_models  # noqa: F401 - tables known to migrations
    from privacy import views as _privacy_views  # noqa: F401 - nests itself in the admin blueprint

    app.register_blueprint(registration_views.registration_bp)
    app.register_blueprint(admin_views.bp, url_prefix="/admin")
    admin_cli.init_app(app)
    privacy_cli.init_app(app)
    app.register_blueprint(keys_views.bp)
    lti_cli.init_app(app)
    keys_cli.init_app(app)
    from courses import models as _courses_models  # noqa: F401 - tables known to migrations
    from courses import views as courses_views

    app.register_blueprint(courses_views.bp, url_prefix="/courses")
    courses_views.init_app(app)
    from analytics import cli as analytics_cli
    from analytics import models as _analytics_models  # noqa: F401 - tables known to migrations
    from analytics import views as analytics_views

    app.register_blueprint(analytics_views.bp, url_prefix="/analytics")
    analytics_cli.init_app(app)
    from grades import views as grades_views

    app.register_blueprint(grades_views.bp, url_prefix="/grades")
    grades_views.init_app(app)
    from notifications import models as _notifications_models  # noqa: F401 - tables known to migrations
    from notifications import views as notifications_views

    app.register_blueprint(notifications_views.bp, url_prefix="/notifications")
    notifications_views.init_app(app)

    if settings.DEV_PLATFORM:
        from lti_tool.dev_platform import views as dev_platform_views

        app.register_blueprint(dev_platform_views.bp, url_prefix="/dev/lms")


def _database_uri(url: str) -> str:
    # Accept the common postgres:// and postgresql:// spellings; we ship the psycopg 3 driver.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        # Several threads (flask run, the test servers) share the file; wait for locks.
        return {"connect_args": {"timeout": 30, "check_same_thread": False}}
    return {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 20}
