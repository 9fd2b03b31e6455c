"""Export and erase of one learner, on both databases, with data made by every package."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from sqlalchemy import Integer, func, select, update

from lti_tool.admin.models import AdminAuditLog
from lti_tool.cache import cache
from lti_tool.db import db
from lti_tool.models import LaunchLog, Platform, User
from privacy import service
from privacy.models import ErasureRecord
from tests.privacy.conftest import FREE_TEXT, PERSONAL, TARGET, build_world, rows_of, text_dump


def _platform(world) -> Platform:
    return db.session.get(Platform, world.campus.platform_id)


def _target(world) -> User:
    return db.session.get(User, world.target_pk)


def _erase(world, **extra):
    record = service.erase(_platform(world), _target(world), requested_by="cli", reason="ticket DPO-42", **extra)
    db.session.commit()
    return record


def _user_tables() -> dict[str, str]:
    """Every table naming a user, found in the schema itself: a foreign key to users.id, or an
    integer `user_pk` column (analytics keeps some without a foreign key)."""
    found: dict[str, str] = {"users": "id"}
    for table in db.metadata.sorted_tables:
        for column in table.columns:
            to_users = any(fk.column.table.name == "users" and fk.column.name == "id" for fk in column.foreign_keys)
            if to_users or (column.name == "user_pk" and isinstance(column.type, Integer)):
                assert table.name not in found or found[table.name] == column.name, (
                    f"{table.name} names users in two columns; cover both in privacy.service.HOLDINGS"
                )
                found[table.name] = column.name
    return found


def test_every_table_naming_a_user_is_covered_by_export_and_erase(app_ctx):
    declared = {holding.table: holding.column for holding in service.HOLDINGS}
    assert declared == _user_tables(), (
        "a table names users but privacy.service.HOLDINGS does not say how export and erase treat it"
    )
    for holding in service.HOLDINGS:
        assert holding.on_erase in (service.KEEP, service.DELETE, service.STRIP, service.PSEUDONYMISE)
        assert holding.what


def test_the_export_holds_every_row_about_the_learner(world):
    document = service.export(_platform(world), _target(world))
    text = json.dumps(document, ensure_ascii=False)  # JSON-ready as it is
    assert document["schema"] == service.SCHEMA and document["schema_version"] == 1
    assert document["user"]["sub"] == TARGET["sub"] and document["user"]["email"] == TARGET["email"]
    assert document["platform"]["issuer"] == world.campus.issuer
    assert [c["context_id"] for c in document["contexts"]] == [world.campus.context_id]
    data = document["data"]
    for section in ("enrollments", "events", "grade_attempts", "grade_deliveries", "grade_memberships",
                    "notifications", "notification_emails", "notification_preferences", "notification_roster_seen",
                    "analytics_facts", "analytics_media_state", "analytics_learner_items", "analytics_learners",
                    "launch_log"):
        assert data[section], f"{section} is empty in the export"
        assert all(row.get("user_pk", world.target_pk) == world.target_pk for row in data[section])
    assert {row["outcome"] for row in data["launch_log"]} == {"accepted", "rejected"}
    assert len(data["launch_log"]) == 3
    assert data["grade_attempts"][0]["answers"]["q-text"] == FREE_TEXT
    assert data["grade_deliveries"][0]["status"] == "delivered"
    # Only the learner's own rows: other people's attempts and notifications stay out.
    assert "Otto" not in text
    # Timestamps are ISO 8601 with their UTC offset.
    for stamp in (document["exported_at"], document["user"]["created_at"], data["events"][0]["created_at"]):
        assert datetime.fromisoformat(stamp).utcoffset() is not None
    # Every table the learner appears in has its description for the reader.
    assert set(data) <= set(document["descriptions"])


def test_the_export_of_another_platforms_user_is_refused(world, app_ctx):
    elsewhere = build_world("https://other-lms.example.org")
    with pytest.raises(service.PrivacyError):
        service.export(_platform(world), db.session.get(User, elsewhere.target_pk))


def test_erase_leaves_no_personal_string_anywhere_in_the_database(world):
    before = text_dump()
    for value in PERSONAL:
        assert value in before  # the world really holds them
    record = _erase(world)
    after = text_dump()
    for value in PERSONAL:
        assert value not in after, f"{value!r} is still stored"
    assert record.pseudonym in after
    # Cached launch data (the claims) went with them.
    for launch_id in world.launch_ids[:2]:
        assert cache().get(f"launch:{launch_id}") is None
    assert cache().get(f"launch:{world.launch_ids[2]}") is not None  # another learner's launch


def test_erase_pseudonymises_the_user_and_deletes_what_is_personal(world):
    record = _erase(world)
    user = _target(world)
    assert user.sub == service.ERASED_PREFIX + record.pseudonym
    assert (user.name, user.given_name, user.family_name, user.email, user.picture, user.locale) == (None,) * 6
    assert service.is_erased(user)
    for table in ("grade_attempts", "grade_deliveries", "grade_memberships", "notifications",
                  "notification_preferences"):
        assert not [row for row in rows_of(table) if row["user_pk"] == world.target_pk], table
    assert not db.session.scalar(select(func.count()).select_from(LaunchLog).where(
        LaunchLog.user_sub == TARGET["sub"]))
    # Kept, pseudonymous: enrollments, events (text stripped), analytics.
    assert [row for row in rows_of("enrollments") if row["user_pk"] == world.target_pk]
    failed = [row for row in rows_of("events") if row["user_pk"] == world.target_pk and row["kind"] == "grade_failed"]
    assert failed and failed[0]["data"]["reason"] == ""
    # The teacher keeps their notifications, with the learner's name taken out.
    teacher_notes = [row for row in rows_of("notifications") if row["user_pk"] == world.teacher_pk]
    assert teacher_notes and all(TARGET["name"] not in row["body"] for row in teacher_notes)
    assert any(service.REDACTED in row["body"] for row in teacher_notes)
    assert record.counts["grade_attempts.deleted"] == 1
    assert record.counts["launch_log.deleted"] == 3
    assert record.counts["notifications.redacted"] >= 2  # the failed grade and the digest


def test_erase_keeps_analytics_figures_unchanged(world):
    from analytics import service as analytics_service

    tables = ("analytics_facts", "analytics_learners", "analytics_learner_items", "analytics_items",
              "analytics_context_days", "analytics_item_days", "analytics_media_state")
    before = {table: rows_of(table) for table in tables}
    assert before["analytics_facts"] and any(row["user_pk"] == world.target_pk for row in before["analytics_facts"])
    _erase(world)
    # Recounting everything from the stored facts gives the same figures.
    analytics_service.rollup_context(world.campus.platform_id, world.campus.context_pk, full=True)
    db.session.commit()
    after = {table: rows_of(table) for table in tables}

    def figures(rows):
        return [{k: v for k, v in row.items() if k not in ("rolled_up_at",)} for row in rows]

    for table in tables:
        assert figures(after[table]) == figures(before[table]), table


def test_erase_leaves_other_learners_untouched(world):
    platform = _platform(world)
    other = db.session.get(User, world.other_pk)

    def snapshot():
        document = service.export(platform, other)
        document.pop("exported_at")
        return document

    before = snapshot()
    _erase(world)
    assert snapshot() == before


def test_the_same_lms_user_id_on_another_platform_is_untouched(world):
    elsewhere = build_world("https://other-lms.example.org")
    twin = db.session.get(User, elsewhere.target_pk)
    assert twin.sub == TARGET["sub"]
    before = service.export(db.session.get(Platform, elsewhere.campus.platform_id), twin)
    before.pop("exported_at")
    _erase(world)
    twin = db.session.get(User, elsewhere.target_pk)
    after = service.export(db.session.get(Platform, elsewhere.campus.platform_id), twin)
    after.pop("exported_at")
    assert after == before
    assert cache().get(f"launch:{elsewhere.launch_ids[0]}") is not None


def test_erase_records_itself_without_personal_data_and_audits(world):
    record = _erase(world)
    stored = db.session.scalar(select(ErasureRecord))
    assert stored.id == record.id and stored.user_pk == world.target_pk
    assert stored.issuer == world.campus.issuer and stored.requested_by == "cli" and stored.reason == "ticket DPO-42"
    text = json.dumps([stored.issuer, stored.reason, stored.counts, stored.requested_by, stored.pseudonym])
    assert not any(value in text for value in PERSONAL)
    audit = db.session.scalar(select(AdminAuditLog).where(AdminAuditLog.action == "privacy.erased"))
    assert audit.target_id == str(world.target_pk) and audit.platform_id == world.campus.platform_id
    assert audit.detail["pseudonym"] == record.pseudonym


def test_erase_is_idempotent(world):
    first = _erase(world)
    dump = text_dump()
    again = service.erase(_platform(world), _target(world), requested_by="cli", reason="ticket DPO-42")
    db.session.commit()
    assert again.id == first.id
    assert db.session.scalar(select(func.count()).select_from(ErasureRecord)) == 1
    assert text_dump() == dump


def test_a_later_launch_makes_a_fresh_user(world):
    from lti_tool import identity
    from lti_tool.launch import DEPLOYMENT_ID, MESSAGE_TYPE, RESOURCE_LINK_REQUEST, ROLES, ValidatedLaunch
    from lti_tool.models import PlatformClient

    _erase(world)
    client = db.session.get(PlatformClient, world.campus.client_pk)
    claims = {"iss": world.campus.issuer, "aud": client.client_id, "sub": TARGET["sub"], "name": TARGET["name"],
              MESSAGE_TYPE: RESOURCE_LINK_REQUEST, DEPLOYMENT_ID: client.deployments[0].deployment_id, ROLES: []}
    record = identity.record_launch(ValidatedLaunch(claims, client, client.deployments[0], RESOURCE_LINK_REQUEST))
    assert record.user.id != world.target_pk and record.user.name == TARGET["name"]
    assert service.is_erased(_target(world))  # the pseudonymous row stays apart from the new one


def test_a_reason_naming_the_learner_is_refused_and_nothing_changes(world):
    dump = text_dump()
    for reason in ("", "   ", f"asked by {TARGET['email']}", f"{TARGET['name']} left", "x" * 301):
        with pytest.raises(service.PrivacyError):
            service.erase(_platform(world), _target(world), requested_by="cli", reason=reason)
        db.session.rollback()
    assert text_dump() == dump


def test_pending_scores_stop_the_erase_unless_cancelled(world):
    from grades.models import ScoreDelivery

    db.session.execute(update(ScoreDelivery).where(ScoreDelivery.user_pk == world.target_pk)
                       .values(status="pending"))
    db.session.commit()
    with pytest.raises(service.PendingScores) as caught:
        service.erase(_platform(world), _target(world), requested_by="cli", reason="ticket 7")
    db.session.rollback()
    assert caught.value.count == 1
    assert not service.is_erased(_target(world))
    record = _erase(world, cancel_pending=True)
    assert record.counts["grade_deliveries.cancelled"] == 1
    assert not db.session.scalar(select(ScoreDelivery).where(ScoreDelivery.user_pk == world.target_pk))


def test_find_platform_and_user(world, app_ctx):
    platform = service.find_platform(world.campus.issuer)
    assert platform.id == world.campus.platform_id
    assert service.find_platform(world.campus.issuer, "tool-client").id == platform.id
    assert service.find_user(platform, TARGET["sub"]).id == world.target_pk
    assert [u.id for u in service.search_users(email=TARGET["email"].upper())] == [world.target_pk]
    with pytest.raises(service.PrivacyError, match="no platform"):
        service.find_platform("https://unknown.example")
    with pytest.raises(service.PrivacyError, match="client id"):
        service.find_platform(world.campus.issuer, "nope")
    with pytest.raises(service.PrivacyError):
        service.search_users()


def test_the_erasure_table_keeps_no_foreign_key_to_users(app_ctx):
    # The record must outlive the user row (a platform removal deletes its users).
    assert not db.metadata.tables["privacy_erasures"].c.user_pk.foreign_keys
