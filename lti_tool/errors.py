"""Error pages: every 4xx says what was wrong in words a teacher or LMS admin can act on."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from flask.json.provider import DefaultJSONProvider
from flask_babel import gettext as _, lazy_gettext
from werkzeug.exceptions import HTTPException

log = logging.getLogger("lti_tool")

# Werkzeug names its errors in English; these are the ones our pages show, in the page's language.
STATUS_TITLES = {
    400: lazy_gettext("Bad Request"),
    401: lazy_gettext("Unauthorized"),
    403: lazy_gettext("Forbidden"),
    404: lazy_gettext("Not Found"),
    405: lazy_gettext("Method Not Allowed"),
    409: lazy_gettext("Conflict"),
    410: lazy_gettext("Gone"),
    413: lazy_gettext("Request Entity Too Large"),
    415: lazy_gettext("Unsupported Media Type"),
    422: lazy_gettext("Unprocessable Entity"),
    429: lazy_gettext("Too Many Requests"),
    500: lazy_gettext("Internal Server Error"),
    503: lazy_gettext("Service Unavailable"),
}
# ... and when a view aborts without a description of its own, Werkzeug's stock sentence.
STOCK_DESCRIPTIONS = {
    404: lazy_gettext(
        "There is nothing at this address. Check the link, or open the tool again from your LMS.",
    ),
    405: lazy_gettext("This address does not accept this kind of request."),
    413: lazy_gettext("The data sent is larger than this tool accepts."),
    429: lazy_gettext("Too many requests in a short time. Wait a moment and try again."),
}


def wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return request.is_json or (best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"])


def error_response(
    status: int,
    title: str,
    message: str,
    *,
    hint: str | None = None,
    command: str | None = None,
    relaunch_url: str | None = None,
):
    # Messages may be lazy translations: render them now, in this request's language.
    title, message = str(title), str(message)
    hint = str(hint) if hint else None
    if wants_json():
        body = {"error": title, "message": message}
        if hint:
            body["hint"] = hint
        if command:
            body["command"] = command
        if relaunch_url:
            body["relaunch_url"] = relaunch_url
        return jsonify(body), status
    return (
        render_template(
            "lti_tool/error.html",
            status=status,
            title=title,
            message=message,
            hint=hint,
            command=command,
            relaunch_url=relaunch_url,
        ),
        status,
    )


class StrictJSONProvider(DefaultJSONProvider):
    """Request bodies nested past the recursion limit are bad JSON (a 400), not a crash (a 500)."""

    def loads(self, s, **kwargs):
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None


def init_app(app: Flask) -> None:
    app.json = StrictJSONProvider(app)
    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if exc.code is None or exc.code < 400:
            return exc
        title = STATUS_TITLES.get(exc.code, exc.name)
        description = exc.description
        if not description or description == type(exc).description:
            description = STOCK_DESCRIPTIONS.get(exc.code, description or title)
        response = error_response(exc.code, title, description)
        if exc.code == 405 and exc.valid_methods:
            body, status = response
            return body, status, {"Allow": ", ".join(exc.valid_methods)}
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(
            500,
            STATUS_TITLES[500],
            _("Something went wrong on our side. The error was logged; please try again."),
        )
