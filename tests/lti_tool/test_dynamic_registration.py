"""LTI Dynamic Registration against an independent fake platform served over real HTTP.

The fake platform checks the tool's registration request field by field against the Dynamic
Registration 1.0 and OpenID Connect Dynamic Client Registration specifications, without using any
of the tool's code, and answers the way Moodle, Canvas or Sakai do.
"""

from __future__ import annotations

import html
import time
from typing import Any
from urllib.parse import urlsplit

import jwt
import pytest
from flask import Flask, jsonify, request
from sqlalchemy import func, select

from lti_tool import dynamic_registration as dynreg
from lti_tool.admin.models import AdminAuditLog
from lti_tool.db import db
from lti_tool.models import Deployment, Platform, PlatformClient
from tests.support.live_server import LiveServer

TOOL = "http://localhost"
TOOL_CONFIG = "https://purl.imsglobal.org/spec/lti-tool-configuration"
PLATFORM_CONFIG = "https://purl.imsglobal.org/spec/lti-platform-configuration"
SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
RESULT = "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly"
NRPS = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
CANVAS_PRIVACY = "https://canvas.instructure.com/lti/privacy_level"


class FakePlatform:
    """An LMS offering dynamic registration; every knob is a plain attribute a test may change."""

    def __init__(self, family: str = "moodle") -> None:
        self.family = family
        self.token = "reg-token-" + str(time.time_ns())
        self.config_status = 200
        self.config_text: str | None = None  # served instead of the JSON configuration
        self.issuer_override: str | None = None
        self.scopes_supported = ["openid", SCORE, LINEITEM, RESULT]  # no NRPS: must not be asked for
        self.messages_supported: list[dict[str, Any]] = [
            {"type": "LtiResourceLinkRequest"},
            {"type": "LtiDeepLinkingRequest"},
        ]
        self.deployment_id: str | None = "7" if family in ("moodle", "sakai") else None
        self.client_id = "client-" + family
        self.reject_with: tuple[int, str] | None = None
        self.drop_fields: tuple[str, ...] = ()
        self.config_requests: list[dict[str, str]] = []
        self.registrations: list[dict[str, Any]] = []
        self.problems: list[str] = []
        self.server = LiveServer()
        self.url = self.server.url
        self.server.start(self._app())

    @property
    def issuer(self) -> str:
        return self.url + "/lms"

    @property
    def configuration_url(self) -> str:
        return self.issuer + "/openid-configuration"

    def configuration(self) -> dict[str, Any]:
        body = {
            "issuer": self.issuer_override or self.issuer,
            "authorization_endpoint": self.issuer + "/auth",
            "token_endpoint": self.issuer + "/token",
            "jwks_uri": self.issuer + "/jwks",
            "registration_endpoint": self.issuer + "/register",
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
            "scopes_supported": self.scopes_supported,
            "response_types_supported": ["id_token"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "claims_supported": ["iss", "sub", "name", "given_name", "family_name", "email"],
            "subject_types_supported": ["public"],
            PLATFORM_CONFIG: {
                "product_family_code": self.family,
                "version": "4.5",
                "messages_supported": self.messages_supported,
            },
        }
        for name in self.drop_fields:
            body.pop(name, None)
        return body

    def check(self, body: Any) -> list[str]:
        """The spec's rules for a registration request, written independently of the tool."""
        problems = []

        def need(condition: bool, message: str) -> None:
            if not condition:
                problems.append(message)

        need(isinstance(body, dict), "body is a JSON object")
        if not isinstance(body, dict):
            return problems
        need(body.get("application_type") == "web", "application_type is web")
        need(body.get("response_types") == ["id_token"], "response_types is [id_token]")
        need(set(body.get("grant_types") or []) == {"implicit", "client_credentials"}, "grant_types")
        need(body.get("initiate_login_uri") == TOOL + "/lti/login", "initiate_login_uri")
        need(body.get("redirect_uris") == [TOOL + "/lti/launch"], "redirect_uris")
        need(body.get("jwks_uri") == TOOL + "/.well-known/jwks.json", "jwks_uri")
        need(isinstance(body.get("client_name"), str) and body["client_name"], "client_name")
        need(str(body.get("logo_uri", "")).startswith(TOOL + "/"), "logo_uri on the tool")
        need(body.get("token_endpoint_auth_method") == "private_key_jwt", "token_endpoint_auth_method")
        scopes = str(body.get("scope", "")).split()
        need(all(s in self.scopes_supported for s in scopes), "only supported scopes")
        need(SCORE in scopes and LINEITEM in scopes, "the AGS scopes the platform offers")
        tool = body.get(TOOL_CONFIG)
        need(isinstance(tool, dict), "tool configuration object")
        if not isinstance(tool, dict):
            return problems
        need(tool.get("domain") == "localhost", "domain is the tool's host")
        need(tool.get("target_link_uri") == TOOL + "/lti/launch", "target_link_uri")
        need("sub" in (tool.get("claims") or []) and "iss" in tool["claims"], "claims include iss and sub")
        need(isinstance(tool.get("description"), str), "description")
        messages = tool.get("messages")
        need(isinstance(messages, list) and messages, "messages")
        for message in messages or []:
            need(message.get("type") in {m["type"] for m in self.messages_supported}, "message types supported")
            need(message.get("target_link_uri") == TOOL + "/lti/launch", "message target_link_uri")
            need(isinstance(message.get("label"), str), "message label")
        return problems

    def _app(self) -> Flask:
        app = Flask("fake_dr_platform")

        @app.get("/lms/openid-configuration")
        def configuration():
            self.config_requests.append(dict(request.headers))
            if self.config_text is not None:
                return self.config_text, self.config_status, {"Content-Type": "text/html"}
            return jsonify(self.configuration()), self.config_status

        @app.post("/lms/register")
        def register():
            body = request.get_json(silent=True)
            self.registrations.append({"headers": dict(request.headers), "body": body})
            if request.headers.get("Authorization") != f"Bearer {self.token}":
                return jsonify(error="invalid_token"), 401
            if self.reject_with:
                status, text = self.reject_with
                return text, status, {"Content-Type": "application/json"}
            self.problems = self.check(body)
            if self.problems:
                return jsonify(error="invalid_client_metadata", error_description="; ".join(self.problems)), 400
            answer = {**body, "client_id": self.client_id}
            tool = dict(body[TOOL_CONFIG])
            if self.deployment_id:
                tool["deployment_id"] = self.deployment_id
            answer[TOOL_CONFIG] = tool
            return jsonify(answer), 201

        return app

    def stop(self) -> None:
        self.server.stop()


@pytest.fixture
def platform_factory():
    made: list[FakePlatform] = []

    def make(family: str = "moodle") -> FakePlatform:
        made.append(FakePlatform(family))
        return made[-1]

    yield make
    for fake in made:
        fake.stop()


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def start(client, fake, **overrides):
    params = {"openid_configuration": fake.configuration_url, "registration_token": fake.token, **overrides}
    return client.get("/lti/register", query_string={k: v for k, v in params.items() if v is not None})


def finish(client, fake, **overrides):
    data = {"openid_configuration": fake.configuration_url, "registration_token": fake.token, **overrides}
    return client.post("/lti/register", data={k: v for k, v in data.items() if v is not None})


def stored(app) -> dict[str, int]:
    with app.app_context():
        return {
            model.__name__: db.session.scalar(select(func.count()).select_from(model))
            for model in (Platform, PlatformClient, Deployment)
        }


NOTHING = {"Platform": 0, "PlatformClient": 0, "Deployment": 0}


def test_a_moodle_registration_is_stored_pending_with_its_deployment(app, client, platform_factory):
    fake = platform_factory("moodle")
    page = start(client, fake)
    assert page.status_code == 200, text(page)
    assert "Register Course Studio with your Moodle" in text(page)
    assert fake.config_requests[-1]["Authorization"] == f"Bearer {fake.token}"

    done = finish(client, fake)
    assert done.status_code == 200, text(done)
    assert fake.problems == []
    assert "postMessage({subject: \"org.imsglobal.lti.close\"}, \"*\")" in text(done)
    assert "(window.opener || window.parent)" in text(done)
    assert "must approve this LMS" in text(done)

    body = fake.registrations[-1]["body"]
    scopes = body["scope"].split()
    assert NRPS not in scopes  # the platform did not offer it
    messages = body[TOOL_CONFIG]["messages"]
    # Moodle keeps the last entry of a repeated type: the primary deep-linking entry comes last.
    deep = [m for m in messages if m["type"] == "LtiDeepLinkingRequest"]
    assert len(deep) == 2 and deep[-1]["placements"] == ["link_selection", "assignment_selection"]
    assert CANVAS_PRIVACY not in body[TOOL_CONFIG]

    with app.app_context():
        platform = db.session.scalar(select(Platform))
        assert (platform.issuer, platform.status, platform.product_family_code) == (fake.issuer, "pending", "moodle")
        assert (platform.auth_url, platform.token_url, platform.jwks_url) == (
            fake.issuer + "/auth", fake.issuer + "/token", fake.issuer + "/jwks",
        )
        client_row = platform.clients[0]
        assert client_row.client_id == "client-moodle"
        assert [(d.deployment_id, d.status) for d in client_row.deployments] == [("7", "active")]
        entry = db.session.scalar(select(AdminAuditLog))
        assert entry.action == "platform.registered" and entry.platform_id == platform.id
        assert entry.detail["client_id"] == "client-moodle"


def test_canvas_gets_its_privacy_extension_and_placements_it_offers(app, client, platform_factory):
    fake = platform_factory("canvas")
    fake.messages_supported = [
        {"type": "LtiResourceLinkRequest", "placements": ["course_navigation"]},
        {"type": "LtiDeepLinkingRequest", "placements": ["link_selection", "editor_button"]},
    ]
    assert finish(client, fake).status_code == 200
    tool = fake.registrations[-1]["body"][TOOL_CONFIG]
    assert tool[CANVAS_PRIVACY] == "public"
    assert [(m["type"], m["placements"]) for m in tool["messages"]] == [
        ("LtiResourceLinkRequest", ["course_navigation"]),
        ("LtiDeepLinkingRequest", ["editor_button"]),
        ("LtiDeepLinkingRequest", ["link_selection"]),  # assignment_selection is not offered
    ]
    with app.app_context():
        platform = db.session.scalar(select(Platform))
        # Canvas names the deployment only when the app is installed.
        assert platform.clients[0].deployments == []


def test_sakai_keeps_the_first_entry_so_the_primary_one_comes_first(client, platform_factory):
    fake = platform_factory("sakai")
    assert finish(client, fake).status_code == 200
    deep = [m for m in fake.registrations[-1]["body"][TOOL_CONFIG]["messages"] if m["type"] == "LtiDeepLinkingRequest"]
    assert deep[0]["placements"] == ["link_selection", "assignment_selection"]


def test_a_platform_without_deep_linking_is_offered_only_launches(client, platform_factory):
    fake = platform_factory("moodle")
    fake.messages_supported = [{"type": "LtiResourceLinkRequest"}]
    assert finish(client, fake).status_code == 200
    assert {m["type"] for m in fake.registrations[-1]["body"][TOOL_CONFIG]["messages"]} == {"LtiResourceLinkRequest"}


def test_auto_approve_setting_accepts_the_platform_at_once(make_app, platform_factory):
    app = make_app(AUTO_APPROVE_REGISTRATIONS=True)
    fake = platform_factory("moodle")
    done = finish(app.test_client(), fake)
    assert done.status_code == 200
    assert "must approve" not in text(done)
    with app.app_context():
        assert db.session.scalar(select(Platform)).status == "active"


def test_a_second_registration_of_an_approved_lms_joins_it(app, client, platform_factory):
    first = platform_factory("moodle")
    assert finish(client, first).status_code == 200
    with app.app_context():
        db.session.scalar(select(Platform)).status = "active"
        db.session.commit()
    # The same LMS registers the tool again: a new token and a new client id.
    first.token, first.client_id, first.deployment_id = "another-token", "client-2", "8"
    assert finish(client, first).status_code == 200
    with app.app_context():
        platforms = list(db.session.scalars(select(Platform)))
        assert len(platforms) == 1 and platforms[0].status == "active"
        assert sorted(c.client_id for c in platforms[0].clients) == ["client-2", "client-moodle"]


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"openid_configuration": None}, "no openid_configuration parameter"),
        ({"registration_token": None}, "no registration_token parameter"),
        ({"openid_configuration": "ftp://lms.example.edu/config"}, "openid_configuration URL is not usable"),
        ({"openid_configuration": "http://lms.example.edu/config"}, "must use https://"),
        ({"registration_token": "two words"}, "not a valid token"),
    ],
)
def test_bad_registration_requests(app, client, platform_factory, overrides, message):
    fake = platform_factory("moodle")
    for response in (start(client, fake, **overrides), finish(client, fake, **overrides)):
        assert response.status_code == 400
        assert message in text(response)
    assert fake.registrations == []
    assert stored(app) == NOTHING


