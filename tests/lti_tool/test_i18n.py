"""Translations: the catalogs are complete and sound, and pages speak the launch's language."""

from __future__ import annotations

import re

import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

from lti_tool.i18n import DEFAULT_LOCALE, SUPPORTED_LOCALES, TRANSLATIONS_DIR, normalise, select_locale
from lti_tool.models import LaunchLog
from tests.courses.conftest import FakeLms

PROJECT_ROOT = TRANSLATIONS_DIR.parent
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
# Every language the tool offers besides the one its source text is written in.
TRANSLATED = [locale for locale in SUPPORTED_LOCALES if locale != DEFAULT_LOCALE]


@pytest.mark.parametrize(
    "tag, expected",
    [("es", "es"), ("es-419", "es"), ("es_ES", "es"), ("EN-us", "en"), ("fr-FR", None), ("", None), (None, None), (3, None)],
)
def test_normalise(tag, expected):
    assert normalise(tag) == expected


def test_browser_language_without_a_launch(app):
    with app.test_request_context(headers={"Accept-Language": "es-ES,es;q=0.9,en;q=0.5"}):
        assert select_locale() == "es"
    with app.test_request_context(headers={"Accept-Language": "fr"}):
        assert select_locale() == "en"


def test_jobs_and_commands_speak_the_default_language(app):
    with app.app_context():
        assert select_locale() == "en"


# --- the catalogs ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fresh_template(tmp_path_factory):
    """The messages the code marks today, extracted as the README says."""
    pot = tmp_path_factory.mktemp("i18n") / "messages.pot"
    CommandLineInterface().run(
        ["pybabel", "-q", "extract", "-F", str(PROJECT_ROOT / "babel.cfg"), "-k", "lazy_gettext",
         "-o", str(pot), str(PROJECT_ROOT)]
    )
    with pot.open("rb") as f:
        return read_po(f)


@pytest.fixture(scope="module", params=TRANSLATED)
def catalog(request):
    with (TRANSLATIONS_DIR / request.param / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f, locale=request.param)


def test_marked_text_was_found(fresh_template):
    # A broken babel.cfg would extract nothing and make the completeness test pass vacuously.
    ids = {m.id if isinstance(m.id, str) else m.id[0] for m in fresh_template if m.id}
    assert len(ids) > 500
    assert {"Your courses", "Gradebook", "Welcome, %(name)s", "Please correct the form"} <= ids


def test_every_message_is_translated(fresh_template, catalog):
    problems = []
    for message in fresh_template:
        if not message.id:
            continue
        translated = catalog.get(message.id)
        if translated is None:
            problems.append(f"missing: {message.id!r}")
        elif translated.fuzzy:
            problems.append(f"fuzzy: {message.id!r}")
        elif not all(translated.string) if isinstance(translated.string, tuple) else not translated.string:
            problems.append(f"untranslated: {message.id!r}")
    assert not problems, f"update translations/{catalog.locale} (README, Languages):\n" + "\n".join(problems)


def test_the_template_in_the_repository_is_current(fresh_template):
    with (TRANSLATIONS_DIR / "messages.pot").open("rb") as f:
        committed = read_po(f)
    ids = lambda catalog: {m.id for m in catalog if m.id}  # noqa: E731
    assert ids(committed) == ids(fresh_template), "run pybabel extract (README, Languages)"


def test_translations_keep_the_placeholders(catalog):
    problems = []
    for message in catalog:
        if not message.id or not message.string:
            continue
        if isinstance(message.id, tuple):
            expected = set(PLACEHOLDER.findall(message.id[1]))
            strings = message.string
        else:
            expected = set(PLACEHOLDER.findall(message.id))
            strings = (message.string,)
        for text in strings:
            if set(PLACEHOLDER.findall(text)) != expected:
                problems.append(f"{message.id!r} -> {text!r}")
            if text.count("%") - 2 * text.count("%%") != len(PLACEHOLDER.findall(text)):
                problems.append(f"stray %: {text!r}")
    # Babel's own checks: python-format consistency between msgid and msgstr.
    problems += [f"{message.id!r}: {errors}" for message, errors in catalog.check()]
    assert not problems, "\n".join(problems)


# --- pages ------------------------------------------------------------------------------------------


def html_lang(page: str) -> str:
    match = re.search(r'<html lang="([^"]+)"', page)
    assert match, page[:200]
    return match.group(1)


@pytest.mark.parametrize("tag", ["es", "es-ES", "es_419"])
def test_a_spanish_launch_gets_spanish_pages(app, client, tag):
    lms = FakeLms(app)
    learner = lms.launch(sub="learner-1", role="learner", locale=tag)
    page = client.get(f"/lti/home?{learner.q}").get_data(as_text=True)
    assert html_lang(page) == "es"
    assert "Está en el lugar correcto" in page and "You are in the right place" not in page

    teacher = lms.launch(sub="teacher-1", role="instructor", locale=tag)
    page = client.get(f"/courses/?{teacher.q}").get_data(as_text=True)
    assert html_lang(page) == "es"
    assert "Crear un curso" in page and "Create a course" not in page
    page = client.get(f"/grades/?{teacher.q}").get_data(as_text=True)
    assert "Libro de calificaciones" in page


def test_a_language_we_do_not_ship_falls_back_to_english(app, client):
    lms = FakeLms(app)
    learner = lms.launch(sub="learner-1", role="learner", locale="fr-FR")
    for headers in ({}, {"Accept-Language": "fr-FR,fr;q=0.9"}):
        page = client.get(f"/lti/home?{learner.q}", headers=headers).get_data(as_text=True)
        assert html_lang(page) == "en"
        assert "You are in the right place" in page


def test_spanish_error_page_and_english_launch_log(app, client):
    response = client.post("/lti/launch", data={"state": "s"}, headers={"Accept-Language": "es"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert html_lang(page) == "es"
    assert "Error 400" in page and "El lanzamiento" in page
    with app.app_context():
        from lti_tool.db import db

        logged = db.session.query(LaunchLog).one()
        # Operators read the launch log in one language, whatever the learner's browser spoke.
        assert logged.detail and logged.detail.isascii() and logged.detail.startswith("The ")


def test_pages_without_a_launch_follow_the_browser(client):
    page = client.get("/courses/", headers={"Accept-Language": "es"})
    assert page.status_code == 401
    assert html_lang(page.get_data(as_text=True)) == "es"
    assert "Su sesión con esta herramienta ha terminado" in page.get_data(as_text=True)
    as_json = client.get("/courses/", headers={"Accept": "application/json", "Accept-Language": "es"})
    assert as_json.json["error"] == "No autorizado"
