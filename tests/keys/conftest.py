"""Stand-in fixtures until the shared ones in tests/conftest.py exist; same names, so it can go."""

import pytest

from lti_tool.app import create_app
from lti_tool.db import db


@pytest.fixture
def app(tmp_path):
    app = create_app(
        {
            "TOOL_ENV": "testing",
            "DATABASE_URL": f"sqlite:///{tmp_path}/t.db",
            "INSTANCE_PATH": str(tmp_path),
            "DEV_PLATFORM": False,
        }
    )
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()
