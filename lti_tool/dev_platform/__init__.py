"""The development LMS: an LTI 1.3 platform for trying and testing the tool without a real LMS.

Built on the independent `lti1p3platform` library, so launches exercise the tool the way another
vendor's platform would. Mounted at /dev/lms in development; never in production.
"""

from lti_tool.dev_platform.platform import (
    COURSE,
    DEFAULT_LINK,
    PEOPLE,
    PROFILES,
    DevPlatformError,
    PlatformConfig,
    find_person,
    find_profile,
    login_hint_of,
    placed_links,
    register_in_tool,
    subject_of,
    tool_registration,
)
from lti_tool.dev_platform.views import URL_PREFIX, create_platform_app

__all__ = [
    "COURSE",
    "DEFAULT_LINK",
    "PEOPLE",
    "PROFILES",
    "DevPlatformError",
    "PlatformConfig",
    "URL_PREFIX",
    "create_platform_app",
    "find_person",
    "find_profile",
    "login_hint_of",
    "placed_links",
    "register_in_tool",
    "subject_of",
    "tool_registration",
]
