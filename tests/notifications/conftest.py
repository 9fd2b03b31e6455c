"""Notifications fixtures: a campus of people recorded through real launches, courses, and a real
SMTP server (aiosmtpd) that can be told to accept, refuse for now, refuse for good, or go silent."""

from __future__ import annotations

import secrets
import socket
import threading
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from courses import models as cm
from grades.models import Attempt, Membership
from lti_tool import identity, jobs, registry
from lti_tool.db import db
from lti_tool.launch import CONTEXT, DEPLOYMENT_ID, MESSAGE_TYPE, RESOURCE_LINK, RESOURCE_LINK_REQUEST, ROLES, ValidatedLaunch
from lti_tool.models import PlatformClient

MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
ROLE_URIS = {"instructor": MEMBERSHIP + "Instructor", "learner": MEMBERSHIP + "Learner"}


@dataclass
class Person:
    launch_id: str
    user_pk: int
    platform_id: int
    context_pk: int | None
    email: str | None


class Campus:
    """Platforms registered on demand; people recorded through `identity.record_launch`."""

    def __init__(self, app):
        self.app = app
        self.clients: dict[str, int] = {}

    def _client(self, issuer: str) -> PlatformClient:
        if issuer not in self.clients:
            platform = registry.add_platform(
                registry.PlatformInput(
                    issuer=issuer,
                    client_id="tool",
                    auth_url=f"{issuer}/auth",
                    token_url=f"{issuer}/token",
                    jwks_url=f"{issuer}/jwks",
                    deployment_ids=("1",),
                    name="Example LMS",
                )
            )
            db.session.commit()
            self.clients[issuer] = platform.clients[0].id
        return db.session.get(PlatformClient, self.clients[issuer])

    def launch(
        self,
        sub: str,
        role: str = "learner",
        *,
        context: str | None = "course-1",
        email: str | None = "",
        issuer: str = "https://lms.example.edu",
    ) -> Person:
        with self.app.app_context():
            client = self._client(issuer)
            deployment = client.deployments[0]
            address = f"{sub}@example.edu" if email == "" else email
            claims: dict[str, Any] = {
                "iss": issuer,
                "aud": client.client_id,
                "sub": sub,
                "name": sub.title(),
                MESSAGE_TYPE: RESOURCE_LINK_REQUEST,
                DEPLOYMENT_ID: deployment.deployment_id,
                ROLES: [ROLE_URIS[role]],
            }
            if address:
                claims["email"] = address
            if context:
                claims[CONTEXT] = {"id": context, "title": context.replace("-", " ").title()}
                claims[RESOURCE_LINK] = {"id": "link-1", "title": "A link"}
            record = identity.record_launch(ValidatedLaunch(claims, client, deployment, RESOURCE_LINK_REQUEST))
            return Person(
                launch_id=record.launch_id,
                user_pk=record.user.id,
                platform_id=client.platform_id,
                context_pk=record.context.id if record.context else None,
                email=address or None,
            )

    def course(self, owner: Person, *, placed_in: list[int], published: bool = True) -> cm.Course:
        with self.app.app_context():
            course = cm.Course(
                public_id=secrets.token_urlsafe(12),
                platform_id=owner.platform_id,
                owner_pk=owner.user_pk,
                title="Statistics 101",
                published=published,
            )
            db.session.add(course)
            db.session.flush()
            module = cm.Module(
                public_id=secrets.token_urlsafe(12), platform_id=owner.platform_id, course_pk=course.id, title="Week 1", published=True
            )
            db.session.add(module)
            for context_pk in placed_in:
                db.session.add(cm.CoursePlacement(platform_id=owner.platform_id, course_pk=course.id, context_pk=context_pk))
            db.session.commit()
            db.session.refresh(course)
            db.session.expunge(course)
            return course

    def item(
        self,
        course: cm.Course,
        *,
        kind: str = cm.QUIZ,
        title: str = "Quiz 1",
        due_at: datetime | None = None,
        published: bool = True,
    ) -> int:
        with self.app.app_context():
            module = db.session.query(cm.Module).filter_by(course_pk=course.id).first()
            item = cm.Item(
                public_id=secrets.token_urlsafe(12),
                platform_id=course.platform_id,
                course_pk=course.id,
                module_pk=module.id,
                kind=kind,
                title=title,
                body_html="<p>Read this first.</p>",
                due_at=due_at,
                published=published,
            )
            db.session.add(item)
            db.session.commit()
            return item.id

    def attempt(self, person: Person, item_id: int) -> None:
        with self.app.app_context():
            db.session.add(
                Attempt(
                    platform_id=person.platform_id,
                    context_pk=person.context_pk,
                    user_pk=person.user_pk,
                    item_id=item_id,
                    number=1,
                    score=1,
                    max_score=1,
                )
            )
            db.session.commit()

    def roster(self, platform_id: int, context_pk: int, user_pk: int, role: str = "learner", status: str = "active") -> None:
        with self.app.app_context():
            db.session.add(
                Membership(
                    platform_id=platform_id, context_pk=context_pk, user_pk=user_pk, roles=[role], lti_roles=[], status=status
                )
            )
            db.session.commit()


@pytest.fixture
def campus(app) -> Campus:
    with app.app_context():
        if app.extensions.get("lti_redis") is not None:
            jobs.purge()
    yield Campus(app)
    with app.app_context():
        if app.extensions.get("lti_redis") is not None:
            jobs.purge()


# -- a real SMTP server --------------------------------------------------------------------------------


@dataclass
class MailHandler:
    """Accepts mail, or answers what `mode` says: "ok", "busy" (451), "reject" (550)."""

    mode: str = "ok"
    received: list[Message] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.mode == "reject":
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.mode == "busy":
            return "451 4.3.0 Mailbox temporarily unavailable, try again later"
        self.received.append(message_from_bytes(envelope.content))
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class MailServer:
    handler: MailHandler
    port: int
    settings: dict[str, Any]
    logins: list[tuple[str, str]]


@pytest.fixture
def smtp():
    handler = MailHandler()
    logins: list[tuple[str, str]] = []

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == b"tool" and auth_data.password == b"s3cret"
        if ok:
            logins.append((auth_data.login.decode(), mechanism))
        return AuthResult(success=ok)

    port = free_port()
    controller = Controller(
        handler, hostname="127.0.0.1", port=port, authenticator=authenticate, auth_require_tls=False
    )
    controller.start()
    try:
        yield MailServer(
            handler,
            port,
            {
                "SMTP_HOST": "127.0.0.1",
                "SMTP_PORT": port,
                "SMTP_STARTTLS": False,
                "SMTP_USERNAME": "tool",
                "SMTP_PASSWORD": "s3cret",
                "SMTP_FROM": "Course Studio <no-reply@tool.example.edu>",
                "SMTP_TIMEOUT_SECONDS": 2,
            },
            logins,
        )
    finally:
        controller.stop()


@pytest.fixture
def silent_smtp():
    """A server that accepts connections and never says a word: every client times out."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
                held.append(connection)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield {
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": listener.getsockname()[1],
            "SMTP_STARTTLS": False,
            "SMTP_FROM": "no-reply@tool.example.edu",
            "SMTP_TIMEOUT_SECONDS": 1,
        }
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        listener.close()
