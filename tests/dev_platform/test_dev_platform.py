"""The development LMS's own endpoints, over real HTTP, against a stub tool on another origin.

The stub tool does the least a tool must: serve a key set, answer login initiation with an
authentication request, and echo what is posted to its launch URL, so each platform step can be
checked without the real tool.
"""

from __future__ import annotations

import html
import json
import os
import stat
import time
import uuid
from typing import Any, Iterator
from urllib.parse import parse_qsl, urlencode, urlsplit

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, jsonify, redirect, request

from lti_tool.dev_platform import PlatformConfig
from tests.support.browser import LtiBrowser, parse_forms
from tests.support.live_server import LiveServer, start_dev_platform

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"
AGS = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
RESULT = "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly"
LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
CANVAS_DEPLOYMENT = "42:8865aa05b4b79b64a91a86042e43af5ea8ae79eb"
HOUR_AGO = int(time.time()) - 3600


class RsaKey:
    def __init__(self, kid: str) -> None:
        self.kid = kid
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.pem = self.private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    @property
    def jwk(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key()))
        return {**jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}

    def sign(self, claims: dict[str, Any], kid: str | None = None) -> str:
        return jwt.encode(claims, self.pem, algorithm="RS256", headers={"kid": kid or self.kid})


class StubTool:
    """A minimal tool on its own live server."""

    def __init__(self) -> None:
        self.key = RsaKey("stub-tool-key")
        self.logins: list[dict[str, str]] = []
        self.auth_overrides: dict[str, str | None] = {}
        app = Flask("stub_tool")

        @app.get("/.well-known/jwks.json")
        def jwks():
            return jsonify(keys=[self.key.jwk])

        @app.route("/lti/login", methods=["GET", "POST"])
        def login():
            params = request.values.to_dict()
            self.logins.append(params)
            auth = {
                "scope": "openid",
                "response_type": "id_token",
                "response_mode": "form_post",
                "prompt": "none",
                "client_id": params["client_id"],
                "redirect_uri": self.url + "/lti/launch",
                "login_hint": params["login_hint"],
                "lti_message_hint": params["lti_message_hint"],
                "nonce": uuid.uuid4().hex,
                "state": uuid.uuid4().hex,
            }
            auth.update(self.auth_overrides)
            auth = {k: v for k, v in auth.items() if v is not None}
            return redirect(params["iss"] + "/auth?" + urlencode(auth))

        @app.post("/lti/launch")
        def launch():
            return jsonify(request.form.to_dict())

        self.server = LiveServer(app)
        self.url = self.server.url


@pytest.fixture(scope="module")
def tool() -> Iterator[StubTool]:
    stub = StubTool()
    yield stub
    stub.server.stop()


@pytest.fixture(autouse=True)
def _reset_tool(tool: StubTool) -> None:
    tool.auth_overrides.clear()
    tool.logins.clear()


class Platform:
    def __init__(self, server: LiveServer, config: PlatformConfig) -> None:
        self.server = server
        self.config = config
        self.base = config.issuer

    def jwks(self) -> dict[str, Any]:
        return requests.get(self.base + "/jwks", timeout=5).json()

    def verify(self, token: str) -> dict[str, Any]:
        header = jwt.get_unverified_header(token)
        key = next(k for k in self.jwks()["keys"] if k["kid"] == header["kid"])
        return jwt.decode(
            token, jwt.PyJWK(key).key, algorithms=["RS256"], audience="dev-client", issuer=self.base
        )


@pytest.fixture(scope="module")
def platform(tool: StubTool, tmp_path_factory) -> Iterator[Platform]:
    server, config = start_dev_platform(tool.url, str(tmp_path_factory.mktemp("dev-platform")))
    assert config.issuer == server.url + "/dev/lms"
    yield Platform(server, config)
    server.stop()


