"""Translations: the language comes from the launch's locale claim, else the browser's.

Catalogs live in translations/ ("Languages" in the README says how to update them and add one);
the .mo files are compiled from the .po files with `pybabel compile -d translations` before the
app runs.
"""

from __future__ import annotations

from flask import Flask, g, has_request_context, request
from flask_babel import Babel, format_decimal, get_locale, refresh

from config.settings import PROJECT_ROOT

SUPPORTED_LOCALES = ("en", "es")
DEFAULT_LOCALE = "en"
TRANSLATIONS_DIR = PROJECT_ROOT / "translations"

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
    if not has_request_context():
        # Jobs and CLI commands run in an app context only; they speak the default language.
        return DEFAULT_LOCALE
    return request.accept_languages.best_match(SUPPORTED_LOCALES) or DEFAULT_LOCALE


def launch_loaded() -> None:
    """Forget a language chosen earlier in this request, before the launch (and its locale) was known."""
    refresh()


def page_language() -> str:
    """The <html lang> of the page: the language its text is in."""
    return str(get_locale() or DEFAULT_LOCALE)


def init_app(app: Flask) -> None:
    babel.init_app(
        app,
        locale_selector=select_locale,
        default_translation_directories=str(TRANSLATIONS_DIR),
    )
    # `{% trans %}` blocks collapse their whitespace, as `trimmed = true` in babel.cfg extracts them.
    app.jinja_env.policies["ext.i18n.trimmed"] = True
    app.jinja_env.globals["supported_locales"] = SUPPORTED_LOCALES
    app.jinja_env.globals["page_language"] = page_language
    # Scores and counts in the reader's conventions: 2.5 in English, 2,5 in Spanish.
    app.jinja_env.filters["number"] = format_decimal
