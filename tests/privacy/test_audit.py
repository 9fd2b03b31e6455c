"""Registry and key changes made from the command line are audited like those of the admin area."""

from __future__ import annotations

from sqlalchemy import select

from lti_tool.admin.models import AdminAuditLog
from lti_tool.db import db

ISSUER = "https://moodle.example.edu"


def _entries(app) -> list[tuple[str, str, dict]]:
    with app.app_context():
        rows = db.session.scalars(select(AdminAuditLog).order_by(AdminAuditLog.id))
        return [(row.actor, row.action, row.detail) for row in rows]


def test_platform_commands_write_the_audit_log(app, runner):
    result = runner.invoke(args=["platform", "add", "--issuer", ISSUER, "--client-id", "c1",
                                 "--auth-url", f"{ISSUER}/auth", "--token-url", f"{ISSUER}/token",
                                 "--jwks-url", f"{ISSUER}/jwks", "--deployment-id", "1"])
    assert result.exit_code == 0, result.output
    for args in (["platform", "deployment-add", ISSUER, "--deployment-id", "2"],
                 ["platform", "client-add", ISSUER, "--client-id", "c2", "--deployment-id", "9"],
                 ["platform", "remove", ISSUER, "--yes"]):
        result = runner.invoke(args=args)
        assert result.exit_code == 0, result.output
    entries = _entries(app)
    assert [action for _actor, action, _detail in entries] == [
        "platform.added", "deployment.added", "client.added", "platform.removed"]
    assert {actor for actor, _action, _detail in entries} == {"cli"}
    assert entries[0][2]["issuer"] == ISSUER and entries[1][2]["deployment_id"] == "2"
    assert entries[3][2]["issuer"] == ISSUER  # still says which LMS after it is gone


def test_a_refused_platform_command_writes_nothing(app, runner):
    result = runner.invoke(args=["platform", "add", "--issuer", ISSUER, "--client-id", "c1",
                                 "--deployment-id", "1"])
    assert result.exit_code == 1
    assert _entries(app) == []


def test_key_rotation_from_the_command_line_is_audited(app, runner):
    assert runner.invoke(args=["keys", "ensure"]).exit_code == 0
    result = runner.invoke(args=["keys", "rotate"])
    assert result.exit_code == 0, result.output
    [(actor, action, detail)] = _entries(app)
    assert (actor, action) == ("cli", "keys.rotated") and detail["active"] in result.output
