"""Score delivery against a scriptable LMS over real HTTP, one job run at a time (both stacks)."""

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from grades import delivery, lti_services, service
from grades.models import LineItem, ScoreDelivery
from lti_tool.db import db, utcnow
from lti_tool.events import Event
from lti_tool.models import User
from tests.grades.conftest import connect, make_course
from tests.grades.stub_lms import ALL_SCOPES

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=timezone.utc)


def submit(course, score, *, at=None, item_id=7, policy="highest", user_pk=None):
    attempt = service.record_attempt(
        **course.where(**({"user_pk": user_pk} if user_pk else {})),
        item_id=item_id,
        answers={},
        score=score,
        max_score=10,
        attempts_allowed=None,
        submitted_at=at or T0,
        grade_policy=policy,
        label="Cells quiz",
    )
    db.session.commit()
    return db.session.scalar(select(ScoreDelivery).where(ScoreDelivery.attempt_pk == attempt.id))


def run(delivery_id, *, due_now=True):
    """One job run; with `due_now` a scheduled retry is run at once instead of after its wait."""
    if due_now:
        row = db.session.get(ScoreDelivery, delivery_id)
        row.next_attempt_at = utcnow()
        db.session.commit()
    outcome = delivery.deliver(delivery_id)
    db.session.expire_all()
    return outcome


def row(delivery_id) -> ScoreDelivery:
    db.session.expire_all()
    return db.session.get(ScoreDelivery, delivery_id)


def test_a_score_reaches_the_right_user_and_a_line_item_the_tool_created(lms_course, lms, enqueued):
    sent = submit(lms_course, 7)
    assert enqueued == [sent.id]
    assert run(sent.id) == "delivered"

    assert len(lms.line_items) == 1
    ((item_id, item),) = lms.line_items.items()
    assert item["label"] == "Cells quiz" and item["scoreMaximum"] == 10
    assert item["resourceLinkId"] == "link-1" and item["resourceId"] == "item-7"
    (score,) = lms.scores_for("learner-sub-1", item_id)
    assert score["scoreGiven"] == 7 and score["scoreMaximum"] == 10
    assert score["activityProgress"] == "Completed" and score["gradingProgress"] == "FullyGraded"
    assert score["timestamp"] == "2025-03-01T09:00:00.000+00:00"
    # Moodle-style URLs: /scores goes on the path, before the query.
    assert ("POST", f"/ags/lineitems/{item_id}/lineitem/scores?type_id=7") in lms.calls
    stored = row(sent.id)
    assert (stored.status, stored.sent_score, stored.line_item_url) == (
        "delivered",
        7,
        lms.line_item_url(item_id),
    )
    assert stored.delivered_at is not None
    event = db.session.scalar(select(Event).where(Event.kind == "grade_delivered"))
    assert event.data == {"item_id": 7, "delivery_id": sent.id, "score": 7.0, "max_score": 10.0}
    # One token for everything the launch granted (grades and roster), so one request per lifetime.
    assert set(lms.token_requests[0]["scope"].split()) == set(ALL_SCOPES)


def test_the_line_item_is_found_again_not_created_twice(lms_course, lms, enqueued):
    first = submit(lms_course, 3)
    run(first.id)
    other = User(platform_id=lms_course.platform_id, sub="learner-sub-2")
    db.session.add(other)
    db.session.commit()
    second = submit(lms_course, 5, user_pk=other.id)
    # Forget the binding: the tool must find the column in the LMS by link and resource id.
    db.session.query(LineItem).delete()
    db.session.commit()
    delivery.forget_caches()
    assert run(second.id) == "delivered"
    assert len(lms.line_items) == 1
    assert [s["userId"] for s in lms.scores_for("learner-sub-2")] == ["learner-sub-2"]


def test_a_deep_linked_line_item_from_the_launch_is_used(grades_ctx, lms, enqueued):
    course = make_course(issuer=lms.url, client_id=lms.client_id, token_url=lms.token_url)
    url = lms.add_line_item(
        "from-deep-link", label="Placed quiz", resourceId="item-7", resourceLinkId="link-1"
    )
    connect(course, lms, lineitem=url)
    sent = submit(course, 9)
    assert run(sent.id) == "delivered"
    assert list(lms.line_items) == ["from-deep-link"]
    assert lms.scores_for("learner-sub-1", "from-deep-link")[0]["scoreGiven"] == 9


