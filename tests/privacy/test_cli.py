"""`flask privacy export | erase | purge`."""

from __future__ import annotations

import json

from sqlalchemy import select

from lti_tool import registry
from lti_tool.admin.models import AdminAuditLog
from lti_tool.db import db
from lti_tool.models import User
from privacy.models import ErasureRecord
from tests.privacy.conftest import TARGET, build_world

ISSUER = "https://lms.example.edu"


def _world(app):
    with app.app_context():
        return build_world(ISSUER)


def test_export_to_a_file(app, runner, tmp_path):
    world = _world(app)
    out = tmp_path / "export.json"
    result = runner.invoke(args=["privacy", "export", "--issuer", ISSUER, "--user", TARGET["sub"], "-o", str(out)])
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["user"]["id"] == world.target_pk and document["data"]["launch_log"]
    with app.app_context():
        audit = db.session.scalar(select(AdminAuditLog).where(AdminAuditLog.action == "privacy.exported"))
        assert audit.actor == "cli" and audit.target_id == str(world.target_pk)


def test_export_to_standard_output(app, runner):
    _world(app)
    result = runner.invoke(args=["privacy", "export", "--issuer", ISSUER, "--client-id", "tool-client",
                                 "--user", TARGET["sub"]])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["user"]["email"] == TARGET["email"]


def test_export_of_an_unknown_user_or_platform_fails_clearly(app, runner):
    _world(app)
    result = runner.invoke(args=["privacy", "export", "--issuer", ISSUER, "--user", "nobody"])
    assert result.exit_code == 1 and "no user with LMS user id 'nobody'" in result.output
    result = runner.invoke(args=["privacy", "export", "--issuer", "https://nowhere.example", "--user", "x"])
    assert result.exit_code == 1 and "no platform has issuer" in result.output


def test_several_platforms_on_one_issuer_need_the_client_id(app, runner):
    _world(app)
    with app.app_context():
        registry.add_platform(registry.PlatformInput(
            issuer=ISSUER, client_id="second-client", auth_url=f"{ISSUER}/auth", token_url=f"{ISSUER}/token2",
            jwks_url=f"{ISSUER}/jwks", deployment_ids=("1",)))
        db.session.commit()
    result = runner.invoke(args=["privacy", "export", "--issuer", ISSUER, "--user", TARGET["sub"]])
    assert result.exit_code == 1 and "--client-id" in result.output


def test_erase_asks_for_confirmation_unless_yes(app, runner):
    world = _world(app)
    args = ["privacy", "erase", "--issuer", ISSUER, "--user", TARGET["sub"], "--reason", "ticket 12"]
    result = runner.invoke(args=args, input="n\n")
    assert result.exit_code == 1
    with app.app_context():
        assert db.session.get(User, world.target_pk).sub == TARGET["sub"]
    result = runner.invoke(args=[*args, "--yes"])
    assert result.exit_code == 0, result.output
    assert "Erased user" in result.output and "grade_attempts.deleted 1" in result.output
    with app.app_context():
        record = db.session.scalar(select(ErasureRecord))
        assert record.requested_by == "cli" and db.session.get(User, world.target_pk).email is None
    # Running it again is harmless.
    result = runner.invoke(args=[*args, "--yes"])
    assert result.exit_code == 0 and "Nothing to erase" in result.output
    # So is naming the pseudonymous row by its new id.
    result = runner.invoke(args=[*args[:4], "--user", f"erased-{record.pseudonym}", "--reason", "t", "--yes"])
    assert result.exit_code == 0 and f"already erased (erasure record {record.id})" in result.output
    with app.app_context():
        assert len(list(db.session.scalars(select(ErasureRecord)))) == 1


def test_erase_with_a_personal_reason_or_pending_scores_fails_and_changes_nothing(app, runner):
    from sqlalchemy import update

    from grades.models import ScoreDelivery

    world = _world(app)
    args = ["privacy", "erase", "--issuer", ISSUER, "--user", TARGET["sub"], "--yes"]
    result = runner.invoke(args=[*args, "--reason", f"asked by {TARGET['name']}"])
    assert result.exit_code == 1 and "names the learner" in result.output
    with app.app_context():
        db.session.execute(update(ScoreDelivery).values(status="pending"))
        db.session.commit()
    result = runner.invoke(args=[*args, "--reason", "ticket 3"])
    assert result.exit_code == 1 and "way to the LMS gradebook" in result.output
    with app.app_context():
        assert db.session.get(User, world.target_pk).sub == TARGET["sub"]
    result = runner.invoke(args=[*args, "--reason", "ticket 3", "--cancel-pending"])
    assert result.exit_code == 0, result.output
