"""The launch's own JWS parser and RS256 verifier reject exactly what the launch rejected with PyJWT
(an unverified decode to route the token, then `jwt.decode` with every check), for the same reason,
and accept exactly what it accepted: each case runs through both."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lti_tool import jws
from tests.support.tokens import new_key

KEY = new_key()
OTHER_KEY = new_key()
ISSUER = "https://lms.example.edu"
AUDIENCE = "client-1"
LEEWAY = 60
REQUIRE = ("exp", "iat", "nonce")


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(**overrides):
    now = int(time.time())
    values = {"iss": ISSUER, "aud": AUDIENCE, "sub": "user-1", "iat": now, "exp": now + 300, "nonce": "n-1"}
    for name, value in overrides.items():
        if value is ...:
            values.pop(name, None)
        else:
            values[name] = value
    return values


def signed(payload, *, key=KEY, headers=None, algorithm="RS256") -> str:
    return jwt.encode(payload, key, algorithm=algorithm, headers={"kid": "k1", **(headers or {})})


def raw_token(header: dict, payload: dict | bytes, *, key=KEY) -> str:
    """A token with exactly this header (PyJWT's encoder would add or fix fields)."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    signing_input = b64(json.dumps(header).encode()) + "." + b64(body)
    signature = jwt.algorithms.RSAAlgorithm(jwt.algorithms.RSAAlgorithm.SHA256).sign(
        signing_input.encode(), key
    )
    return signing_input + "." + b64(signature)


def reason(exc: BaseException | None) -> str:
    """The launch's reason code for an exception, in the order lti_tool/launch.py maps them."""
    if exc is None:
        return "ok"
    if isinstance(exc, jwt.ExpiredSignatureError):
        return "expired"
    if isinstance(exc, jwt.ImmatureSignatureError):
        return "iat_future"
    if isinstance(exc, jwt.InvalidSignatureError):
        return "bad_signature"
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return f"missing_claim:{exc.claim}"
    if isinstance(exc, jwt.InvalidAudienceError):
        return "wrong_aud"
    if isinstance(exc, jwt.InvalidTokenError):
        return "malformed_jwt"
    raise AssertionError(f"unexpected exception {exc!r}")


def pyjwt_outcome(token: str, key=KEY) -> tuple[str, dict | None]:
    """What the launch did with PyJWT alone: read header and body unverified (to route by issuer
    and client id), then decode again with verification."""
    try:
        jwt.get_unverified_header(token)
        jwt.decode(token, options={"verify_signature": False})
    except Exception as exc:
        assert isinstance(exc, jwt.InvalidTokenError), exc
        return "malformed_jwt", None
    try:
        result = jwt.decode(
            token,
            key.public_key(),
            algorithms=["RS256"],
            audience=AUDIENCE,
            issuer=ISSUER,
            leeway=LEEWAY,
            options={"require": list(REQUIRE)},
        )
    except Exception as exc:  # classified below; anything else fails the test
        return reason(exc), None
    return "ok", result


def our_outcome(token: str, key=KEY) -> tuple[str, dict | None]:
    try:
        parsed = jws.parse(token)
        result = jws.verify(
            parsed, key.public_key(), audience=AUDIENCE, issuer=ISSUER, leeway=LEEWAY, require=REQUIRE
        )
    except Exception as exc:
        return reason(exc), None
    return "ok", result


def same_as_pyjwt(token: str, expected: str) -> None:
    ours, pyjwts = our_outcome(token), pyjwt_outcome(token)
    assert ours == pyjwts, (ours, pyjwts)
    assert ours[0] == expected


NOW = int(time.time())
CASES = {
    "valid": (lambda: signed(claims()), "ok"),
    "audience in a list": (lambda: signed(claims(aud=["other", AUDIENCE])), "ok"),
    "expired within leeway": (lambda: signed(claims(exp=int(time.time()) - 30)), "ok"),
    "expired": (lambda: signed(claims(exp=int(time.time()) - 120)), "expired"),
    "issued in the future": (lambda: signed(claims(iat=int(time.time()) + 600)), "iat_future"),
    "issued just ahead, within leeway": (lambda: signed(claims(iat=int(time.time()) + 30)), "ok"),
    "not yet valid (nbf)": (lambda: signed(claims(nbf=int(time.time()) + 600)), "iat_future"),
    "no exp": (lambda: signed(claims(exp=...)), "missing_claim:exp"),
    "no iat": (lambda: signed(claims(iat=...)), "missing_claim:iat"),
    "no nonce": (lambda: signed(claims(nonce=...)), "missing_claim:nonce"),
    "null nonce": (lambda: signed(claims(nonce=None)), "missing_claim:nonce"),
    "exp not a number": (lambda: signed(claims(exp="tomorrow")), "malformed_jwt"),
    "iat not a number": (lambda: signed(claims(iat="now")), "malformed_jwt"),
    "nbf not a number": (lambda: signed(claims(nbf=[1])), "malformed_jwt"),
    "other audience": (lambda: signed(claims(aud="client-2")), "wrong_aud"),
    "audience list without us": (lambda: signed(claims(aud=["client-2", "client-3"])), "wrong_aud"),
    "audience list with a number": (lambda: signed(claims(aud=[AUDIENCE, 7])), "wrong_aud"),
    "audience an object": (lambda: signed(claims(aud={"a": AUDIENCE})), "wrong_aud"),
    "no audience": (lambda: signed(claims(aud=...)), "missing_claim:aud"),
    "empty audience": (lambda: signed(claims(aud="")), "missing_claim:aud"),
    "other issuer": (lambda: signed(claims(iss="https://evil.example")), "malformed_jwt"),
    "issuer not text": (
        lambda: raw_token({"alg": "RS256"}, claims(iss=["https://lms.example.edu"])),
        "malformed_jwt",
    ),
    "no issuer": (lambda: signed(claims(iss=...)), "missing_claim:iss"),
    "subject not text": (lambda: signed(claims(sub=42)), "malformed_jwt"),
    "jti not text": (lambda: signed(claims(jti=42)), "malformed_jwt"),
    "signed by another key": (lambda: signed(claims(), key=OTHER_KEY), "bad_signature"),
    "payload swapped after signing": (
        lambda: (lambda a, b: a.rsplit(".", 2)[0] + "." + b.split(".")[1] + "." + a.rsplit(".", 1)[1])(
            signed(claims()), signed(claims(sub="admin"))
        ),
        "bad_signature",
    ),
    "HS256": (
        lambda: jwt.encode(claims(), "secret-secret-secret-secret-secret", algorithm="HS256"),
        "malformed_jwt",
    ),
    "alg none": (lambda: raw_token({"alg": "none"}, claims()), "malformed_jwt"),
    "no alg": (lambda: raw_token({"typ": "JWT"}, claims()), "malformed_jwt"),
    "kid not text": (lambda: raw_token({"alg": "RS256", "kid": 5}, claims()), "malformed_jwt"),
    "unsupported critical extension": (
        lambda: raw_token({"alg": "RS256", "crit": ["exp"], "exp": 1}, claims()),
        "malformed_jwt",
    ),
    "critical extension missing": (
        lambda: raw_token({"alg": "RS256", "crit": ["b64"]}, claims()),
        "malformed_jwt",
    ),
    "crit not a list": (lambda: raw_token({"alg": "RS256", "crit": "b64"}, claims()), "malformed_jwt"),
    "detached payload": (
        lambda: raw_token({"alg": "RS256", "b64": False, "crit": ["b64"]}, claims()),
        "malformed_jwt",
    ),
    "b64 false without crit": (lambda: raw_token({"alg": "RS256", "b64": False}, claims()), "malformed_jwt"),
    "header a list": (lambda: b64(b"[1]") + "." + signed(claims()).split(".", 1)[1], "malformed_jwt"),
    "payload a list": (lambda: raw_token({"alg": "RS256"}, b"[1, 2]"), "malformed_jwt"),
    "payload not JSON": (lambda: raw_token({"alg": "RS256"}, b"{nope"), "malformed_jwt"),
    "payload deeply nested": (
        lambda: raw_token({"alg": "RS256"}, b"[" * 100000 + b"]" * 100000),
        "malformed_jwt",
    ),
    "two segments": (lambda: ".".join(signed(claims()).split(".")[:2]), "malformed_jwt"),
    "four segments": (lambda: signed(claims()) + ".AAAA", "malformed_jwt"),
    "empty": (lambda: "", "malformed_jwt"),
    "dots only": (lambda: "..", "malformed_jwt"),
    "junk characters": (lambda: signed(claims()).replace(".", ".!!!!", 1), "malformed_jwt"),
    "standard base64 alphabet": (
        lambda: signed(claims()).replace("-", "+").replace("_", "/"),
        "malformed_jwt",
    ),
    "whitespace inside": (lambda: signed(claims())[:20] + " " + signed(claims())[20:], "malformed_jwt"),
    "padding on a segment": (
        lambda: (lambda t: t + "=" * (-len(t.rsplit(".", 1)[1]) % 4))(signed(claims())),
        "ok",
    ),
    "too much padding": (lambda: signed(claims()) + "===", "malformed_jwt"),
    "non-canonical last character": (
        lambda: (lambda t: t[:-1] + chr(ord(t[-1]) ^ 1))(signed(claims())),
        None,
    ),
    "non-ASCII": (lambda: signed(claims()) + "é", "malformed_jwt"),
}


@pytest.mark.parametrize("case", CASES)
def test_same_verdict_as_pyjwt(case):
    make, expected = CASES[case]
    token = make()
    ours, pyjwts = our_outcome(token), pyjwt_outcome(token)
    assert ours == pyjwts, (case, ours, pyjwts)
    if expected is not None:
        assert ours[0] == expected


def test_parse_once_gives_header_and_claims():
    token = signed(claims(sub="ada"))
    parsed = jws.parse(token)
    assert parsed.header == {"alg": "RS256", "typ": "JWT", "kid": "k1"}
    assert parsed.claims["sub"] == "ada"
    assert parsed.signing_input == token.rsplit(".", 1)[0].encode()


def test_a_key_that_is_not_rsa_is_a_bad_signature_not_a_crash():
    from cryptography.hazmat.primitives.asymmetric import ec

    ec_key = ec.generate_private_key(ec.SECP256R1()).public_key()
    with pytest.raises(jwt.InvalidSignatureError):
        jws.verify(jws.parse(signed(claims())), ec_key, audience=AUDIENCE, issuer=ISSUER, leeway=LEEWAY)


VALID = signed(claims(exp=NOW + 10**8, iat=NOW))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(position=st.integers(min_value=0, max_value=len(VALID) - 1), replacement=st.characters(codec="ascii"))
def test_any_one_character_change_gets_pyjwts_verdict(position, replacement):
    token = VALID[:position] + replacement + VALID[position + 1 :]
    assert our_outcome(token) == pyjwt_outcome(token)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(position=st.integers(min_value=0, max_value=len(VALID)), inserted=st.text(max_size=3))
def test_any_insertion_gets_pyjwts_verdict(position, inserted):
    token = VALID[:position] + inserted + VALID[position:]
    assert our_outcome(token) == pyjwt_outcome(token)


@pytest.mark.parametrize("claim", ["exp", "iat", "nbf"])
@pytest.mark.parametrize("value", ["9999999999", "1", True])
def test_numeric_dates_must_be_numbers(claim, value):
    """Stricter than PyJWT, which takes these: a NumericDate is a JSON number (RFC 7519)."""
    token = raw_token({"alg": "RS256"}, claims(**{claim: value}))
    assert our_outcome(token)[0] == "malformed_jwt"


def test_a_numeric_string_expiry_is_refused_by_the_launch_not_a_crash():
    """PyJWT accepted exp="9999999999"; the launch then failed computing the nonce's lifetime."""
    ok, _ = pyjwt_outcome(raw_token({"alg": "RS256"}, claims(exp="9999999999")))
    assert ok == "ok"
    assert our_outcome(raw_token({"alg": "RS256"}, claims(exp="9999999999")))[0] == "malformed_jwt"


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_non_json_numbers_are_malformed(constant):
    body = json.dumps(claims()).encode()[:-1] + b', "custom": {"x": ' + constant + b"}}"
    assert our_outcome(raw_token({"alg": "RS256"}, body))[0] == "malformed_jwt"
