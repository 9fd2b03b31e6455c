import pytest
from sqlalchemy import update

from keys import service, views
from keys.models import ACTIVE, NEXT, RETIRED, ToolKey
from lti_tool.db import db

URL = "/.well-known/jwks.json"


def kids(response):
    return [key["kid"] for key in response.get_json()["keys"]]


def test_jwks_is_public_cacheable_json_with_active_and_next_keys(app, client):
    response = client.get(URL)

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "public, max-age=300"
    with app.app_context():
        active = service.active_key().kid
        upcoming = db.session.scalar(db.select(ToolKey.kid).where(ToolKey.state == NEXT))
    assert kids(response) == [active, upcoming]
    for key in response.get_json()["keys"]:
        assert set(key) == {"kid", "kty", "n", "e", "alg", "use"}


def test_jwks_follows_a_rotation_in_this_process(app, client):
    before = kids(client.get(URL))
    with app.app_context():
        rotation = service.rotate()

    after = kids(client.get(URL))

    assert after == [rotation.active.kid, rotation.next.kid, rotation.retired.kid]
    assert after[0] == before[1]


def test_jwks_body_is_built_once_per_key_set(app, client, monkeypatch):
    client.get(URL)
    built = []
    original = service.public_jwks
    monkeypatch.setattr(service, "public_jwks", lambda: built.append(1) or original())
    # Make every request look at the database, as after the recheck interval.
    monkeypatch.setattr(views, "RECHECK_SECONDS", 0)

    first = client.get(URL)
    second = client.get(URL)

    assert built == []
    assert first.data == second.data


def test_jwks_notices_keys_changed_by_another_process_after_the_recheck_interval(app, client, monkeypatch):
    before = kids(client.get(URL))
    # Another process retires the active key: this one learns of it only from the database.
    with app.app_context():
        db.session.execute(update(ToolKey).where(ToolKey.state == ACTIVE).values(state=RETIRED))
        db.session.commit()

    assert kids(client.get(URL)) == before
    monkeypatch.setattr(views, "RECHECK_SECONDS", 0)
    assert before[0] not in kids(client.get(URL))


def test_jwks_answers_not_modified_to_a_client_holding_the_current_set(client):
    first = client.get(URL)

    again = client.get(URL, headers={"If-None-Match": first.headers["ETag"]})

    assert again.status_code == 304


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_jwks_is_read_only(client, method):
    assert getattr(client, method)(URL).status_code == 405