def launch(platform: Platform, person: str, profile: str, **params: str) -> tuple[dict, LtiBrowser]:
    """A whole launch through the stub tool; the claims of the id_token the tool received."""
    browser = LtiBrowser()
    endpoint = "/deep-link" if params.pop("deep_link", None) else "/launch"
    final = browser.get(platform.base + endpoint, params={"person": person, "profile": profile, **params})
    assert final.status_code == 200, final.text
    assert final.url == platform.config.tool_launch_url
    posted = final.json()
    return {"_state": posted["state"], **platform.verify(posted["id_token"])}, browser


def text(response: requests.Response) -> str:
    """The page's text with HTML entities decoded, for matching messages."""
    return html.unescape(response.text)


def login_initiation(platform: Platform, person: str = "ada", profile: str = "moodle") -> dict[str, str]:
    response = requests.get(
        platform.base + "/launch",
        params={"person": person, "profile": profile},
        allow_redirects=False,
        timeout=5,
    )
    assert response.status_code == 302
    return dict(parse_qsl(urlsplit(response.headers["Location"]).query))


def good_auth_params(platform: Platform, person: str = "ada", profile: str = "moodle") -> dict[str, str]:
    login = login_initiation(platform, person, profile)
    return {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": login["client_id"],
        "redirect_uri": platform.config.tool_launch_url,
        "login_hint": login["login_hint"],
        "lti_message_hint": login["lti_message_hint"],
        "nonce": "nonce-123",
        "state": "state-456",
    }


# --- keys and the course page ---


def test_jwks_serves_the_public_signing_key_only(platform: Platform) -> None:
    response = requests.get(platform.base + "/jwks", timeout=5)
    assert response.status_code == 200
    (key,) = response.json()["keys"]
    assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig" and key["kid"]
    assert "d" not in key and "p" not in key
    key_file = os.path.join(platform.config.key_dir, "platform-key.pem")
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    # The same key on every request (kept on disk, not regenerated).
    assert requests.get(platform.base + "/jwks", timeout=5).json()["keys"][0]["kid"] == key["kid"]


def test_course_page_lists_people_with_launch_and_deep_linking_buttons(platform: Platform) -> None:
    page = requests.get(platform.base + "/", timeout=5)
    assert page.status_code == 200
    assert "Introduction to Astronomy" in page.text
    forms = parse_forms(page.text, page.url)
    launches = [f for f in forms if f.action.endswith("/dev/lms/launch")]
    deep_links = [f for f in forms if f.action.endswith("/dev/lms/deep-link")]
    assert sorted(f.values["person"] for f in launches) == ["ada", "alex", "grace", "tom"]
    assert sorted(f.values["person"] for f in deep_links) == ["alex", "tom"]
    assert all(any(text == "Launch the tool" for _, _, text in f.buttons) for f in launches)
    assert all(any(text == "Add content (Deep Linking)" for _, _, text in f.buttons) for f in deep_links)
    for name in ("Ada Lovelace", "Grace Hopper", "Tom Teacher", "Alex Admin"):
        assert name in page.text
    assert '<label for="link-ada">' in page.text


# --- login initiation ---


def test_moodle_login_initiation_carries_user_id_and_course_module_hint(
    platform: Platform, tool: StubTool
) -> None:
    login = login_initiation(platform, "ada", "moodle")
    assert login["iss"] == platform.base
    assert login["login_hint"] == "3"
    assert login["client_id"] == "dev-client"
    assert login["lti_deployment_id"] == "1"
    assert login["target_link_uri"] == tool.url + "/lti/launch"
    hint = json.loads(login["lti_message_hint"])
    assert hint["cmid"] == 7 and hint["launchid"]
    assert "canvas_region" not in login


def test_canvas_login_initiation_carries_canvas_extras(platform: Platform) -> None:
    login = login_initiation(platform, "grace", "canvas")
    assert login["lti_deployment_id"] == login["deployment_id"] == CANVAS_DEPLOYMENT
    assert login["canvas_region"] and login["canvas_environment"] == "prod"
    assert login["lti_storage_target"] == "post_message_forwarding"
    assert login["client_id"] == "dev-client"
    assert len(login["login_hint"]) == 40 and login["login_hint"] != "4"
    assert login["lti_message_hint"].count(".") == 2  # an opaque JWT


