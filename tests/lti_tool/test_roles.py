import pytest

from lti_tool.roles import map_roles

M = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
I = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#"
S = "http://purl.imsglobal.org/vocab/lis/v2/system/person#"


@pytest.mark.parametrize(
    "lti_roles, expected",
    [
        ([M + "Learner"], ["learner"]),
        ([M + "Instructor"], ["instructor"]),
        (["http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"], ["instructor"]),
        ([M + "ContentDeveloper"], ["instructor"]),
        # Moodle sends a site admin's institution and system roles beside the context role.
        ([I + "Administrator", M + "Instructor", S + "Administrator"], ["instructor", "admin"]),
        ([I + "Administrator"], ["instructor", "admin"]),
        # Canvas sends institution Student next to the context Learner.
        ([I + "Student", M + "Learner"], ["learner"]),
        # Short names from older platforms.
        (["Instructor"], ["instructor"]),
        (["Learner"], ["learner"]),
        # Nothing recognised: least privilege.
        ([], ["learner"]),
        (["http://example.com/roles#Wizard"], ["learner"]),
        ([I + "Instructor"], ["learner"]),  # an institution instructor is not this course's teacher
        ([M + "Learner", M + "Instructor"], ["learner", "instructor"]),
    ],
)
def test_map_roles(lti_roles, expected):
    assert map_roles(lti_roles) == expected


def test_map_roles_ignores_non_strings():
    assert map_roles([None, 3, M + "Instructor"]) == ["instructor"]