def test_a_score_only_grant_posts_to_the_links_line_item(grades_ctx, lms, enqueued):
    course = make_course(issuer=lms.url, client_id=lms.client_id, token_url=lms.token_url)
    url = lms.add_line_item("only-one")
    connect(course, lms, scopes=[ALL_SCOPES[2]], lineitems=False, roster=False, lineitem=url)
    sent = submit(course, 4)
    assert run(sent.id) == "delivered"
    assert lms.token_requests[0]["scope"] == ALL_SCOPES[2]
    assert lms.scores_for("learner-sub-1", "only-one")[0]["scoreGiven"] == 4


def test_500_three_times_then_200_delivers_once(lms_course, lms, enqueued):
    sent = submit(lms_course, 6)
    lms.script("score", (500,), (502, "Bad Gateway"), (503, {"error": "maintenance"}))
    outcomes = [run(sent.id) for _ in range(4)]
    assert outcomes == ["retrying", "retrying", "retrying", "delivered"]
    assert len(lms.scores_for("learner-sub-1")) == 1
    assert row(sent.id).tries == 4
    # Each retry was handed to the queue with a wait.
    assert enqueued == [sent.id] * 4


def test_retry_waits_grow_with_jitter_and_honour_retry_after(lms_course, lms, enqueued):
    sent = submit(lms_course, 6)
    lms.script("score", (429, {"error": "slow down"}, {"Retry-After": "30"}))
    before = utcnow()
    assert run(sent.id) == "retrying"
    waited = (row(sent.id).next_attempt_at - before).total_seconds()
    assert 29 <= waited <= 32  # the LMS asked for 30 s, longer than our own backoff
    assert "HTTP 429" in row(sent.id).last_error
    # A job that runs before the wait is over leaves the row alone.
    assert delivery.deliver(sent.id) == "not-due"
    assert lms.scores == []
    assert run(sent.id) == "delivered"


def test_backoff_doubles_from_the_first_wait_up_to_the_cap():
    settings = delivery.Settings(max_tries=10, first_wait=10, max_wait=60, timeout=5)
    for tries, base in ((1, 10), (2, 20), (3, 40), (4, 60), (9, 60)):
        waits = [delivery.backoff_seconds(tries, settings) for _ in range(50)]
        assert all(base / 2 <= w <= base for w in waits)
        assert len({round(w, 3) for w in waits}) > 1  # jittered
    assert delivery.backoff_seconds(1, settings, retry_after=120) == 120


def test_retry_after_as_an_http_date():
    from email.utils import format_datetime

    later = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=90), usegmt=True)
    assert 85 <= lti_services.retry_after_seconds(later) <= 91
    assert lti_services.retry_after_seconds("soon") is None


def test_401_refreshes_the_token_once(lms_course, lms, enqueued):
    sent = submit(lms_course, 8)
    lms.script("score", (401, {"error": "invalid_token"}))
    assert run(sent.id) == "delivered"
    assert len(lms.token_requests) == 2
    assert len(lms.scores_for("learner-sub-1")) == 1


def test_401_twice_fails_with_the_reason(lms_course, lms, enqueued):
    sent = submit(lms_course, 8)
    lms.script("score", (401, {"error": "invalid_token"}), (401, {"error": "invalid_token"}))
    assert run(sent.id) == "failed"
    assert len(lms.token_requests) == 2
    assert "again with a fresh access token" in row(sent.id).last_error


@pytest.mark.parametrize(
    "status, body, reason",
    [
        (400, {"error": "Incorrect score received"}, "HTTP 400: Incorrect score received"),
        (
            403,
            {"error": "forbidden", "error_description": "user not gradable"},
            "HTTP 403: forbidden user not gradable",
        ),
        (404, "no such line item", "HTTP 404: no such line item"),
    ],
)
def test_permanent_refusals_fail_at_once_with_the_platforms_reason(
    lms_course, lms, enqueued, status, body, reason
):
    first = submit(lms_course, 1)
    run(first.id)  # binds the line item, so the scripted answer below hits the score post
    sent = submit(lms_course, 8, at=T0 + timedelta(minutes=1))
    lms.script("score", (status, body))
    if status == 404:
        # A 404 for a known column means it was deleted in the LMS: found or created again once.
        lms.script("score", (status, body))
    assert run(sent.id) == "failed"
    failed = row(sent.id)
    assert failed.last_error == f"Score: {reason}" and failed.last_http_status == status
    assert failed.tries == 0  # nothing to retry
    event = db.session.scalar(select(Event).where(Event.kind == "grade_failed"))
    assert event.data["delivery_id"] == sent.id and reason in event.data["reason"]


