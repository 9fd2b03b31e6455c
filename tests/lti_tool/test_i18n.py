import pytest

from lti_tool.i18n import normalise, select_locale


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
