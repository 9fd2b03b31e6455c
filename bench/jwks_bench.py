"""The tool's public key set (`/.well-known/jwks.json`), which every LMS fetches, against the bare
Flask rate, with the same generator, at each concurrency.

Run alone: .venv/bin/python -m bench.jwks_bench
"""

from __future__ import annotations

import time
from typing import Any

from bench import common
from bench.launch_bench import measure_bare

PATH = "/.well-known/jwks.json"


def jwks_scenario(context: dict[str, Any]) -> common.Scenario:
    return common.get_scenario({"path": PATH})


def run(
    stack: common.ToolStack, bare: dict[int, dict[str, Any]], concurrency=common.CONCURRENCY
) -> dict[str, Any]:
    figures = {}
    for clients in concurrency:
        result = common.run_load(stack.tool, ("bench.jwks_bench", "jwks_scenario"), {}, clients)
        data = result.as_dict()
        data["ratio_to_bare"] = round(result.rate / bare[clients]["rate_per_s"], 3)
        common.log(
            f"JWKS, {clients} clients: {result.rate:.0f} requests/s = {data['ratio_to_bare']} of bare; "
            f"p50 {result.latency['request']['p50_ms']} ms, p99 {result.latency['request']['p99_ms']} ms; {result.errors} errors"
        )
        figures[clients] = data
    return {"figures": figures, "path": PATH, "target": "requests/s >= 0.8 of bare"}


def main() -> None:
    with common.tool_stack(common.ROOT / "bench" / "out") as stack:
        bare = measure_bare(stack)
        result = run(stack, bare)
    print(common.json.dumps({"bare": bare, "jwks": result}, indent=2))


if __name__ == "__main__":
    started = time.monotonic()
    main()
    common.log(f"done in {time.monotonic() - started:.0f} s")
