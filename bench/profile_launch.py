"""Profile the hot paths in one process, and list the SQL statements of one launch and one page.

    .venv/bin/python -m bench.profile_launch [--launches 300] [--pages 300] [--html DIR] [--cpu]

The app runs in this process on the same PostgreSQL + Redis stack as the benchmarks (a throwaway
database and key prefix), driven through the Flask test client by the same platform (signed
id_tokens, the state cookie kept), under pyinstrument. The call trees it prints are where the
"what the profile shows" notes in BENCHMARKS.md come from.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path
from typing import Any

from pyinstrument import Profiler
from sqlalchemy import event

from bench import common


def learner_item_page(app, client, data: dict[str, Any]) -> str | None:
    """The page item of a published, placed course, as a learner reaches it from the LMS link."""
    from bench.pages_bench import COURSE_SETUP, TEACHER

    launch(client, data, TEACHER, roles=[common.INSTRUCTOR])
    context_id = data["claims_template"][common.CLAIM + "context"]["id"]
    import io
    import sys as _sys
    from contextlib import redirect_stdout

    out = io.StringIO()
    argv = _sys.argv
    _sys.argv = ["setup", context_id, TEACHER]
    try:
        with redirect_stdout(out):
            exec(
                compile(COURSE_SETUP.replace("app = create_app()", "app = _app"), "course_setup", "exec"),
                {"_app": app},
            )
    finally:
        _sys.argv = argv
    item = json.loads(out.getvalue().strip().splitlines()[-1])["item"]
    response = launch(client, data, "learner-item-reader", custom={"course_item": item}, raw=True)
    location = response.headers["Location"]
    return location[location.index("/courses/") :] if "/courses/view/item/" in location else None


def launch(
    client,
    data: dict[str, Any],
    user: str,
    *,
    roles=None,
    custom=None,
    raw: bool = False,
    cpu: dict | None = None,
):
    began = time.process_time()
    login = client.get(data["login_path"].replace("{user}", user))
    if cpu is not None:
        cpu["login"] = cpu.get("login", 0.0) + time.process_time() - began
    assert login.status_code == 302, login.status_code
    location = login.headers["Location"]
    state = common._query_value(location, "state")
    nonce = common._query_value(location, "nonce")
    claims = data["claims_template"].copy()
    now = int(time.time())
    claims.update(sub=user, nonce=nonce, iat=now, exp=now + 60)
    if roles:
        claims[common.CLAIM + "roles"] = roles
    if custom:
        claims[common.CLAIM + "custom"] = custom
    token = data["sign"](claims)  # the LMS's work: left out of the CPU figures
    began = time.process_time()
    response = client.post("/lti/launch", data={"id_token": token, "state": state})
    if cpu is not None:
        cpu["launch POST"] = cpu.get("launch POST", 0.0) + time.process_time() - began
    assert response.status_code == 303, (response.status_code, response.get_data(as_text=True)[:500])
    if raw:
        return response
    return response.headers["Location"].rpartition("launch_id=")[2].partition("&")[0]


class StatementLog:
    """Every SQL statement the app sends, while `on`."""

    def __init__(self, engine):
        self.statements: list[str] = []
        self.on = False
        event.listen(engine, "before_cursor_execute", self._record)

    def _record(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if self.on:
            self.statements.append(" ".join(statement.split()))

    def take(self) -> list[str]:
        taken, self.statements = self.statements, []
        return taken


def build_app(stack: common.ToolStack):
    from config.settings import Settings
    from lti_tool.app import create_app

    names = {f for f in Settings.__dataclass_fields__ if f != "extra"}
    return create_app({k: v for k, v in stack.env.items() if k in names})


def profile(title: str, fn, count: int, html: Path | None) -> None:
    profiler = Profiler(interval=0.0005)
    began = time.perf_counter()
    profiler.start()
    for i in range(count):
        fn(i)
    profiler.stop()
    elapsed = time.perf_counter() - began
    print(
        f"\n===== {title}: {count} in {elapsed:.2f} s = {elapsed / count * 1000:.2f} ms each (wall, one thread) ====="
    )
    print(profiler.output_text(unicode=False, color=False, show_all=False, timeline=False))
    if html:
        html.mkdir(parents=True, exist_ok=True)
        (html / f"{title.replace(' ', '_')}.html").write_text(profiler.output_html())


def cpu_per_request(
    client, data: dict[str, Any], pages: dict[str, str], launches: int, count: int
) -> None:
    """CPU milliseconds per request in this process (`time.process_time`), which a busy machine
    disturbs far less than rates: login and launch POST (the token signing left out), each page,
    and a bare Flask route through its own test client for scale. The database and Redis servers'
    CPU is not included; the client side of their protocols is."""
    from bench.bare_app import app as bare_app

    bare = bare_app.test_client()
    rows: dict[str, float] = {}
    spent: dict[str, float] = {}
    for i in range(min(launches, 50)):
        launch(client, data, f"learner-{random.randrange(2000)}")
    for i in range(launches):
        launch(client, data, f"learner-{random.randrange(2000)}", cpu=spent)
    rows.update({name: seconds / launches for name, seconds in spent.items()})
    for title, fn in [("bare route", lambda: bare.get("/"))] + [
        (title, lambda path=path: client.get(path)) for title, path in pages.items()
    ]:
        for _ in range(min(count, 50)):
            fn()
        began = time.process_time()
        for _ in range(count):
            fn()
        rows[title] = (time.process_time() - began) / count
    print(f"\nCPU per request in one process ({count} each, after warming up):")
    for title, seconds in rows.items():
        print(f"  {title:<14} {seconds * 1000:7.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--launches", type=int, default=300)
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--html", type=Path, help="also write pyinstrument HTML reports here")
    parser.add_argument(
        "--cpu", action="store_true", help="print CPU milliseconds per request instead of the call trees"
    )
    args = parser.parse_args()

    with common.tool_stack(common.ROOT / "bench" / "out", serve=False) as stack:
        app = build_app(stack)
        data = common.platform_data(stack)
        client = app.test_client()
        with app.app_context():
            from lti_tool.db import db

            statements = StatementLog(db.engine)
        for i in range(20):  # warm: first-launch inserts, key set fetched, caches filled
            launch(client, data, f"learner-{i}")

        statements.on = True
        launch(client, data, "learner-1")
        print("SQL statements of one launch (returning learner):")
        for line in statements.take():
            print("  ", line[:220])
        launch_id = launch(client, data, "learner-new")
        print("SQL statements of one launch (first launch of a learner):")
        for line in statements.take():
            print("  ", line[:220])
        pages = {"home page": f"/lti/home?launch_id={launch_id}"}
        if "courses" in app.blueprints:
            item_page = learner_item_page(app, client, data)
            if item_page:
                pages["item page"] = item_page
        for title, path in pages.items():
            assert client.get(path).status_code == 200, path
            statements.take()
            assert client.get(path).status_code == 200, path
            print(f"SQL statements of the {title} ({path.split('?')[0]}), seen again:")
            for line in statements.take():
                print("  ", line[:220])
        statements.on = False

        if args.cpu:
            cpu_per_request(client, data, pages, args.launches, args.pages)
            with app.app_context():
                db.engine.dispose()
            return
        profile(
            "launch",
            lambda i: launch(client, data, f"learner-{random.randrange(2000)}"),
            args.launches,
            args.html,
        )
        profile("jwks", lambda i: client.get("/.well-known/jwks.json"), args.pages, args.html)
        for title, path in pages.items():
            profile(title, lambda i, path=path: client.get(path), args.pages, args.html)
        with app.app_context():
            db.engine.dispose()


if __name__ == "__main__":
    main()
