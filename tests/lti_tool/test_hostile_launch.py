"""Hostile input at the LTI endpoints: whatever arrives, the answer is a 4xx and nothing is stored."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from lti_tool.db import db
from lti_tool.models import Context, Enrollment, ResourceLink, User
from tests.lti_tool.test_launch import TARGET, lms, registered, start  # noqa: F401 - fixtures

HOSTILE = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def tenant_rows(app) -> int:
    with app.app_context():
        return sum(
            db.session.scalar(select(func.count()).select_from(model))
            for model in (User, Context, Enrollment, ResourceLink)
        )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)


def assert_refused(app, response, before):
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)[:500]
    assert tenant_rows(app) == before


@HOSTILE
@given(token=st.text(max_size=300) | st.binary(max_size=300).map(lambda b: b.decode("latin-1")))
def test_random_tokens(app, client, registered, token):
    before = tenant_rows(app)
    response = client.post("/lti/launch", data={"id_token": token, "state": "s"})
    assert_refused(app, response, before)


@HOSTILE
@given(header=st.dictionaries(st.text(max_size=10), json_values, max_size=5), body=json_values)
def test_random_json_in_a_jwt_shape(app, client, registered, header, body):
    before = tenant_rows(app)
    token = ".".join([b64(json.dumps(header).encode()), b64(json.dumps(body).encode()), b64(b"sig")])
    response = client.post("/lti/launch", data={"id_token": token, "state": "s"})
    assert_refused(app, response, before)


CLAIMS_TO_BREAK = [
    "iss", "aud", "azp", "sub", "nonce", "exp", "iat",
    "https://purl.imsglobal.org/spec/lti/claim/deployment_id",
    "https://purl.imsglobal.org/spec/lti/claim/message_type",
    "https://purl.imsglobal.org/spec/lti/claim/version",
    "https://purl.imsglobal.org/spec/lti/claim/roles",
    "https://purl.imsglobal.org/spec/lti/claim/resource_link",
    "https://purl.imsglobal.org/spec/lti/claim/context",
    "https://purl.imsglobal.org/spec/lti/claim/custom",
    "name", "email",
]


@HOSTILE
@given(claim=st.sampled_from(CLAIMS_TO_BREAK), value=json_values)
def test_signed_tokens_with_wrong_types_in_claims(app, client, registered, claim, value):
    """Correctly signed by the platform, so every check after the signature is exercised."""
    state, nonce = start(client, registered)
    claims = registered.claims(nonce, target=TARGET)
    claims[claim] = value
    before = tenant_rows(app)
    try:
        token = registered.sign(claims)
    except (TypeError, ValueError):
        return  # not even encodable as a JWT
    response = client.post("/lti/launch", data={"id_token": token, "state": state})
    if response.status_code == 303:
        # A value of the right type may be accepted; then the launch is a normal one.
        return
    assert_refused(app, response, before)


def test_alg_none_is_refused(app, client, registered):
    state, nonce = start(client, registered)
    token = jwt.encode(registered.claims(nonce, target=TARGET), None, algorithm="none", headers={"kid": "key-1"})
    response = client.post("/lti/launch", data={"id_token": token, "state": state})
    assert response.status_code == 400 and "RS256" in response.get_data(as_text=True)
    assert tenant_rows(app) == 0


def test_hs256_signed_with_the_platforms_public_key_is_refused(app, client, registered):
    """The classic key-confusion attack: HMAC keyed with the (public) RSA key."""
    import hashlib
    import hmac

    state, nonce = start(client, registered)
    header = {"alg": "HS256", "typ": "JWT", "kid": "key-1"}
    signing_input = b64(json.dumps(header).encode()) + "." + b64(json.dumps(registered.claims(nonce, target=TARGET)).encode())
    signature = hmac.new(registered.public_pem().encode(), signing_input.encode(), hashlib.sha256).digest()
    response = client.post("/lti/launch", data={"id_token": signing_input + "." + b64(signature), "state": state})
    assert response.status_code == 400
    assert tenant_rows(app) == 0


def test_huge_header_and_deeply_nested_json(app, client, registered):
    state, _ = start(client, registered)
    huge = b64(json.dumps({"alg": "RS256", "kid": "k" * 60000}).encode()) + ".e30.sig"
    assert client.post("/lti/launch", data={"id_token": huge, "state": state}).status_code == 400
    nested = "[" * 5000 + "]" * 5000
    token = b64(b'{"alg":"RS256"}') + "." + b64(nested.encode()) + ".sig"
    assert client.post("/lti/launch", data={"id_token": token, "state": state}).status_code == 400
    assert tenant_rows(app) == 0


@HOSTILE
@given(params=st.dictionaries(
    st.sampled_from(["iss", "login_hint", "target_link_uri", "lti_message_hint", "client_id", "lti_deployment_id", "lti_storage_target"]),
    st.text(max_size=200),
))
def test_random_login_requests(app, client, registered, params):
    before = tenant_rows(app)
    response = client.get("/lti/login", query_string=params)
    assert response.status_code in (200, 302) or 400 <= response.status_code < 500
    assert tenant_rows(app) == before


# --- payloads only a hand-made signer produces ------------------------------------------------------


def sign_raw(platform, header: bytes, payload: bytes) -> str:
    """RS256 over exactly these bytes, so the payload may hold what json.dumps never writes."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    signing_input = b64(header) + "." + b64(payload)
    key = platform.keys[platform.current_kid]
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return signing_input + "." + b64(signature)


