"""Compact RS256 JWTs parsed once and verified over the already-split parts.

A launch needs the token's header and claims before it can verify anything (the issuer and client
id pick the registration, the kid picks the key), and then a verification. PyJWT would decode the
token three times for that (header, unverified body, verified body), and its strict base64url
check walks every character in Python: about 0.7 ms of a launch for a 2.6 KB id_token, against
30 µs for the RSA verification itself. Here the token is split and decoded once, with the same
strictness in C (a regular expression and a re-encoding check), and verified with `cryptography`.

Every check PyJWT's `jwt.decode(token, key, algorithms=["RS256"], audience=..., issuer=...,
leeway=..., options={"require": [...]})` makes is kept, in the same order, and failures raise the
same PyJWT exception classes, so callers map them to the same reasons. Two checks are stricter:
exp, iat and nbf must be JSON numbers, as RFC 7519 says (PyJWT takes numeric strings and booleans),
and NaN or Infinity anywhere make the token malformed (they are not JSON).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from dataclasses import dataclass
from typing import Any, Iterable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from jwt.exceptions import (
    DecodeError,
    ExpiredSignatureError,
    ImmatureSignatureError,
    InvalidAlgorithmError,
    InvalidAudienceError,
    InvalidIssuedAtError,
    InvalidIssuerError,
    InvalidJTIError,
    InvalidSignatureError,
    InvalidSubjectError,
    InvalidTokenError,
    MissingRequiredClaimError,
)

_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
# Critical header extensions this verifier understands (RFC 7515 4.1.11); as in PyJWT, only "b64".
_SUPPORTED_CRIT = {"b64"}


@dataclass(frozen=True)
class Token:
    """A compact JWS split and decoded, not yet trusted."""

    header: dict[str, Any]
    claims: dict[str, Any]
    signing_input: bytes
    signature: bytes


def _segment(segment: str, name: str) -> bytes:
    """Strict base64url: the URL-safe alphabet only, up to two '=' of padding on a whole quantum,
    and the canonical encoding (no stray bits in the last character)."""
    stripped = segment.rstrip("=")
    padding_length = len(segment) - len(stripped)
    if padding_length > 2 or (padding_length and len(segment) % 4):
        raise DecodeError(f"Invalid {name} padding")
    if len(stripped) % 4 == 1 or not _BASE64URL.fullmatch(stripped):
        raise DecodeError(f"Invalid {name} padding")
    try:
        decoded = base64.urlsafe_b64decode(stripped + "=" * (-len(stripped) % 4))
    except (binascii.Error, ValueError) as exc:
        raise DecodeError(f"Invalid {name} padding") from exc
    if base64.urlsafe_b64encode(decoded).rstrip(b"=") != stripped.encode("ascii"):
        raise DecodeError(f"Invalid {name} padding")
    return decoded


def _not_json(constant: str) -> Any:
    # NaN and Infinity are not JSON (RFC 8259 6), and no database column would store them.
    raise ValueError(f"{constant} is not a JSON number")


def _json_object(data: bytes, name: str) -> dict[str, Any]:
    try:
        # Strict UTF-8 (json.loads on bytes would let encoded surrogates through), then a check for
        # "\ud800"-style escapes: valid JSON text, but a lone surrogate no database can store.
        value = json.loads(data.decode("utf-8"), parse_constant=_not_json)
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (ValueError, RecursionError) as exc:  # UnicodeError is a ValueError
        raise DecodeError(f"Invalid {name} string: {exc}") from exc
    if not isinstance(value, dict):
        raise DecodeError(f"Invalid {name} string: must be a json object")
    return value


def parse(token: str | bytes) -> Token:
    """Split and decode a compact JWS; DecodeError / InvalidTokenError when it is not one."""
    if isinstance(token, bytes):
        try:
            token = token.decode("ascii")
        except UnicodeDecodeError:
            raise DecodeError("Invalid token: not ASCII") from None
    if not isinstance(token, str):
        raise DecodeError("Invalid token type. Token must be text")
    signing_input, dot, signature_segment = token.rpartition(".")
    header_segment, dot2, payload_segment = signing_input.partition(".")
    if not dot or not dot2:
        raise DecodeError("Not enough segments")
    header = _json_object(_segment(header_segment, "header"), "header")
    if "kid" in header and not isinstance(header["kid"], str):
        raise InvalidTokenError("Key ID header parameter must be a string")
    if "crit" in header:
        crit = header["crit"]
        if not isinstance(crit, list) or not crit:
            raise InvalidTokenError("Invalid 'crit' header: must be a non-empty list")
        for extension in crit:
            if not isinstance(extension, str):
                raise InvalidTokenError("Invalid 'crit' header: values must be strings")
            if extension not in _SUPPORTED_CRIT:
                raise InvalidTokenError(f"Unsupported critical extension: {extension}")
            if extension not in header:
                raise InvalidTokenError(f"Critical extension '{extension}' is missing from headers")
    if header.get("b64", True) is False:
        # A detached payload (RFC 7797) is never how an LMS sends an id_token.
        raise DecodeError("Detached payloads (b64: false) are not accepted")
    claims = _json_object(_segment(payload_segment, "payload"), "payload")
    signature = _segment(signature_segment, "crypto")
    return Token(header, claims, signing_input.encode("ascii"), signature)


def verify_rs256(token: Token, key: Any) -> None:
    """The signature check: RS256 only, with an RSA public key; InvalidSignatureError otherwise."""
    alg = token.header.get("alg")
    if not alg:
        raise InvalidAlgorithmError("Algorithm not specified")
    if alg != "RS256":
        raise InvalidAlgorithmError("The specified alg value is not allowed")
    if not isinstance(key, RSAPublicKey):
        raise InvalidSignatureError("The platform's key is not an RSA public key")
    try:
        key.verify(token.signature, token.signing_input, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise InvalidSignatureError("Signature verification failed") from None


def _number(claims: dict[str, Any], name: str, error: type[Exception], message: str) -> int:
    # A NumericDate is a JSON number (RFC 7519 2). PyJWT also takes "1700000000" and true, which
    # later arithmetic on the claim would trip over; they are refused here, with PyJWT's error.
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise error(message)
    try:
        return int(value)
    except (ValueError, OverflowError):
        raise error(message) from None


def check_claims(
    claims: dict[str, Any],
    *,
    audience: str,
    issuer: str,
    leeway: float,
    require: Iterable[str] = (),
    now: float | None = None,
) -> None:
    """The registered claims, checked like PyJWT does with the same arguments."""
    for name in require:
        if claims.get(name) is None:
            raise MissingRequiredClaimError(name)
    now = time.time() if now is None else now
    if "iat" in claims:
        iat = _number(claims, "iat", InvalidIssuedAtError, "Issued At claim (iat) must be an integer.")
        if iat > now + leeway:
            raise ImmatureSignatureError("The token is not yet valid (iat)")
    if "nbf" in claims:
        nbf = _number(claims, "nbf", DecodeError, "Not Before claim (nbf) must be an integer.")
        if nbf > now + leeway:
            raise ImmatureSignatureError("The token is not yet valid (nbf)")
    if "exp" in claims:
        exp = _number(claims, "exp", DecodeError, "Expiration Time claim (exp) must be an integer.")
        if exp <= now - leeway:
            raise ExpiredSignatureError("Signature has expired")
    if "iss" not in claims:
        raise MissingRequiredClaimError("iss")
    if not isinstance(claims["iss"], str):
        raise InvalidIssuerError("Payload Issuer (iss) must be a string")
    if claims["iss"] != issuer:
        raise InvalidIssuerError("Invalid issuer")
    audiences = claims.get("aud")
    if not audiences:
        raise MissingRequiredClaimError("aud")
    if isinstance(audiences, str):
        audiences = [audiences]
    if not isinstance(audiences, list) or any(not isinstance(a, str) for a in audiences):
        raise InvalidAudienceError("Invalid claim format in token")
    if audience not in audiences:
        raise InvalidAudienceError("Audience doesn't match")
    if "sub" in claims and not isinstance(claims["sub"], str):
        raise InvalidSubjectError("Subject must be a string")
    if "jti" in claims and not isinstance(claims["jti"], str):
        raise InvalidJTIError("JWT ID must be a string")


def verify(
    token: Token,
    key: Any,
    *,
    audience: str,
    issuer: str,
    leeway: float,
    require: Iterable[str] = (),
) -> dict[str, Any]:
    """Signature, then claims (PyJWT's order); returns the claims."""
    verify_rs256(token, key)
    check_claims(token.claims, audience=audience, issuer=issuer, leeway=leeway, require=require)
    return token.claims
