"""The tool's public key set, fetched by every LMS that verifies our signatures."""

from __future__ import annotations

import hashlib
import json
import threading
import time

from flask import Blueprint, current_app, request
from werkzeug.http import parse_etags

from keys import service
from lti_tool.observability import HTTP_LATENCY, HTTP_REQUESTS

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


class FastJWKS:
    """WSGI middleware that answers GET and HEAD for the key set from the cached body, before
    Flask: every LMS fetches it, and the full request cycle (sessions, rate limiter, security
    headers, logging) cost several times the body itself. Body, status, caching headers and ETag
    are the view's, and the request is counted in the request metrics; anything else (other
    methods, a cache that needs the database while it is away) goes through Flask as usual."""

    PATH = "/.well-known/jwks.json"

    def __init__(self, app, wsgi_app):
        self.app = app
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") != self.PATH or environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return self.wsgi_app(environ, start_response)
        started = time.perf_counter()
        cached = self.app.extensions.get("keys.jwks")
        try:
            if cached is None or not cached._fresh():
                with self.app.app_context():
                    cached = self.app.extensions.get("keys.jwks") or self.app.extensions.setdefault(
                        "keys.jwks", _JWKSBody()
                    )
                    body, etag = cached.current()
            else:
                body, etag = cached.entry
        except Exception:  # the database is away: let the full stack answer (and log) it
            return self.wsgi_app(environ, start_response)
        headers = [
            ("Content-Type", "application/json"),
            ("Cache-Control", CACHE_CONTROL),
            ("ETag", f'"{etag}"'),
            ("X-Content-Type-Options", "nosniff"),
        ]
        wanted = environ.get("HTTP_IF_NONE_MATCH")
        if wanted and parse_etags(wanted).contains(etag):
            status, body = "304 NOT MODIFIED", b""
        else:
            status = "200 OK"
            headers.append(("Content-Length", str(len(body))))
        start_response(status, headers)
        HTTP_REQUESTS.labels(self.PATH, environ["REQUEST_METHOD"], status[:3]).inc()
        HTTP_LATENCY.labels(self.PATH).observe(time.perf_counter() - started)
        return [b"" if environ["REQUEST_METHOD"] == "HEAD" else body]


@bp.record_once
def _install_fast_jwks(state) -> None:
    state.app.wsgi_app = FastJWKS(state.app, state.app.wsgi_app)
