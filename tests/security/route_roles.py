"""Who may use each route: every rule of the app's URL map, with the answer each kind of caller gets.

The callers:

* learner, instructor: someone the LMS launched into the tool with that role. Their requests carry
  the launch id (query string, form field or X-Launch-Id header) and the launch-bound CSRF token.
* admin: someone signed in to the admin area (/admin) with an account of this tool. An admin has
  no launch: the LMS pages refuse them like anyone without one.
* anonymous: no launch, no admin session.

The answers, strictly:

* 200, 302, 303: allowed (a 303 is the page's normal "done, go there" after a form).
* NO_LAUNCH (401): the page that says the session with the tool has ended or the page was opened
  outside the LMS, and to open the tool again from the LMS course.
* FORBIDDEN (403): a launch, but a role (or, for course content, a link) that does not give access.
* TO_ADMIN_LOGIN: a 303 to /admin/login, the admin area's answer to anyone not signed in to it.
* Other 4xx codes are the route's documented refusal of the request the walk sends to every
  caller alike (a public LTI endpoint given no valid login state, for example); `why` says which.

Paths name real objects through {placeholders} that `tests.security.world.build_world` fills:
{course}, {module}, {quiz}, {question}... POST bodies are what the page's own form sends.

Course content is addressed by random 128-bit public ids. Opening another LMS's content by its
public id answers 403 "belongs to another LMS" on purpose: a teacher who copied an LMS course
between institutions learns why the link does not open, and the id cannot be guessed. Numeric ids
can be counted, so they tell nothing: another platform's notification answers 404 like a missing
one, and analytics answers every context but the launch's own with the same 403, existing or not.
`OTHER_PLATFORM_IDS` below lists the answer for every route that takes an id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

NO_LAUNCH = 401
FORBIDDEN = 403
TO_ADMIN_LOGIN = "to admin login"
ROLES = ("learner", "instructor", "admin", "anonymous")


@dataclass(frozen=True)
class Route:
    endpoint: str
    method: str
    path: str
    learner: int | str
    instructor: int | str
    admin: int | str
    anonymous: int | str
    # How the route knows its caller: "launch" (launch id + launch CSRF token), "admin" (the admin
    # session cookie + session CSRF token) or "public" (nothing; CSRF-exempt where it takes posts).
    auth: str = "launch"
    data: dict[str, Any] = field(default_factory=dict)
    json: Any = None
    # "deep_link": the launch is a deep-linking request (the content picker answers only those).
    launch: str = "link"
    # Walked after the other routes: 1 for deletions, 2 for signing out of the admin area.
    last: int = 0
    why: str = ""

    def expected(self, role: str) -> int | str:
        return getattr(self, role)

    def allows(self, role: str) -> bool:
        answer = self.expected(role)
        return answer == TO_ADMIN_LOGIN and role == "admin" or isinstance(answer, int) and answer < 400


def public(endpoint: str, method: str, path: str, status: int = 200, **extra: Any) -> Route:
    return Route(endpoint, method, path, status, status, status, status, auth="public", **extra)


def teachers(endpoint: str, method: str, path: str, status: int = 200, **extra: Any) -> Route:
    """Instructors of the launch's LMS course; learners are refused, people without a launch too."""
    return Route(endpoint, method, path, FORBIDDEN, status, NO_LAUNCH, NO_LAUNCH, **extra)


def launched(endpoint: str, method: str, path: str, learner: int = 200, instructor: int = 200, **extra: Any) -> Route:
    """Anyone the LMS launched, whatever their role; the page may still refuse a role."""
    return Route(endpoint, method, path, learner, instructor, NO_LAUNCH, NO_LAUNCH, **extra)


def admins(endpoint: str, method: str, path: str, status: int = 200, **extra: Any) -> Route:
    return Route(endpoint, method, path, TO_ADMIN_LOGIN, TO_ADMIN_LOGIN, status, TO_ADMIN_LOGIN, auth="admin", **extra)


ISSUER_PARAMS = "iss={issuer}&login_hint={login_hint}&target_link_uri={tool}/lti/launch&client_id=tool-client"