def test_an_unreachable_configuration(app, client, platform_factory):
    fake = platform_factory("moodle")
    dead = LiveServer()
    url = dead.url + "/lms/openid-configuration"
    dead.stop()  # nothing listens there any more
    response = finish(client, fake, openid_configuration=url)
    assert response.status_code == 502
    assert "could not be fetched" in text(response)
    assert stored(app) == NOTHING


@pytest.mark.parametrize(
    "status, body, message",
    [
        (200, "<html>Moodle login page</html>", "is not JSON"),
        (404, "<html>Not found</html>", "answered HTTP 404"),
    ],
)
def test_a_configuration_that_is_not_json(app, client, platform_factory, status, body, message):
    fake = platform_factory("moodle")
    fake.config_status, fake.config_text = status, body
    for response in (start(client, fake), finish(client, fake)):
        assert response.status_code == 502 and message in text(response)
    assert fake.registrations == [] and stored(app) == NOTHING


def test_an_issuer_that_does_not_match_the_configuration_url(app, client, platform_factory):
    fake = platform_factory("moodle")
    fake.issuer_override = "https://other-lms.example.edu"
    response = finish(client, fake)
    assert response.status_code == 400
    assert "not under that issuer" in text(response)
    assert fake.registrations == [] and stored(app) == NOTHING


