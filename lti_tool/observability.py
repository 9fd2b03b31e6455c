"""Structured logs and Prometheus metrics.

Every log line is one JSON object carrying the request id and, once known, the platform,
deployment and launch id, so one learner's failed launch can be followed across web and worker
logs. Metrics are served at /metrics in the Prometheus text format; under gunicorn with several
workers set PROMETHEUS_MULTIPROC_DIR so every worker's counts are added up.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import secrets
import sys
import time

from flask import Flask, Response, abort, g, has_request_context, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from pythonjsonlogger.json import JsonFormatter

REQUEST_ID_HEADER = "X-Request-Id"
_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

# -- metrics: declared once, used by every package -----------------------------------------
HTTP_REQUESTS = Counter("http_requests_total", "HTTP requests by route and status", ["route", "method", "status"])
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency by route",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
LAUNCHES = Counter("lti_launches_total", "LTI login and launch outcomes by reason", ["stage", "outcome", "reason"])
AGS_DELIVERIES = Counter("ags_deliveries_total", "Score deliveries to LMS gradebooks by outcome", ["outcome"])
AGS_LATENCY = Histogram(
    "ags_delivery_duration_seconds",
    "Time to deliver one score to an LMS",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
JOB_DURATION = Histogram(
    "job_duration_seconds",
    "Background job run time by function",
    ["job"],
    buckets=(0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120),
)
JOB_FAILURES = Counter("job_failures_total", "Background job failures by function", ["job"])
QUEUE_DEPTH = Gauge("queue_depth", "Jobs waiting per queue", ["queue"], multiprocess_mode="livemax")

# Filled by the jobs package when a queue exists: returns {queue name: waiting jobs}.
queue_depth_reader = None


class ContextFilter(logging.Filter):
    """Adds request id, platform, deployment and launch id to every record made during a request."""

    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context():
            record.request_id = getattr(g, "request_id", None)
            launch = g.get("launch")
            if launch is not None:
                record.platform_id = launch.platform_id
                record.deployment_pk = launch.deployment_pk
                record.launch_id = launch.launch_id
            record.path = request.path
        return True


def configure_logging(level: str = "INFO", json_logs: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if json_logs:
        handler.setFormatter(
            JsonFormatter(
                "{asctime}{levelname}{name}{message}",
                style="{",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    # Replace only our own handler on re-configuration (tests build many apps).
    for existing in list(root.handlers):
        if getattr(existing, "_lti_tool", False):
            root.removeHandler(existing)
    handler._lti_tool = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)


def _start_request() -> None:
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = incoming if _REQUEST_ID_OK.match(incoming) else secrets.token_hex(8)
    g.request_started = time.perf_counter()


def _finish_request(response: Response) -> Response:
    response.headers[REQUEST_ID_HEADER] = g.get("request_id", "")
    route = request.url_rule.rule if request.url_rule is not None else "unmatched"
    HTTP_REQUESTS.labels(route, request.method, str(response.status_code)).inc()
    started = g.get("request_started")
    if started is not None:
        HTTP_LATENCY.labels(route).observe(time.perf_counter() - started)
    return response


def _registry() -> CollectorRegistry | None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return None


def metrics_view():
    from flask import current_app

    token = current_app.config["SETTINGS"].METRICS_TOKEN
    if token:
        sent = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(sent, token):
            abort(401, description="Send the metrics token as 'Authorization: Bearer TOKEN'.")
    elif current_app.config["SETTINGS"].is_production:
        # In production, metrics are served only when a token protects them.
        abort(404)
    if queue_depth_reader is not None:
        try:
            for queue, depth in queue_depth_reader().items():
                QUEUE_DEPTH.labels(queue).set(depth)
        except Exception:  # a scrape must not fail because Redis is briefly away
            logging.getLogger("lti_tool").warning("could not read queue depths", exc_info=True)
    registry = _registry()
    body = generate_latest(registry) if registry is not None else generate_latest()
    return Response(body, content_type=CONTENT_TYPE_LATEST)


def init_app(app: Flask) -> None:
    settings = app.config["SETTINGS"]
    configure_logging(settings.LOG_LEVEL, settings.LOG_JSON)
    app.before_request(_start_request)
    app.after_request(_finish_request)
    app.add_url_rule("/metrics", "metrics", metrics_view)
