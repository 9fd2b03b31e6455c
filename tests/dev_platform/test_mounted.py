"""The development LMS mounted inside a tool app: URLs from the request, self-registration.

The app here is a bare Flask app with the tool's database and registry and a few stub tool routes,
so these tests do not depend on the tool's own launch endpoints.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Iterator
from urllib.parse import parse_qsl, urlencode, urlsplit

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, jsonify, redirect, request
from sqlalchemy import func, select

from lti_tool import i18n
from lti_tool.db import db
from lti_tool.dev_platform import views as dev_views
from lti_tool.models import Deployment, Platform
from lti_tool.registry import find_client
from tests.support.browser import LtiBrowser
from tests.support.live_server import LiveServer

CANVAS_DEPLOYMENT = "42:8865aa05b4b79b64a91a86042e43af5ea8ae79eb"
TOOL_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def add_stub_tool_routes(app: Flask) -> None:
    @app.get("/.well-known/jwks.json")
    def jwks():
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(TOOL_KEY.public_key()))
        return jsonify(keys=[{**jwk, "kid": "tool-1", "alg": "RS256", "use": "sig"}])

    @app.route("/lti/login", methods=["GET", "POST"])
    def login():
        v = request.values
        params = {
            "scope": "openid",
            "response_type": "id_token",
            "response_mode": "form_post",
            "prompt": "none",
            "client_id": v["client_id"],
            "redirect_uri": request.host_url + "lti/launch",
            "login_hint": v["login_hint"],
            "lti_message_hint": v["lti_message_hint"],
            "nonce": uuid.uuid4().hex,
            "state": uuid.uuid4().hex,
        }
        return redirect(v["iss"] + "/auth?" + urlencode(params))

    @app.post("/lti/launch")
    def launch():
        return jsonify(request.form.to_dict())


@pytest.fixture
def tool_app(tmp_path) -> Iterator[Flask]:
    app = Flask("mounted_tool", instance_path=str(tmp_path / "instance"))
    app.config.update(
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'tool.sqlite3'}",
        SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"check_same_thread": False, "timeout": 30}},
    )
    db.init_app(app)
    # The registry's refusals are translatable messages: a host app brings the translations too.
    i18n.init_app(app)
    with app.app_context():
        db.create_all()
    app.register_blueprint(dev_views.bp, url_prefix="/dev/lms")
    add_stub_tool_routes(app)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_visiting_the_course_page_registers_the_platform_once(tool_app: Flask) -> None:
    client = tool_app.test_client()
    assert client.get("/dev/lms/").status_code == 200
    assert client.get("/dev/lms/").status_code == 200
    with tool_app.app_context():
        assert count(Platform) == 1
        registered = find_client("http://localhost/dev/lms", "dev-client")
        assert registered is not None
        assert registered.platform.name == "Development LMS"
        assert registered.platform.auth_url == "http://localhost/dev/lms/auth"
        assert registered.platform.token_url == "http://localhost/dev/lms/token"
        assert registered.platform.jwks_url == "http://localhost/dev/lms/jwks"
        assert sorted(d.deployment_id for d in registered.deployments) == sorted(["1", CANVAS_DEPLOYMENT])
        # A deployment that went missing is added back on the next visit.
        db.session.delete(next(d for d in registered.deployments if d.deployment_id == CANVAS_DEPLOYMENT))
        db.session.commit()
    client.get("/dev/lms/")
    with tool_app.app_context():
        assert count(Deployment) == 2
        assert count(Platform) == 1


def test_mounted_launch_uses_the_request_host(tool_app: Flask) -> None:
    response = tool_app.test_client().get("/dev/lms/launch?person=tom&profile=canvas")
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert (location.scheme, location.netloc, location.path) == ("http", "localhost", "/lti/login")
    params = dict(parse_qsl(location.query))
    assert params["iss"] == "http://localhost/dev/lms"
    assert params["target_link_uri"] == "http://localhost/lti/launch"
    with tool_app.app_context():
        assert find_client("http://localhost/dev/lms", "dev-client") is not None
    # The platform key lives in the tool's instance folder.
    assert (Path(tool_app.instance_path) / "dev-platform" / "platform-key.pem").is_file()


def test_a_host_the_registry_refuses_is_explained(tool_app: Flask) -> None:
    client = tool_app.test_client()
    page = client.get("/dev/lms/", base_url="http://lms.example.com")
    assert page.status_code == 200
    assert "Registration problem" in page.text and "https" in page.text
    refused = client.get("/dev/lms/launch?person=ada", base_url="http://lms.example.com")
    assert refused.status_code == 400
    assert "refused to register" in refused.text


def test_whole_launch_and_token_request_on_one_threaded_server(tool_app: Flask) -> None:
    with LiveServer(tool_app) as server:
        browser = LtiBrowser()
        final = browser.get(server.url + "/dev/lms/launch", params={"person": "ada", "profile": "moodle"})
        assert final.status_code == 200 and final.url == server.url + "/lti/launch"
        platform_jwks = requests.get(server.url + "/dev/lms/jwks", timeout=5).json()
        claims = jwt.decode(
            final.json()["id_token"],
            jwt.PyJWK(platform_jwks["keys"][0]).key,
            algorithms=["RS256"],
            audience="dev-client",
            issuer=server.url + "/dev/lms",
        )
        assert claims["sub"] == "3"

        # The platform fetches the tool's key set from the very server that is waiting on it.
        pem = TOOL_KEY.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        now = int(time.time())
        assertion = jwt.encode(
            {
                "iss": "dev-client",
                "sub": "dev-client",
                "aud": server.url + "/dev/lms/token",
                "iat": now,
                "exp": now + 300,
                "jti": uuid.uuid4().hex,
            },
            pem,
            algorithm="RS256",
            headers={"kid": "tool-1"},
        )
        token = requests.post(
            server.url + "/dev/lms/token",
            data={
                "grant_type": "client_credentials",
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": assertion,
                "scope": "https://purl.imsglobal.org/spec/lti-ags/scope/score",
            },
            timeout=5,
        )
        assert token.status_code == 200, token.text
        assert token.json()["scope"] == "https://purl.imsglobal.org/spec/lti-ags/scope/score"
