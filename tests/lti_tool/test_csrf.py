from flask import Blueprint

from lti_tool.csrf import csrf_token, launch_token

probe = Blueprint("csrf_probe", __name__)


@probe.post("/probe/<launch_id>")
def launch_form(launch_id):
    return "saved"


@probe.post("/probe-admin")
def admin_form():
    return "saved"


@probe.get("/probe-token")
def token():
    return csrf_token()


def make(make_app):
    app = make_app()
    app.register_blueprint(probe)
    return app


def test_launch_bound_forms_need_the_launch_token_and_no_cookie(make_app):
    app = make(make_app)
    client = app.test_client(use_cookies=False)
    with app.test_request_context():
        good = launch_token("abc")
        other = launch_token("xyz")
    assert client.post("/probe/abc", data={"csrf_token": good}).status_code == 200
    assert client.post("/probe/abc", headers={"X-CSRF-Token": good}).status_code == 200
    assert client.post("/probe/abc", data={"csrf_token": other}).status_code == 400
    assert client.post("/probe/abc").status_code == 400
    assert client.get("/probe-token?launch_id=abc").get_data(as_text=True) == good


def test_other_forms_use_the_session_token(make_app):
    app = make(make_app)
    client = app.test_client()
    assert client.post("/probe-admin").status_code == 400
    token = client.get("/probe-token").get_data(as_text=True)
    assert client.post("/probe-admin", data={"csrf_token": token}).status_code == 200