ROUTES: list[Route] = [
    # --- LTI endpoints: the LMS's browser calls them; they are public by nature ----------------------
    public("lti.login", "GET", "/lti/login?" + ISSUER_PARAMS, 302, why="a login from a registered LMS goes on to its sign-in page"),
    public("lti.login", "POST", "/lti/login", 302, data={"iss": "{issuer}", "login_hint": "{login_hint}", "target_link_uri": "{tool}/lti/launch", "client_id": "tool-client"}),
    public("lti.launch", "POST", "/lti/launch", 400, data={"state": "no-such-state", "id_token": "x.y.z"},
           why="a launch without the state its login set is refused; valid launches are tested in tests/lti_tool"),
    public("lti.confirm_launch", "POST", "/lti/launch/confirm", 400, data={"pending_id": "unknown", "state": "x"},
           why="only a launch held for a storage check can be confirmed"),
    public("lti.relaunch", "GET", "/lti/relaunch?ticket=unknown", 400, why="a relaunch needs a ticket a refused launch handed out"),
    launched("lti.home", "GET", "/lti/home"),
    public("lti.config_json", "GET", "/lti/config.json"),
    public("lti.healthz", "GET", "/healthz"),
    public("lti.readyz", "GET", "/readyz"),
    public("lti.static", "GET", "/static/lti/logo.svg"),
    public("static", "GET", "/static/logo.svg"),
    public("keys.jwks", "GET", "/.well-known/jwks.json"),
    public("metrics", "GET", "/metrics", 401, why="only the scraper that sends METRICS_TOKEN (the walk's app sets one)"),
    # Registration: the LMS's admin opens these with the LMS's single-use registration token.
    public("lti_registration.register_start", "GET", "/lti/register", 400, why="without the LMS's openid_configuration it explains what is missing"),
    public("lti_registration.register_finish", "POST", "/lti/register", 400, why="without the LMS's openid_configuration and token nothing is registered"),
    public("lti_registration.canvas_json", "GET", "/lti/config/canvas.json"),
    # --- admin area -----------------------------------------------------------------------------
    Route("admin.login", "GET", "/admin/login", 200, 200, 302, 200, auth="admin", why="the sign-in page; a signed-in admin is sent on to the area"),
    Route("admin.login", "POST", "/admin/login", 401, 401, 401, 401, auth="admin", data={"email": "it-admin@example.edu", "password": "not the password"},
          why="the walk signs in with a wrong password: refused for everyone (rate limited per address and account)"),
    admins("admin.index", "GET", "/admin/"),
    admins("admin.audit_log", "GET", "/admin/audit"),
    admins("admin.keys", "GET", "/admin/keys"),
    admins("admin.keys_rotate", "POST", "/admin/keys/rotate", 303, data={"confirm": "yes"}),
    admins("admin.privacy.index", "GET", "/admin/privacy/"),
    admins("admin.privacy.user", "GET", "/admin/privacy/users/{learner_user}"),
    admins("admin.privacy.export", "POST", "/admin/privacy/users/{learner_user}/export"),
    admins("admin.privacy.erase", "POST", "/admin/privacy/users/{leaver}/erase", 303,
           data={"confirm": "leaver-1", "reason": "Left the university"}, last=1),
    admins("admin.platform", "GET", "/admin/platforms/{platform}"),
    admins("admin.platform_edit", "GET", "/admin/platforms/{platform}/edit"),
    admins("admin.platform_edit", "POST", "/admin/platforms/{platform}/edit", 303,
           data={"name": "Renamed LMS", "issuer": "{issuer}", "auth_url": "{issuer}/auth", "token_url": "{issuer}/token", "jwks_url": "{issuer}/jwks"}),
    admins("admin.platform_status", "POST", "/admin/platforms/{platform}/status", 303, data={"action": "enable"}),
    admins("admin.client_add", "POST", "/admin/platforms/{platform}/clients", 303, data={"client_id": "second-client", "deployment_ids": "7"}),
    admins("admin.deployment_add", "POST", "/admin/platforms/{platform}/deployments", 303, data={"client_pk": "{client}", "deployment_id": "2"}),
    admins("admin.deployment_status", "POST", "/admin/platforms/{platform}/deployments/{deployment}/status", 303, data={"action": "enable"}),
    admins("admin.platform_new", "GET", "/admin/platforms/new"),
    admins("admin.platform_new", "POST", "/admin/platforms/new", 303,
           data={"preset": "moodle", "site_url": "https://moodle.example.org", "client_id": "abc", "deployment_ids": "1"}),
    admins("admin.setup", "GET", "/admin/setup"),
    admins("admin.logout", "POST", "/admin/logout", 303, last=2),
    # --- courses: teachers build, learners open what their LMS link names ---------------------------
    teachers("courses.index", "GET", "/courses/"),
    teachers("courses.create_course", "POST", "/courses/", 303, data={"title": "New course"}),
    teachers("courses.edit_course", "GET", "/courses/c/{course}"),
    teachers("courses.update_course", "POST", "/courses/c/{course}", 303, data={"title": "Astronomy", "description": "Stars {marker}"}),
    teachers("courses.publish_course", "POST", "/courses/c/{course}/publish", 303, data={"published": "1"}),
    teachers("courses.delete_course", "GET", "/courses/c/{spare_course}/delete"),
    teachers("courses.delete_course", "POST", "/courses/c/{spare_course}/delete", 303, last=1),
    teachers("courses.create_module", "POST", "/courses/c/{course}/modules", 303, data={"title": "Week 2"}),
    teachers("courses.update_module", "POST", "/courses/m/{module}", 303, data={"title": "Week 1"}),
    teachers("courses.publish_module", "POST", "/courses/m/{module}/publish", 303, data={"published": "1"}),
    teachers("courses.move_module", "POST", "/courses/m/{module}/move", 303, data={"direction": "down"}),
    teachers("courses.delete_module", "GET", "/courses/m/{spare_module}/delete"),
    teachers("courses.delete_module", "POST", "/courses/m/{spare_module}/delete", 303, last=1),
    teachers("courses.new_item", "GET", "/courses/m/{module}/items/new?kind=page"),
    teachers("courses.create_item", "POST", "/courses/m/{module}/items", 303, data={"kind": "page", "title": "More", "body": "<p>More</p>"}),
    teachers("courses.edit_item", "GET", "/courses/i/{page}"),
    teachers("courses.update_item", "POST", "/courses/i/{page}", 303, data={"title": "Intro", "body": "<p>Look up {marker}</p>"}),
    teachers("courses.publish_item", "POST", "/courses/i/{page}/publish", 303, data={"published": "1"}),
    teachers("courses.move_item", "POST", "/courses/i/{page}/move", 303, data={"direction": "down"}),
    teachers("courses.delete_item", "GET", "/courses/i/{spare_item}/delete"),
    teachers("courses.delete_item", "POST", "/courses/i/{spare_item}/delete", 303, last=1),
    teachers("courses.new_question", "GET", "/courses/i/{quiz}/questions/new?kind=single"),
    teachers("courses.create_question", "POST", "/courses/i/{quiz}/questions", 303,
             data={"kind": "numeric", "prompt": "Moons of Mars?", "numeric_answer": "2"}),
    teachers("courses.edit_question", "GET", "/courses/i/{quiz}/questions/{question}"),
    teachers("courses.update_question", "POST", "/courses/i/{quiz}/questions/{question}", 303,
             data={"kind": "single", "prompt": "Closest star {marker}?", "choice-1": "Sun", "choice-2": "Sirius", "correct": "1"}),
    teachers("courses.move_question", "POST", "/courses/i/{quiz}/questions/{question}/move", 303, data={"direction": "down"}),
    teachers("courses.delete_question", "POST", "/courses/i/{quiz}/questions/{spare_question}/delete", 303, last=1),
    teachers("courses.deep_link", "GET", "/courses/deep-link", launch="deep_link"),
    teachers("courses.deep_link_answer", "POST", "/courses/deep-link", data={"pick": "course:{course}"}, launch="deep_link",
             why="the answer is a page that posts the signed response back to the LMS"),
    # The learner's LMS link names the course outline; teachers see a preview of their own course.
    launched("courses.view_course", "GET", "/courses/view/course/{course}"),
    launched("courses.view_module", "GET", "/courses/view/module/{module}"),
    launched("courses.view_item", "GET", "/courses/view/item/{quiz}"),
    launched("courses.submit_quiz", "POST", "/courses/view/item/{quiz}/attempts", 303, FORBIDDEN,
             data={"{quiz_field}": "c1", "{spare_question_field}": "8"},
             why="teachers see a preview: their answers are refused, not recorded"),
    launched("courses.media_progress", "POST", "/courses/view/item/{video}/progress", 200, FORBIDDEN,
             json={"position": 1, "duration": 10}, why="previews do not record progress"),
    # The signed link is the permission (one file, minutes long): anyone holding it gets the file.
    public("courses.media", "GET", "/courses/media/{media_token}"),
    public("courses.static", "GET", "/courses/static/page.js"),
    # --- grades ---------------------------------------------------------------------------------
    teachers("grades.gradebook", "GET", "/grades/"),
    teachers("grades.export_csv", "GET", "/grades/export.csv"),
    teachers("grades.retry_failed", "POST", "/grades/retry-failed", 303),
    teachers("grades.resend_all", "POST", "/grades/resend-all", 303),
    teachers("grades.sync_roster", "POST", "/grades/roster/sync", 303),
    launched("grades.mine", "GET", "/grades/mine"),
    # --- notifications: each person's own ----------------------------------------------------------
    launched("notifications.index", "GET", "/notifications/"),
    launched("notifications.unread", "GET", "/notifications/unread.json"),
    Route("notifications.mark_read", "POST", "/notifications/{own_notification}/read", 303, 303, NO_LAUNCH, NO_LAUNCH,
          why="the caller's own notification; someone else's answers 404"),
    launched("notifications.mark_all_read", "POST", "/notifications/read-all", 303, 303),
    launched("notifications.preferences", "GET", "/notifications/preferences"),
    launched("notifications.preferences", "POST", "/notifications/preferences", why="no box ticked: no emails; the saved page shows again"),
    public("notifications.static", "GET", "/notifications/static/notifications/bell.js"),
    # --- analytics ------------------------------------------------------------------------------
    launched("analytics.index", "GET", "/analytics/", 303, 303, why="sends each role on to its own page"),
    teachers("analytics.dashboard", "GET", "/analytics/contexts/{context}"),
    teachers("analytics.export_csv", "GET", "/analytics/contexts/{context}/export/learners.csv"),
    teachers("analytics.export_xapi", "GET", "/analytics/contexts/{context}/xapi.json"),
    launched("analytics.my_progress", "GET", "/analytics/me"),
]

