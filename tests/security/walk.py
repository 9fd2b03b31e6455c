"""Requests for the route table: each caller sends what its browser would, with real ids filled in."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit

from tests.security.route_roles import NO_LAUNCH, TO_ADMIN_LOGIN, Route
from tests.security.world import World

ADMIN_EMAIL = "it-admin@example.edu"
ADMIN_PASSWORD = "correct horse battery staple"
TOOL = "http://localhost"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
NO_LAUNCH_TEXT = "Open the tool again from your course in the LMS."


class Caller:
    """One kind of caller with its own browser (cookie jar): a launched person, an admin, or nobody."""

    def __init__(self, app, role: str, world: World):
        self.app = app
        self.role = role
        self.world = world
        self.client = app.test_client()
        if role == "admin":
            token = self._page_token("/admin/login")
            response = self.client.post("/admin/login", data={"csrf_token": token, "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
            assert response.status_code == 303, response.get_data(as_text=True)
            self.session_token = self._page_token("/admin/")
        else:
            self.session_token = self._page_token("/admin/login")

    def _page_token(self, path: str) -> str:
        response = self.client.get(path)
        match = CSRF_FIELD.search(response.get_data(as_text=True))
        assert response.status_code == 200 and match, f"no CSRF token on {path}"
        return match.group(1)

    def values(self, world: World | None = None) -> dict[str, Any]:
        """What {placeholders} stand for: this caller's view of `world` (default: its own)."""
        world = world or self.world
        own = "notification_instructor" if self.role == "instructor" else "notification_learner"
        return {
            **world.ids,
            "issuer": world.issuer,
            "marker": world.marker,
            "client": world.client_pk,
            "login_hint": "teacher-1",
            "tool": TOOL,
            "own_notification": world.ids[own],
            "spare_question_field": f"q-{world.ids['spare_question']}",
        }

    def request(self, route: Route, world: World | None = None):
        values = self.values(world)
        fill = lambda text: text.format(**values)  # noqa: E731
        path, _, raw_query = fill(route.path).partition("?")
        data = {fill(name): fill(value) for name, value in route.data.items()}
        headers: dict[str, str] = {}
        query: dict[str, str] = dict(parse_qsl(raw_query))
        # Admin pages are the admin area's own forms, with its session token, whoever sends them.
        person = self.world.people.get(self.role) if route.auth != "admin" else None
        if person is not None:
            deep = route.launch == "deep_link"
            launch_id = person.deep_link_launch_id if deep else person.launch_id
            token = person.deep_link_token if deep else person.token
            if route.json is not None:
                headers.update({"X-Launch-Id": launch_id, "X-CSRF-Token": token})
            elif route.method == "GET":
                query["launch_id"] = launch_id
            else:
                data.update({"launch_id": launch_id, "csrf_token": token})
        elif route.method != "GET" and route.json is None:
            data["csrf_token"] = self.session_token
        elif route.json is not None:
            headers["X-CSRFToken"] = self.session_token
        if route.json is not None:
            headers["Accept"] = "application/json"
            return self.client.open(path, method=route.method, json=route.json, headers=headers, query_string=query)
        if route.endpoint == "metrics":
            headers["Authorization"] = "Bearer not-the-token"
        return self.client.open(path, method=route.method, data=data or None, headers=headers, query_string=query)


def check(route: Route, role: str, response) -> str | None:
    """None when the response is the answer the table gives `role`, else what went wrong."""
    expected = route.expected(role)
    status = response.status_code
    where = f"{route.method} {route.path} ({route.endpoint}) as {role}"
    if expected == TO_ADMIN_LOGIN:
        location = response.headers.get("Location", "")
        if status != 303 or not location.split("?")[0].endswith("/admin/login"):
            return f"{where}: expected a 303 to /admin/login, got {status} {location}"
        return None
    if status != expected:
        body = re.sub(r"<[^>]+>|\s+", " ", response.get_data(as_text=True))
        return f"{where}: expected {expected}, got {status}: {body[:300]}"
    if expected == NO_LAUNCH and route.auth == "launch" and route.json is None and NO_LAUNCH_TEXT not in response.get_data(as_text=True):
        return f"{where}: 401 without the 'open the tool from your LMS' explanation"
    return None


def redirect_problem(route: Route, role: str, response, world: World) -> str | None:
    """A redirect may lead to this tool or to the LMS's own sign-in page, nowhere else."""
    if not 300 <= response.status_code < 400:
        return None
    target = urlsplit(urljoin(TOOL + "/", response.headers.get("Location", "")))
    allowed = {urlsplit(TOOL).netloc, urlsplit(world.issuer).netloc}
    if target.netloc not in allowed or target.scheme not in ("http", "https"):
        return f"{route.method} {route.path} ({route.endpoint}) as {role}: redirects off-site to {response.headers.get('Location')}"
    return None
