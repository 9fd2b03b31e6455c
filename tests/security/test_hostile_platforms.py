"""What a hostile or broken platform serves back: key sets and registration documents that are huge,
deeply nested, or of the wrong types. The tool refuses with a clear 4xx/502, stores nothing, and
never reads an endless answer into memory.
"""

from __future__ import annotations

import json
import time

import pytest
from flask import Flask, Response
from hypothesis import given
from hypothesis import strategies as st

from lti_tool import platform_keys
from tests.lti_tool.test_dynamic_registration import PLATFORM_CONFIG, FakePlatform, finish, start
from tests.security.hostile import HOSTILE, json_values, row_counts
from tests.support.live_server import LiveServer

DEEP = "[" * 100_000 + "]" * 100_000
HUGE = json.dumps({"keys": [{"kid": str(i), "kty": "RSA", "n": "x" * 1000, "e": "AQAB"} for i in range(20_000)]})


class Served:
    """A one-route server whose answer a test sets."""

    def __init__(self) -> None:
        self.body: str | bytes = "{}"
        self.status = 200
        self.server = LiveServer()
        app = Flask("hostile_platform")
        app.add_url_rule("/jwks", "jwks", lambda: Response(self.body, self.status, content_type="application/json"))
        self.server.start(app)
        self.url = self.server.url + "/jwks"


@pytest.fixture
def served():
    server = Served()
    yield server
    server.server.stop()


KEY_SETS = [
    DEEP,
    HUGE,
    "[]",
    "null",
    '{"keys": "all of them"}',
    '{"keys": [1, null, "x", [], {"kid": 5}, {"kid": ["k"]}]}',
    '{"keys": [{"kid": "k", "kty": "RSA", "n": NaN, "e": Infinity}]}',
    '{"keys": [{"kid": "k", "kty": "RSA", "n": "%%%", "e": "AQAB"}]}',
    '{"keys": [{"kid": "k", "kty": "RSA", "n": "AQAB", "e": "AAAA"}]}',
    '{"keys": [{"kid": "k", "kty": "RSA", "n": "' + "_" * 20_000 + '", "e": "AQAB"}]}',
    '{"keys": [{"kid": "k", "kty": "oct", "k": "c2VjcmV0"}]}',
    '{"keys": [{"kid": "k", "kid": "k2", "kty": "RSA"}]}',
    b'{"keys": [{"kid": "\xff\xfe"}]}',
]


@pytest.mark.parametrize("index", range(len(KEY_SETS)))
def test_hostile_key_sets_are_refused_as_unusable(app, served, index):
    served.body = KEY_SETS[index]
    with app.app_context():
        platform_keys.forget_cached_keys()
        started = time.monotonic()
        try:
            platform_keys.fetch_key_set(served.url)
        except platform_keys.PlatformKeyError as error:
            assert error.reason == "jwks_unreachable"
        else:
            pass  # a readable set: what is in it is checked key by key at verification
        assert time.monotonic() - started < 10


def test_a_key_set_over_the_size_limit_is_not_read(app, served):
    served.body = HUGE
    assert len(HUGE) > platform_keys.MAX_KEY_SET_BYTES
    with app.app_context(), pytest.raises(platform_keys.PlatformKeyError, match="larger than"):
        platform_keys.fetch_key_set(served.url)


@pytest.mark.parametrize("index", range(len(KEY_SETS)))
def test_launches_signed_against_hostile_key_sets_are_refused(app, client, served, index, monkeypatch):
    """Through a launch: the platform's key set is hostile, so the signature cannot be checked."""
    from tests.lti_tool.test_launch import TARGET, start as login

    from lti_tool import registry
    from lti_tool.db import db
    from tests.support.tokens import ScriptedPlatform

    lms = ScriptedPlatform("https://lms.example.edu")
    with app.app_context():
        registry.add_platform(registry.PlatformInput(
            issuer=lms.issuer, client_id=lms.client_id, auth_url=lms.issuer + "/auth",
            token_url=lms.issuer + "/token", jwks_url=served.url, deployment_ids=(lms.deployment_id,),
        ))
        db.session.commit()
    served.body = KEY_SETS[index]
    state, nonce = login(client, lms)
    before = row_counts(app)
    response = client.post("/lti/launch", data={"id_token": lms.sign(lms.claims(nonce, target=TARGET)), "state": state})
    assert 400 <= response.status_code < 500 or response.status_code == 502, response.get_data(as_text=True)[:300]
    after = row_counts(app)
    # A refused launch writes its entry in the admin's launch log (and, embedded, the login's cache rows).
    assert {name for name in before if before[name] != after[name]} <= {"launch_log", "cache_entries"}


# --- dynamic registration: the LMS's documents ------------------------------------------------------


@pytest.fixture
def fake():
    platform = FakePlatform("moodle")
    yield platform
    platform.stop()


CONFIG_FIELDS = ["issuer", "authorization_endpoint", "token_endpoint", "jwks_uri", "registration_endpoint",
                 "scopes_supported", "claims_supported", PLATFORM_CONFIG]


@HOSTILE
@given(field=st.sampled_from(CONFIG_FIELDS), value=json_values())
def test_configurations_with_wrong_types(app, client, fake, field, value):
    fake.token = "reg-token-" + str(time.time_ns())
    body = fake.configuration()
    body[field] = value
    fake.config_text, fake.config_status = json.dumps(body), 200
    before = row_counts(app)
    for response in (start(client, fake), finish(client, fake)):
        assert response.status_code != 500, response.get_data(as_text=True)[:300]
        if response.status_code >= 400:
            # The spent registration token is remembered (in the cache) so it cannot be replayed.
            assert {name for name, count in row_counts(app).items() if count != before[name]} <= {"cache_entries"}


@pytest.mark.parametrize("body", [DEEP, "x" * 3_000_000, '{"issuer": NaN}', "[]", '"text"', "\xff\xfe"])
def test_configurations_that_are_not_documents(app, client, fake, body):
    fake.config_text, fake.config_status = body, 200
    before = row_counts(app)
    response = finish(client, fake)
    assert response.status_code in (400, 502), response.get_data(as_text=True)[:300]
    assert {name for name, count in row_counts(app).items() if count != before[name]} <= {"cache_entries"}


@HOSTILE
@given(answer=json_values(), status=st.sampled_from([200, 201, 400, 500]))
def test_registration_answers_with_wrong_types(app, client, fake, answer, status):
    fake.token = "reg-token-" + str(time.time_ns())
    fake.reject_with = (status, json.dumps(answer))
    before = row_counts(app)
    response = finish(client, fake)
    assert response.status_code != 500 and response.status_code >= 400, response.get_data(as_text=True)[:300]
    after = row_counts(app)
    # Refused: nothing is stored but the spent registration token (kept so it cannot be replayed).
    assert {name for name in before if before[name] != after[name]} <= {"cache_entries"}
