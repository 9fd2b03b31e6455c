import json

from lti_tool.observability import REQUEST_ID_HEADER


def log_lines(captured: str) -> list[dict]:
    lines = []
    for line in captured.splitlines():
        line = line.strip()
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def test_request_id_is_echoed_or_made(client):
    response = client.get("/healthz", headers={REQUEST_ID_HEADER: "abc-123"})
    assert response.headers[REQUEST_ID_HEADER] == "abc-123"
    made = client.get("/healthz").headers[REQUEST_ID_HEADER]
    assert len(made) == 16
    # A hostile header is replaced, not echoed.
    assert client.get("/healthz", headers={REQUEST_ID_HEADER: "<script>"}).headers[REQUEST_ID_HEADER] != "<script>"


def test_rejected_login_is_a_json_log_line_and_a_metric(make_app, capfd):
    app = make_app()
    client = app.test_client()
    client.get("/lti/login", query_string={"iss": "https://nowhere.example.edu", "login_hint": "1",
                                            "target_link_uri": "http://localhost/lti/launch"},
               headers={REQUEST_ID_HEADER: "req-42"})
    lines = log_lines(capfd.readouterr().err)
    rejected = [line for line in lines if line.get("reason") == "unknown_issuer"]
    assert rejected, lines
    assert rejected[0]["request_id"] == "req-42"
    assert rejected[0]["level"] == "WARNING" and rejected[0]["logger"] == "lti_tool.launch"
    assert rejected[0]["issuer"] == "https://nowhere.example.edu"

    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'lti_launches_total{outcome="rejected",reason="unknown_issuer",stage="login"}' in metrics
    assert 'http_requests_total{method="GET",route="/lti/login",status="400"}' in metrics


def test_metrics_token(make_app):
    app = make_app(METRICS_TOKEN="s3cret")
    client = app.test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    response = client.get("/metrics", headers={"Authorization": "Bearer s3cret"})
    assert response.status_code == 200 and "http_requests_total" in response.get_data(as_text=True)


def test_production_serves_no_unprotected_metrics(make_app):
    from cryptography.fernet import Fernet

    app = make_app(TOOL_ENV="production", SECRET_KEY="x" * 40, KEY_ENCRYPTION_KEY=Fernet.generate_key().decode())
    assert app.test_client().get("/metrics").status_code == 404
