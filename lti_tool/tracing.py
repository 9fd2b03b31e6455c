"""Optional OpenTelemetry tracing, on when an OTLP endpoint is configured.

With `OTEL_EXPORTER_OTLP_ENDPOINT` set (the collector's base URL, as in the OpenTelemetry
specification: spans go to `<endpoint>/v1/traces` over HTTP), every request becomes a trace with
its SQL statements, its Redis commands and its outbound HTTP calls (platform key sets, tokens,
score deliveries) as child spans, and every background job a trace of its own. Without it nothing
is imported or patched and tracing costs nothing.

Flask is instrumented per application; SQLAlchemy, `requests` and `redis` instrumentors are
process-wide, so the first application of the process that turns tracing on owns those spans
(a deployed process has only one).
"""

from __future__ import annotations

from contextlib import contextmanager, nullcontext
from typing import Any, ContextManager, Iterator

from flask import Flask

EXTENSION_KEY = "lti_tracing"
# Probes and scrapes are frequent and uninteresting; they would drown the traces that matter.
EXCLUDED_URLS = "/healthz,/readyz,/metrics"

_clients_owner: Any = None  # the provider the process-wide instrumentors send spans to


def init_app(app: Flask, exporter: Any = None) -> None:
    """Turn tracing on for `app` when configured (or when a span exporter is handed in)."""
    settings = app.config["SETTINGS"]
    endpoint = settings.OTEL_EXPORTER_OTLP_ENDPOINT
    if not endpoint and exporter is None:
        return

    from opentelemetry.instrumentation.flask import FlaskInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from lti_tool.db import db

    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces")
    resource = Resource.create(
        {"service.name": settings.OTEL_SERVICE_NAME, "deployment.environment.name": settings.TOOL_ENV}
    )
    # The provider flushes what it still holds when the process exits.
    provider = TracerProvider(resource=resource)
    # Batched, in a background thread: a slow or absent collector never delays a response.
    provider.add_span_processor(BatchSpanProcessor(exporter))
    app.extensions[EXTENSION_KEY] = provider

    FlaskInstrumentor().instrument_app(app, tracer_provider=provider, excluded_urls=EXCLUDED_URLS)
    with app.app_context():
        _instrument_process(provider, db.engine)


def _process_instrumentors() -> list[Any]:
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.instrumentation.requests import RequestsInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    return [SQLAlchemyInstrumentor(), RequestsInstrumentor(), RedisInstrumentor()]


def _instrument_process(provider: Any, engine: Any) -> None:
    global _clients_owner
    if _clients_owner is not None:
        return
    sql, *clients = _process_instrumentors()
    sql.instrument(engine=engine, tracer_provider=provider)
    for instrumentor in clients:
        instrumentor.instrument(tracer_provider=provider)
    _clients_owner = provider


def shutdown(app: Flask) -> None:
    """Send the spans still buffered and stop tracing for `app` (and the clients it owns)."""
    global _clients_owner
    provider = app.extensions.pop(EXTENSION_KEY, None)
    if provider is None:
        return
    if _clients_owner is provider:
        for instrumentor in _process_instrumentors():
            instrumentor.uninstrument()
        _clients_owner = None
    provider.shutdown()


def provider_of(app: Flask) -> Any | None:
    return app.extensions.get(EXTENSION_KEY)


def job_span(app: Flask, name: str) -> ContextManager[Any]:
    """A span around one background job, or nothing when tracing is off."""
    provider = provider_of(app)
    if provider is None:
        return nullcontext()
    return _job_span(provider, name)


@contextmanager
def _job_span(provider: Any, name: str) -> Iterator[Any]:
    from opentelemetry.trace import SpanKind

    tracer = provider.get_tracer("lti_tool.jobs")
    with tracer.start_as_current_span(f"job {name}", kind=SpanKind.CONSUMER) as span:
        span.set_attribute("job.function", name)
        yield span
