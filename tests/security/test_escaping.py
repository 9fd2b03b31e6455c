"""Text people and LMSs supply never reaches a page as markup.

A world is built whose every free text (names from the LMS, course descriptions, page and quiz
bodies, question prompts and feedback, image text alternatives, notification texts) carries a
script payload, and whose stored page and quiz bodies then get raw HTML written straight into the
database, as if an older version or an import had stored it unsanitised. Every route is walked as
each kind of caller: no HTML page may carry the payload as live markup.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from courses.models import Item
from courses.sanitize import clean_html
from lti_tool.db import db
from tests.security.route_roles import ROLES, ROUTES
from tests.security.walk import Caller
from tests.security.world import build_world

PAYLOAD = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
# The payload as markup; escaped, it reads "&lt;script&gt;..." and is harmless text.
LIVE = ("<script>alert(1)", "<img src=x onerror", "<img src=\"x\" onerror")


@pytest.fixture
def hostile_world(walk_app):
    world = build_world(walk_app, "https://lms.example.edu", PAYLOAD)
    with walk_app.app_context():
        for public_id in (world.ids["page"], world.ids["quiz"]):
            item = db.session.scalar(select(Item).where(Item.public_id == public_id))
            item.body_html = f"<p>Stored before sanitising</p>{PAYLOAD}<a href=\"javascript:alert(3)\">x</a>"
        db.session.commit()
    return world


def test_the_sanitiser_removes_the_payload_on_save():
    cleaned = clean_html(f"<p>Hi</p>{PAYLOAD}")
    assert not any(live in cleaned for live in LIVE) and "<p>Hi</p>" in cleaned


@pytest.mark.parametrize("role", ROLES)
def test_no_page_renders_supplied_text_as_markup(walk_app, hostile_world, role):
    caller = Caller(walk_app, role, hostile_world)
    live = []
    pages = 0
    for route in sorted(ROUTES, key=lambda route: route.last):
        with caller.request(route) as response:
            if response.mimetype != "text/html":
                continue
            pages += 1
            body = response.get_data(as_text=True)
            if any(part in body for part in LIVE) or 'href="javascript:' in body:
                live.append(f"{route.method} {route.path} ({route.endpoint})")
    assert pages >= 5
    assert not live, "supplied text rendered as markup on: " + "; ".join(live)
