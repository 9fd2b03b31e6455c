"""Error pages: every 4xx says what was wrong in words a teacher or LMS admin can act on."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger("lti_tool")


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
        response = error_response(exc.code, exc.name, exc.description or exc.name)
        if exc.code == 405 and exc.valid_methods:
            body, status = response
            return body, status, {"Allow": ", ".join(exc.valid_methods)}
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(
            500,
            InternalServerError().name,
            "Something went wrong on our side. The error was logged; please try again.",
        )
