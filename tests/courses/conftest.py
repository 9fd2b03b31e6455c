"""Courses fixtures: registered platforms and launches recorded the way a real launch records them.

`lms.launch(...)` stores the people and places of a launch through `identity.record_launch` (the
id_token checks are tested elsewhere) and returns the launch id that pages carry.
"""

from __future__ import annotations

import html
import re
import struct
from dataclasses import dataclass, field
from typing import Any

import pytest

from lti_tool import identity, registry
from lti_tool.db import db
from lti_tool.launch import (
    CONTEXT,
    DEEP_LINKING_REQUEST,
    DEEP_LINKING_SETTINGS,
    DEPLOYMENT_ID,
    MESSAGE_TYPE,
    RESOURCE_LINK,
    RESOURCE_LINK_REQUEST,
    ROLES,
    ValidatedLaunch,
)

MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
ROLE_URIS = {"instructor": MEMBERSHIP + "Instructor", "learner": MEMBERSHIP + "Learner"}
CUSTOM = "https://purl.imsglobal.org/spec/lti/claim/custom"


@dataclass
class Launch:
    launch_id: str
    platform_id: int
    user_pk: int
    context_pk: int | None
    resource_link_pk: int | None
    client_pk: int
    role: str
    claims: dict[str, Any] = field(default_factory=dict)

    @property
    def q(self) -> str:
        return f"launch_id={self.launch_id}"


class FakeLms:
    """Registers platforms on demand and records launches from them."""

    def __init__(self, app):
        self.app = app
        self._clients: dict[str, int] = {}

    def _client(self, issuer: str):
        from lti_tool.models import PlatformClient

        if issuer not in self._clients:
            platform = registry.add_platform(
                registry.PlatformInput(
                    issuer=issuer,
                    client_id="tool-client",
                    auth_url=f"{issuer}/auth",
                    token_url=f"{issuer}/token",
                    jwks_url=f"{issuer}/jwks",
                    deployment_ids=("1",),
                )
            )
            db.session.commit()
            self._clients[issuer] = platform.clients[0].id
        return db.session.get(PlatformClient, self._clients[issuer])

    def launch(
        self,
        *,
        issuer: str = "https://lms.example.edu",
        sub: str = "teacher-1",
        role: str = "instructor",
        context: str | None = "course-1",
        link: str | None = "link-1",
        custom: dict[str, str] | None = None,
        deep_linking: dict[str, Any] | None = None,
        name: str | None = None,
        locale: str | None = None,
    ) -> Launch:
        with self.app.app_context():
            client = self._client(issuer)
            deployment = client.deployments[0]
            message_type = DEEP_LINKING_REQUEST if deep_linking is not None else RESOURCE_LINK_REQUEST
            claims: dict[str, Any] = {
                "iss": issuer,
                "aud": client.client_id,
                "sub": sub,
                "name": name or sub.title(),
                MESSAGE_TYPE: message_type,
                DEPLOYMENT_ID: deployment.deployment_id,
                ROLES: [ROLE_URIS[role]],
            }
            if context:
                claims[CONTEXT] = {"id": context, "title": context.replace("-", " ").title(), "label": context.upper()}
            if message_type == RESOURCE_LINK_REQUEST and link and context:
                claims[RESOURCE_LINK] = {"id": link, "title": "A link"}
            if custom:
                claims[CUSTOM] = custom
            if locale is not None:
                claims["locale"] = locale
            if deep_linking is not None:
                claims[DEEP_LINKING_SETTINGS] = deep_linking
            record = identity.record_launch(ValidatedLaunch(claims, client, deployment, message_type))
            return Launch(
                launch_id=record.launch_id,
                platform_id=client.platform_id,
                user_pk=record.user.id,
                context_pk=record.context.id if record.context else None,
                resource_link_pk=record.resource_link.id if record.resource_link else None,
                client_pk=client.id,
                role=role,
                claims=claims,
            )


def dl_settings(**overrides: Any) -> dict[str, Any]:
    settings = {
        "deep_link_return_url": "https://lms.example.edu/deep-link-return?course=42&x=1",
        "accept_types": ["ltiResourceLink"],
        "accept_presentation_document_targets": ["iframe", "window"],
        "accept_multiple": True,
        "accept_lineitem": True,
        "data": "opaque-platform-data",
    }
    settings.update(overrides)
    return {k: v for k, v in settings.items() if v is not ...}


@pytest.fixture
def lms(app) -> FakeLms:
    return FakeLms(app)


@pytest.fixture
def media_app(make_app, tmp_path):
    """An app whose local media directory is this test's own, with a small upload limit."""
    return make_app(MEDIA_DIR=str(tmp_path / "media"), MEDIA_MAX_UPLOAD_BYTES=64 * 1024)


# --- small, real files ----------------------------------------------------------------------------


def tiny_pdf() -> bytes:
    """A valid one-page PDF with a correct cross-reference table."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R >>",
    ]
    stream = b"BT /F1 12 Tf 20 100 Td (Hello) Tj ET"
    objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def tiny_mp4(payload: int = 2048) -> bytes:
    """An ISO media file: an ftyp box (isom, mp41) and an mdat box of `payload` bytes."""
    ftyp = struct.pack(">I4s4sI4s4s", 24, b"ftyp", b"isom", 0x200, b"isom", b"mp41")
    mdat = struct.pack(">I4s", 8 + payload, b"mdat") + bytes(payload)
    return ftyp + mdat


def tiny_vtt() -> bytes:
    return b"WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nHello\n"


def tiny_png() -> bytes:
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def field_error(page: str, name: str) -> str | None:
    match = re.search(rf'id="e-{re.escape(name)}">(.*?)</p>', page, re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", match.group(1))).replace("⚠", "").strip() if match else None


def form(**fields: Any) -> dict[str, list[str]]:
    """Form values as views hand them to the service: every field a list."""
    return {name.replace("_dash_", "-"): value if isinstance(value, list) else [str(value)] for name, value in fields.items()}


def actor(launch: Launch, target=None):
    from courses.service import Actor, target_from_custom

    return Actor(
        platform_id=launch.platform_id,
        user_pk=launch.user_pk,
        context_pk=launch.context_pk,
        instructor=launch.role == "instructor",
        resource_link_pk=launch.resource_link_pk,
        target=target if target is not None else target_from_custom(launch.claims.get(CUSTOM)),
    )


class Page:
    """A test client acting within one launch: every request carries its launch id and CSRF token."""

    def __init__(self, app, launch: Launch):
        from lti_tool.csrf import launch_token

        self.app = app
        self.launch = launch
        self.client = app.test_client(use_cookies=False)
        with app.test_request_context():
            self.token = launch_token(launch.launch_id)

    def get(self, path: str, **params: Any):
        return self.client.get(path, query_string={"launch_id": self.launch.launch_id, **params})

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any):
        body = {"launch_id": self.launch.launch_id, "csrf_token": self.token, **(data or {})}
        return self.client.post(path, data=body, **kwargs)

    def post_json(self, path: str, payload: Any, *, token: str | None = None):
        return self.client.post(
            path,
            json=payload,
            headers={"X-Launch-Id": self.launch.launch_id, "X-CSRF-Token": token or self.token, "Accept": "application/json"},
        )
