"""Cookie-less launches: platform storage (LTI client-side postMessages) and the new-window
fallback, over HTTP. The browser half (postMessage) runs in the browser tests; here the page's
part is played by the test: it reads what the page was given and posts what the platform's
storage would hand back."""

import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from lti_tool.db import db
from lti_tool.models import LaunchLog, User
from tests.lti_tool.test_launch import ISSUER, TARGET, login, registered, lms  # noqa: F401 - fixtures


def data_attribute(page: str, name: str) -> str:
    match = re.search(rf'data-{name}="([^"]*)"', page)
    assert match, f"no data-{name} in page"
    return html.unescape(match.group(1))


def users(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(User))


def storage_login(client, lms):
    response = login(client, lms, lti_storage_target="post_message_forwarding")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "lti-storage.js" in page
    return page


def test_login_with_a_storage_target_stores_state_in_the_platform_first(client, registered):
    page = storage_login(client, registered)
    state = data_attribute(page, "state")
    nonce = data_attribute(page, "nonce")
    assert data_attribute(page, "target") == "post_message_forwarding"
    # Messages go only to the platform's OIDC origin.
    assert data_attribute(page, "origin") == "https://lms.example.edu"
    next_url = data_attribute(page, "next")
    query = parse_qs(urlsplit(next_url).query)
    assert query["state"] == [state] and query["nonce"] == [nonce]


def test_a_hostile_storage_target_is_ignored(client, registered):
    response = login(client, registered, lti_storage_target='x" onload="alert(1)')
    assert response.status_code == 302


def test_launch_without_cookie_is_confirmed_from_platform_storage(app, client, registered):
    page = storage_login(client, registered)
    state, nonce = data_attribute(page, "state"), data_attribute(page, "nonce")
    token = registered.sign(registered.claims(nonce, target=TARGET))
    cookieless = app.test_client(use_cookies=False)
    held = cookieless.post("/lti/launch", data={"id_token": token, "state": state})
    assert held.status_code == 200
    held_page = held.get_data(as_text=True)
    assert data_attribute(held_page, "state") == state
    assert users(app) == 0  # nothing counts until the browser proves it
    pending_id = re.search(r'name="pending_id" value="([^"]+)"', held_page).group(1)

    wrong = cookieless.post("/lti/launch/confirm", data={"pending_id": pending_id, "state": "not-it"})
    assert wrong.status_code == 400 and users(app) == 0

    # A wrong answer used the hold up: the launch must start again.
    page = storage_login(client, registered)
    state, nonce = data_attribute(page, "state"), data_attribute(page, "nonce")
    token = registered.sign(registered.claims(nonce, target=TARGET))
    held_page = cookieless.post("/lti/launch", data={"id_token": token, "state": state}).get_data(as_text=True)
    pending_id = re.search(r'name="pending_id" value="([^"]+)"', held_page).group(1)
    confirmed = cookieless.post("/lti/launch/confirm", data={"pending_id": pending_id, "state": state})
    assert confirmed.status_code == 303
    landing = cookieless.get(confirmed.headers["Location"])
    assert landing.status_code == 200 and "Welcome, Ada Lovelace" in landing.get_data(as_text=True)
    assert users(app) == 1

    again = cookieless.post("/lti/launch/confirm", data={"pending_id": pending_id, "state": state})
    assert again.status_code == 400
    # The same id_token cannot be held twice either.
    replay = cookieless.post("/lti/launch", data={"id_token": token, "state": state})
    assert replay.status_code == 400 and "already used" in html.unescape(replay.get_data(as_text=True))


def test_without_storage_or_cookie_the_learner_is_offered_a_new_window(app, client, registered):
    response = login(client, registered)
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    token = registered.sign(registered.claims(query["nonce"][0], target=TARGET))
    cookieless = app.test_client(use_cookies=False)
    blocked = cookieless.post("/lti/launch", data={"id_token": token, "state": query["state"][0]})
    assert blocked.status_code == 400
    page = html.unescape(blocked.get_data(as_text=True))
    assert "Open in a new window" in page
    relaunch = re.search(r'href="(/lti/relaunch\?ticket=[^"]+)"', page).group(1)
    with app.app_context():
        assert db.session.scalars(select(LaunchLog).order_by(LaunchLog.id.desc())).first().reason == "state_mismatch"

    # The new, top-level window starts the same login again, with a first-party cookie.
    window = app.test_client()
    restarted = window.get(relaunch)
    assert restarted.status_code == 302
    new_query = parse_qs(urlsplit(restarted.headers["Location"]).query)
    assert new_query["login_hint"] == ["42"] and new_query["lti_message_hint"] == ["opaque-hint"]
    assert new_query["state"] != query["state"]
    token = registered.sign(registered.claims(new_query["nonce"][0], target=TARGET))
    finished = window.post("/lti/launch", data={"id_token": token, "state": new_query["state"][0]})
    assert finished.status_code == 303
    # The ticket works once.
    assert window.get(relaunch).status_code == 400
