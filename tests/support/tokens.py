"""A scriptable LMS for launch tests: its own RSA key, a JWKS it can serve, id_tokens it mints.

Independent of the tool's code on purpose (it signs with PyJWT and cryptography only), so a bug in
the tool's validation cannot hide behind the same bug in the test's token maker.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, jsonify

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "alg": "RS256", "use": "sig"}


class ScriptedPlatform:
    def __init__(self, issuer: str, client_id: str = "client-1", deployment_id: str = "deployment-1"):
        self.issuer = issuer
        self.client_id = client_id
        self.deployment_id = deployment_id
        self.keys: dict[str, rsa.RSAPrivateKey] = {"key-1": new_key()}
        self.current_kid = "key-1"
        self.jwks_requests = 0
        self.jwks_status = 200

    # -- the platform's key set, served over HTTP by `jwks_app` --------------------------------
    def jwks(self) -> dict[str, Any]:
        return {"keys": [public_jwk(key, kid) for kid, key in self.keys.items()]}

    def rotate(self, kid: str) -> None:
        """The platform publishes a new key and signs with it from now on."""
        self.keys[kid] = new_key()
        self.current_kid = kid

    def jwks_app(self) -> Flask:
        app = Flask("scripted_platform")

        @app.get("/jwks")
        def jwks():
            self.jwks_requests += 1
            if self.jwks_status != 200:
                return "unavailable", self.jwks_status
            return jsonify(self.jwks())

        return app

    def public_pem(self) -> str:
        return (
            self.keys[self.current_kid]
            .public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    # -- tokens ----------------------------------------------------------------------------
    def claims(self, nonce: str, *, target: str = "http://localhost/lti/launch", **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.client_id,
            "azp": self.client_id,
            "sub": "user-" + uuid.uuid4().hex[:8],
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            "name": "Ada Lovelace",
            "email": "ada@example.edu",
            CLAIM + "message_type": "LtiResourceLinkRequest",
            CLAIM + "version": "1.3.0",
            CLAIM + "deployment_id": self.deployment_id,
            CLAIM + "target_link_uri": target,
            CLAIM + "roles": [LEARNER],
            CLAIM + "resource_link": {"id": "link-1", "title": "Week 1"},
            CLAIM + "context": {"id": "course-1", "title": "Astronomy", "label": "ASTRO101"},
        }
        for name, value in overrides.items():
            if value is ...:
                claims.pop(name, None)
            else:
                claims[name] = value
        return claims

    def sign(self, claims: dict[str, Any], *, kid: str | None = None, key=None, headers: dict | None = None, algorithm: str = "RS256") -> str:
        kid = kid or self.current_kid
        signing_key = key if key is not None else self.keys.get(kid, self.keys[self.current_kid])
        return jwt.encode(claims, signing_key, algorithm=algorithm, headers={"kid": kid, **(headers or {})})
