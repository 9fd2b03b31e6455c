"""The key set is answered before Flask from the cached body: same body, caching headers and ETag
as the view, conditional requests, HEAD, metrics; other methods still reach Flask."""

from flask import request

from keys import views
from lti_tool.observability import HTTP_REQUESTS

URL = "/.well-known/jwks.json"


def test_fast_answer_is_the_views_answer(app, client):
    fast = client.get(URL)
    with app.test_request_context(URL):
        slow = app.make_response(views.jwks())
    assert fast.status_code == slow.status_code == 200
    assert fast.data == slow.data
    for header in ("Content-Type", "Cache-Control", "ETag"):
        assert fast.headers[header] == slow.headers[header]
    assert fast.headers["X-Content-Type-Options"] == "nosniff"
    assert int(fast.headers["Content-Length"]) == len(fast.data)


def test_fast_answer_skips_the_request_cycle(app, client):
    seen = []
    app.before_request(lambda: seen.append(request.path))
    client.get(URL)
    client.get("/healthz")
    assert seen == ["/healthz"]


def test_head_has_headers_and_no_body(client):
    response = client.head(URL)
    assert response.status_code == 200
    assert response.data == b""
    assert response.headers["ETag"]


def test_conditional_requests(client):
    etag = client.get(URL).headers["ETag"]
    assert client.get(URL, headers={"If-None-Match": etag}).status_code == 304
    assert client.get(URL, headers={"If-None-Match": f'"other", {etag}'}).status_code == 304
    assert client.get(URL, headers={"If-None-Match": "*"}).status_code == 304
    assert client.get(URL, headers={"If-None-Match": '"other"'}).status_code == 200


def test_counted_in_the_request_metrics(client):
    counter = HTTP_REQUESTS.labels(URL, "GET", "200")
    before = counter._value.get()
    client.get(URL)
    assert counter._value.get() == before + 1


def test_other_methods_still_reach_flask(client):
    response = client.post(URL)
    assert response.status_code == 405
    assert "X-Request-Id" in response.headers
