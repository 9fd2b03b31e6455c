"""Rate limits shared by every package: one Flask-Limiter extension, Redis-backed in production.

Counters live in Redis when REDIS_URL is set (so every web process and host shares them) and in
process memory otherwise. Views declare their limits with the usual decorator:

    from lti_tool.limits import limiter

    @limiter.limit(lambda: settings().ADMIN_LOGIN_RATE_LIMIT, methods=["POST"])

Flask-Limiter keeps its storage on the extension object, which is created once per process; the
subclass below keeps one storage per application instead, so several apps in one process (the
tests build many) never count into each other's windows.
"""

from __future__ import annotations

import time

from flask import Flask, current_app, has_app_context, request
from flask_babel import gettext as _, ngettext
from flask_limiter import Limiter, RateLimitExceeded
from limits.storage import Storage
from limits.strategies import RateLimiter

EXTENSION_KEY = "lti_limits"


def client_address() -> str:
    # request.remote_addr is the proxy-corrected address when PROXY_FIX_HOPS is set.
    return request.remote_addr or "unknown"


class AppLimiter(Limiter):
    def init_app(self, app: Flask) -> None:
        settings = app.config["SETTINGS"]
        if settings.REDIS_URL:
            app.config["RATELIMIT_STORAGE_URI"] = settings.REDIS_URL
            # Under the tool's key prefix, like every other Redis key it writes.
            options = {"key_prefix": settings.REDIS_KEY_PREFIX + "limits", "socket_timeout": 5}
        else:
            app.config["RATELIMIT_STORAGE_URI"] = "memory://"
            options = {}
        app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
        # The base class merges options across init_app calls; each app gets exactly its own.
        self._storage_options = dict(options)
        super().init_app(app)
        app.extensions[EXTENSION_KEY] = (self._storage, self._limiter)

    @property
    def storage(self) -> Storage:
        if has_app_context() and EXTENSION_KEY in current_app.extensions:
            return current_app.extensions[EXTENSION_KEY][0]
        return super().storage

    @property
    def limiter(self) -> RateLimiter:
        if has_app_context() and EXTENSION_KEY in current_app.extensions:
            return current_app.extensions[EXTENSION_KEY][1]
        return super().limiter


limiter = AppLimiter(client_address)


def setting(name: str):
    """A limit read from settings when the request comes (tests and deployments change them)."""
    return lambda: getattr(current_app.config["SETTINGS"], name)


def _retry_after_seconds() -> int:
    current = limiter.current_limit
    if current is None:
        return 60
    return max(1, int(current.reset_at - time.time()))


def _too_many(exc: RateLimitExceeded):
    from lti_tool.errors import error_response

    wait = _retry_after_seconds()
    body, status = error_response(
        429,
        _("Too many requests"),
        # The limit itself ("10 per 1 minute") is the settings' notation, quoted as it is.
        ngettext(
            "This address has sent more requests to this page than the tool accepts (%(limit)s). "
            "Wait %(num)d second and try again.",
            "This address has sent more requests to this page than the tool accepts (%(limit)s). "
            "Wait %(num)d seconds and try again.",
            wait,
            limit=exc.description,
        ),
        hint=_(
            "Many people on one network share its address; if this keeps happening at busy times, "
            "ask the tool's administrator to raise the limit."
        ),
    )
    # Flask-Limiter keeps the later of this and its own reset time; both say when to come back.
    return body, status, {"Retry-After": str(wait)}


def init_app(app: Flask) -> None:
    limiter.init_app(app)
    app.register_error_handler(RateLimitExceeded, _too_many)