def test_exhausted_retries_fail_with_the_last_answer(lms_course, lms, enqueued, grades_app, monkeypatch):
    sent = submit(lms_course, 6)
    monkeypatch.setattr(delivery.Settings, "current", classmethod(lambda cls: cls(3, 0.01, 0.02, 2)))
    lms.script("score", (500,), (500,), (500, {"error": "still down"}))
    assert [run(sent.id) for _ in range(3)] == ["retrying", "retrying", "failed"]
    assert row(sent.id).last_error.startswith(
        "Gave up after 3 tries. Last answer: Score: HTTP 500: still down"
    )


def test_an_unreachable_lms_is_retried(lms_course, lms, enqueued):
    sent = submit(lms_course, 6)
    lms.server.stop()
    assert run(sent.id) == "retrying"
    assert "could not connect" in row(sent.id).last_error


def test_delivering_the_same_row_twice_does_no_harm(lms_course, lms, enqueued):
    sent = submit(lms_course, 6)
    assert run(sent.id) == "delivered"
    assert delivery.deliver(sent.id) == "delivered"
    assert len(lms.scores) == 1


def test_two_attempts_delivered_out_of_order_leave_the_newer_one(lms_course, lms, enqueued):
    older = submit(lms_course, 9, at=T0, policy="latest")
    newer = submit(lms_course, 3, at=T0 + timedelta(minutes=5), policy="latest")
    assert run(newer.id) == "delivered"
    assert run(older.id) == "superseded"  # its attempt was part of the standing already sent
    assert [s["scoreGiven"] for s in lms.sent] == [3]
    # And when the older row runs first, the newer still lands last with the newer timestamp.
    db.session.query(ScoreDelivery).delete()
    db.session.commit()
    db.session.expunge_all()
    a = submit(lms_course, 8, at=T0 + timedelta(minutes=10), policy="latest")
    b = submit(lms_course, 4, at=T0 + timedelta(minutes=15), policy="latest")
    run(b.id)
    run(a.id)
    sent = [(s["scoreGiven"], s["timestamp"]) for s in lms.sent]
    assert sent[-1] == (4, "2025-03-01T09:15:00.000+00:00")
    assert [ts for _, ts in sent] == sorted(ts for _, ts in sent)


def test_a_late_row_sends_the_current_standing_never_an_outdated_score(lms_course, lms, enqueued):
    first = submit(lms_course, 9, at=T0, policy="latest")
    second = submit(lms_course, 2, at=T0 + timedelta(minutes=1), policy="latest")
    # The older row is delivered first (the newer one's job is late): it sends the standing, 2.
    assert run(first.id) == "delivered"
    assert [s["scoreGiven"] for s in lms.sent] == [2]
    assert row(second.id).status == "superseded"


def test_resend_all_sends_again_after_the_last_timestamp(lms_course, lms, enqueued):
    sent = submit(lms_course, 5)
    run(sent.id)
    assert service.resend_all(platform_id=lms_course.platform_id, context_pk=lms_course.context_pk) == 1
    again = db.session.scalars(select(ScoreDelivery).order_by(ScoreDelivery.id.desc())).first()
    assert again.forced and again.id != sent.id
    assert run(again.id) == "delivered"
    first, second = lms.sent
    assert second["scoreGiven"] == 5
    assert second["timestamp"] == "2025-03-01T09:00:00.001+00:00"


