"""The tool's public key set, fetched by every LMS that verifies our signatures."""

from __future__ import annotations

import hashlib
import json
import threading
import time

from flask import Blueprint, current_app, request

from keys import service

bp = Blueprint("keys", __name__)

# LMSs cache the set; the next key is published ahead, so this delay never hides a signing key.
CACHE_CONTROL = "public, max-age=300"
# How often a process asks the database whether another process rotated the keys.
RECHECK_SECONDS = 5.0


class _JWKSBody:
    """The serialized key set of one app, rebuilt only when the published kids change."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.kids: tuple[str, ...] | None = None
        # (body, etag), replaced as one so readers outside the lock never mix two versions.
        self.entry: tuple[bytes, str] = (b"", "")
        self.checked_at = float("-inf")
        self.generation = -1

    def current(self) -> tuple[bytes, str]:
        if self._fresh():
            return self.entry
        with self.lock:
            if not self._fresh():
                self._refresh()
            return self.entry

    def _fresh(self) -> bool:
        return (
            self.generation == service.generation()
            and time.monotonic() - self.checked_at < RECHECK_SECONDS
        )

    def _refresh(self) -> None:
        generation = service.generation()
        kids = service.published_kids()
        if kids != self.kids or not kids:
            jwks = service.public_jwks()
            body = json.dumps(jwks, separators=(",", ":")).encode()
            self.entry = (body, hashlib.sha256(body).hexdigest()[:32])
            self.kids = tuple(key["kid"] for key in jwks["keys"])
            # public_jwks may have created the first keys: count that change as seen.
            generation = service.generation()
        self.generation = generation
        self.checked_at = time.monotonic()


@bp.get("/.well-known/jwks.json")
def jwks():
    # Per app, so several apps in one process (tests) never share a key set.
    cached = current_app.extensions.get("keys.jwks") or current_app.extensions.setdefault(
        "keys.jwks", _JWKSBody()
    )
    body, etag = cached.current()
    response = current_app.response_class(body, mimetype="application/json")
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.set_etag(etag)
    return response.make_conditional(request)