def raw_claims(registered, nonce: str) -> bytes:
    return json.dumps(registered.claims(nonce, target=TARGET)).encode()


HEADER = json.dumps({"alg": "RS256", "typ": "JWT", "kid": "key-1"}).encode()


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_signed_tokens_with_nan_or_infinity_are_refused(app, client, registered, constant):
    state, nonce = start(client, registered)
    payload = raw_claims(registered, nonce)[:-1] + b', "exp_extra": ' + constant.encode() + b"}"
    payload = payload.replace(b'"exp": ', b'"exp": ' + constant.encode() + b', "was_exp": ', 1)
    response = client.post("/lti/launch", data={"id_token": sign_raw(registered, HEADER, payload), "state": state})
    assert_refused(app, response, 0)


def test_duplicate_claims_use_the_last_one_like_every_jwt_library(app, client, registered):
    """RFC 7515 5.2: a duplicate name is refused or the lexically last one counts; never the first."""
    state, nonce = start(client, registered)
    payload = raw_claims(registered, nonce)[:-1] + b', "iss": "https://evil.example"}'
    response = client.post("/lti/launch", data={"id_token": sign_raw(registered, HEADER, payload), "state": state})
    assert_refused(app, response, 0)
    duplicate_alg = b'{"alg": "RS256", "kid": "key-1", "alg": "none"}'
    state, nonce = start(client, registered)
    response = client.post("/lti/launch", data={"id_token": sign_raw(registered, duplicate_alg, raw_claims(registered, nonce)), "state": state})
    assert_refused(app, response, 0)


@pytest.mark.parametrize("payload", [b"\xff\xfe{}", b'{"iss": "\xed\xa0\x80"}', b'{"sub": "\xc0\xaf"}', b"\x00"])
def test_signed_payloads_that_are_not_utf8_are_refused(app, client, registered, payload):
    state, _ = start(client, registered)
    response = client.post("/lti/launch", data={"id_token": sign_raw(registered, HEADER, payload), "state": state})
    assert_refused(app, response, 0)


def test_non_utf8_form_bodies_and_oversize_tokens_are_refused(app, client, registered):
    state, nonce = start(client, registered)
    body = b"state=" + state.encode() + b"&id_token=%ff%fe" + b"A" * 100
    response = client.post("/lti/launch", data=body, content_type="application/x-www-form-urlencoded")
    assert_refused(app, response, 0)
    token = registered.sign({**registered.claims(nonce, target=TARGET), "padding": "x" * 70_000})
    response = client.post("/lti/launch", data={"id_token": token, "state": state})
    assert_refused(app, response, 0)
    # A body past the request limit is cut off before it is read.
    response = client.post("/lti/launch", data={"id_token": "A" * (app.config["MAX_CONTENT_LENGTH"] + 10), "state": state})
    assert response.status_code == 413 and tenant_rows(app) == 0


def test_huge_header_values_and_many_header_fields(app, client, registered):
    state, nonce = start(client, registered)
    payload = raw_claims(registered, nonce)
    for header in (
        json.dumps({"alg": "RS256", "kid": "key-1", **{f"x{i}": i for i in range(3000)}}).encode(),
        json.dumps({"alg": "RS256", "kid": "key-1", "jku": "https://evil.example/jwks", "x5u": "https://evil.example/x"}).encode(),
        json.dumps({"alg": "RS256", "kid": "key-1", "crit": ["b64"], "b64": False}).encode(),
        json.dumps({"alg": ["RS256"], "kid": "key-1"}).encode(),
        json.dumps({"alg": "RS256", "kid": {"$ne": None}}).encode(),
    ):
        response = client.post("/lti/launch", data={"id_token": sign_raw(registered, header, payload), "state": state})
        # jku/x5u are ignored (keys come only from the registered JWKS URL); the rest is refused.
        assert response.status_code < 500 and tenant_rows(app) <= 4


def test_lone_surrogate_escapes_in_claims_are_refused(app, client, registered):
    """'\\ud800' is valid JSON text for a string no database can store: refused, not a crash."""
    for claim in ("iss", "name", "sub"):
        state, nonce = start(client, registered)
        claims = registered.claims(nonce, target=TARGET)
        claims[claim] = "\ud800" + str(claims.get(claim, ""))
        response = client.post("/lti/launch", data={"id_token": registered.sign(claims), "state": state})
        assert_refused(app, response, 0)
