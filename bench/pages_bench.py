"""The learner's page after a launch, against the bare Flask rate, with the same generator.

Each client launches once as its own learner (through the real login and launch), then opens its
page again and again, as a learner reading an item does. The page is the learner's view of a
published page item (`/courses/view/item/<id>`, reached through the LMS link's custom parameter)
when the courses package is installed, else the tool's launch home page (`/lti/home`); the results
say which.

Run alone: .venv/bin/python -m bench.pages_bench
"""

from __future__ import annotations

import json
import time
from typing import Any

from bench import common
from bench.launch_bench import measure_bare

# Run inside the tool's environment (a fresh interpreter), as the teacher of the benchmark course:
# one published course, module and page item, placed in the LMS course the learners launch from.
COURSE_SETUP = r"""
import json, sys
from sqlalchemy import select
from lti_tool.app import create_app
from lti_tool.db import db
from lti_tool.models import Context, User
from courses import service

context_id, teacher_sub = sys.argv[1], sys.argv[2]
app = create_app()
with app.app_context():
    context = db.session.scalar(select(Context).where(Context.context_id == context_id))
    teacher = db.session.scalar(select(User).where(User.sub == teacher_sub))
    actor = service.Actor(platform_id=context.platform_id, user_pk=teacher.id, context_pk=context.id, instructor=True)
    course = service.create_course(actor, {"title": ["Astronomy for everyone"], "description": ["Benchmark course"]})
    module = service.create_module(actor, course, {"title": ["Week 1: the night sky"]})
    body = "".join(
        f"<h2>Part {n}</h2><p>Stars are suns far away. Their light left them long ago; "
        f"what we see tonight is their past. <strong>Look up</strong> and find the Pole Star.</p>"
        for n in range(1, 9)
    )
    item = service.save_item(actor, kind="page", form={"title": ["What is a star?"], "body": [body]}, module=module)
    service.set_item_published(actor, item, True)
    service.set_module_published(actor, module, True)
    service.set_course_published(actor, course, True)
    service._record_placement(actor, course)
    db.session.commit()
    print(json.dumps({"course": course.public_id, "module": module.public_id, "item": item.public_id}))
"""

TEACHER = "bench-teacher"


def courses_installed(stack: common.ToolStack) -> bool:
    out = stack.python("from lti_tool.app import create_app; print('courses' in create_app().blueprints)")
    return out.strip().endswith("True")


def create_course_content(stack: common.ToolStack) -> dict[str, str]:
    """A published page item in the benchmark's LMS course (the teacher launches first, as in life)."""
    client = common.Client(stack.tool.port, 0, {})
    try:
        common.launch_once(client, common.platform_data(stack), TEACHER, roles=[common.INSTRUCTOR])
    finally:
        client.conn.close()
    template = common.platform_data(stack)["claims_template"]
    context_id = template[common.CLAIM + "context"]["id"]
    return json.loads(stack.python(COURSE_SETUP, context_id, TEACHER).strip().splitlines()[-1])


def page_scenario(context: dict[str, Any]) -> common.Scenario:
    data = context["platform"]
    custom = context.get("custom")

    def setup(client: common.Client) -> None:
        launch_id, _, _ = common.launch_once(client, data, f"reader-{client.index}", custom=custom)
        if context["page"] == "item":
            landed = client.state["landed_on"]
            if "/courses/view/item/" not in landed:
                raise RuntimeError(f"the launch landed on {landed}, not on the item")
            client.state["path"] = landed[landed.index("/courses/") :]
        else:
            client.state["path"] = f"/lti/home?launch_id={launch_id}"

    def step(client: common.Client) -> list[tuple[str, float]]:
        path = client.state["path"]
        began = time.perf_counter()
        response = client.request("GET", path)
        elapsed = time.perf_counter() - began
        if response.status != 200:
            raise RuntimeError(f"GET {path.split('?')[0]}: HTTP {response.status}")
        return [("request", elapsed)]

    return setup, step


def run(
    stack: common.ToolStack, bare: dict[int, dict[str, Any]], concurrency=common.CONCURRENCY
) -> dict[str, Any]:
    context: dict[str, Any] = {"platform": common.platform_data(stack)}
    if courses_installed(stack):
        content = create_course_content(stack)
        context.update(page="item", custom={"course_item": content["item"]})
        page = "/courses/view/item/<id> (learner view of a published page item)"
    else:
        context["page"] = "home"
        page = "/lti/home (the launch's home page; the courses package is not installed)"
    common.log(f"page measured: {page}")
    figures = {}
    for clients in concurrency:
        result = common.run_load(
            stack.tool, ("bench.pages_bench", "page_scenario"), context, clients, setup_seconds=6
        )
        data = result.as_dict()
        data["ratio_to_bare"] = round(result.rate / bare[clients]["rate_per_s"], 3)
        common.log(
            f"page, {clients} clients: {result.rate:.0f} requests/s = {data['ratio_to_bare']} of bare; "
            f"p50 {result.latency.get('request', {}).get('p50_ms')} ms, p99 {result.latency.get('request', {}).get('p99_ms')} ms; "
            f"{result.errors} errors{'; ' + result.first_error if result.first_error else ''}"
        )
        figures[clients] = data
    return {"figures": figures, "page": page, "target": "requests/s >= 0.35 of bare"}


def main() -> None:
    with common.tool_stack(common.ROOT / "bench" / "out") as stack:
        bare = measure_bare(stack)
        result = run(stack, bare)
    print(json.dumps({"bare": bare, "pages": result}, indent=2))


if __name__ == "__main__":
    started = time.monotonic()
    main()
    common.log(f"done in {time.monotonic() - started:.0f} s")