@pytest.mark.parametrize(
    "drop, message",
    [
        ("registration_endpoint", "has no 'registration_endpoint'"),
        ("jwks_uri", "has no 'jwks_uri'"),
        (PLATFORM_CONFIG, "not an LTI platform's"),
    ],
)
def test_a_configuration_missing_required_fields(app, client, platform_factory, drop, message):
    fake = platform_factory("moodle")
    fake.drop_fields = (drop,)
    response = finish(client, fake)
    assert response.status_code == 400 and message in text(response)
    assert stored(app) == NOTHING


def test_a_platform_that_rejects_the_registration_shows_its_error(app, client, platform_factory):
    fake = platform_factory("moodle")
    fake.reject_with = (400, '{"error": "invalid_client_metadata", "error_description": "' + "x" * 2000 + '"}')
    response = finish(client, fake)
    assert response.status_code == 502
    page = text(response)
    assert "The LMS refused the registration (HTTP 400): invalid_client_metadata: xxx" in page
    assert "x" * 600 not in page  # trimmed
    assert stored(app) == NOTHING
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AdminAuditLog)) == 0


def test_a_registration_token_works_once(app, client, platform_factory):
    fake = platform_factory("moodle")
    assert finish(client, fake).status_code == 200
    replay = finish(client, fake)
    assert replay.status_code == 400
    assert "already used" in text(replay)
    assert start(client, fake).status_code == 400
    assert len(fake.registrations) == 1
    assert stored(app) == {"Platform": 1, "PlatformClient": 1, "Deployment": 1}


