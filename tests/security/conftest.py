"""Security fixtures: an app with local media and a metrics token, an admin account, a world."""

from __future__ import annotations

import pytest

from lti_tool import jobs
from lti_tool.admin import service as admin_service
from lti_tool.db import db
from tests.security.walk import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.security.world import build_world


@pytest.fixture
def walk_app(make_app, tmp_path, monkeypatch):
    app = make_app(MEDIA_DIR=str(tmp_path / "media"), METRICS_TOKEN="metrics-secret-token")
    with app.app_context():
        admin_service.create_admin(ADMIN_EMAIL, ADMIN_PASSWORD)
        db.session.commit()
    # Jobs the routes queue (grade deliveries, roster reads) are recorded, not sent to an LMS.
    submitted = []
    monkeypatch.setattr(jobs, "_submit", lambda call: submitted.append(call) or True)
    app.submitted_jobs = submitted
    return app


@pytest.fixture
def world(walk_app):
    return build_world(walk_app, "https://lms.example.edu", "MARKER-A-7f3c")
