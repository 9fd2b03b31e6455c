import jwt
from pylti1p3.deep_link_resource import DeepLinkResource
from pylti1p3.deep_link import DeepLink

from keys import service as keys_service
from lti_tool import registry
from lti_tool.db import db
from lti_tool.tool_config import DatabaseToolConf
from tests.support.tokens import ScriptedPlatform

ISSUER = "https://canvas.instructure.com"


def add(client_id, token_url, **extra):
    return registry.add_platform(
        registry.PlatformInput(
            issuer=ISSUER,
            client_id=client_id,
            auth_url="https://sso.canvaslms.com/api/lti/authorize_redirect",
            token_url=token_url,
            jwks_url=extra.get("jwks_url", "https://sso.canvaslms.com/api/lti/security/jwks"),
            public_key=extra.get("public_key"),
            deployment_ids=("42:abc",),
        )
    )


def test_registrations_are_found_by_issuer_and_client_id(app_ctx):
    add("100", "https://a.instructure.com/login/oauth2/token")
    add("200", "https://b.instructure.com/login/oauth2/token")
    db.session.commit()
    conf = DatabaseToolConf()
    assert conf.check_iss_has_many_clients(ISSUER)
    a = conf.find_registration_by_params(ISSUER, "100")
    b = conf.find_registration_by_params(ISSUER, "200")
    assert a.get_auth_token_url() == "https://a.instructure.com/login/oauth2/token"
    assert b.get_auth_token_url() == "https://b.instructure.com/login/oauth2/token"
    assert a.get_key_set_url() == "https://sso.canvaslms.com/api/lti/security/jwks"
    assert conf.find_registration_by_params(ISSUER, "300") is None
    # Two tenants share the issuer: the issuer alone finds nothing.
    assert conf.find_registration_by_issuer(ISSUER) is None
    assert conf.find_deployment_by_params(ISSUER, "42:abc", "200").get_deployment_id() == "42:abc"
    assert conf.find_deployment_by_params(ISSUER, "nope", "200") is None


def test_registration_signs_with_the_active_key_served_in_the_jwks(app_ctx):
    add("100", "https://a.instructure.com/login/oauth2/token")
    db.session.commit()
    registration = DatabaseToolConf().find_registration_by_params(ISSUER, "100")
    active = keys_service.active_key()
    assert registration.get_kid() == active.kid
    assert active.kid in {key["kid"] for key in keys_service.public_jwks()["keys"]}

    # A deep-linking response made by pylti1p3 verifies against the tool's published key.
    deep_link = DeepLink(
        registration,
        "42:abc",
        {"deep_link_return_url": "https://a.instructure.com/return", "data": "opaque"},
    )
    resource = DeepLinkResource().set_url("https://tool.example.edu/lti/launch").set_title("Week 1")
    token = deep_link.get_response_jwt([resource])
    header = jwt.get_unverified_header(token)
    assert header["kid"] == active.kid
    public = jwt.PyJWK(next(k for k in keys_service.public_jwks()["keys"] if k["kid"] == header["kid"]))
    claims = jwt.decode(token, public.key, algorithms=["RS256"], audience=ISSUER)
    assert claims["https://purl.imsglobal.org/spec/lti-dl/claim/data"] == "opaque"


def test_static_public_key_becomes_a_key_set(app_ctx):
    platform = ScriptedPlatform("https://moodle.example.edu")
    registry.add_platform(
        registry.PlatformInput(
            issuer=platform.issuer,
            client_id="c",
            auth_url="https://moodle.example.edu/mod/lti/auth.php",
            token_url="https://moodle.example.edu/mod/lti/token.php",
            public_key=platform.public_pem(),
            deployment_ids=("1",),
        )
    )
    db.session.commit()
    registration = DatabaseToolConf().find_registration_by_params(platform.issuer, "c")
    key_set = registration.get_key_set()
    assert key_set["keys"][0]["kty"] == "RSA" and key_set["keys"][0]["alg"] == "RS256"
