"""One LMS's worth of real objects for the security walks: every id a route takes exists.

`build_world(app, issuer, marker)` registers a platform and records launches the way a real launch
records them (`identity.record_launch`; the id_token checks are tested in tests/lti_tool), then
builds through the services: a published course placed in the LMS course, a module, a page, an
image with its file, a quiz with questions and a learner's graded attempt, notifications for both
people, and spare objects that the delete routes may remove. Titles and ids are the same on every
platform; `marker` sits only in the content (descriptions, bodies, prompts, names, notification
texts), so a page that shows it to another platform's user has read that platform's data.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

from courses import models as cm
from courses import service as courses
from courses.storage import get_storage
from lti_tool import identity, registry
from lti_tool.csrf import launch_token
from lti_tool.db import db
from lti_tool.launch import (
    CLAIM,
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
from notifications import service as notifications

MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
ROLE_URIS = {"instructor": MEMBERSHIP + "Instructor", "learner": MEMBERSHIP + "Learner"}
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
CONTEXT_ID = "course-1"
SUBS = {"instructor": "teacher-1", "learner": "learner-1"}


def _form(**fields: Any) -> dict[str, list[str]]:
    return {name.replace("_dash_", "-"): value if isinstance(value, list) else [str(value)] for name, value in fields.items()}


def tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b"")


def tiny_mp4(payload: int = 2048) -> bytes:
    ftyp = struct.pack(">I4s4sI4s4s", 24, b"ftyp", b"isom", 0x200, b"isom", b"mp41")
    return ftyp + struct.pack(">I4s", 8 + payload, b"mdat") + bytes(payload)


@dataclass
class Person:
    role: str
    launch_id: str
    deep_link_launch_id: str
    user_pk: int
    token: str
    deep_link_token: str


@dataclass
class World:
    issuer: str
    marker: str
    platform_id: int
    client_pk: int
    context_pk: int
    people: dict[str, Person] = field(default_factory=dict)
    # The values route paths are filled with: {course}, {module}, {quiz}, {question}, ...
    ids: dict[str, Any] = field(default_factory=dict)

    def person(self, role: str) -> Person:
        return self.people[role]


def _launch(app, client, role: str, *, marker: str, custom: dict[str, str] | None, deep_linking: bool) -> tuple[str, int]:
    deployment = client.deployments[0]
    issuer = client.platform.issuer
    message_type = DEEP_LINKING_REQUEST if deep_linking else RESOURCE_LINK_REQUEST
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": client.client_id,
        "sub": SUBS[role],
        # The same person's name on every platform, with the platform's marker in it.
        "name": f"{role.title()} {marker}",
        "email": f"{role}@example.edu",
        MESSAGE_TYPE: message_type,
        DEPLOYMENT_ID: deployment.deployment_id,
        ROLES: [ROLE_URIS[role]],
        CONTEXT: {"id": CONTEXT_ID, "title": "Astronomy", "label": "ASTRO101"},
        AGS_CLAIM: {
            "scope": [
                "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
                "https://purl.imsglobal.org/spec/lti-ags/scope/score",
            ],
            "lineitems": f"{issuer}/ags/course-1/lineitems",
        },
        NRPS_CLAIM: {"context_memberships_url": f"{issuer}/nrps/course-1/memberships", "service_versions": ["2.0"]},
    }
    if deep_linking:
        claims[DEEP_LINKING_SETTINGS] = {
            "deep_link_return_url": f"{issuer}/deep-link-return",
            "accept_types": ["ltiResourceLink"],
            "accept_presentation_document_targets": ["iframe", "window"],
            "accept_multiple": True,
        }
    else:
        claims[RESOURCE_LINK] = {"id": "link-1", "title": "Week 1"}
        if custom:
            claims[CLAIM + "custom"] = custom
    record = identity.record_launch(ValidatedLaunch(claims, client, deployment, message_type))
    return record.launch_id, record.user.id


def build_world(app, issuer: str, marker: str) -> World:
    """Everything the route table's paths name, on one platform; see the module docstring."""
    from lti_tool.models import PlatformClient, User

    with app.app_context(), app.test_request_context():
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
        client_pk = platform.clients[0].id
        client = db.session.get(PlatformClient, client_pk)
        # The teacher's launch comes first: the learner's LMS link names the course they build.
        teacher_launch, teacher_pk = _launch(app, client, "instructor", marker=marker, custom=None, deep_linking=False)
        teacher = identity.load_launch(teacher_launch)
        actor = courses.Actor(
            platform_id=teacher.platform_id,
            user_pk=teacher_pk,
            context_pk=teacher.context_pk,
            instructor=True,
            resource_link_pk=teacher.resource_link_pk,
        )
        course = courses.create_course(actor, _form(title="Astronomy", description=f"Stars {marker}"))
        module = courses.create_module(actor, course, _form(title="Week 1"))
        page = courses.save_item(actor, kind="page", form=_form(title="Intro", body=f"<p>Look up {marker}</p>"), module=module)
        image = courses.save_item(
            actor,
            kind="image",
            form=_form(title="Sky", alt_text=f"The sky {marker}"),
            uploads={"file": courses.Upload(io.BytesIO(tiny_png()), "sky.png")},
            module=module,
        )
        video = courses.save_item(
            actor,
            kind="video",
            form=_form(title="Orbit"),
            uploads={"file": courses.Upload(io.BytesIO(tiny_mp4()), "orbit.mp4")},
            module=module,
        )
        quiz = courses.save_item(actor, kind="quiz", form=_form(title="Quiz 1", body=f"<p>Quiz {marker}</p>"), module=module)
        question = courses.save_question(
            actor, quiz, _form(kind="single", prompt=f"Closest star {marker}?", choice_dash_1="Sun", choice_dash_2="Sirius", correct="1", feedback=f"Sun {marker}")
        )
        spare_question = courses.save_question(actor, quiz, _form(kind="numeric", prompt="Planets?", numeric_answer="8"))
        spare_item = courses.save_item(actor, kind="page", form=_form(title="Spare", body="<p>Spare</p>"), module=module)
        spare_module = courses.create_module(actor, course, _form(title="Spare week"))
        spare_course = courses.create_course(actor, _form(title="Spare course"))
        for row in (course, module, page, image, video, quiz):
            row.published = True
        db.session.add(cm.CoursePlacement(platform_id=platform.id, course_pk=course.id, context_pk=teacher.context_pk))
        db.session.commit()
        ids = {
            "course": course.public_id,
            "module": module.public_id,
            "page": page.public_id,
            "image": image.public_id,
            "quiz": quiz.public_id,
            "video": video.public_id,
            "question": question.id,
            "spare_question": spare_question.id,
            "spare_item": spare_item.public_id,
            "spare_module": spare_module.public_id,
            "spare_course": spare_course.public_id,
            "quiz_field": courses.field_name(question),
            "media_token": get_storage()
            .learner_url(image.media_key, content_type=image.media_content_type, filename=image.media_filename)
            .rsplit("/", 1)[-1],
        }
        learner_launch, learner_pk = _launch(
            app, client, "learner", marker=marker, custom={"course_outline": course.public_id}, deep_linking=False
        )
        learner = identity.load_launch(learner_launch)
        # A graded attempt: the gradebook, "my grades" and analytics have a score to show.
        learner_actor = courses.Actor(
            platform_id=learner.platform_id,
            user_pk=learner_pk,
            context_pk=learner.context_pk,
            instructor=False,
            resource_link_pk=learner.resource_link_pk,
            target=courses.target_from_custom({"course_outline": course.public_id}),
        )
        quiz_row, viewing = courses.item_for_viewing(learner_actor, quiz.public_id)
        answers = {ids["quiz_field"]: "c1", courses.field_name(spare_question): "8"}
        courses.submit_quiz(learner_actor, quiz_row, viewing, {name: [value] for name, value in answers.items()})
        for user_pk in (teacher_pk, learner_pk):
            note = notifications.notify(
                platform_id=platform.id,
                user_pk=user_pk,
                kind=sorted(notifications.KINDS)[0],
                title=f"New in Astronomy {marker}",
                body=f"Something new {marker}",
                dedupe_key=f"walk-{user_pk}",
                context_pk=teacher.context_pk,
                link=f"/courses/view/course/{course.public_id}",
            )
            db.session.flush()
            ids[f"notification_{'instructor' if user_pk == teacher_pk else 'learner'}"] = note.id
        db.session.commit()
        world = World(issuer, marker, platform.id, client_pk, teacher.context_pk, ids=ids)
        for role, (launch_id, user_pk) in {"instructor": (teacher_launch, teacher_pk), "learner": (learner_launch, learner_pk)}.items():
            deep_link_id, _ = _launch(app, client, role, marker=marker, custom=None, deep_linking=True)
            world.people[role] = Person(
                role, launch_id, deep_link_id, user_pk, launch_token(launch_id), launch_token(deep_link_id)
            )
        ids["context"] = world.context_pk
        ids["platform"] = world.platform_id
        ids["deployment"] = db.session.get(PlatformClient, client_pk).deployments[0].id
        ids["learner_user"] = learner_pk
        # Someone who left the university: the privacy routes erase them, nobody else.
        leaver = User(platform_id=platform.id, sub="leaver-1", name=f"Leaver {marker}", email="leaver@example.edu")
        db.session.add(leaver)
        db.session.commit()
        ids["leaver"] = leaver.id
        return world