# The development LMS (DEV_PLATFORM=1, never in production) is a stand-in for a real LMS: its pages
# are public, as a login-free demo LMS would be. The walk sends each a bare request: 401 where the
# LMS service wants the tool's access token, 400 where a parameter or the CSRF token is missing.
DEV_ROUTES: list[Route] = [
    public("dev_platform.course", "GET", "/dev/lms/", 200),
    public("dev_platform.line_items", "GET", "/dev/lms/ags/course-1/lineitems", 401),
    public("dev_platform.line_items", "POST", "/dev/lms/ags/course-1/lineitems", 400),
    public("dev_platform.line_item", "GET", "/dev/lms/ags/course-1/lineitems/1/lineitem", 401),
    public("dev_platform.line_item", "PUT", "/dev/lms/ags/course-1/lineitems/1/lineitem", 400),
    public("dev_platform.line_item", "DELETE", "/dev/lms/ags/course-1/lineitems/1/lineitem", 400),
    public("dev_platform.results", "GET", "/dev/lms/ags/course-1/lineitems/1/lineitem/results", 401),
    public("dev_platform.scores", "POST", "/dev/lms/ags/course-1/lineitems/1/lineitem/scores", 400),
    public("dev_platform.memberships", "GET", "/dev/lms/nrps/default/course-1/memberships", 401),
    public("dev_platform.auth", "GET", "/dev/lms/auth", 400),
    public("dev_platform.auth", "POST", "/dev/lms/auth", 400),
    public("dev_platform.deep_link", "GET", "/dev/lms/deep-link", 400),
    public("dev_platform.deep_link", "POST", "/dev/lms/deep-link", 400),
    public("dev_platform.deep_link_return", "POST", "/dev/lms/deep-link-return", 400),
    public("dev_platform.platform_jwks", "GET", "/dev/lms/jwks", 200),
    public("dev_platform.launch", "GET", "/dev/lms/launch", 400),
    public("dev_platform.launch", "POST", "/dev/lms/launch", 400),
    public("dev_platform.platform_openid_configuration", "GET", "/dev/lms/openid-configuration", 401),
    public("dev_platform.register_tool", "GET", "/dev/lms/register-tool", 200),
    public("dev_platform.registration_forget", "POST", "/dev/lms/registration/forget", 400),
    public("dev_platform.registrations", "POST", "/dev/lms/registrations", 400),
    public("dev_platform.storage_frame", "GET", "/dev/lms/storage-frame", 200),
    public("dev_platform.token", "POST", "/dev/lms/token", 400),
]


