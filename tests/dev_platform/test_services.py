"""The development LMS's AGS and NRPS services over real HTTP, with tokens from its token endpoint."""

from __future__ import annotations

import html
import time
from typing import Iterator

import pytest
import requests

from lti_tool.dev_platform import PEOPLE, PROFILES, subject_of
from tests.dev_platform.test_dev_platform import (
    LINEITEM,
    RESULT,
    SCORE,
    Platform,
    StubTool,
    assertion,
    token_request,
)
from tests.support.live_server import start_dev_platform

NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
SCORE_MEDIA = "application/vnd.ims.lis.v1.score+json"
ALL = f"{LINEITEM} {SCORE} {RESULT} {NRPS_SCOPE}"


@pytest.fixture(scope="module")
def tool() -> Iterator[StubTool]:
    stub = StubTool()
    yield stub
    stub.server.stop()


@pytest.fixture
def platform(tool: StubTool, tmp_path) -> Iterator[Platform]:
    server, config = start_dev_platform(tool.url, str(tmp_path / "lms"))
    yield Platform(server, config)
    server.stop()


def bearer(platform: Platform, tool: StubTool, scope: str = ALL) -> dict[str, str]:
    response = token_request(platform, assertion(tool, platform), scope=scope)
    assert response.status_code == 200, response.text
    return {"Authorization": "Bearer " + response.json()["access_token"]}


def sub(person: str, profile: str = "moodle") -> str:
    return subject_of(next(p for p in PEOPLE if p.key == person), PROFILES[profile])


def score(user_id: str, given: float, at: str = "2025-03-01T10:00:00.000+00:00") -> dict:
    return {
        "userId": user_id,
        "scoreGiven": given,
        "scoreMaximum": 10,
        "activityProgress": "Completed",
        "gradingProgress": "FullyGraded",
        "timestamp": at,
    }


