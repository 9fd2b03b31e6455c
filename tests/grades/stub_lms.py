"""A scriptable LMS for fault tests: token endpoint, AGS line items and scores, NRPS pages.

It answers like a well-behaved platform unless a test scripted otherwise: `script("score", (500,),
(500,), (500,))` makes the next three score posts fail with 500, then it behaves again. It serves on
a real HTTP server (`LiveServer`), so worker processes reach it like any LMS, and it records what
it received: token requests, every call, every score accepted.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import defaultdict
from typing import Any

import jwt
from flask import Flask, jsonify, request

from tests.support.live_server import LiveServer

SCORE_MEDIA = "application/vnd.ims.lis.v1.score+json"
LINEITEM_MEDIA = "application/vnd.ims.lis.v2.lineitem+json"
ALL_SCOPES = (
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
    "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",
)


class StubLMS:
    def __init__(self, *, query: str = "", token_ttl: int = 3600, client_id: str = "tool-client") -> None:
        self.query = query
        self.token_ttl = token_ttl
        self.client_id = client_id
        self._lock = threading.Lock()
        self._scripts: dict[str, list[tuple]] = defaultdict(list)
        self._counter = itertools.count(1)
        self.token_requests: list[dict[str, str]] = []
        self.tokens: dict[str, set[str]] = {}
        self.calls: list[tuple[str, str]] = []
        self.line_items: dict[str, dict[str, Any]] = {}
        self.scores: list[dict[str, Any]] = []  # (line item id, body) of every accepted score, in order
        self.members: list[dict[str, Any]] = []
        self.page_size = 2
        # When set, score posts block until `release` is set (a delivery caught mid-flight).
        self.hold_scores = threading.Event()
        self.release = threading.Event()
        self.held = threading.Event()
        self.server = LiveServer(self._app())
        self.url = self.server.url

    # -- set-up -------------------------------------------------------------------------------------

    def script(self, route: str, *responses: tuple) -> None:
        """Queue answers for `route` (token, lineitems, lineitem, score, members): (status, body, headers)."""
        with self._lock:
            self._scripts[route].extend(responses)

    def _scripted(self, route: str):
        with self._lock:
            if not self._scripts[route]:
                return None
            status, *rest = self._scripts[route].pop(0)
        body = rest[0] if rest else {"error": f"scripted {status}"}
        headers = rest[1] if len(rest) > 1 else {}
        response = (
            jsonify(body)
            if not isinstance(body, str)
            else self.app.response_class(body, mimetype="text/plain")
        )
        response.status_code = status
        response.headers.update(headers)
        return response

    @property
    def lineitems_url(self) -> str:
        return self._q(self.url + "/ags/lineitems")

    @property
    def members_url(self) -> str:
        return self._q(self.url + "/nrps/members")

    @property
    def token_url(self) -> str:
        return self.url + "/token"

    def _q(self, url: str) -> str:
        return f"{url}?{self.query}" if self.query else url

    def add_line_item(self, item_id: str, **fields: Any) -> str:
        self.line_items[item_id] = {"label": "Quiz", "scoreMaximum": 10, **fields}
        return self.line_item_url(item_id)

    def line_item_url(self, item_id: str) -> str:
        return self._q(f"{self.url}/ags/lineitems/{item_id}/lineitem")

    @property
    def sent(self) -> list[dict[str, Any]]:
        """The bodies of every score accepted, in order."""
        return [s["body"] for s in self.scores]

    def scores_for(self, user_id: str, item_id: str | None = None) -> list[dict[str, Any]]:
        return [
            s["body"]
            for s in self.scores
            if s["body"]["userId"] == user_id and item_id in (None, s["line_item"])
        ]

    def stop(self) -> None:
        self.release.set()
        self.server.stop()

    # -- the app ------------------------------------------------------------------------------------

    def _app(self) -> Flask:
        app = Flask("stub_lms")
        self.app = app

        def authorized(*scopes: str):
            self.calls.append((request.method, request.full_path))
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            if scheme != "Bearer" or token not in self.tokens:
                return jsonify(error="invalid_token"), 401
            if not self.tokens[token] & set(scopes):
                return jsonify(error="insufficient_scope"), 403
            return None

        @app.post("/token")
        def token():
            self.token_requests.append(request.form.to_dict())
            scripted = self._scripted("token")
            if scripted is not None:
                return scripted
            claims = jwt.decode(request.form.get("client_assertion", ""), options={"verify_signature": False})
            if claims.get("iss") != self.client_id or claims.get("sub") != self.client_id:
                return jsonify(error="invalid_client"), 401
            if claims.get("aud") != self.token_url:
                return jsonify(error="invalid_grant", error_description="wrong aud"), 400
            scopes = set(request.form.get("scope", "").split())
            if not scopes or scopes - set(ALL_SCOPES):
                return jsonify(error="invalid_scope"), 400
            value = f"token-{next(self._counter)}"
            self.tokens[value] = scopes
            return jsonify(
                access_token=value,
                token_type="Bearer",
                expires_in=self.token_ttl,
                scope=" ".join(sorted(scopes)),
            )

        @app.route("/ags/lineitems", methods=["GET", "POST"])
        def lineitems():
            refused = authorized(*(ALL_SCOPES[:1] if request.method == "POST" else ALL_SCOPES[:2]))
            if refused:
                return refused
            scripted = self._scripted("lineitems")
            if scripted is not None:
                return scripted
            if request.method == "POST":
                body = request.get_json(force=True)
                item_id = f"li{next(self._counter)}"
                self.line_items[item_id] = body
                return jsonify({**body, "id": self.line_item_url(item_id)}), 201
            found = []
            for item_id, item in self.line_items.items():
                if request.args.get("resource_link_id") not in (None, item.get("resourceLinkId")):
                    continue
                if request.args.get("resource_id") not in (None, item.get("resourceId")):
                    continue
                found.append({**item, "id": self.line_item_url(item_id)})
            return jsonify(found)

        @app.get("/ags/lineitems/<item_id>/lineitem")
        def lineitem(item_id: str):
            refused = authorized(*ALL_SCOPES[:2])
            if refused:
                return refused
            if item_id not in self.line_items:
                return jsonify(error="not found"), 404
            return jsonify({**self.line_items[item_id], "id": self.line_item_url(item_id)})

        @app.post("/ags/lineitems/<item_id>/lineitem/scores")
        def scores(item_id: str):
            refused = authorized(ALL_SCOPES[2])
            if refused:
                return refused
            if request.content_type != SCORE_MEDIA:
                return jsonify(error="wrong media type"), 415
            if self.hold_scores.is_set():
                # Caught mid-flight: whoever sent it is gone by the time it is released, and
                # the score is not applied (as if the LMS dropped the broken request).
                self.held.set()
                self.release.wait(timeout=60)
                return jsonify(error="request abandoned"), 502
            scripted = self._scripted("score")
            if scripted is not None:
                return scripted
            if item_id not in self.line_items:
                return jsonify(error="line item not found"), 404
            with self._lock:
                self.scores.append(
                    {"line_item": item_id, "body": request.get_json(force=True), "at": time.time()}
                )
            return "", 200

        @app.get("/nrps/members")
        def members():
            refused = authorized(ALL_SCOPES[3])
            if refused:
                return refused
            scripted = self._scripted("members")
            if scripted is not None:
                return scripted
            page = int(request.args.get("page", "1"))
            start = (page - 1) * self.page_size
            response = jsonify(
                id=self.members_url,
                context={"id": "c1"},
                members=self.members[start : start + self.page_size],
            )
            if start + self.page_size < len(self.members):
                response.headers["Link"] = (
                    f'<{self._q(self.url + "/nrps/members")}{"&" if self.query else "?"}page={page + 1}>; rel="next"'
                )
            return response

        return app
