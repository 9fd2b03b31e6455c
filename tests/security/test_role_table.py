"""The route table, walked: every route as every kind of caller, on both stacks.

The table is tests/security/route_roles.py; a route the app serves and the table does not name
fails `test_every_route_is_in_the_table`, so a new page cannot ship without saying who may use it.
"""

from __future__ import annotations

import pytest

from tests.security.route_roles import DEV_ROUTES, ROLES, ROUTES, declared
from tests.security.walk import Caller, check, redirect_problem

IGNORED_METHODS = {"HEAD", "OPTIONS"}


def served(app) -> set[tuple[str, str]]:
    return {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        for method in rule.methods or ()
        if method not in IGNORED_METHODS
    }


def test_every_route_is_in_the_table(make_app):
    # With the development LMS mounted too, so its routes are held to the table as well.
    app = make_app(DEV_PLATFORM=True)
    missing = served(app) - declared(ROUTES + DEV_ROUTES)
    assert not missing, f"routes with no line in tests/security/route_roles.py: {sorted(missing)}"
    stale = declared(ROUTES + DEV_ROUTES) - served(app)
    assert not stale, f"lines in the table for routes the app no longer has: {sorted(stale)}"


def test_the_table_names_each_route_once():
    keys = [(route.endpoint, route.method) for route in ROUTES + DEV_ROUTES]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_the_tables_answer_on_every_route(walk_app, world, role):
    caller = Caller(walk_app, role, world)
    wrong = []
    for route in sorted(ROUTES, key=lambda route: route.last):
        with caller.request(route) as response:
            problem = check(route, role, response) or redirect_problem(route, role, response, world)
        if problem:
            wrong.append(problem)
    assert not wrong, "\n".join(wrong)


def test_the_development_lms_answers_as_the_table_says(make_app):
    app = make_app(DEV_PLATFORM=True)
    client = app.test_client()
    wrong = []
    for route in DEV_ROUTES:
        with client.open(route.path, method=route.method) as response:
            if response.status_code != route.anonymous:
                wrong.append(f"{route.method} {route.path}: expected {route.anonymous}, got {response.status_code}")
    assert not wrong, "\n".join(wrong)
