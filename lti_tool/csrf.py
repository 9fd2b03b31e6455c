"""CSRF protection that works inside an LMS iframe, where the browser may drop every cookie.

Pages opened by a launch carry its launch id; their forms also carry a token derived from that
launch id with the server's secret, so no cookie is needed and a form of one launch cannot be
posted into another. Pages outside launches (the admin area) use Flask-WTF's session-based token.
Every state-changing request needs one or the other, except endpoints that authenticate
themselves (the LTI login and launch, which are protected by state, nonce and signature).
"""

from __future__ import annotations

import hashlib
import hmac

from flask import Flask, abort, current_app, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError, CSRFProtect, generate_csrf

from lti_tool.identity import LAUNCH_ID_HEADER, LAUNCH_ID_PARAM, launch_id_from_request

FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS", "TRACE"}
# Blueprint whose forms are bound to the session cookie, never to a launch.
ADMIN_BLUEPRINT = "admin"

csrf = CSRFProtect()
# `csrf.exempt(view_or_blueprint)` marks endpoints that authenticate their own POSTs.
exempt = csrf.exempt


def launch_token(launch_id: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, b"csrf:" + launch_id.encode(), hashlib.sha256).hexdigest()


def csrf_token() -> str:
    """The token for forms on this page (a Jinja global)."""
    launch_id = launch_id_from_request()
    if launch_id:
        return launch_token(launch_id)
    return generate_csrf()


def _is_exempt() -> bool:
    view = current_app.view_functions.get(request.endpoint or "")
    if view is not None and f"{view.__module__}.{view.__name__}" in csrf._exempt_views:
        return True
    return bool(request.blueprint) and request.blueprint.split(".")[0] in csrf._exempt_blueprints


def _protect() -> None:
    if request.method in SAFE_METHODS or request.routing_exception is not None or _is_exempt():
        # A request that routes nowhere gets its 404/405, not a CSRF complaint.
        return
    # Nested blueprints ("admin.privacy") are the admin area too.
    if (request.blueprint or "").split(".")[0] == ADMIN_BLUEPRINT:
        # The admin area is authenticated by its session cookie, so only the session's token
        # proves a form came from its pages. A launch token proves nothing there: anyone with a
        # launch has one, and a page on the LMS's site (same-site, so the admin's cookie goes
        # along) could post it to the admin area.
        csrf.protect()
        return
    launch_id = (
        request.form.get(LAUNCH_ID_PARAM)
        or request.args.get(LAUNCH_ID_PARAM)
        or request.headers.get(LAUNCH_ID_HEADER)
        or (request.view_args or {}).get(LAUNCH_ID_PARAM)
    )
    if launch_id:
        sent = request.form.get(FIELD) or request.headers.get(HEADER) or ""
        # Compared as bytes: compare_digest refuses str with non-ASCII characters (a 500, not a 400).
        if not hmac.compare_digest(sent.encode("utf-8", "surrogatepass"), launch_token(launch_id).encode()):
            abort(400, description=_(
                "This form is stale or was not sent from this tool's page. Reload the page and try again.",
            ))
        return
    csrf.protect()


def init_app(app: Flask) -> None:
    # Flask-WTF checks are run by us, so launch-bound forms can skip the session cookie.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    csrf.init_app(app)
    app.before_request(_protect)
    app.jinja_env.globals["csrf_token"] = csrf_token
    # Flask-WTF adds a context processor with its own session-bound `csrf_token`; ours must win.
    app.context_processor(lambda: {"csrf_token": csrf_token})

    @app.errorhandler(CSRFError)
    def _csrf_error(error: CSRFError):
        from lti_tool.errors import error_response

        return error_response(
            400,
            _("The form could not be accepted"),
            _("This form is stale or was not sent from this tool's page. Reload the page and try again."),
        )
