from lti_tool import registry, security
from lti_tool.db import db


def test_framing_is_allowed_for_registered_platforms_only(app, client):
    with app.app_context():
        registry.add_platform(
            registry.PlatformInput(
                issuer="https://canvas.instructure.com",
                client_id="1",
                auth_url="https://sso.canvaslms.com/api/lti/authorize_redirect",
                token_url="https://school.instructure.com/login/oauth2/token",
                jwks_url="https://sso.canvaslms.com/api/lti/security/jwks",
                deployment_ids=("1",),
            )
        )
        db.session.commit()
    security.forget_origins()
    response = client.get("/healthz")
    policy = response.headers["Content-Security-Policy"]
    ancestors = policy.split("frame-ancestors ")[1].split(";")[0].split()
    assert ancestors == [
        "'self'",
        "https://canvas.instructure.com",
        "https://school.instructure.com",
        "https://sso.canvaslms.com",
    ]
    assert "X-Frame-Options" not in response.headers
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in response.headers


def test_extra_frame_ancestors_and_hsts_under_https(make_app):
    app = make_app(FRAME_ANCESTORS="https://lms.university.edu", TOOL_BASE_URL="https://tool.example.edu")
    security.forget_origins()
    response = app.test_client().get("/healthz")
    assert "https://lms.university.edu" in response.headers["Content-Security-Policy"]
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
