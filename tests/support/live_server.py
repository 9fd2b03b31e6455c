"""Serve a WSGI app on 127.0.0.1 on a free port, in a daemon thread, for as long as a test needs.

Threaded on purpose: in LTI flows one server calls another that calls it back (a token request
makes the platform fetch the tool's key set), which deadlocks a single-threaded server.
"""

from __future__ import annotations

import ssl
import threading
from typing import Any, Callable, Iterable

from werkzeug.serving import WSGIRequestHandler, make_server

WSGIApp = Callable[[dict, Callable[..., Any]], Iterable[bytes]]


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass  # one line per request drowns the test output; errors are still logged


class LiveServer:
    """A real HTTP server. The port is bound at construction, so `url` is known before the app exists:

        server = LiveServer()                       # bind first ...
        server.start(make_app(base=server.url))     # ... then serve an app that needs its own URL
        ...
        server.stop()

    or, when the app is ready: ``with LiveServer(app) as server: requests.get(server.url + "/")``.
    """

    def __init__(
        self,
        app: WSGIApp | None = None,
        host: str = "127.0.0.1",
        *,
        ssl_context: ssl.SSLContext | None = None,
        public_host: str | None = None,
    ) -> None:
        """`ssl_context` serves https; `public_host` is the name put in `url` (e.g. "localhost" for a
        server bound to 127.0.0.1: another site to a browser)."""
        self.app = app
        self._server = make_server(host, 0, self._dispatch, threaded=True, request_handler=_QuietHandler)
        if ssl_context is not None:
            # The TLS handshake happens in each request's thread: done on accept, one browser
            # connection opened ahead of time would stall every other.
            self._server.socket = ssl_context.wrap_socket(
                self._server.socket, server_side=True, do_handshake_on_connect=False
            )
            self._server.ssl_context = ssl_context
        self.host = host
        self.port = self._server.server_port
        scheme = "https" if ssl_context is not None else "http"
        self.url = f"{scheme}://{public_host or host}:{self.port}"
        self._thread: threading.Thread | None = None
        if app is not None:
            self.start()

    def _dispatch(self, environ: dict, start_response: Callable[..., Any]) -> Iterable[bytes]:
        app = self.app
        if app is None:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"no application is being served yet"]
        return app(environ, start_response)

    def start(self, app: WSGIApp | None = None) -> LiveServer:
        if app is not None:
            self.app = app
        if self._thread is None:
            # A short poll interval keeps stop() quick.
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"live-server-{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<LiveServer {self.url}>"


def start_dev_platform(tool_url: str, key_dir: str, **options: Any):
    """The standalone development LMS on its own live server: (server, config).

    The platform's issuer is ``server.url + "/dev/lms"``; `options` are further `PlatformConfig`
    fields (client_id, deployment_id, profile, ...). Stop it with ``server.stop()``.
    """
    from lti_tool.dev_platform import URL_PREFIX, PlatformConfig, create_platform_app

    server = LiveServer()
    config = PlatformConfig(issuer=server.url + URL_PREFIX, tool_url=tool_url, key_dir=key_dir, **options)
    server.start(create_platform_app(config))
    return server, config
