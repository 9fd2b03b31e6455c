"""Presets: an admin types a site URL, the preset supplies the issuer and endpoints."""

from __future__ import annotations

import pytest

from lti_tool import presets
from lti_tool.registry import RegistryError


@pytest.mark.parametrize(
    "key, site, expected",
    [
        ("moodle", "https://moodle.example.edu/", (
            "https://moodle.example.edu", "https://moodle.example.edu/mod/lti/auth.php",
            "https://moodle.example.edu/mod/lti/token.php", "https://moodle.example.edu/mod/lti/certs.php")),
        ("moodle", "https://example.edu/moodle", (
            "https://example.edu/moodle", "https://example.edu/moodle/mod/lti/auth.php",
            "https://example.edu/moodle/mod/lti/token.php", "https://example.edu/moodle/mod/lti/certs.php")),
        ("canvas", "https://school.instructure.com", (
            "https://canvas.instructure.com", "https://sso.canvaslms.com/api/lti/authorize_redirect",
            "https://school.instructure.com/login/oauth2/token", "https://sso.canvaslms.com/api/lti/security/jwks")),
        ("canvas-beta", "https://school.beta.instructure.com", (
            "https://canvas.beta.instructure.com", "https://sso.beta.canvaslms.com/api/lti/authorize_redirect",
            "https://school.beta.instructure.com/login/oauth2/token", "https://sso.beta.canvaslms.com/api/lti/security/jwks")),
        ("canvas-self-hosted", "https://canvas.example.edu", (
            "https://canvas.example.edu", "https://canvas.example.edu/api/lti/authorize_redirect",
            "https://canvas.example.edu/login/oauth2/token", "https://canvas.example.edu/api/lti/security/jwks")),
    ],
)
def test_endpoints_from_a_site_url(key, site, expected):
    urls = presets.endpoints(presets.get_preset(key), site)
    assert (urls.issuer, urls.auth_url, urls.token_url, urls.jwks_url) == expected


def test_an_issuer_override_wins():
    urls = presets.endpoints(presets.get_preset("canvas-self-hosted"), "https://canvas.example.edu",
                             issuer="https://canvas.instructure.com")
    assert urls.issuer == "https://canvas.instructure.com"
    assert urls.token_url == "https://canvas.example.edu/login/oauth2/token"


@pytest.mark.parametrize("site, message", [
    ("", "site URL is required"),
    ("http://moodle.example.edu", "must use https://"),
    ("https://moodle.example.edu/?lang=en", "must not have a query string"),
])
def test_bad_site_urls(site, message):
    with pytest.raises(RegistryError, match=message):
        presets.endpoints(presets.get_preset("moodle"), site)


def test_unknown_preset():
    with pytest.raises(RegistryError, match="unknown preset"):
        presets.get_preset("blackboard")


def test_registration_behaviours_are_data():
    assert presets.behaviour("moodle").repeated_messages == "last"
    assert presets.behaviour("sakai").repeated_messages == "first"
    assert presets.behaviour("Canvas").runs_in_iframe is True
    assert presets.behaviour("canvas").privacy_extension == presets.CANVAS_PRIVACY_EXTENSION
    assert presets.behaviour("moodle").sends_deployment_id and presets.behaviour("sakai").sends_deployment_id
    assert not presets.behaviour("canvas").sends_deployment_id
    assert presets.behaviour("something-new") is presets.GENERIC