def declared(routes: list[Route]) -> set[tuple[str, str]]:
    return {(route.endpoint, route.method) for route in routes}


# The answer a launch from one LMS gets for another LMS's objects, for every route whose path names
# an object (the isolation walk checks it), when the route is open to the caller's role at all
# (otherwise the role's refusal comes first). Public ids of course content: 403, see the top of this
# file. Analytics refuses every context but the launch's own with the same 403, whether the number
# exists or not, so it tells nothing. Notification numbers: 404, like a number that does not exist.
# The media link is left out: it is a signed, expiring permission for one file, whoever holds it.
OTHER_PLATFORM_IDS: dict[str, int] = {
    **{
        endpoint: FORBIDDEN
        for endpoint in (
            "courses.edit_course", "courses.update_course", "courses.publish_course", "courses.delete_course",
            "courses.create_module", "courses.update_module", "courses.publish_module", "courses.move_module",
            "courses.delete_module", "courses.new_item", "courses.create_item", "courses.edit_item",
            "courses.update_item", "courses.publish_item", "courses.move_item", "courses.delete_item",
            "courses.new_question", "courses.create_question", "courses.edit_question", "courses.update_question",
            "courses.move_question", "courses.delete_question", "courses.view_course", "courses.view_module",
            "courses.view_item", "courses.submit_quiz", "courses.media_progress",
            "analytics.dashboard", "analytics.export_csv", "analytics.export_xapi",
        )
    },
    "notifications.mark_read": 404,
    # The picker shows again: "not one of the courses you can place" (nothing is signed or sent).
    "courses.deep_link_answer": 400,
}
CAPABILITY_URLS = {"courses.media"}
