"""Launches leave the LMS's service endpoints behind; rosters are read from NRPS, every page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from grades import launches, roster, service
from grades.models import ContextService, Membership, ResourceLinkService
from lti_tool import identity, jobs
from lti_tool.db import db, utcnow
from lti_tool.launch import (
    CONTEXT,
    DEEP_LINKING_REQUEST,
    DEPLOYMENT_ID,
    MESSAGE_TYPE,
    RESOURCE_LINK,
    RESOURCE_LINK_REQUEST,
    ROLES,
    ValidatedLaunch,
)
from lti_tool.models import PlatformClient, User
from tests.grades.conftest import connect, make_course
from tests.grades.stub_lms import ALL_SCOPES

MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
AGS = launches.AGS_CLAIM
NRPS = launches.NRPS_CLAIM


def member(sub: str, role: str = "Learner", status: str = "Active", **names) -> dict:
    return {"user_id": sub, "roles": [MEMBERSHIP + role], "status": status, **names}


@pytest.fixture
def submitted(monkeypatch) -> list:
    calls = []
    monkeypatch.setattr(jobs, "_submit", lambda call: calls.append(call) or True)
    return calls


def record(
    course,
    lms,
    *,
    sub="teacher-sub-1",
    role="Instructor",
    ags=True,
    nrps=True,
    message=RESOURCE_LINK_REQUEST,
    lineitem=None,
):
    client = db.session.get(PlatformClient, course.client_pk)
    claims = {
        "iss": client.issuer,
        "aud": client.client_id,
        "sub": sub,
        MESSAGE_TYPE: message,
        DEPLOYMENT_ID: client.deployments[0].deployment_id,
        ROLES: [MEMBERSHIP + role],
        CONTEXT: {"id": "course-1", "title": "Biology 101"},
    }
    if message == RESOURCE_LINK_REQUEST:
        claims[RESOURCE_LINK] = {"id": "link-1"}
    if ags:
        claims[AGS] = {"scope": list(ALL_SCOPES[:3]), "lineitems": lms.lineitems_url}
        if lineitem:
            claims[AGS]["lineitem"] = lineitem
    if nrps:
        claims[NRPS] = {"context_memberships_url": lms.members_url, "service_versions": ["2.0"]}
    return identity.record_launch(ValidatedLaunch(claims, client, client.deployments[0], message))


@pytest.fixture
def bare_course(grades_ctx, lms):
    return make_course(issuer=lms.url, client_id=lms.client_id, token_url=lms.token_url)


def services_of(course) -> ContextService:
    db.session.expire_all()
    return db.session.scalar(select(ContextService).where(ContextService.context_pk == course.context_pk))


def test_a_launch_stores_the_endpoints_and_an_instructor_launch_queues_a_roster_sync(
    bare_course, lms, submitted
):
    record(bare_course, lms, lineitem=lms.line_item_url("li9"))
    services = services_of(bare_course)
    assert services.lineitems_url == lms.lineitems_url
    assert services.ags_scopes == list(ALL_SCOPES[:3])
    assert services.memberships_url == lms.members_url
    assert services.client_pk == bare_course.client_pk
    link = db.session.scalar(select(ResourceLinkService))
    assert link.lineitem_url == lms.line_item_url("li9")
    assert [(c.queue, c.func, c.args) for c in submitted] == [
        ("default", "grades.jobs.sync_roster", (bare_course.context_pk,))
    ]
    assert service.granted_scopes(services) == ALL_SCOPES


def test_learner_launches_and_fresh_rosters_queue_no_sync(bare_course, lms, submitted):
    record(bare_course, lms, sub="learner-sub-1", role="Learner")
    assert submitted == []
    services = services_of(bare_course)
    services.roster_synced_at = utcnow() - timedelta(minutes=5)
    db.session.commit()
    record(bare_course, lms)
    assert submitted == []


def test_a_resource_link_launch_without_claims_withdraws_them_a_deep_link_launch_does_not(
    bare_course, lms, submitted
):
    record(bare_course, lms)
    record(bare_course, lms, ags=False, nrps=False, message=DEEP_LINKING_REQUEST)
    assert services_of(bare_course).ags_scopes == list(ALL_SCOPES[:3])
    record(bare_course, lms, ags=False, nrps=False)
    services = services_of(bare_course)
    assert (services.ags_scopes, services.lineitems_url, services.memberships_url) == ([], None, None)
    assert service.can_send_grades(services) is False


def test_a_failing_hook_does_not_break_the_launch(bare_course, lms, monkeypatch, caplog):
    monkeypatch.setattr(launches, "_get_or_create", lambda *a, **k: 1 / 0)
    result = record(bare_course, lms)
    assert result.launch_id and identity.load_launch(result.launch_id) is not None
    assert "launch hook" in caplog.text


def test_roster_sync_follows_three_pages_and_stores_roles_and_status(lms_course, lms):
    lms.members = [
        member("learner-sub-1", name="Ada Lovelace"),
        member("new-1", given_name="Grace", family_name="Hopper", email="grace@example.edu"),
        member("new-2", status="Inactive"),
        member("teacher-sub-1", role="Instructor"),
        member("new-3"),
        member("ta-1", role="TeachingAssistant"),
    ]
    assert roster.sync(lms_course.context_pk) == "synced"
    pages = [path for method, path in lms.calls if path.startswith("/nrps/members")]
    assert len(pages) == 3
    rows = {m.user.sub: m for m in db.session.scalars(select(Membership))}
    assert set(rows) == {"learner-sub-1", "new-1", "new-2", "teacher-sub-1", "new-3", "ta-1"}
    assert rows["new-2"].status == "inactive"
    assert rows["teacher-sub-1"].roles == ["instructor"] and rows["new-1"].roles == ["learner"]
    grace = rows["new-1"].user
    assert (grace.given_name, grace.email, grace.display_name) == (
        "Grace",
        "grace@example.edu",
        "Grace Hopper",
    )
    # A name the launch gave is kept (the roster may send less).
    assert db.session.scalar(select(User).where(User.sub == "learner-sub-1")).name == "Ada Lovelace"
    assert services_of(lms_course).roster_synced_at is not None


def test_members_gone_from_a_complete_roster_are_marked_deleted_not_after_a_failed_one(lms_course, lms):
    lms.members = [member("learner-sub-1"), member("new-1"), member("new-2")]
    roster.sync(lms_course.context_pk)
    lms.members = [member("learner-sub-1")]
    lms.script(
        "members",
        (200, {"members": [member("learner-sub-1")]}, {"Link": f'<{lms.members_url}&page=2>; rel="next"'}),
        (503,),
    )
    with pytest.raises(roster.RosterSyncFailed):
        roster.sync(lms_course.context_pk)
    assert "HTTP 503" in services_of(lms_course).roster_error
    assert {m.status for m in db.session.scalars(select(Membership))} == {"active"}
    assert roster.sync(lms_course.context_pk) == "synced"
    statuses = {m.user.sub: m.status for m in db.session.scalars(select(Membership))}
    assert statuses == {"learner-sub-1": "active", "new-1": "deleted", "new-2": "deleted"}
    assert services_of(lms_course).roster_error is None


def test_roster_not_granted_is_left_alone(grades_ctx, lms):
    course = make_course(issuer=lms.url, client_id=lms.client_id, token_url=lms.token_url)
    connect(course, lms, roster=False)
    assert roster.sync(course.context_pk) == "not-granted"
    assert lms.token_requests == []


def test_gradebook_lists_roster_learners_who_never_launched(lms_course, lms, enqueued):
    lms.members = [
        member("learner-sub-1"),
        member("never-launched", name="Nia Never"),
        member("teacher-sub-1", role="Instructor"),
    ]
    roster.sync(lms_course.context_pk)
    service.record_attempt(
        **lms_course.where(),
        item_id=3,
        answers={},
        score=4,
        max_score=5,
        attempts_allowed=None,
        label="Quiz A",
    )
    db.session.commit()
    book = service.gradebook(platform_id=lms_course.platform_id, context_pk=lms_course.context_pk)
    names = [row.user.display_name for row in book.rows]
    assert names == ["Ada Lovelace", "Nia Never"]  # the teacher is not a learner row
    assert [c.label for c in book.columns] == ["Quiz A"]
    ada, nia = book.rows
    assert (ada.cells[3].score, ada.cells[3].status) == (4.0, "pending")
    assert (nia.cells[3].score, nia.cells[3].status, nia.launched) == (None, "none", False)
    # Nia leaves the course: without a score she is no longer listed; Ada's score keeps her row.
    lms.members = [member("teacher-sub-1", role="Instructor")]
    roster.sync(lms_course.context_pk)
    book = service.gradebook(platform_id=lms_course.platform_id, context_pk=lms_course.context_pk)
    assert [(row.user.display_name, row.roster_status) for row in book.rows] == [("Ada Lovelace", "deleted")]
