import dataclasses
import threading
from datetime import timedelta

import jwt
import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from jwcrypto.jwk import JWK
from pylti1p3.registration import Registration
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from keys import service
from keys.models import ACTIVE, NEXT, RETIRED, ToolKey
from lti_tool.db import db, utcnow

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


@pytest.fixture(autouse=True)
def ctx(app):
    with app.app_context():
        yield


def keys_in(state):
    return list(db.session.scalars(select(ToolKey).where(ToolKey.state == state)))


def counts():
    rows = db.session.execute(select(ToolKey.state, func.count()).group_by(ToolKey.state))
    return dict(rows.all())


def test_kid_is_the_thumbprint_pylti1p3_signs_with():
    key = service.generate_key(ACTIVE)

    assert key.kid == JWK.from_pem(key.public_pem.encode()).thumbprint()
    registration = Registration().set_tool_public_key(key.public_pem)
    assert registration.get_kid() == key.kid


def test_generated_key_is_rsa_2048_with_a_matching_public_half():
    key = service.generate_key(NEXT)

    private = serialization.load_pem_private_key(service.private_pem(key).encode(), password=None)
    assert private.key_size == 2048
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert public_pem.decode() == key.public_pem
    assert key.state == NEXT


def test_private_key_is_not_stored_in_plaintext():
    service.ensure_keys()

    stored = db.session.execute(text("SELECT private_pem_encrypted FROM tool_keys")).scalars().all()
    assert len(stored) == 2
    for blob in stored:
        assert b"PRIVATE KEY" not in bytes(blob)
    assert service.private_pem(service.active_key()).startswith("-----BEGIN PRIVATE KEY-----")


def test_private_key_decrypts_only_with_the_right_encryption_key(app, monkeypatch):
    key = service.active_key()
    wrong = dataclasses.replace(app.config["SETTINGS"], KEY_ENCRYPTION_KEY=Fernet.generate_key().decode())
    monkeypatch.setitem(app.config, "SETTINGS", wrong)

    with pytest.raises(service.KeyEncryptionError, match="KEY_ENCRYPTION_KEY"):
        service.private_pem(key)


def test_ensure_keys_creates_one_active_and_one_next_key_once():
    created = service.ensure_keys()

    assert sorted(key.state for key in created) == [ACTIVE, NEXT]
    assert service.ensure_keys() == []
    assert counts() == {ACTIVE: 1, NEXT: 1}


def test_active_key_creates_the_keys_on_first_use():
    key = service.active_key()

    assert key.state == ACTIVE
    assert key.activated_at is not None
    assert service.active_key().kid == key.kid
    assert counts() == {ACTIVE: 1, NEXT: 1}


@pytest.mark.parametrize("state", [ACTIVE, NEXT])
def test_the_database_refuses_a_second_key_in_a_single_state(state):
    service.ensure_keys()

    db.session.add(service.generate_key(state))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_ensure_keys_rereads_after_losing_a_race(monkeypatch):
    service.ensure_keys()
    original = service._key_in_state
    missed = []

    def stale_read(state):
        # The first look misses the key, as when another process commits it just after.
        if not missed:
            missed.append(state)
            return None
        return original(state)

    monkeypatch.setattr(service, "_key_in_state", stale_read)

    assert service.ensure_keys() == []
    assert counts() == {ACTIVE: 1, NEXT: 1}


def test_concurrent_ensure_keys_leave_one_active_and_one_next(app):
    start = threading.Barrier(4)
    errors = []

    def worker():
        with app.app_context():
            try:
                start.wait()
                service.ensure_keys()
            except Exception as exc:  # reported below, so a failure names its cause
                errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert counts() == {ACTIVE: 1, NEXT: 1}


def test_rotate_promotes_next_retires_active_and_publishes_a_new_next():
    service.ensure_keys()
    old_active, old_next = keys_in(ACTIVE)[0], keys_in(NEXT)[0]
    now = utcnow()

    rotation = service.rotate(now=now)

    assert rotation.active.kid == old_next.kid
    assert rotation.retired.kid == old_active.kid
    assert rotation.next.kid not in (old_active.kid, old_next.kid)
    assert (rotation.active.state, rotation.next.state, rotation.retired.state) == (ACTIVE, NEXT, RETIRED)
    db.session.expire_all()
    assert [key.kid for key in keys_in(ACTIVE)] == [old_next.kid]
    assert [key.kid for key in keys_in(NEXT)] == [rotation.next.kid]
    [retired] = keys_in(RETIRED)
    assert retired.kid == old_active.kid
    assert retired.retired_at == now
    assert keys_in(ACTIVE)[0].activated_at == now
    assert service.active_key().kid == old_next.kid


