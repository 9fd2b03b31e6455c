"""The launch endpoints over HTTP (Flask test client), against a scripted LMS whose JWKS is served
by a real HTTP server. Every rejection must say why, log the reason, and store nothing."""

from __future__ import annotations

import html
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from lti_tool import registry
from lti_tool.db import db
from lti_tool.models import Context, Enrollment, LaunchLog, ResourceLink, User
from tests.support.live_server import LiveServer
from tests.support.tokens import CLAIM, INSTRUCTOR, ScriptedPlatform, new_key

ISSUER = "https://lms.example.edu"
TARGET = "http://localhost/lti/launch"


@pytest.fixture
def lms():
    platform = ScriptedPlatform(ISSUER)
    with LiveServer(platform.jwks_app()) as server:
        platform.jwks_url = server.url + "/jwks"
        yield platform


@pytest.fixture
def registered(app, lms):
    with app.app_context():
        registry.add_platform(
            registry.PlatformInput(
                issuer=lms.issuer,
                client_id=lms.client_id,
                auth_url="https://lms.example.edu/auth",
                token_url="https://lms.example.edu/token",
                jwks_url=lms.jwks_url,
                deployment_ids=(lms.deployment_id,),
            )
        )
        db.session.commit()
    return lms


def login(client, lms, **params):
    query = {
        "iss": lms.issuer,
        "login_hint": "42",
        "target_link_uri": TARGET,
        "lti_message_hint": "opaque-hint",
        "client_id": lms.client_id,
        **params,
    }
    query = {k: v for k, v in query.items() if v is not None}
    return client.get("/lti/login", query_string=query)


def start(client, lms) -> tuple[str, str]:
    response = login(client, lms)
    assert response.status_code == 302, page(response)
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    return query["state"][0], query["nonce"][0]


def page(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def counts(app) -> dict[str, int]:
    with app.app_context():
        return {
            model.__name__: db.session.scalar(select(func.count()).select_from(model))
            for model in (User, Context, Enrollment, ResourceLink)
        }


def last_log(app) -> LaunchLog:
    with app.app_context():
        return db.session.scalars(select(LaunchLog).order_by(LaunchLog.id.desc())).first()


def launch(client, lms, *, sign=None, **claim_overrides):
    state, nonce = start(client, lms)
    claims = lms.claims(nonce, target=TARGET, **claim_overrides)
    token = sign(claims) if sign else lms.sign(claims)
    return client.post("/lti/launch", data={"id_token": token, "state": state}), claims


# -- login initiation --------------------------------------------------------------------


def test_login_redirects_to_platform_with_oidc_parameters(client, registered):
    response = login(client, registered)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == "https://lms.example.edu/auth"
    query = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert query["scope"] == "openid"
    assert query["response_type"] == "id_token"
    assert query["response_mode"] == "form_post"
    assert query["prompt"] == "none"
    assert query["client_id"] == registered.client_id
    assert query["redirect_uri"] == "http://localhost/lti/launch"
    assert query["login_hint"] == "42"
    assert query["lti_message_hint"] == "opaque-hint"  # passed back untouched
    assert len(query["state"]) >= 32 and len(query["nonce"]) >= 32
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"lti1p3_state_{query['state']}=")
    assert "HttpOnly" in cookie


def test_login_by_post_works_too(client, registered):
    response = client.post(
        "/lti/login",
        data={"iss": ISSUER, "login_hint": "1", "target_link_uri": TARGET, "client_id": registered.client_id},
    )
    assert response.status_code == 302


def test_login_without_client_id_uses_the_issuers_single_client(client, registered):
    response = login(client, registered, client_id=None)
    assert response.status_code == 302
    assert f"client_id={registered.client_id}" in response.headers["Location"]


def test_login_without_client_id_is_refused_when_the_issuer_has_several(app, client, registered):
    with app.app_context():
        platform = registry.get_platform(ISSUER)
        registry.add_client(platform, "client-2")
        db.session.commit()
    response = login(client, registered, client_id=None)
    assert response.status_code == 400
    assert "several client ids" in page(response)


def test_login_from_unknown_issuer_names_the_command(app, client, lms):
    response = login(client, lms, lti_deployment_id="dep-9")
    assert response.status_code == 400
    body = page(response)
    assert "not registered" in body
    assert f"flask --app wsgi platform add --issuer {ISSUER} --client-id client-1" in body
    assert "--deployment-id dep-9" in body
    entry = last_log(app)
    assert (entry.stage, entry.outcome, entry.reason) == ("login", "rejected", "unknown_issuer")