def test_retry_failed_sends_the_newest_failed_row_of_each_learner_and_item(lms_course, lms, enqueued):
    one = submit(lms_course, 5)
    two = submit(lms_course, 6, at=T0 + timedelta(minutes=1))
    lms.script("token", (400, {"error": "invalid_scope"}), (400, {"error": "invalid_scope"}))
    assert run(one.id) == "failed" and run(two.id) == "failed"
    enqueued.clear()
    assert service.retry_failed(platform_id=lms_course.platform_id, context_pk=lms_course.context_pk) == 1
    assert enqueued == [two.id]
    assert row(one.id).status == "superseded" and row(two.id).status == "pending"
    assert run(two.id) == "delivered"
    assert [s["scoreGiven"] for s in lms.sent] == [6]


def test_no_grade_scope_fails_with_what_to_enable(grades_ctx, lms, enqueued):
    course = make_course(issuer=lms.url, client_id=lms.client_id, token_url=lms.token_url)
    connect(course, lms, scopes=[], roster=False)
    sent = submit(course, 5)
    assert run(sent.id) == "failed"
    assert "not given this tool permission to send grades" in row(sent.id).last_error
    assert lms.token_requests == []
    # The gradebook says it once; no failure message per submission.
    assert db.session.scalar(select(Event).where(Event.kind == "grade_failed")) is None


def test_many_deliveries_share_one_token_per_client_and_scope_set(lms_course, lms, enqueued):
    users = []
    for n in range(5):
        user = User(platform_id=lms_course.platform_id, sub=f"learner-{n}")
        db.session.add(user)
        users.append(user)
    db.session.commit()
    rows = [submit(lms_course, n, user_pk=user.id) for n, user in enumerate(users)]
    assert [run(r.id) for r in rows] == ["delivered"] * 5
    assert len(lms.token_requests) == 1


def test_tokens_are_not_shared_between_clients_of_one_issuer(grades_ctx, lms, enqueued):
    # Two registrations under one issuer (as every Canvas tenant shares one): separate tokens.
    from lti_tool import registry

    first = make_course(issuer=lms.url, client_id=lms.client_id, token_url=lms.token_url)
    connect(first, lms)
    platform = registry.get_platform(first.platform_id)
    client = registry.add_client(platform, "second-client")
    db.session.commit()
    a = lti_services.Client(first.platform_id, lms.url, lms.client_id, lms.token_url)
    b = lti_services.Client(first.platform_id, lms.url, client.client_id, lms.token_url)
    lms.client_id = "tool-client"
    token_a = lti_services.access_token(a, ALL_SCOPES[:3])
    lms.client_id = "second-client"
    token_b = lti_services.access_token(b, ALL_SCOPES[:3])
    assert token_a != token_b
    assert lti_services.access_token(a, ALL_SCOPES[:3]) == token_a
    assert len(lms.token_requests) == 2


def test_a_token_is_fetched_again_shortly_before_it_expires(lms_course, lms, enqueued):
    lms.token_ttl = 5  # a tenth of the life is the margin: cached for 4.5 s
    client = lti_services.Client(lms_course.platform_id, lms.url, lms.client_id, lms.token_url)
    first = lti_services.access_token(client, ALL_SCOPES[:3])
    assert lti_services.access_token(client, ALL_SCOPES[:3]) == first
    import time

    time.sleep(4.8)
    assert lti_services.access_token(client, ALL_SCOPES[:3]) != first


def test_sweeper_queues_overdue_pending_rows_only(lms_course, lms, enqueued):
    due = submit(lms_course, 5)
    later = submit(lms_course, 6, at=T0 + timedelta(minutes=1))
    later_row = row(later.id)
    later_row.next_attempt_at = utcnow() + timedelta(hours=1)
    db.session.commit()
    enqueued.clear()
    assert service.sweep_deliveries(older_than=timedelta(0)) == 1
    assert enqueued == [due.id]


def test_links_and_pages(lms):
    assert (
        lti_services.sub_url("https://lms/x/lineitem?type_id=3", "scores")
        == "https://lms/x/lineitem/scores?type_id=3"
    )
    assert lti_services.sub_url("https://lms/x/lineitem/", "results") == "https://lms/x/lineitem/results"
    assert (
        lti_services.next_link('<https://a/b?page=2>; rel="next", <https://a/b?page=9>; rel="last"')
        == "https://a/b?page=2"
    )
    assert lti_services.next_link("<https://a/b?page=2>; rel=next") == "https://a/b?page=2"
    assert lti_services.next_link('<https://a/b?page=1>; rel="prev"') is None
    assert lti_services.next_link(None) is None
