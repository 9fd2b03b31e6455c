"""Rate limits on the public LTI and registration endpoints: 429 with a reason and Retry-After.

On the PostgreSQL stack the counters live in Redis, shared by every web process; on SQLite they
live in each process's memory.
"""

from __future__ import annotations

import html
import re

import pytest
from limits import parse_many

from config import SettingsError, load_settings
from lti_tool import registry
from lti_tool.db import db

ISSUER = "https://lms.example.edu"
LOGIN = {"iss": ISSUER, "login_hint": "learner-1", "target_link_uri": "http://localhost/lti/launch", "client_id": "tool-client"}

# (method, path, form) of each limited endpoint, and what it answers the walk's request below the limit.
LAUNCH_ENDPOINTS = {
    "login": ("GET", "/lti/login", None, 302),
    "login by post": ("POST", "/lti/login", LOGIN, 302),
    "launch": ("POST", "/lti/launch", {"state": "no-such-state", "id_token": "x.y.z"}, 400),
    "storage-check confirmation": ("POST", "/lti/launch/confirm", {"pending_id": "unknown", "state": "x"}, 400),
    "relaunch": ("GET", "/lti/relaunch?ticket=unknown", None, 400),
}
# An LMS whose configuration URL answers nothing: 502, "the LMS could not be reached".
REGISTRATION_ENDPOINTS = {
    "registration page": ("GET", "/lti/register?openid_configuration=http%3A%2F%2F127.0.0.1%3A9%2Fx&registration_token=t", None, 502),
    "registration": ("POST", "/lti/register", {"openid_configuration": "http://127.0.0.1:9/x", "registration_token": "t"}, 502),
}


def register_platform(app) -> None:
    with app.app_context():
        registry.add_platform(
            registry.PlatformInput(
                issuer=ISSUER,
                client_id="tool-client",
                auth_url=f"{ISSUER}/auth",
                token_url=f"{ISSUER}/token",
                jwks_url=f"{ISSUER}/jwks",
                deployment_ids=("1",),
            )
        )
        db.session.commit()


def send(client, method: str, path: str, form, **kwargs):
    if method == "GET":
        return client.get(path, query_string=LOGIN if path == "/lti/login" else None, **kwargs)
    return client.post(path, data=form, **kwargs)


def from_address(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


@pytest.mark.parametrize("name", [*LAUNCH_ENDPOINTS, *REGISTRATION_ENDPOINTS])
def test_each_public_endpoint_answers_429_with_retry_after_past_its_limit(make_app, name):
    app = make_app(LTI_LAUNCH_RATE_LIMIT="3 per minute", REGISTRATION_RATE_LIMIT="3 per minute")
    register_platform(app)
    method, path, form, usual = {**LAUNCH_ENDPOINTS, **REGISTRATION_ENDPOINTS}[name]
    client = from_address(app, "192.0.2.10")
    assert [send(client, method, path, form).status_code for _ in range(3)] == [usual] * 3
    limited = send(client, method, path, form)
    assert limited.status_code == 429
    wait = int(limited.headers["Retry-After"])
    assert 1 <= wait <= 60
    page = html.unescape(limited.get_data(as_text=True))
    assert "Too many requests" in page and "3 per 1 minute" in page
    # The page and the header say the same, give or take the second that passes between them.
    said = int(re.search(r"Wait (\d+) seconds? and try again", page).group(1))
    assert abs(said - wait) <= 1
    # Another address is counted on its own: one busy network does not lock out the others.
    assert send(from_address(app, "198.51.100.7"), method, path, form).status_code == usual


def test_the_429_is_json_for_json_clients(make_app):
    app = make_app(LTI_LAUNCH_RATE_LIMIT="1 per minute")
    client = app.test_client()
    client.post("/lti/launch", data={"state": "x"})
    limited = client.post("/lti/launch", data={"state": "x"}, headers={"Accept": "application/json"})
    assert limited.status_code == 429 and limited.headers["Retry-After"].isdigit()
    assert limited.json["error"] == "Too many requests" and "Wait" in limited.json["message"]


def test_routes_count_separately_so_a_launch_is_not_spent_by_its_login(make_app):
    # One real launch is a login and a launch: each route has the whole budget.
    app = make_app(LTI_LAUNCH_RATE_LIMIT="2 per minute")
    register_platform(app)
    client = app.test_client()
    assert [client.get("/lti/login", query_string=LOGIN).status_code for _ in range(2)] == [302, 302]
    assert client.post("/lti/launch", data={"state": "x"}).status_code == 400


def test_counts_are_shared_by_web_processes_through_redis(make_app, backend):
    first, second = make_app(LTI_LAUNCH_RATE_LIMIT="2 per minute"), make_app(LTI_LAUNCH_RATE_LIMIT="2 per minute")
    for _ in range(2):
        assert first.test_client().post("/lti/launch", data={"state": "x"}).status_code == 400
    other_process = second.test_client().post("/lti/launch", data={"state": "x"}).status_code
    if backend == "postgresql":
        assert other_process == 429  # Redis holds one count for every process
        prefix = first.config["SETTINGS"].REDIS_KEY_PREFIX + "limits"
        assert any(first.extensions["lti_redis"].scan_iter(match=prefix + "*"))
    else:
        assert other_process == 400  # in memory: each process counts for itself


def test_the_defaults_let_a_lecture_hall_behind_one_address_launch_in_the_same_minute():
    settings = load_settings(environ={})
    per_minute = [item.amount for item in parse_many(settings.LTI_LAUNCH_RATE_LIMIT) if item.get_expiry() == 60]
    assert per_minute and per_minute[0] >= 1000
    assert [item.amount for item in parse_many(settings.REGISTRATION_RATE_LIMIT) if item.get_expiry() == 60] == [20]


@pytest.mark.parametrize("name", ["LTI_LAUNCH_RATE_LIMIT", "REGISTRATION_RATE_LIMIT"])
def test_a_limit_that_is_not_one_is_refused_at_start(name):
    with pytest.raises(SettingsError, match=name):
        load_settings(environ={name: "lots"})