def test_launch_of_unknown_person_or_link_is_refused(platform: Platform) -> None:
    url = platform.base + "/launch"
    response = requests.get(url, params={"person": "nobody"}, allow_redirects=False, timeout=5)
    assert response.status_code == 400 and "Unknown person" in response.text
    response = requests.get(url, params={"person": "ada", "link": "nope"}, allow_redirects=False, timeout=5)
    assert response.status_code == 400 and "no resource link" in response.text


def test_learners_cannot_start_deep_linking(platform: Platform) -> None:
    url = platform.base + "/deep-link"
    response = requests.get(url, params={"person": "ada"}, allow_redirects=False, timeout=5)
    assert response.status_code == 403
    assert "only teachers and administrators" in response.text


# --- the authorization endpoint ---


def test_good_auth_request_answers_an_auto_posting_id_token(platform: Platform, tool: StubTool) -> None:
    params = good_auth_params(platform)
    response = requests.post(platform.base + "/auth", data=params, timeout=5)
    assert response.status_code == 200
    (form,) = parse_forms(response.text, response.url)
    assert form.auto_submit and form.method == "POST"
    assert form.action == tool.url + "/lti/launch"
    assert form.values["state"] == "state-456"
    token = form.values["id_token"]
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256" and header["kid"] == platform.jwks()["keys"][0]["kid"]
    claims = platform.verify(token)
    assert claims["nonce"] == "nonce-123"
    assert claims["azp"] == "dev-client"
    assert claims["exp"] - claims["iat"] == 300
    assert abs(claims["iat"] - time.time()) < 30


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("scope", "openid profile", "scope must be 'openid'"),
        ("scope", None, "scope is missing"),
        ("response_type", "code", "response_type must be 'id_token'"),
        ("response_mode", "query", "response_mode must be 'form_post'"),
        ("prompt", "login", "prompt must be 'none'"),
        ("prompt", None, "prompt is missing"),
        ("client_id", "someone-else", "client_id 'someone-else' is not registered"),
        ("redirect_uri", "https://evil.example.com/lti/launch", "redirect_uri"),
        ("redirect_uri", None, "redirect_uri is missing"),
        ("login_hint", "4", "login_hint does not match"),
        ("lti_message_hint", None, "lti_message_hint is missing"),
        ("nonce", None, "nonce is missing"),
        ("state", None, "state is missing"),
    ],
)
def test_bad_auth_request_is_refused_with_a_reason(
    platform: Platform, name: str, value: str | None, message: str
) -> None:
    params = good_auth_params(platform)
    if value is None:
        del params[name]
    else:
        params[name] = value
    response = requests.get(platform.base + "/auth", params=params, timeout=5)
    assert response.status_code == 400
    assert message in text(response)
    assert parse_forms(response.text, response.url) == []  # no id_token form


@pytest.mark.parametrize("profile", ["moodle", "canvas"])
def test_forged_message_hint_is_refused(platform: Platform, profile: str) -> None:
    params = good_auth_params(platform, "ada", profile)
    hint = params["lti_message_hint"]
    if profile == "moodle":
        data = json.loads(hint)
        head, body, sig = data["launchid"].split(".")
        claims = json.loads(jwt.utils.base64url_decode(body))
        claims["person"] = "alex"  # become the administrator
        body = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
        params["lti_message_hint"] = json.dumps({**data, "launchid": f"{head}.{body}.{sig}"})
    else:
        params["lti_message_hint"] = RsaKey("x").sign({"person": "alex"})
    response = requests.post(platform.base + "/auth", data=params, timeout=5)
    assert response.status_code == 400
    assert "lti_message_hint was not issued by this platform or was altered" in response.text


