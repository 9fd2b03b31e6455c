"""The development LMS's side of LTI Dynamic Registration: its OpenID configuration and its
registration endpoint, which checks a tool's request the way a real platform does."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from lti_tool.dev_platform import PlatformConfig, create_platform_app
from lti_tool.dev_platform.platform import TOOL_CONFIGURATION, registration_start_url, tool_registration_record

TOOL = "https://tool.example.edu"
ISSUER = "https://lms.example.edu/dev/lms"
SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"


@pytest.fixture
def config(tmp_path) -> PlatformConfig:
    return PlatformConfig(issuer=ISSUER, tool_url=TOOL, key_dir=str(tmp_path / "lms"))


@pytest.fixture
def lms(config):
    return create_platform_app(config).test_client()


def token_for(config, profile: str) -> str:
    with create_platform_app(config).test_request_context():
        url = registration_start_url(config, profile)
    query = parse_qs(urlsplit(url).query)
    assert query["openid_configuration"] == [ISSUER + "/openid-configuration"]
    assert url.startswith(TOOL + "/lti/register?")
    return query["registration_token"][0]


def request_body(**changes) -> dict:
    body = {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": TOOL + "/lti/login",
        "redirect_uris": [TOOL + "/lti/launch"],
        "client_name": "Course Studio",
        "jwks_uri": TOOL + "/.well-known/jwks.json",
        "logo_uri": TOOL + "/static/lti/logo.svg",
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": SCORE,
        TOOL_CONFIGURATION: {
            "domain": "tool.example.edu",
            "target_link_uri": TOOL + "/lti/launch",
            "claims": ["iss", "sub", "name"],
            "messages": [
                {"type": "LtiResourceLinkRequest", "label": "Course Studio"},
                {"type": "LtiDeepLinkingRequest", "label": "Editor", "placements": ["editor_button"]},
                {"type": "LtiDeepLinkingRequest", "label": "Main", "placements": ["link_selection"]},
            ],
        },
    }
    for path, value in changes.items():
        target = body
        *parents, leaf = path.split(".")
        for name in parents:
            target = target[TOOL_CONFIGURATION if name == "tool" else name]
        if value is ...:
            target.pop(leaf)
        else:
            target[leaf] = value
    return body


def register(lms, token, body):
    return lms.post("/dev/lms/registrations", json=body, headers={"Authorization": f"Bearer {token}"})


def test_the_openid_configuration_needs_the_registration_token(lms, config):
    assert lms.get("/dev/lms/openid-configuration").status_code == 401
    assert lms.get("/dev/lms/openid-configuration", headers={"Authorization": "Bearer forged"}).status_code == 401
    response = lms.get("/dev/lms/openid-configuration", headers={"Authorization": f"Bearer {token_for(config, 'canvas')}"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["issuer"] == ISSUER
    assert body["registration_endpoint"] == ISSUER + "/registrations"
    platform = body["https://purl.imsglobal.org/spec/lti-platform-configuration"]
    assert platform["product_family_code"] == "canvas"
    assert {"type": "LtiDeepLinkingRequest", "placements": ["link_selection", "assignment_selection", "editor_button"]} in platform["messages_supported"]


def test_moodle_keeps_the_last_message_and_names_the_deployment(lms, config):
    response = register(lms, token_for(config, "moodle"), request_body())
    assert response.status_code == 201, response.get_json()
    answer = response.get_json()
    assert answer["client_id"].startswith("dr-")
    assert answer[TOOL_CONFIGURATION]["deployment_id"] == "1"
    kept = tool_registration_record(config)
    assert [m["label"] for m in kept["messages"]] == ["Course Studio", "Main"]
    # From now on the platform launches with what the tool registered.
    applied = config.with_registration(kept)
    assert applied.client_id == answer["client_id"] and applied.tool_login_url == TOOL + "/lti/login"


def test_canvas_keeps_every_message_and_names_no_deployment(lms, config):
    body = request_body()
    body[TOOL_CONFIGURATION]["https://canvas.instructure.com/lti/privacy_level"] = "public"
    answer = register(lms, token_for(config, "canvas"), body).get_json()
    assert "deployment_id" not in answer[TOOL_CONFIGURATION]
    kept = tool_registration_record(config)
    assert len(kept["messages"]) == 3 and kept["privacy_level"] == "public"


def test_a_registration_token_works_once(lms, config):
    token = token_for(config, "moodle")
    assert register(lms, token, request_body()).status_code == 201
    again = register(lms, token, request_body())
    assert again.status_code == 401 and "already used" in again.get_json()["error_description"]


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"application_type": "native"}, "application_type must be 'web'"),
        ({"response_types": ["code"]}, "response_types must include 'id_token'"),
        ({"grant_types": ["implicit"]}, "grant_types must include 'client_credentials'"),
        ({"token_endpoint_auth_method": "client_secret_basic"}, "token_endpoint_auth_method"),
        ({"initiate_login_uri": "https://elsewhere.example/login"}, "not on the tool's domain"),
        ({"redirect_uris": []}, "redirect_uris must not be empty"),
        ({"jwks_uri": "http://tool.example.edu/jwks"}, "must be an absolute https URL"),
        ({"scope": "https://example.edu/scope/everything"}, "Scopes this platform does not offer"),
        ({"client_name": ...}, "client_name is missing"),
        ({"tool.target_link_uri": TOOL + "/elsewhere"}, "must be one of the redirect_uris"),
        ({"tool.claims": ["name"]}, "claims must include 'sub'"),
        ({"tool.messages": [{"type": "LtiSubmissionReviewRequest"}]}, "no supported type"),
        ({"tool.domain": ...}, "domain must be a host name"),
    ],
)
def test_bad_registrations_are_refused_field_by_field(lms, config, changes, message):
    response = register(lms, token_for(config, "moodle"), request_body(**changes))
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_client_metadata"
    assert message in response.get_json()["error_description"]
    assert tool_registration_record(config) is None


def test_canvas_refuses_placements_it_does_not_offer(lms, config):
    body = request_body()
    body[TOOL_CONFIGURATION]["messages"][0]["placements"] = ["global_navigation"]
    response = register(lms, token_for(config, "canvas"), body)
    assert response.status_code == 400 and "offers" in response.get_json()["error_description"]


def test_forgetting_the_registration_goes_back_to_the_built_in_one(lms, config):
    register(lms, token_for(config, "moodle"), request_body())
    assert "registered-client-id" in lms.get("/dev/lms/").get_data(as_text=True)
    assert lms.post("/dev/lms/registration/forget", data={"profile": "moodle"}).status_code == 303
    assert tool_registration_record(config) is None
