"""Tracing, turned on by an OTLP endpoint, sends real OTLP/HTTP to a collector served here."""

from __future__ import annotations

import gzip
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from lti_tool import jobs, tracing


class Collector:
    """An OTLP/HTTP trace receiver: decodes each export and keeps its spans."""

    def __init__(self) -> None:
        self.spans: list = []
        self.resources: list[dict] = []
        self.paths: list[str] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                request = ExportTraceServiceRequest.FromString(body)
                collector.paths.append(self.path)
                for resource_spans in request.resource_spans:
                    attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                    collector.resources.append(attributes)
                    for scope_spans in resource_spans.scope_spans:
                        collector.spans.extend(scope_spans.spans)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def named(self, name: str) -> list:
        return [span for span in self.spans if span.name == name]


@pytest.fixture
def collector() -> Iterator[Collector]:
    collector = Collector()
    thread = threading.Thread(target=collector.server.serve_forever, daemon=True)
    thread.start()
    yield collector
    collector.server.shutdown()
    collector.server.server_close()


def test_without_an_endpoint_nothing_is_traced(app):
    assert tracing.provider_of(app) is None


def test_requests_sql_and_jobs_become_spans_at_the_collector(make_app, collector, tmp_path):
    app = make_app(OTEL_EXPORTER_OTLP_ENDPOINT=collector.url + "/", OTEL_SERVICE_NAME="tool-under-test")
    try:
        client = app.test_client()
        response = client.get(
            "/lti/login",
            query_string={"iss": "https://nowhere.example.edu", "login_hint": "1",
                          "target_link_uri": "http://localhost/lti/launch"},
        )
        assert response.status_code == 400
        client.get("/healthz")
        record = tmp_path / "ran.txt"
        with app.app_context():
            assert jobs.run_job("tests.lti_tool.sample_jobs.record", str(record), "done")
        assert record.read_text().strip() == "done"
        assert tracing.provider_of(app).force_flush()
    finally:
        tracing.shutdown(app)

    assert set(collector.paths) == {"/v1/traces"}
    assert {"service.name": "tool-under-test"}.items() <= collector.resources[0].items()

    [login] = collector.named("GET /lti/login")
    status = {a.key: a.value.int_value for a in login.attributes}
    assert 400 in (status.get("http.response.status_code"), status.get("http.status_code"))
    queries = [s for s in collector.spans if s.trace_id == login.trace_id and s.span_id != login.span_id]
    assert queries, "the login's registry lookup is a child span of the request"
    assert all(s.parent_span_id for s in queries)

    assert not [s for s in collector.spans if "healthz" in s.name], "probes are not traced"
    [job] = collector.named("job tests.lti_tool.sample_jobs.record")
    assert job.trace_id != login.trace_id