def create(platform: Platform, headers: dict, **fields) -> dict:
    body = {"label": "Quiz 1", "scoreMaximum": 10, "resourceId": "quiz-1", "tag": "grade", **fields}
    response = requests.post(
        platform.base + "/ags/astro-101/lineitems?type_id=1",
        json=body,
        headers={**headers, "Content-Type": "application/vnd.ims.lis.v2.lineitem+json"},
        timeout=5,
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_line_items_are_created_found_by_filters_and_keep_the_moodle_query(platform, tool):
    headers = bearer(platform, tool)
    made = create(platform, headers, resourceLinkId="astro-101-link-1")
    assert made["id"].startswith(platform.base + "/ags/astro-101/lineitems/li-")
    assert made["id"].endswith("/lineitem?type_id=1")
    create(platform, headers, resourceId="quiz-2", label="Quiz 2")
    listing = requests.get(
        platform.base + "/ags/astro-101/lineitems",
        params={"type_id": "1", "resource_link_id": "astro-101-link-1", "resource_id": "quiz-1"},
        headers=headers,
        timeout=5,
    )
    assert listing.headers["Content-Type"].startswith("application/vnd.ims.lis.v2.lineitemcontainer+json")
    assert [item["id"] for item in listing.json()] == [made["id"]]
    one = requests.get(made["id"], headers=headers, timeout=5)
    assert one.json()["label"] == "Quiz 1" and one.json()["scoreMaximum"] == 10


def test_scores_are_stored_per_user_and_readable_as_results(platform, tool):
    headers = bearer(platform, tool)
    item = create(platform, headers)
    scores_url = item["id"].replace("/lineitem?", "/lineitem/scores?")
    posted = requests.post(
        scores_url, json=score(sub("ada"), 7), headers={**headers, "Content-Type": SCORE_MEDIA}, timeout=5
    )
    assert posted.status_code == 200, posted.text
    results = requests.get(
        item["id"].replace("/lineitem?", "/lineitem/results?"), headers=headers, timeout=5
    ).json()
    assert [(r["userId"], r["resultScore"], r["resultMaximum"]) for r in results] == [(sub("ada"), 7, 10)]
    # The course page shows what was received.
    page = html.unescape(requests.get(platform.base + "/", timeout=5).text)
    assert "Quiz 1" in page and "<strong>7</strong> / 10" in page


def test_scores_need_the_score_scope_and_a_platform_token(platform, tool):
    item = create(platform, bearer(platform, tool))
    scores_url = item["id"].replace("/lineitem?", "/lineitem/scores?")
    readonly = bearer(platform, tool, scope=LINEITEM)
    refused = requests.post(
        scores_url, json=score(sub("ada"), 7), headers={**readonly, "Content-Type": SCORE_MEDIA}, timeout=5
    )
    assert refused.status_code == 403 and refused.json()["error"] == "insufficient_scope"
    forged = requests.post(
        scores_url,
        json=score(sub("ada"), 7),
        headers={"Authorization": "Bearer abc.def.ghi", "Content-Type": SCORE_MEDIA},
        timeout=5,
    )
    assert forged.status_code == 401


@pytest.mark.parametrize(
    "change, status, message",
    [
        ({"userId": "nobody"}, 400, "not enrolled"),
        ({"scoreGiven": -1}, 400, "scoreGiven"),
        ({"timestamp": "yesterday"}, 400, "timestamp"),
        ({"activityProgress": "Done"}, 400, "activityProgress"),
    ],
)
def test_malformed_scores_are_refused(platform, tool, change, status, message):
    headers = bearer(platform, tool)
    item = create(platform, headers)
    body = {**score(sub("ada"), 5), **change}
    response = requests.post(
        item["id"].replace("/lineitem?", "/lineitem/scores?"),
        json=body,
        headers={**headers, "Content-Type": SCORE_MEDIA},
        timeout=5,
    )
    assert response.status_code == status and message in response.json()["error_description"]


def test_a_teachers_score_is_refused_like_moodle_and_older_scores_do_not_replace_newer(platform, tool):
    headers = {**bearer(platform, tool), "Content-Type": SCORE_MEDIA}
    item = create(platform, headers)
    url = item["id"].replace("/lineitem?", "/lineitem/scores?")
    teacher = requests.post(url, json=score(sub("tom"), 5), headers=headers, timeout=5)
    assert teacher.status_code == 400 and teacher.json()["error_description"] == "Incorrect score received"
    assert requests.post(
        url, json=score(sub("ada"), 9, "2025-03-02T10:00:00.000Z"), headers=headers, timeout=5
    ).ok
    older = requests.post(
        url, json=score(sub("ada"), 2, "2025-03-01T10:00:00.000Z"), headers=headers, timeout=5
    )
    assert older.status_code == 409
    results = requests.get(
        item["id"].replace("/lineitem?", "/lineitem/results?"), headers=headers, timeout=5
    ).json()
    assert results[0]["resultScore"] == 9


@pytest.mark.parametrize("profile", ["moodle", "canvas"])
def test_roster_pages_follow_link_next(platform, tool, profile):
    headers = bearer(platform, tool, scope=NRPS_SCOPE)
    url = platform.base + f"/nrps/{profile}/astro-101/memberships"
    members, pages = [], 0
    while url:
        response = requests.get(url, headers=headers, timeout=5)
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"].startswith(
            "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
        )
        members += response.json()["members"]
        pages += 1
        url = response.links.get("next", {}).get("url")
    assert pages == 2  # four people, two per page
    assert sorted(m["user_id"] for m in members) == sorted(sub(p.key, profile) for p in PEOPLE)
    grace = next(m for m in members if m["user_id"] == sub("grace", profile))
    assert grace["status"] == "Active" and any(r.endswith("#Learner") for r in grace["roles"])
    # Canvas shares names only when asked to (anonymous by default).
    assert ("name" in grace) == (profile == "moodle")


def test_roster_filters_by_role(platform, tool):
    headers = bearer(platform, tool, scope=NRPS_SCOPE)
    response = requests.get(
        platform.base + "/nrps/moodle/astro-101/memberships", params={"role": "Learner", "limit": "10"}, headers=headers, timeout=5
    )
    assert sorted(m["user_id"] for m in response.json()["members"]) == sorted([sub("ada"), sub("grace")])
    assert "Link" not in response.headers


def test_roster_needs_the_membership_scope(platform, tool):
    headers = bearer(platform, tool, scope=SCORE)
    response = requests.get(platform.base + "/nrps/moodle/astro-101/memberships", headers=headers, timeout=5)
    assert response.status_code == 403


def test_deep_linked_line_item_exists_from_its_link(platform, tool):
    from lti_tool.dev_platform.platform import Link, _add_placed_links

    link = Link(
        id="dl-quiz",
        title="Placed quiz",
        line_item={"label": "Placed quiz", "scoreMaximum": 20, "resourceId": "q9"},
        profile="moodle",
        placed_at=int(time.time()),
    )
    _add_placed_links(platform.config, [link])
    headers = bearer(platform, tool)
    found = requests.get(
        platform.base + "/ags/astro-101/lineitems/dl-quiz/lineitem?type_id=1", headers=headers, timeout=5
    )
    assert found.status_code == 200
    assert found.json() == {
        "id": platform.base + "/ags/astro-101/lineitems/dl-quiz/lineitem?type_id=1",
        "label": "Placed quiz",
        "scoreMaximum": 20,
        "resourceId": "q9",
        "resourceLinkId": "dl-quiz",
    }
