"""The privacy pages of the admin area, through HTTP: find, export, erase (with its confirm step)."""

from __future__ import annotations

import json

from sqlalchemy import select, update

from lti_tool.admin.models import AdminAuditLog
from lti_tool.db import db
from lti_tool.models import User
from privacy.models import ErasureRecord
from tests.admin.conftest import csrf_from, page
from tests.privacy.conftest import TARGET, build_world


def _world(app):
    with app.app_context():
        return build_world()


def _user_page(world) -> str:
    return f"/admin/privacy/users/{world.target_pk}"


def _audits(app, action: str) -> list[AdminAuditLog]:
    with app.app_context():
        return list(db.session.scalars(select(AdminAuditLog).where(AdminAuditLog.action == action)))


def test_privacy_pages_need_a_signed_in_admin(app, client):
    world = _world(app)
    for path in ("/admin/privacy/", _user_page(world)):
        response = client.get(path)
        assert response.status_code == 303 and "/admin/login" in response.headers["Location"]
    response = client.post(f"{_user_page(world)}/export")
    assert response.status_code in (303, 400)
    assert "attachment" not in response.headers.get("Content-Disposition", "")


def test_find_a_learner_by_lms_user_id_or_email(app, admin_client):
    world = _world(app)
    response = admin_client.get(f"/admin/privacy/?search=1&platform={world.campus.platform_id}&sub={TARGET['sub']}")
    assert response.status_code == 200
    assert TARGET["name"] in page(response) and _user_page(world) in page(response)
    response = admin_client.get(f"/admin/privacy/?search=1&email={TARGET['email'].upper()}")
    assert TARGET["name"] in page(response)
    response = admin_client.get("/admin/privacy/?search=1&sub=nobody-has-this")
    assert response.status_code == 200 and "Nobody matches" in page(response)


def test_a_search_without_a_name_or_with_a_bad_platform_is_refused(app, admin_client):
    _world(app)
    response = admin_client.get("/admin/privacy/?search=1")
    assert response.status_code == 400 and "LMS user id or the email" in page(response)
    response = admin_client.get("/admin/privacy/?search=1&platform=abc&sub=x")
    assert response.status_code == 400
    response = admin_client.get("/admin/privacy/?search=1&platform=99999&sub=x")
    assert response.status_code == 400


def test_the_user_page_shows_what_is_held_and_an_unknown_user_is_404(app, admin_client):
    world = _world(app)
    response = admin_client.get(_user_page(world))
    assert response.status_code == 200
    text = page(response)
    assert TARGET["sub"] in text and TARGET["email"] in text and "Download the export" in text
    assert admin_client.get("/admin/privacy/users/999999").status_code == 404


def test_download_the_export_as_a_json_attachment_and_it_is_audited(app, admin_client):
    world = _world(app)
    token = csrf_from(admin_client, _user_page(world))
    response = admin_client.post(f"{_user_page(world)}/export", data={"csrf_token": token})
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and f"u{world.target_pk}.json" in disposition
    document = json.loads(response.get_data(as_text=True))
    assert document["user"]["sub"] == TARGET["sub"] and document["data"]["grade_attempts"]
    assert response.headers["Cache-Control"] == "no-store"
    [audit] = _audits(app, "privacy.exported")
    assert audit.target_id == str(world.target_pk) and audit.actor == "it-admin@example.edu"


def test_export_and_erase_need_the_csrf_token(app, admin_client):
    world = _world(app)
    assert admin_client.post(f"{_user_page(world)}/export").status_code == 400
    response = admin_client.post(f"{_user_page(world)}/erase", data={"confirm": TARGET["sub"], "reason": "t-1"})
    assert response.status_code == 400
    with app.app_context():
        assert db.session.get(User, world.target_pk).sub == TARGET["sub"]
    assert not _audits(app, "privacy.exported")