# --- whole launches through the stub tool ---


def test_moodle_launch_claims(platform: Platform, tool: StubTool) -> None:
    claims, browser = launch(platform, "ada", "moodle")
    assert [r.status_code for r in browser.chain] == [302, 302, 200, 200]
    assert claims["iss"] == platform.base and claims["aud"] == "dev-client"
    assert claims["nonce"] == dict(parse_qsl(urlsplit(browser.chain[2].url).query))["nonce"]
    assert claims[LTI + "message_type"] == "LtiResourceLinkRequest"
    assert claims[LTI + "version"] == "1.3.0"
    assert claims[LTI + "deployment_id"] == "1"
    assert claims[LTI + "target_link_uri"] == tool.url + "/lti/launch"
    assert claims["sub"] == "3"
    assert claims["name"] == "Ada Lovelace" and claims["email"] == "ada.lovelace@example.edu"
    assert claims["given_name"] == "Ada" and claims["family_name"] == "Lovelace"
    assert claims[LTI + "roles"] == ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"]
    assert claims[LTI + "resource_link"]["id"] == "astro-101-link-1"
    assert claims[LTI + "context"]["id"] == "astro-101"
    assert claims[LTI + "context"]["title"] == "Introduction to Astronomy"
    assert claims[LTI + "ext"]["lms"] == "moodle-2"
    assert claims[LTI + "lis"]["person_sourcedid"]
    assert claims[LTI + "tool_platform"]["product_family_code"] == "moodle"
    assert claims[LTI + "custom"] == {"course_code": "ASTRO-101"}
    presentation = claims[LTI + "launch_presentation"]
    assert presentation["document_target"] == "iframe" and presentation["locale"] == "en"
    assert presentation["return_url"].startswith(platform.base + "/")
    ags = claims[AGS]
    assert ags["lineitems"] == platform.base + "/ags/astro-101/lineitems?type_id=1"
    assert set(ags["scope"]) == {LINEITEM, SCORE, RESULT}
    assert claims[NRPS]["context_memberships_url"].startswith(platform.base + "/nrps/")
    assert claims[NRPS]["service_versions"] == ["2.0"]


def test_moodle_admin_gets_institution_and_system_administrator_roles(platform: Platform) -> None:
    claims, _ = launch(platform, "alex", "moodle")
    assert claims["sub"] == "2"
    roles = claims[LTI + "roles"]
    assert "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator" in roles
    assert "http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator" in roles


def test_canvas_launch_is_anonymous_by_default(platform: Platform) -> None:
    claims, _ = launch(platform, "grace", "canvas")
    uuid.UUID(claims["sub"])  # a UUID, stable per person
    assert launch(platform, "grace", "canvas")[0]["sub"] == claims["sub"]
    assert launch(platform, "ada", "canvas")[0]["sub"] != claims["sub"]
    for private in ("name", "email", "given_name", "family_name"):
        assert private not in claims
    assert LTI + "ext" not in claims and LTI + "lis" not in claims
    assert claims[LTI + "deployment_id"] == CANVAS_DEPLOYMENT
    assert claims["https://www.instructure.com/placement"] == "course_navigation"
    assert claims[LTI + "tool_platform"]["product_family_code"] == "canvas"
    assert "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner" in claims[LTI + "roles"]
    assert "?" not in claims[AGS]["lineitems"]


def test_canvas_public_privacy_shares_names(platform: Platform) -> None:
    claims, _ = launch(platform, "grace", "canvas", privacy="public")
    assert claims["name"] == "Grace Hopper" and claims["email"] == "grace.hopper@example.edu"


# --- deep linking ---


def deep_link_request(platform: Platform, person: str = "tom", profile: str = "moodle") -> dict[str, Any]:
    claims, _ = launch(platform, person, profile, deep_link="1")
    return claims


