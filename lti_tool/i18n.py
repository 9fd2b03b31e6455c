"""Translations: the language comes from the launch's locale claim, else the browser's.

Messages are extracted with `pybabel extract -F babel.cfg -o translations/messages.pot .` and
compiled with `pybabel compile -d translations` (see docs/translating.md).
"""

from __future__ import annotations

from flask import Flask, g, request
from flask_babel import Babel

from config.settings import PROJECT_ROOT

SUPPORTED_LOCALES = ("en", "es")
DEFAULT_LOCALE = "en"

babel = Babel()


def normalise(tag: str | None) -> str | None:
    """'es-419', 'es_ES', 'ES' -> 'es' when we ship it; None otherwise."""
    if not isinstance(tag, str) or not tag:
        return None
    language = tag.replace("_", "-").split("-")[0].lower()
    return language if language in SUPPORTED_LOCALES else None


def select_locale() -> str:
    launch = g.get("launch")
    if launch is not None:
        claims = launch.claims
        presentation = claims.get("https://purl.imsglobal.org/spec/lti/claim/launch_presentation") or {}
        for tag in (claims.get("locale"), presentation.get("locale") if isinstance(presentation, dict) else None):
            chosen = normalise(tag)
            if chosen:
                return chosen
    return request.accept_languages.best_match(SUPPORTED_LOCALES) or DEFAULT_LOCALE


def init_app(app: Flask) -> None:
    babel.init_app(
        app,
        locale_selector=select_locale,
        default_translation_directories=str(PROJECT_ROOT / "translations"),
    )
    app.jinja_env.globals["supported_locales"] = SUPPORTED_LOCALES
