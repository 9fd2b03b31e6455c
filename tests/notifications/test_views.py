"""The bell, the list, mark read and email settings over HTTP, with the launch id pages carry."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from lti_tool.csrf import launch_token
from lti_tool.db import db
from notifications import service
from notifications.models import EmailPreference, Notification


def add(person, n: int = 1, *, kind: str = "grade_delivered", prefix: str = "n") -> list[int]:
    ids = []
    for i in range(n):
        note = service.notify(
            platform_id=person.platform_id,
            user_pk=person.user_pk,
            context_pk=person.context_pk,
            kind=kind,
            title=f"Title {prefix}{i}",
            body=f"Body {prefix}{i}",
            link="/lti/home" if i == 0 else None,
            dedupe_key=f"{prefix}{i}",
        )
        db.session.flush()
        ids.append(note.id)
    db.session.commit()
    return ids


def form(person, **fields):
    with_token = {"launch_id": person.launch_id}
    return {**with_token, "csrf_token": None, **fields}


@pytest.fixture
def ada(app, campus):
    return campus.launch("ada", email=None)  # no email rows: these tests are about the pages


@pytest.fixture
def token(app):
    def make(person) -> str:
        with app.test_request_context():
            return launch_token(person.launch_id)

    return make


def bell_count(html: str) -> int | None:
    found = re.search(r'<span class="bell-count" data-count(?: hidden)?>(\d+)</span>', html)
    return int(found.group(1)) if found else None


def test_every_launch_page_shows_the_bell_with_the_unread_count(app, client, ada):
    with app.app_context():
        add(ada, 3)
    page = client.get(f"/lti/home?launch_id={ada.launch_id}").get_data(as_text=True)
    assert bell_count(page) == 3
    assert f'data-launch-id="{ada.launch_id}"' in page
    assert f"/notifications/?launch_id={ada.launch_id}" in page
    assert 'aria-label="Notifications: 3 unread"' in page
    assert "/static/notifications/bell.js" in page


def test_no_bell_without_a_launch(client):
    page = client.get("/notifications/", headers={"Accept": "text/html"})
    assert page.status_code == 401
    assert "data-notification-bell" not in page.get_data(as_text=True)


def test_the_list_shows_mine_newest_first_with_links_carrying_the_launch(app, client, ada, campus):
    grace = campus.launch("grace", email=None)
    with app.app_context():
        add(ada, 2)
        add(grace, 1, prefix="g")
    page = client.get(f"/notifications/?launch_id={ada.launch_id}").get_data(as_text=True)
    assert page.index("Title n1") < page.index("Title n0")
    assert "Title g0" not in page
    assert f"/lti/home?launch_id={ada.launch_id}" in page
    assert "2 unread" in page and "Course 1" in page


def test_mark_read_and_mark_all_read(app, client, ada, token):
    with app.app_context():
        first, second, third = add(ada, 3)
    response = client.post(
        f"/notifications/{first}/read", data={"launch_id": ada.launch_id, "csrf_token": token(ada)}
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/notifications/?launch_id={ada.launch_id}")
    unread = client.get("/notifications/unread.json", headers={"X-Launch-Id": ada.launch_id}).get_json()
    assert unread["unread"] == 2 and [n["id"] for n in unread["newest"]] == [third, second]

    response = client.post("/notifications/read-all", data={"launch_id": ada.launch_id, "csrf_token": token(ada)})
    assert response.status_code == 303
    assert client.get("/notifications/unread.json", headers={"X-Launch-Id": ada.launch_id}).get_json()["unread"] == 0
    page = client.get(f"/lti/home?launch_id={ada.launch_id}").get_data(as_text=True)
    assert bell_count(page) == 0 and "none unread" in page


def test_new_notifications_show_up_in_the_polled_count(app, client, ada):
    assert client.get("/notifications/unread.json", headers={"X-Launch-Id": ada.launch_id}).get_json()["unread"] == 0
    with app.app_context():
        add(ada, 1)
    body = client.get("/notifications/unread.json", headers={"X-Launch-Id": ada.launch_id}).get_json()
    assert body["unread"] == 1 and body["newest"][0]["title"] == "Title n0"


def test_unread_json_needs_a_live_launch(client):
    response = client.get("/notifications/unread.json", headers={"Accept": "application/json"})
    assert response.status_code == 401 and "LMS" in response.get_json()["message"]
    response = client.get(
        "/notifications/unread.json", headers={"X-Launch-Id": "expired-launch", "Accept": "application/json"}
    )
    assert response.status_code == 401


def test_marking_needs_the_forms_token(app, client, ada):
    with app.app_context():
        [note] = add(ada)
    response = client.post(f"/notifications/{note}/read", data={"launch_id": ada.launch_id})
    assert response.status_code == 400
    response = client.post(f"/notifications/{note}/read", data={"launch_id": ada.launch_id, "csrf_token": "forged"})
    assert response.status_code == 400
    with app.app_context():
        assert db.session.get(Notification, note).read_at is None


def test_nobody_marks_someone_elses_notification(app, client, ada, campus, token):
    grace = campus.launch("grace", email=None)
    stranger = campus.launch("ada", email=None, issuer="https://other.example.org")  # same sub, other LMS
    with app.app_context():
        [note] = add(ada)
    for person in (grace, stranger):
        response = client.post(f"/notifications/{note}/read", data={"launch_id": person.launch_id, "csrf_token": token(person)})
        assert response.status_code == 404
        client.post("/notifications/read-all", data={"launch_id": person.launch_id, "csrf_token": token(person)})
    with app.app_context():
        assert db.session.get(Notification, note).read_at is None
    assert client.post(f"/notifications/{note}/read").status_code in (400, 401)
    assert client.get(f"/notifications/{note}/read").status_code == 405


def test_bad_paging_is_a_clear_400(client, ada):
    response = client.get(f"/notifications/?launch_id={ada.launch_id}&before=abc")
    assert response.status_code == 400 and "notification number" in response.get_data(as_text=True)


def test_email_settings_by_role(app, client, campus, token):
    learner = campus.launch("ada")
    teacher = campus.launch("tom", "instructor")
    page = client.get(f"/notifications/preferences?launch_id={learner.launch_id}").get_data(as_text=True)
    assert 'name="email_due_soon" checked' in page and "email_roster_digest" not in page
    assert "ada@example.edu" in page
    page = client.get(f"/notifications/preferences?launch_id={teacher.launch_id}").get_data(as_text=True)
    assert "email_roster_digest" in page and "email_due_soon" not in page

    response = client.post(
        "/notifications/preferences",
        data={"launch_id": learner.launch_id, "csrf_token": token(learner), "email_grade_delivered": "on"},
    )
    assert response.status_code == 200 and "Your choices are saved" in response.get_data(as_text=True)
    with app.app_context():
        stored = dict(db.session.execute(select(EmailPreference.kind, EmailPreference.email)).all())
        assert stored == {"item_published": False, "due_soon": False, "grade_delivered": True}
        assert service.wants_email(learner.user_pk, "due_soon") is False


def test_email_settings_refuse_unknown_kinds_and_change_nothing(app, client, campus, token):
    learner = campus.launch("ada")
    response = client.post(
        "/notifications/preferences",
        data={"launch_id": learner.launch_id, "csrf_token": token(learner), "email_roster_digest": "on"},
    )
    assert response.status_code == 400 and "roster_digest" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(EmailPreference.id)) is None


def test_a_person_without_an_address_is_told_so(client, campus):
    grace = campus.launch("grace", email=None)
    page = client.get(f"/notifications/preferences?launch_id={grace.launch_id}").get_data(as_text=True)
    assert "did not share an email address" in page