def deep_link_response(
    tool: StubTool, platform: Platform, request_claims: dict, items: list, **changes: Any
) -> str:
    settings = request_claims[DL + "deep_linking_settings"]
    claims = {
        "iss": "dev-client",
        "aud": platform.base,
        "iat": int(time.time()),
        "exp": int(time.time()) + 300,
        "nonce": uuid.uuid4().hex,
        LTI + "message_type": "LtiDeepLinkingResponse",
        LTI + "version": "1.3.0",
        LTI + "deployment_id": request_claims[LTI + "deployment_id"],
        DL + "data": settings["data"],
        DL + "content_items": items,
        DL + "msg": "Placed your items.",
    }
    claims.update(changes)
    return tool.key.sign({k: v for k, v in claims.items() if v is not None})


def link_id_of(page: str, title: str) -> str:
    """The resource link id of the course page's table row titled `title`."""
    rows = [row for row in page.split("<tr")[1:] if title in row and 'data-link-id="' in row]
    assert len(rows) == 1, f"expected one link titled {title!r}"
    return rows[0].split('data-link-id="')[1].split('"')[0]


LINK = {"type": "ltiResourceLink"}
QUIZ = {
    "type": "ltiResourceLink",
    "title": "Quiz: the planets",
    "custom": {"item_id": "quiz-42"},
    "lineItem": {"scoreMaximum": 10, "label": "Quiz: the planets"},
}


def test_deep_linking_request_settings(platform: Platform, tool: StubTool) -> None:
    claims = deep_link_request(platform, "tom", "moodle")
    assert claims[LTI + "message_type"] == "LtiDeepLinkingRequest"
    assert LTI + "resource_link" not in claims
    settings = claims[DL + "deep_linking_settings"]
    assert settings["deep_link_return_url"] == platform.base + "/deep-link-return?course=astro-101"
    assert settings["accept_types"] == ["ltiResourceLink"]
    assert settings["accept_presentation_document_targets"] == ["iframe", "window"]
    assert settings["accept_multiple"] is True and settings["auto_create"] is True
    assert isinstance(settings["data"], str) and settings["data"]
    assert settings["title"]


def test_deep_link_return_places_links_that_launch_with_their_custom_claim(
    platform: Platform, tool: StubTool
) -> None:
    request_claims = deep_link_request(platform, "tom", "moodle")
    return_url = request_claims[DL + "deep_linking_settings"]["deep_link_return_url"]
    moon = {**LINK, "title": "Reading: the Moon", "url": tool.url + "/lti/launch?item=moon"}
    items = [QUIZ, moon]
    browser = LtiBrowser()
    page = browser.post(return_url, data={"JWT": deep_link_response(tool, platform, request_claims, items)})
    assert page.status_code == 200, page.text
    assert "Quiz: the planets" in page.text and "Reading: the Moon" in page.text
    assert "Placed your items." in page.text

    course = requests.get(platform.base + "/", params={"profile": "moodle"}, timeout=5)
    quiz_id = link_id_of(course.text, "Quiz: the planets")
    moon_id = link_id_of(course.text, "Reading: the Moon")
    # Launch the quiz as Ada, by choosing it in her link menu on the course page.
    browser = LtiBrowser()
    ada = browser.form(course, action="/dev/lms/launch", fields={"person": "ada"})
    final = browser.submit(ada, {"link": quiz_id})
    claims = platform.verify(final.json()["id_token"])
    assert claims[LTI + "resource_link"] == {"id": quiz_id, "title": "Quiz: the planets"}
    assert claims[LTI + "custom"] == {"course_code": "ASTRO-101", "item_id": "quiz-42"}
    assert claims[AGS]["lineitem"] == platform.base + f"/ags/astro-101/lineitems/{quiz_id}/lineitem?type_id=1"

    # A placed link with a url launches at that url (target_link_uri), through the same redirect URI.
    claims, _ = launch(platform, "grace", "moodle", link=moon_id)
    assert claims[LTI + "target_link_uri"] == tool.url + "/lti/launch?item=moon"
    assert "lineitem" not in claims[AGS]

    # Links belong to the profile they were placed with.
    canvas_course = requests.get(platform.base + "/", params={"profile": "canvas"}, timeout=5)
    assert quiz_id not in canvas_course.text