def test_rotate_on_an_empty_database_starts_from_fresh_keys():
    rotation = service.rotate()

    assert counts() == {ACTIVE: 1, NEXT: 1, RETIRED: 1}
    assert service.active_key().kid == rotation.active.kid


def test_retired_key_is_published_during_its_grace_period_then_deleted(app):
    grace = timedelta(seconds=app.config["SETTINGS"].KEY_RETIRE_GRACE_SECONDS)
    service.ensure_keys()
    t0 = utcnow()
    first = service.rotate(now=t0)
    retired_kid = first.retired.kid

    def published(now):
        return [key["kid"] for key in service.public_jwks(now=now)["keys"]]

    assert retired_kid in published(t0 + grace - timedelta(seconds=1))
    assert retired_kid not in published(t0 + grace)

    second = service.rotate(now=t0 + grace - timedelta(seconds=1))
    assert second.deleted_kids == []
    third = service.rotate(now=t0 + grace + timedelta(seconds=1))
    assert third.deleted_kids == [retired_kid]
    db.session.expire_all()
    assert db.session.scalar(select(ToolKey).where(ToolKey.kid == retired_kid)) is None
    # The key retired by the second rotation is still within its grace period.
    assert second.retired.kid in published(t0 + grace + timedelta(seconds=1))


def test_jwks_has_active_next_and_recently_retired_public_keys_only():
    service.ensure_keys()
    rotation = service.rotate()

    jwks = service.public_jwks()

    kids = [key["kid"] for key in jwks["keys"]]
    assert kids == [rotation.active.kid, rotation.next.kid, rotation.retired.kid]
    for key in jwks["keys"]:
        assert set(key) == {"kid", "kty", "n", "e", "alg", "use"}
        assert not PRIVATE_MEMBERS & set(key)
        assert (key["kty"], key["alg"], key["use"]) == ("RSA", "RS256", "sig")
        assert not JWK(**key).has_private


def test_jwks_of_an_empty_database_creates_the_keys_first():
    jwks = service.public_jwks()

    assert [key["kid"] for key in jwks["keys"]] == [service.active_key().kid, keys_in(NEXT)[0].kid]


def verify(token, jwks, audience):
    kid = jwt.get_unverified_header(token)["kid"]
    [jwk] = [key for key in jwks["keys"] if key["kid"] == kid]
    return jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=["RS256"], audience=audience)


def test_signed_token_verifies_with_the_published_key_of_its_kid():
    payload = {"iss": "tool", "aud": "lms", "exp": utcnow() + timedelta(minutes=5), "sub": "42"}

    token = service.sign(payload, headers={"typ": "JWT"})

    header = jwt.get_unverified_header(token)
    assert header["kid"] == service.active_key().kid
    assert header["alg"] == "RS256"
    claims = verify(token, service.public_jwks(), audience="lms")
    assert claims["sub"] == "42"


def test_token_signed_before_rotation_still_verifies_after_it():
    payload = {"aud": "lms", "exp": utcnow() + timedelta(minutes=5)}
    before = service.sign(payload)

    service.rotate()
    after = service.sign(payload)

    jwks = service.public_jwks()
    assert jwt.get_unverified_header(before)["kid"] != jwt.get_unverified_header(after)["kid"]
    verify(before, jwks, audience="lms")
    verify(after, jwks, audience="lms")


def test_signing_decrypts_the_active_key_once_per_kid(monkeypatch):
    calls = []
    original = service.private_pem

    def counting(key):
        calls.append(key.kid)
        return original(key)

    monkeypatch.setattr(service, "private_pem", counting)

    service.sign({"n": 1})
    service.sign({"n": 2})
    assert len(calls) == 1

    rotation = service.rotate()
    token = service.sign({"n": 3})
    assert calls == [calls[0], rotation.active.kid]
    assert jwt.get_unverified_header(token)["kid"] == rotation.active.kid


def test_list_keys_orders_active_next_then_retired():
    service.ensure_keys()
    first = service.rotate()
    second = service.rotate()

    assert [key.kid for key in service.list_keys()] == [
        second.active.kid,
        second.next.kid,
        second.retired.kid,
        first.retired.kid,
    ]