def test_login_with_unknown_client_id(client, registered):
    response = login(client, registered, client_id="other")
    assert response.status_code == 400
    assert "not with client id" in page(response)


def test_login_with_unknown_deployment(client, registered):
    response = login(client, registered, lti_deployment_id="nope")
    assert response.status_code == 400
    assert "deployment-add" in page(response)


@pytest.mark.parametrize("missing", ["iss", "login_hint", "target_link_uri"])
def test_login_missing_parameter(client, registered, missing):
    response = login(client, registered, **{missing: None})
    assert response.status_code == 400
    assert repr(missing) in page(response)


def test_login_refuses_a_target_outside_the_tool(client, registered):
    response = login(client, registered, target_link_uri="https://evil.example.com/phish")
    assert response.status_code == 400
    assert "not part of this tool" in page(response)


def test_login_answers_json_to_json_clients(client, registered):
    response = client.get("/lti/login", query_string={"iss": ISSUER}, headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert response.json["error"] == "The LMS sent an incomplete login request"


# -- a good launch -----------------------------------------------------------------------


def test_learner_launch_records_identity_and_lands(app, client, registered):
    response, claims = launch(client, registered)
    assert response.status_code == 303, page(response)
    location = response.headers["Location"]
    assert location.startswith("/lti/home?launch_id=")
    landing = client.get(location)
    assert landing.status_code == 200
    text = page(landing)
    assert "Welcome, Ada Lovelace" in text and "Astronomy" in text and "learner" in text
    assert counts(app) == {"User": 1, "Context": 1, "Enrollment": 1, "ResourceLink": 1}
    with app.app_context():
        user = db.session.scalar(select(User))
        assert (user.sub, user.email) == (claims["sub"], "ada@example.edu")
        assert db.session.scalar(select(Enrollment)).roles == ["learner"]
    entry = last_log(app)
    assert (entry.outcome, entry.message_type, entry.user_sub) == ("accepted", "LtiResourceLinkRequest", claims["sub"])


def test_instructor_lands_on_the_setup_page(client, registered):
    response, _ = launch(client, registered, **{CLAIM + "roles": [INSTRUCTOR]})
    assert "Set this tool up for your course" in page(client.get(response.headers["Location"]))


def test_anonymous_canvas_launch_works_with_sub_alone(app, client, registered):
    response, claims = launch(client, registered, name=..., email=...)
    assert response.status_code == 303
    assert "Welcome, User " in page(client.get(response.headers["Location"]))


def test_home_without_launch_id_is_401(client, registered):
    response = client.get("/lti/home")
    assert response.status_code == 401
    assert "Open the tool again from your course" in page(response)
    assert client.get("/lti/home?launch_id=forged").status_code == 401


def test_audience_array_with_matching_azp_is_accepted(client, registered):
    response, _ = launch(client, registered, aud=["client-1", "other"], azp="client-1")
    assert response.status_code == 303


def test_small_clock_drift_is_tolerated(client, registered):
    now = int(time.time())
    response, _ = launch(client, registered, iat=now + 20, exp=now - 20 + 300)
    assert response.status_code == 303


def test_platform_key_rotation_refetches_jwks_once(client, registered):
    launch(client, registered)
    fetched = registered.jwks_requests
    assert fetched == 1
    launch(client, registered)
    assert registered.jwks_requests == 1  # cached
    registered.rotate("key-2")
    response, _ = launch(client, registered)
    assert response.status_code == 303
    assert registered.jwks_requests == 2


# -- every way a launch can be wrong -----------------------------------------------------


def test_rejections(app, client, registered):
    """Each bad launch: the status, the words, the logged reason, and no row written."""
    now = int(time.time())
    other_key = new_key()
    cases = [
        ("unknown_issuer", 400, "No LMS with issuer https://other.example.edu", dict(iss="https://other.example.edu")),
        ("wrong_aud", 400, "addressed to client id 'stranger'", dict(aud="stranger", azp=...)),
        ("unknown_deployment", 400, "deployment-add", {CLAIM + "deployment_id": "dep-x"}),
        ("bad_signature", 400, "signature does not match", dict(sign=lambda c: registered.sign(c, key=other_key))),
        ("unknown_kid", 400, "does not contain", dict(sign=lambda c: registered.sign(c, kid="ghost"))),
        ("expired", 400, "has expired", dict(iat=now - 1000, exp=now - 500)),
        ("iat_future", 400, "issued in the future", dict(iat=now + 600, exp=now + 900)),
        ("azp_mismatch", 400, "not one of its audiences", dict(azp="someone-else")),
        ("azp_mismatch", 400, "no azp", dict(aud=["client-1", "x"], azp=...)),
        ("wrong_message_type", 400, "LtiSubmissionReviewRequest", {CLAIM + "message_type": "LtiSubmissionReviewRequest"}),
        ("wrong_version", 400, "1.1", {CLAIM + "version": "1.1"}),
        ("missing_claim", 400, "resource_link", {CLAIM + "resource_link": ...}),
        ("missing_claim", 400, "'sub'", dict(sub=...)),
        ("missing_claim", 400, "roles", {CLAIM + "roles": "Learner"}),
        ("missing_claim", 400, "deployment_id", {CLAIM + "deployment_id": ...}),
        ("missing_claim", 400, "deep_link_return_url", {CLAIM + "message_type": "LtiDeepLinkingRequest"}),
        ("bad_signature", 400, "RS256", dict(sign=lambda c: registered.sign(c, key="s" * 64, algorithm="HS256"))),
    ]
    before = counts(app)
    for reason, status, words, overrides in cases:
        response, _ = launch(client, registered, **overrides)
        text = page(response)
        assert response.status_code == status, (reason, text)
        assert words in text, (reason, words, text)
        assert last_log(app).reason == reason, (reason, last_log(app).detail)
        assert counts(app) == before, reason


def test_a_returning_launch_updates_what_it_sends_and_keeps_what_it_leaves_out(app, client, registered):
    first, claims = launch(client, registered, sub="ada-1")
    assert first.status_code == 303, page(first)
    with app.app_context():
        user = db.session.scalar(select(User))
        user_id, first_seen, first_launch = user.id, user.created_at, user.last_launch_at
    again, _ = launch(
        client, registered, sub="ada-1", name="Ada King", email=..., **{CLAIM + "roles": [INSTRUCTOR]}
    )
    assert again.status_code == 303, page(again)
    assert counts(app) == {"User": 1, "Context": 1, "Enrollment": 1, "ResourceLink": 1}
    with app.app_context():
        user = db.session.scalar(select(User))
        # The same row: the name is the new one, the email (left out) the stored one.
        assert (user.id, user.name, user.email) == (user_id, "Ada King", "ada@example.edu")
        assert user.created_at == first_seen and user.last_launch_at >= first_launch
        enrollment = db.session.scalar(select(Enrollment))
        assert (enrollment.user_pk, enrollment.roles) == (user_id, ["instructor"])
        assert enrollment.lti_roles == [INSTRUCTOR]


def test_wrong_aud_against_the_login(app, client, registered):
    with app.app_context():
        registry.add_client(registry.get_platform(ISSUER), "client-2")
        registry.add_deployment(registry.find_client(ISSUER, "client-2"), registered.deployment_id)
        db.session.commit()
    response, _ = launch(client, registered, aud="client-2", azp="client-2")
    assert response.status_code == 400
    assert "this login was started for client id 'client-1'" in page(response)
    assert last_log(app).reason == "wrong_aud"
    assert counts(app)["User"] == 0


def test_token_for_an_unregistered_client_without_login(app, client, registered):
    token = registered.sign(registered.claims("n", target=TARGET, aud="stranger", azp=...))
    response = client.post("/lti/launch", data={"id_token": token, "state": "no-login"})
    assert response.status_code == 400
    assert "not with client id 'stranger'" in page(response)
    assert "platform client-add" in page(response)
    assert last_log(app).reason == "unknown_client"


def test_replayed_launch_is_refused(app, client, registered):
    state, nonce = start(client, registered)
    token = registered.sign(registered.claims(nonce, target=TARGET))
    assert client.post("/lti/launch", data={"id_token": token, "state": state}).status_code == 303
    users = counts(app)
    again = client.post("/lti/launch", data={"id_token": token, "state": state})
    assert again.status_code == 400
    assert "already used" in page(again)
    assert last_log(app).reason == "nonce_replayed"
    assert counts(app) == users


def test_state_must_match_this_browsers_login(app, client, registered):
    state, nonce = start(client, registered)
    token = registered.sign(registered.claims(nonce, target=TARGET))
    # Another browser (no state cookie) posts the same launch.
    stranger = app.test_client()
    response = stranger.post("/lti/launch", data={"id_token": token, "state": state})
    assert response.status_code == 400
    assert "did not send back the cookie" in page(response)
    assert last_log(app).reason == "state_mismatch"


def test_unknown_state_is_refused(app, client, registered):
    _, nonce = start(client, registered)
    token = registered.sign(registered.claims(nonce, target=TARGET))
    response = client.post("/lti/launch", data={"id_token": token, "state": "made-up"})
    assert response.status_code == 400
    assert "unknown or expired" in page(response)
    assert last_log(app).reason == "state_mismatch"


def test_nonce_must_be_the_one_sent_at_login(app, client, registered):
    state, _ = start(client, registered)
    token = registered.sign(registered.claims("another-nonce", target=TARGET))
    response = client.post("/lti/launch", data={"id_token": token, "state": state})
    assert response.status_code == 400
    assert "nonce does not match" in page(response)


def test_missing_state(app, client, registered):
    _, nonce = start(client, registered)
    token = registered.sign(registered.claims(nonce, target=TARGET))
    response = client.post("/lti/launch", data={"id_token": token})
    assert response.status_code == 400
    assert last_log(app).reason == "state_missing"


@pytest.mark.parametrize("token", ["", "not-a-jwt", "a.b.c", "e30.e30", "x" * 70000])
def test_malformed_tokens(app, client, registered, token):
    state, _ = start(client, registered)
    response = client.post("/lti/launch", data={"id_token": token, "state": state})
    assert response.status_code == 400
    assert last_log(app).reason == "malformed_jwt"
    assert counts(app)["User"] == 0


def test_unreachable_jwks(app, client, registered):
    registered.jwks_status = 503
    response, _ = launch(client, registered)
    assert response.status_code == 502
    assert "could not be fetched" in page(response) or "HTTP 503" in page(response)
    assert last_log(app).reason == "jwks_unreachable"


def test_unknown_kid_refetch_is_rate_limited(app, client, registered):
    launch(client, registered)
    assert registered.jwks_requests == 1
    for _ in range(5):
        response, _ = launch(client, registered, sign=lambda c: registered.sign(c, kid="ghost"))
        assert response.status_code == 400
    # One refetch for the first unknown kid; the flood that follows costs the platform nothing.
    assert registered.jwks_requests == 2


def test_platform_error_answer_is_shown(app, client, registered):
    response = client.post("/lti/launch", data={"error": "login_required", "error_description": "No session"})
    assert response.status_code == 400
    assert "login_required" in page(response)


def test_launch_leeway_is_a_setting(make_app, registered):
    app = make_app(LAUNCH_LEEWAY_SECONDS=0)
    client = app.test_client()
    now = int(time.time())
    response, _ = launch(client, registered, iat=now + 20, exp=now + 300)
    assert response.status_code == 400
    assert "LAUNCH_LEEWAY_SECONDS" in page(response)


def test_two_platforms_with_the_same_context_id_stay_apart(app, client, registered):
    other = ScriptedPlatform("https://other-lms.example.edu", client_id="client-1", deployment_id="deployment-1")
    with LiveServer(other.jwks_app()) as server:
        with app.app_context():
            registry.add_platform(
                registry.PlatformInput(
                    issuer=other.issuer,
                    client_id=other.client_id,
                    auth_url="https://other-lms.example.edu/auth",
                    token_url="https://other-lms.example.edu/token",
                    jwks_url=server.url + "/jwks",
                    deployment_ids=(other.deployment_id,),
                )
            )
            db.session.commit()
        launch(client, registered, sub="same-user")
        launch(client, other, sub="same-user")
    with app.app_context():
        contexts = db.session.scalars(select(Context)).all()
        users = db.session.scalars(select(User)).all()
        assert len(contexts) == 2 and len({c.platform_id for c in contexts}) == 2
        assert len(users) == 2 and len({u.platform_id for u in users}) == 2
        assert {c.context_id for c in contexts} == {"course-1"}