def test_replayed_deep_link_response_is_refused(platform: Platform, tool: StubTool) -> None:
    request_claims = deep_link_request(platform, "alex", "canvas")
    token = deep_link_response(tool, platform, request_claims, [QUIZ])
    url = request_claims[DL + "deep_linking_settings"]["deep_link_return_url"]
    assert requests.post(url, data={"JWT": token}, timeout=5).status_code == 200
    again = requests.post(url, data={"JWT": token}, timeout=5)
    assert again.status_code == 400 and "already received" in again.text


@pytest.mark.parametrize(
    "change, message",
    [
        ({"aud": "https://elsewhere.example.com"}, "aud must be"),
        ({"iss": "another-client"}, "iss must be the tool's client id"),
        ({"exp": HOUR_AGO, "iat": HOUR_AGO - 400}, "expired"),
        ({LTI + "message_type": "LtiResourceLinkRequest"}, "message_type must be LtiDeepLinkingResponse"),
        ({LTI + "version": "1.1"}, "version must be"),
        ({LTI + "deployment_id": "99"}, "deployment_id must be"),
        ({"nonce": None}, "no nonce"),
        ({DL + "data": None}, "no data claim"),
        ({DL + "data": "tampered"}, "data claim was not issued by this platform"),
        ({DL + "content_items": [{"type": "html", "html": "<p>x</p>"}]}, "accepted only ltiResourceLink"),
        ({DL + "content_items": [{**LINK, "url": "https://evil.example.com/x"}]}, "not on the tool"),
        ({DL + "content_items": [{**LINK, "custom": {"n": 1}}]}, "custom must map strings"),
        ({DL + "content_items": [{**LINK, "lineItem": {"label": "x"}}]}, "positive scoreMaximum"),
    ],
)
def test_invalid_deep_link_response_is_refused(
    platform: Platform, tool: StubTool, change: dict, message: str
) -> None:
    request_claims = deep_link_request(platform, "tom", "moodle")
    token = deep_link_response(tool, platform, request_claims, [QUIZ], **change)
    before = requests.get(platform.base + "/", timeout=5).text.count("<tr")
    response = requests.post(platform.base + "/deep-link-return", data={"JWT": token}, timeout=5)
    assert response.status_code == 400
    assert message in text(response)
    assert requests.get(platform.base + "/", timeout=5).text.count("<tr") == before


def test_deep_link_response_signed_by_another_key_is_refused(platform: Platform, tool: StubTool) -> None:
    request_claims = deep_link_request(platform, "tom", "moodle")
    settings = request_claims[DL + "deep_linking_settings"]
    forged = jwt.decode(
        deep_link_response(tool, platform, request_claims, [QUIZ]), options={"verify_signature": False}
    )
    for kid in (tool.key.kid, "unknown-kid"):
        token = RsaKey(kid).sign(forged, kid=kid)
        response = requests.post(settings["deep_link_return_url"], data={"JWT": token}, timeout=5)
        assert response.status_code == 400
        assert "signature does not verify" in response.text or "no RS256 key with the kid" in response.text
    missing = requests.post(platform.base + "/deep-link-return", data={}, timeout=5)
    assert missing.status_code == 400 and "JWT form field is missing" in missing.text


# --- the token endpoint ---


def assertion(tool: StubTool, platform: Platform, **changes: Any) -> str:
    claims = {
        "iss": "dev-client",
        "sub": "dev-client",
        "aud": platform.config.token_url,
        "iat": int(time.time()),
        "exp": int(time.time()) + 300,
        "jti": uuid.uuid4().hex,
    }
    claims.update(changes)
    return tool.key.sign({k: v for k, v in claims.items() if v is not None})


