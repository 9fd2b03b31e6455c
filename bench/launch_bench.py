"""Full LTI launches per second (login redirect + signed launch POST, PostgreSQL and Redis) against
the bare Flask rate, with the same generator, at each concurrency.

Run alone: .venv/bin/python -m bench.launch_bench
"""

from __future__ import annotations

import random
import time
from typing import Any

from bench import common

# Distinct learners of one course: the first launch of each inserts a user and an enrollment, the
# later ones update them, as in a class that launches at nine o'clock.
LEARNERS = 2000


def launch_scenario(context: dict[str, Any]) -> common.Scenario:
    data = context["platform"]

    def step(client: common.Client) -> list[tuple[str, float]]:
        user = f"learner-{random.randrange(LEARNERS)}"
        _, login_time, launch_time = common.launch_once(client, data, user)
        return [("launch", login_time + launch_time), ("login", login_time), ("launch_post", launch_time)]

    return None, step


def bare_scenario(context: dict[str, Any]) -> common.Scenario:
    return common.get_scenario({"path": "/"})


def measure_bare(stack: common.ToolStack, concurrency=common.CONCURRENCY) -> dict[int, dict[str, Any]]:
    results = {}
    for clients in concurrency:
        result = common.run_load(stack.bare, ("bench.launch_bench", "bare_scenario"), {}, clients)
        common.log(
            f"bare Flask, {clients} clients: {result.rate:.0f} requests/s, "
            f"p50 {result.latency['request']['p50_ms']} ms, p99 {result.latency['request']['p99_ms']} ms"
        )
        results[clients] = result.as_dict()
    return results


def run(
    stack: common.ToolStack, bare: dict[int, dict[str, Any]], concurrency=common.CONCURRENCY
) -> dict[str, Any]:
    context = {"platform": common.platform_data(stack)}
    jwks_before = stack.platform.jwks_requests
    figures = {}
    for clients in concurrency:
        result = common.run_load(stack.tool, ("bench.launch_bench", "launch_scenario"), context, clients)
        data = result.as_dict()
        data["ratio_to_bare"] = round(result.rate / bare[clients]["rate_per_s"], 3)
        common.log(
            f"launch, {clients} clients: {result.rate:.0f} launches/s = {data['ratio_to_bare']} of bare; "
            f"p50 {result.latency.get('launch', {}).get('p50_ms')} ms, p99 {result.latency.get('launch', {}).get('p99_ms')} ms; "
            f"{result.errors} errors; generator {result.generator_cpu_s:.1f} CPU s, server {result.server_cpu_s:.1f} CPU s"
        )
        figures[clients] = data
    return {
        "figures": figures,
        "platform_jwks_fetches": stack.platform.jwks_requests - jwks_before,
        "target": "launches/s >= 0.25 of bare requests/s; p99 < 100 ms at 32 clients",
    }


def main() -> None:
    with common.tool_stack(common.ROOT / "bench" / "out") as stack:
        bare = measure_bare(stack)
        result = run(stack, bare)
    print(common.json.dumps({"bare": bare, "launch": result}, indent=2))


if __name__ == "__main__":
    started = time.monotonic()
    main()
    common.log(f"done in {time.monotonic() - started:.0f} s")
