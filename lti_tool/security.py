"""Response headers that keep the tool safe inside other sites' iframes.

The tool must be framed by the LMSs that registered it and by nothing else: instead of
`X-Frame-Options: DENY` (which would break every launch), the Content-Security-Policy's
`frame-ancestors` lists the registered platforms' origins. Pages opened by a launch carry personal
data and a launch id in their URL: they are never cached and never leak their URL in a Referer.
"""

from __future__ import annotations

import threading
import time

from flask import Flask, Response, current_app, g, request
from sqlalchemy import select

from lti_tool.db import db
from lti_tool.launch import origin_of
from lti_tool.models import Platform

ORIGINS_TTL_SECONDS = 30

_origins: tuple[float, tuple[str, ...]] | None = None
_lock = threading.Lock()


def platform_origins() -> tuple[str, ...]:
    """Origins an LMS page that frames the tool may have: each platform's issuer, login and token
    hosts (a hosted Canvas frames from its tenant host, which is its token URL's host)."""
    global _origins
    now = time.monotonic()
    with _lock:
        if _origins is not None and now - _origins[0] < ORIGINS_TTL_SECONDS:
            return _origins[1]
    try:
        # Its own connection: the request's session may be mid-transaction or failed.
        with db.engine.connect() as conn:
            rows = conn.execute(select(Platform.issuer, Platform.auth_url, Platform.token_url)).all()
    except Exception:  # headers must not fail a response because the database is away
        return _origins[1] if _origins is not None else ()
    found = sorted({origin_of(url) for row in rows for url in row if url} - {""})
    extra = current_app.config["SETTINGS"].FRAME_ANCESTORS.split()
    result = tuple(found + [origin for origin in extra if origin not in found])
    with _lock:
        _origins = (now, result)
    return result


def forget_origins() -> None:
    global _origins
    with _lock:
        _origins = None


def _is_https() -> bool:
    return request.is_secure or current_app.config["SETTINGS"].TOOL_BASE_URL.startswith("https://")


def _headers(response: Response) -> Response:
    # A policy on every response; the platform list is read lazily and cached briefly.
    ancestors = " ".join(("'self'",) + platform_origins())
    response.headers.setdefault(
        "Content-Security-Policy",
        f"frame-ancestors {ancestors}; base-uri 'self'; form-action 'self' https: http://localhost:* http://127.0.0.1:*",
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if _is_https():
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if g.get("launch") is not None:
        response.headers["Cache-Control"] = "private, no-store"
    return response


def init_app(app: Flask) -> None:
    app.after_request(_headers)
