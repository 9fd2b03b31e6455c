"""Platform public keys: fetched from the platform's JWKS URL, cached, refetched on an unknown kid.

The key set is kept in the shared cache (Redis in production) and in this process, so a launch
normally costs no HTTP call. When a token names a kid we do not know (the platform rotated its
keys) the set is fetched again, at most once per interval per URL, so a flood of forged tokens
cannot turn into a flood of requests to the platform.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from typing import Any

import jwt
import requests
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from flask import current_app

from lti_tool.cache import cache
from lti_tool.models import Platform

USER_AGENT = "lti-tool/1.0 (+LTI 1.3 tool; platform key fetch)"
# A real key set is a few KB; a platform answering megabytes is broken or hostile, and is not read.
MAX_KEY_SET_BYTES = 1024 * 1024


class PlatformKeyError(Exception):
    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


_local: dict[str, tuple[float, dict[str, Any]]] = {}
_parsed: dict[Any, Any] = {}
_fetch_locks: dict[str, threading.Lock] = {}
_lock = threading.Lock()


def _settings():
    return current_app.config["SETTINGS"]


def _url_key(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:32]


def fetch_key_set(url: str) -> dict[str, Any]:
    """GET the JWKS at `url`; PlatformKeyError('jwks_unreachable') on any failure."""
    try:
        response = requests.get(
            url,
            timeout=_settings().HTTP_TIMEOUT_SECONDS,
            headers={"Accept": "application/json", "User-Agent": USER_AGENT},
            stream=True,
        )
        with response:
            raw = _read_bounded(response)
    except requests.RequestException as exc:
        raise PlatformKeyError(
            "jwks_unreachable", f"The platform's key set at {url} could not be fetched ({exc.__class__.__name__})."
        ) from None
    if response.status_code != 200:
        raise PlatformKeyError(
            "jwks_unreachable",
            f"The platform's key set at {url} answered HTTP {response.status_code} instead of a JSON key set.",
        )
    if raw is None:
        raise PlatformKeyError(
            "jwks_unreachable",
            f"The platform's key set at {url} is larger than {MAX_KEY_SET_BYTES // 1024} KB; it was not read.",
        )
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than any key set has
        raise PlatformKeyError(
            "jwks_unreachable", f"The platform's key set at {url} is not JSON."
        ) from None
    if not isinstance(body, dict) or not isinstance(body.get("keys"), list):
        raise PlatformKeyError(
            "jwks_unreachable", f"The platform's key set at {url} has no \"keys\" list."
        )
    keys = [key for key in body["keys"] if isinstance(key, dict) and isinstance(key.get("kid"), str)]
    return {"keys": keys}


def _read_bounded(response: requests.Response) -> bytes | None:
    """The body, or None once it passes MAX_KEY_SET_BYTES (the rest is never downloaded)."""
    chunks, size = [], 0
    for chunk in response.iter_content(64 * 1024):
        size += len(chunk)
        if size > MAX_KEY_SET_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _key_set(url: str, *, fresh: bool = False) -> dict[str, Any]:
    ttl = _settings().PLATFORM_JWKS_TTL_SECONDS
    now = time.monotonic()
    cache_key = f"jwks:{_url_key(url)}"
    if not fresh:
        with _lock:
            local = _local.get(url)
        if local and now - local[0] < ttl:
            return local[1]
        shared = cache().get(cache_key)
        if shared is not None:
            with _lock:
                _local[url] = (now, shared)
            return shared
    # One fetch per process at a time: the first launches after a start (or an expiry) all miss
    # together, and only one of them should ask the LMS; the others take what it brought.
    with _lock:
        fetching = _fetch_locks.setdefault(url, threading.Lock())
    with fetching:
        with _lock:
            local = _local.get(url)
        if local and local[0] >= now:
            return local[1]  # fetched by another thread while this one waited
        if not fresh:
            shared = cache().get(cache_key)
            if shared is not None:
                with _lock:
                    _local[url] = (time.monotonic(), shared)
                return shared
        key_set = fetch_key_set(url)
        cache().set(cache_key, key_set, ttl)
        with _lock:
            _local[url] = (time.monotonic(), key_set)
    return key_set


def _find(key_set: dict[str, Any], kid: str) -> dict[str, Any] | None:
    for key in key_set["keys"]:
        if key.get("kid") == kid:
            return key
    return None


def verification_key(platform: Platform, kid: str | None) -> Any:
    """The public key object that must have signed a token from `platform` with header `kid`."""
    if platform.public_key:
        return _parse_pem(platform.public_key)
    if not kid:
        raise PlatformKeyError("unknown_kid", "The id_token header has no kid, so its key cannot be found.")
    url = platform.jwks_url or ""
    jwk = _find(_key_set(url), kid)
    if jwk is None:
        interval = _settings().PLATFORM_JWKS_REFETCH_INTERVAL_SECONDS
        if cache().add(f"jwks-refetch:{_url_key(url)}", 1, interval):
            jwk = _find(_key_set(url, fresh=True), kid)
    if jwk is None:
        raise PlatformKeyError(
            "unknown_kid",
            f"The platform signed the id_token with key {kid!r}, which its key set at {url} does not contain.",
        )
    if jwk.get("kty") != "RSA" or not isinstance(jwk.get("n"), str) or not isinstance(jwk.get("e"), str):
        raise PlatformKeyError("bad_signature", f"Key {kid!r} is not an RSA key; LTI requires RS256.")
    # Parsed keys are reused only while the same key material is in the (fresh) key set.
    material = (jwk["n"], jwk["e"])
    with _lock:
        key = _parsed.get(material)
    if key is None:
        try:
            key = jwt.algorithms.RSAAlgorithm.from_jwk(jwk)
        except (jwt.InvalidKeyError, ValueError, TypeError, KeyError):
            raise PlatformKeyError(
                "bad_signature", f"Key {kid!r} in the platform's key set is not a valid RSA key."
            ) from None
        with _lock:
            _parsed[material] = key
    return key


def _parse_pem(pem: str) -> Any:
    with _lock:
        key = _parsed.get(pem)
    if key is None:
        key = load_pem_public_key(pem.encode())
        with _lock:
            _parsed[pem] = key
    return key


def forget_cached_keys() -> None:
    """Drop this process's copies (tests, and after a platform's JWKS URL changes)."""
    with _lock:
        _local.clear()
        _parsed.clear()