def token_request(platform: Platform, client_assertion: str, **changes: str | None) -> requests.Response:
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": JWT_BEARER,
        "client_assertion": client_assertion,
        "scope": f"{LINEITEM} {SCORE}",
    }
    form.update(changes)
    data = {k: v for k, v in form.items() if v is not None}
    return requests.post(platform.config.token_url, data=data, timeout=5)


def test_token_endpoint_grants_a_bearer_token(platform: Platform, tool: StubTool) -> None:
    response = token_request(platform, assertion(tool, platform))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"].lower() == "bearer"
    assert body["expires_in"] == 3600
    assert set(body["scope"].split()) == {LINEITEM, SCORE}
    assert response.headers["Cache-Control"] == "no-store"
    platform_key = platform.jwks()["keys"][0]
    assert jwt.get_unverified_header(body["access_token"])["kid"] == platform_key["kid"]
    token = jwt.decode(body["access_token"], jwt.PyJWK(platform_key).key, algorithms=["RS256"])
    assert token["sub"] == "dev-client" and token["iss"] == platform.base


@pytest.mark.parametrize(
    "claims, form, status, error, message",
    [
        ({"aud": "https://elsewhere.example.com/token"}, {}, 400, "invalid_grant", "aud must be"),
        ({"exp": HOUR_AGO, "iat": HOUR_AGO - 100}, {}, 400, "invalid_grant", "expired"),
        ({"exp": None}, {}, 400, "invalid_grant", "'exp'"),
        ({"jti": None}, {}, 400, "invalid_grant", "jti"),
        ({"iss": "other", "sub": "other"}, {}, 401, "invalid_client", "client id 'dev-client'"),
        ({"sub": "other"}, {}, 401, "invalid_client", "iss and sub"),
        ({}, {"grant_type": "password"}, 400, "unsupported_grant_type", "client_credentials"),
        ({}, {"client_assertion_type": "urn:other"}, 401, "invalid_client", "client_assertion_type"),
        ({}, {"scope": "https://example.com/scope/everything"}, 400, "invalid_scope", "not granted"),
        ({}, {"scope": None}, 400, "invalid_scope", "scope is missing"),
    ],
)
def test_token_endpoint_refuses_bad_requests(
    platform: Platform, tool: StubTool, claims: dict, form: dict, status: int, error: str, message: str
) -> None:
    response = token_request(platform, assertion(tool, platform, **claims), **form)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == error
    assert message in body["error_description"]
    assert "access_token" not in body


def test_token_endpoint_refuses_assertions_not_signed_by_the_tool(platform: Platform, tool: StubTool) -> None:
    claims = jwt.decode(assertion(tool, platform), options={"verify_signature": False})
    impostor = RsaKey(tool.key.kid).sign(claims)
    response = token_request(platform, impostor)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert "signature does not verify" in response.json()["error_description"]
    unknown_kid = token_request(platform, tool.key.sign({**claims, "jti": "x1"}, kid="retired-key"))
    assert unknown_kid.status_code == 401 and "kid" in unknown_kid.json()["error_description"]
    garbage = token_request(platform, "not-a-jwt")
    assert garbage.status_code == 401 and "not a JWT" in garbage.json()["error_description"]


def test_token_endpoint_refuses_a_reused_assertion(platform: Platform, tool: StubTool) -> None:
    signed = assertion(tool, platform)
    assert token_request(platform, signed).status_code == 200
    again = token_request(platform, signed)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant" and "already used" in again.json()["error_description"]


def test_service_endpoints_refuse_calls_without_an_access_token(platform: Platform) -> None:
    # The services themselves are covered in test_services.py.
    for path in ("/ags/astro-101/lineitems", "/nrps/moodle/astro-101/memberships"):
        response = requests.get(platform.base + path, timeout=5)
        assert response.status_code == 401 and response.json()["error"] == "invalid_token"
