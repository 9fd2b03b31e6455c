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
