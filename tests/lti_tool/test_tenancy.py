"""Tenant isolation by one shared mechanism: inside a tenant scope every ORM query is filtered."""

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import joinedload, selectinload

from lti_tool import registry, tenancy
from lti_tool.db import db
from lti_tool.models import Context, Enrollment, LaunchLog, Platform, User


def add_platform(issuer):
    platform = registry.add_platform(
        registry.PlatformInput(
            issuer=issuer, client_id="same-client", auth_url=issuer + "/a", token_url=issuer + "/t",
            jwks_url=issuer + "/k", deployment_ids=("1",),
        )
    )
    user = User(platform_id=platform.id, sub="same-sub", name=f"user of {issuer}")
    context = Context(platform_id=platform.id, deployment_pk=platform.clients[0].deployments[0].id, context_id="same")
    db.session.add_all([user, context])
    db.session.flush()
    db.session.add(Enrollment(platform_id=platform.id, context_pk=context.id, user_pk=user.id, roles=["learner"]))
    db.session.add(LaunchLog(platform_id=platform.id, stage="launch", outcome="accepted"))
    db.session.commit()
    return platform, user


@pytest.fixture
def two(app_ctx):
    a, user_a = add_platform("https://a.example.edu")
    b, user_b = add_platform("https://b.example.edu")
    ids = a.id, user_a.id, b.id, user_b.id
    db.session.expunge_all()  # nothing cached in the identity map
    return ids


def test_queries_inside_a_tenant_see_only_that_platform(two):
    a, user_a, b, user_b = two
    with tenancy.tenant(a):
        assert [u.name for u in db.session.scalars(select(User))] == ["user of https://a.example.edu"]
        assert db.session.get(User, user_b) is None
        assert db.session.get(User, user_a) is not None
        assert db.session.scalar(select(func.count()).select_from(Context)) == 1
        # Joins and relationships are filtered too.
        rows = db.session.execute(select(Enrollment, User).join(User, User.id == Enrollment.user_pk)).all()
        assert len(rows) == 1 and rows[0][1].id == user_a
        # Registry rows of the tenant stay reachable; the launch log is admin history, unscoped.
        assert db.session.scalar(select(func.count()).select_from(LaunchLog)) == 2
        assert db.session.scalar(select(func.count()).select_from(Platform)) == 2


def test_subqueries_and_relationship_loads_are_filtered_too(two):
    a, user_a, b, user_b = two
    with tenancy.tenant(a):
        # A subquery naming another tenant's rows finds nothing of theirs.
        subquery = select(Enrollment.user_pk).where(Enrollment.roles.is_not(None))
        assert list(db.session.scalars(select(User.id).where(User.id.in_(subquery)))) == [user_a]
        # Each kind of loader: the relationship's rows pass the same filter.
        platform = db.session.get(Platform, b)
        assert [client.platform_id for client in platform.clients] == []
        platforms = db.session.scalars(
            select(Platform).options(selectinload(Platform.clients)).order_by(Platform.id)
        ).all()
        assert [[c.platform_id for c in p.clients] for p in platforms] == [[a], []]
        db.session.expunge_all()
        platforms = db.session.scalars(
            select(Platform).options(joinedload(Platform.clients)).order_by(Platform.id)
        ).unique().all()
        assert [[c.platform_id for c in p.clients] for p in platforms] == [[a], []]
    db.session.expunge_all()
    with tenancy.tenant(b):
        assert db.session.scalars(select(User.name)).all() == ["user of https://b.example.edu"]


def test_bulk_update_and_delete_cannot_touch_another_tenant(two):
    a, user_a, b, user_b = two
    with tenancy.tenant(a):
        db.session.execute(update(User).values(name="renamed"))
        db.session.execute(delete(Enrollment))
        db.session.commit()
    db.session.expunge_all()
    assert db.session.get(User, user_b).name == "user of https://b.example.edu"
    assert db.session.get(User, user_a).name == "renamed"
    assert db.session.scalar(select(func.count()).select_from(Enrollment)) == 1


def test_outside_a_tenant_nothing_is_filtered(two):
    assert db.session.scalar(select(func.count()).select_from(User)) == 2


def test_every_tenant_table_is_covered(app_ctx):
    covered = {cls.__table__.name for cls in tenancy.tenant_classes()}
    tables_with_platform = {t.name for t in db.metadata.sorted_tables if "platform_id" in t.c}
    assert tables_with_platform - covered == tenancy.UNSCOPED_TABLES & tables_with_platform
