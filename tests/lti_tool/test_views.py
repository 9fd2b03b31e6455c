def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "ok"}


def test_readyz_checks_database_and_redis(app, client):
    response = client.get("/readyz")
    assert response.status_code == 200
    checks = response.json["checks"]
    assert checks["database"] == "ok"
    if app.config["SETTINGS"].REDIS_URL:
        assert checks["redis"] == "ok"
    else:
        assert "redis" not in checks


def test_readyz_reports_an_unreachable_redis(app, make_app):
    app = make_app(REDIS_URL="redis://127.0.0.1:1/0")
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["redis"].startswith("error")


def test_config_json_lists_what_an_lms_admin_pastes(client):
    body = client.get("/lti/config.json", base_url="https://tool.example.edu").json
    assert body["oidc_initiation_url"] == "https://tool.example.edu/lti/login"
    assert body["target_link_uri"] == "https://tool.example.edu/lti/launch"
    assert body["redirect_uris"] == ["https://tool.example.edu/lti/launch"]
    assert body["deep_linking_url"] == "https://tool.example.edu/lti/launch"
    assert body["jwks_url"] == "https://tool.example.edu/.well-known/jwks.json"
    assert "https://purl.imsglobal.org/spec/lti-ags/scope/score" in body["scopes"]
    assert body["title"]


def test_config_json_uses_the_public_base_url_setting(make_app):
    app = make_app(TOOL_BASE_URL="https://lti.university.example")
    body = app.test_client().get("/lti/config.json").json
    assert body["oidc_initiation_url"] == "https://lti.university.example/lti/login"


def test_unknown_page_is_a_friendly_404(client):
    response = client.get("/nowhere")
    assert response.status_code == 404 and "Not Found" in response.get_data(as_text=True)
    assert client.get("/nowhere", headers={"Accept": "application/json"}).json["error"] == "Not Found"


def test_launch_only_accepts_post(client):
    response = client.get("/lti/launch")
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]