def test_a_token_rejected_by_the_platform_is_also_spent(app, client, platform_factory):
    fake = platform_factory("moodle")
    fake.reject_with = (401, '{"error": "invalid_token"}')
    assert finish(client, fake).status_code == 502
    fake.reject_with = None
    assert "already used" in text(finish(client, fake))


@pytest.mark.parametrize(
    "issuer, url, matches",
    [
        ("https://lms.edu", "https://lms.edu/mod/lti/openid-configuration.php", True),
        ("https://lms.edu/moodle", "https://lms.edu/moodle/mod/lti/openid-configuration.php", True),
        ("https://LMS.edu/", "https://lms.edu:443/config", True),
        ("https://lms.edu/moodle", "https://lms.edu/moodle2/config", False),
        ("https://lms.edu", "https://evil.example/lms.edu/config", False),
        ("https://lms.edu", "http://lms.edu/config", False),
        ("https://canvas.instructure.com", "https://school.instructure.com/api/lti/security/openid-configuration", False),
    ],
)
def test_issuer_must_prefix_the_configuration_url(issuer, url, matches):
    assert dynreg.issuer_matches(issuer, url) is matches


def test_used_tokens_are_remembered_until_they_expire(app_ctx):
    expiring = jwt.encode({"exp": int(time.time()) + 600}, "k" * 32, algorithm="HS256")
    assert 600 < dynreg._token_lifetime(expiring) <= 600 + 3600
    assert dynreg._token_lifetime("opaque-token") == dynreg.TOKEN_MEMORY_SECONDS


def test_the_registration_page_works_without_cookies(app, platform_factory):
    # Canvas runs it in an iframe, where the browser may drop every cookie.
    fake = platform_factory("canvas")
    client = app.test_client(use_cookies=False)
    assert start(client, fake).status_code == 200
    assert finish(client, fake).status_code == 200
    assert urlsplit(fake.registrations[-1]["body"]["initiate_login_uri"]).path == "/lti/login"


def test_the_registration_pages_may_be_framed_by_an_lms_not_yet_registered(client, platform_factory):
    fake = platform_factory("canvas")
    for response in (start(client, fake), finish(client, fake), start(client, fake, registration_token=None)):
        policy = response.headers["Content-Security-Policy"]
        assert "frame-ancestors https:" in policy and "form-action 'self'" in policy
        assert "X-Frame-Options" not in response.headers
