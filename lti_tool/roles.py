"""LTI role URIs mapped to the three roles this tool knows: learner, instructor, admin.

Context roles (membership) say what someone is in this LMS course; institution and system roles
say what they are in the institution. Platforms send full URIs, and some older ones send short
names ("Instructor"); both are understood.
"""

from __future__ import annotations

from typing import Iterable

LEARNER = "learner"
INSTRUCTOR = "instructor"
ADMIN = "admin"
ALL_ROLES = (LEARNER, INSTRUCTOR, ADMIN)

MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
INSTITUTION = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#"
SYSTEM = "http://purl.imsglobal.org/vocab/lis/v2/system/person#"
MEMBERSHIP_SUB = "http://purl.imsglobal.org/vocab/lis/v2/membership/"

# Context role name -> our role. A teaching assistant or content developer builds and grades.
CONTEXT_ROLES = {
    "Learner": LEARNER,
    "Student": LEARNER,
    "Member": LEARNER,
    "Mentor": LEARNER,
    "Instructor": INSTRUCTOR,
    "TeachingAssistant": INSTRUCTOR,
    "ContentDeveloper": INSTRUCTOR,
    "Administrator": INSTRUCTOR,
    "Manager": INSTRUCTOR,
}
# Institution or system role names that make someone an administrator of the tool.
ADMIN_ROLES = {"Administrator", "SysAdmin", "AccountAdmin"}


def _split(uri: str) -> tuple[str, str]:
    """(vocabulary, name) of a role URI; short names are context roles."""
    if uri.startswith(MEMBERSHIP):
        return "context", uri[len(MEMBERSHIP) :]
    if uri.startswith(MEMBERSHIP_SUB):
        # Sub-roles: .../membership/Instructor#TeachingAssistant -> the principal role counts.
        principal, _, _ = uri[len(MEMBERSHIP_SUB) :].partition("#")
        return "context", principal
    if uri.startswith(INSTITUTION):
        return "institution", uri[len(INSTITUTION) :]
    if uri.startswith(SYSTEM):
        return "system", uri[len(SYSTEM) :]
    if "://" not in uri and "#" not in uri:
        return "context", uri
    return "other", uri


def map_roles(lti_roles: Iterable[str]) -> list[str]:
    """Our roles for a list of LTI role URIs, in a stable order."""
    ours: set[str] = set()
    for uri in lti_roles:
        if not isinstance(uri, str):
            continue
        vocabulary, name = _split(uri.strip())
        if vocabulary == "context" and name in CONTEXT_ROLES:
            ours.add(CONTEXT_ROLES[name])
        elif vocabulary in ("institution", "system") and name in ADMIN_ROLES:
            ours.add(ADMIN)
    if ADMIN in ours:
        # An LMS administrator may set the tool up in any course they reach.
        ours.add(INSTRUCTOR)
    if not ours:
        # No recognised role (a guest, an observer, an unknown vocabulary): least privilege.
        ours.add(LEARNER)
    return [role for role in ALL_ROLES if role in ours]
