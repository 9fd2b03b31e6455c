"""The development LMS offers platform storage per launch, shows the tool in a frame of its course
page, and serves the storage frame (its postMessage side runs in tests/browser)."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from lti_tool.dev_platform import PlatformConfig
from lti_tool.dev_platform.platform import STORAGE_FRAME_NAME, tool_origin
from tests.dev_platform.test_dev_platform import Platform, _reset_tool, platform, tool  # noqa: F401 - fixtures
from tests.support.browser import parse_forms


def login_params(platform: Platform, **params: str) -> dict[str, str]:
    response = requests.get(platform.base + "/launch", params=params, allow_redirects=False, timeout=5)
    assert response.status_code == 302, response.text
    return dict(parse_qsl(urlsplit(response.headers["Location"]).query))


@pytest.mark.parametrize(
    "profile, storage, offered",
    [
        ("moodle", None, False),
        ("moodle", "on", True),
        ("canvas", None, True),
        ("canvas", "off", False),
        ("canvas", "on", True),
    ],
)
def test_platform_storage_is_a_choice_per_launch(platform: Platform, profile, storage, offered) -> None:
    params = {"person": "ada", "profile": profile}
    if storage:
        params["storage"] = storage
    login = login_params(platform, **params)
    assert login.get("lti_storage_target") == (STORAGE_FRAME_NAME if offered else None)
    # The rest of the login request does not change with it.
    assert login["client_id"] == "dev-client" and login["login_hint"]


def test_deep_linking_launches_offer_it_too(platform: Platform) -> None:
    response = requests.get(
        platform.base + "/deep-link",
        params={"person": "tom", "profile": "moodle", "storage": "on"},
        allow_redirects=False,
        timeout=5,
    )
    assert response.status_code == 302
    assert dict(parse_qsl(urlsplit(response.headers["Location"]).query))["lti_storage_target"] == STORAGE_FRAME_NAME


def test_an_unknown_storage_choice_is_refused(platform: Platform) -> None:
    response = requests.get(
        platform.base + "/launch", params={"person": "ada", "storage": "maybe"}, allow_redirects=False, timeout=5
    )
    assert response.status_code == 400
    assert "storage must be 'on' or 'off'" in html.unescape(response.text)


def course_page(platform: Platform, **params: str) -> requests.Response:
    response = requests.get(platform.base + "/", params=params, timeout=5)
    assert response.status_code == 200
    return response


def launch_forms(page: requests.Response):
    return [f for f in parse_forms(page.text, page.url) if f.action.endswith(("/dev/lms/launch", "/dev/lms/deep-link"))]


def form_targets(page: requests.Response) -> set[str]:
    return set(re.findall(r'<form method="get" action="[^"]+/(?:launch|deep-link)" target="([^"]+)"', page.text))


def test_course_page_launches_into_its_tool_frame_or_a_new_window(platform: Platform) -> None:
    page = course_page(platform)
    assert '<iframe class="tool-frame" name="tool_frame"' in page.text
    assert form_targets(page) == {"tool_frame"}
    assert len(launch_forms(page)) == 6  # four people, two of whom may deep link
    assert form_targets(course_page(platform, open="window")) == {"_blank"}
    # The storage frame sits hidden on the page, under the name the login request gives.
    assert f'<iframe name="{STORAGE_FRAME_NAME}" src="/dev/lms/storage-frame"' in page.text


@pytest.mark.parametrize(
    "params, checked",
    [
        ({"profile": "moodle"}, False),
        ({"profile": "canvas"}, True),
        ({"profile": "canvas", "storage": "off"}, False),
        # An unticked box sends only the hidden "off"; a ticked one sends both.
        ({"profile": "moodle", "storage": ["off", "on"]}, True),
    ],
)
def test_course_page_carries_the_storage_choice_into_each_launch(platform: Platform, params, checked) -> None:
    page = course_page(platform, **params)
    box = re.search(r'<input type="checkbox" id="storage"[^>]*>', page.text).group(0)
    assert ("checked" in box) == checked
    assert {f.values["storage"] for f in launch_forms(page)} == {"on" if checked else "off"}


def test_storage_frame_serves_the_tool_origin_and_only_this_lms_may_frame_it(
    platform: Platform, tool  # noqa: F811 - the fixture
) -> None:
    response = requests.get(platform.base + "/storage-frame", timeout=5)
    assert response.status_code == 200
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert response.headers["Content-Security-Policy"] == "frame-ancestors 'self'"
    assert f'data-tool-origin="{tool.url}"' in response.text
    assert f'data-frame-name="{STORAGE_FRAME_NAME}"' in response.text


@pytest.mark.parametrize(
    "tool_url, origin",
    [
        ("https://Tool.Example.edu:443/base", "https://tool.example.edu"),
        ("http://127.0.0.1:80", "http://127.0.0.1"),
        ("https://tool.example.edu:8443", "https://tool.example.edu:8443"),
        ("http://[::1]:5000", "http://[::1]:5000"),
    ],
)
def test_tool_origin_is_spelled_as_browsers_spell_it(tool_url: str, origin: str) -> None:
    assert tool_origin(PlatformConfig(tool_url=tool_url)) == origin