def test_erase_needs_the_lms_user_id_typed_to_confirm(app, admin_client):
    world = _world(app)
    token = csrf_from(admin_client, _user_page(world))
    for confirm in ("", "zq-7781", TARGET["sub"].upper()):
        response = admin_client.post(f"{_user_page(world)}/erase",
                                     data={"csrf_token": token, "confirm": confirm, "reason": "ticket 9"})
        assert response.status_code == 400 and "type the LMS user id" in page(response)
    with app.app_context():
        assert db.session.get(User, world.target_pk).sub == TARGET["sub"]
        assert not db.session.scalar(select(ErasureRecord))


def test_erase_from_the_admin_area(app, admin_client):
    world = _world(app)
    token = csrf_from(admin_client, _user_page(world))
    response = admin_client.post(f"{_user_page(world)}/erase",
                                 data={"csrf_token": token, "confirm": TARGET["sub"], "reason": "ticket 9"})
    assert response.status_code == 303
    text = page(admin_client.get(response.headers["Location"]))
    assert "Erased." in text and TARGET["name"] not in text and TARGET["email"] not in text
    assert "Erase this person" not in text
    with app.app_context():
        record = db.session.scalar(select(ErasureRecord))
        assert record.requested_by == "it-admin@example.edu" and record.reason == "ticket 9"
        assert db.session.get(User, world.target_pk).name is None
    [audit] = _audits(app, "privacy.erased")
    assert audit.actor == "it-admin@example.edu" and audit.ip
    # The index lists the erasure; erasing again changes nothing.
    assert record.pseudonym in page(admin_client.get("/admin/privacy/"))
    again = admin_client.post(f"{_user_page(world)}/erase", data={"csrf_token": token, "confirm": "x", "reason": "y"})
    assert again.status_code == 303
    assert len(_audits(app, "privacy.erased")) == 1


def test_a_reason_naming_the_learner_is_refused(app, admin_client):
    world = _world(app)
    token = csrf_from(admin_client, _user_page(world))
    response = admin_client.post(f"{_user_page(world)}/erase",
                                 data={"csrf_token": token, "confirm": TARGET["sub"], "reason": TARGET["email"]})
    assert response.status_code == 400 and "names the learner" in page(response)
    with app.app_context():
        assert db.session.get(User, world.target_pk).email == TARGET["email"]


def test_pending_scores_are_shown_and_must_be_cancelled_explicitly(app, admin_client):
    from grades.models import ScoreDelivery

    world = _world(app)
    with app.app_context():
        db.session.execute(update(ScoreDelivery).where(ScoreDelivery.user_pk == world.target_pk)
                           .values(status="pending"))
        db.session.commit()
    text = page(admin_client.get(_user_page(world)))
    assert "1 score is still on its way" in text and 'name="cancel_pending"' in text
    token = csrf_from(admin_client, _user_page(world))
    form = {"csrf_token": token, "confirm": TARGET["sub"], "reason": "ticket 9"}
    response = admin_client.post(f"{_user_page(world)}/erase", data=form)
    assert response.status_code == 409 and "1 score of this learner is still on its way" in page(response)
    response = admin_client.post(f"{_user_page(world)}/erase", data={**form, "cancel_pending": "yes"})
    assert response.status_code == 303


def test_the_admin_navigation_links_the_privacy_pages(app, admin_client):
    assert 'href="/admin/privacy/"' in page(admin_client.get("/admin/"))


def test_the_privacy_pages_speak_the_browsers_language(app, admin_client):
    from grades.models import ScoreDelivery

    world = _world(app)
    with app.app_context():
        db.session.execute(update(ScoreDelivery).where(ScoreDelivery.user_pk == world.target_pk)
                           .values(status="pending"))
        db.session.commit()
    spanish = {"Accept-Language": "es-ES,es;q=0.9"}
    text = page(admin_client.get(_user_page(world), headers=spanish))
    assert '<html lang="es"' in text and "Suprimir los datos de esta persona" in text
    assert "1 puntuación aún está en camino" in text and "se conserva" in text
    assert "Erase this person" not in text
    response = admin_client.get("/admin/privacy/?search=1", headers=spanish)
    assert response.status_code == 400
    assert "No se buscó: indique el id de usuario del LMS o la dirección de correo" in page(response)
