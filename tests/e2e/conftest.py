"""Whole flows over real HTTP: the tool on one live server, the independent development LMS
(built on lti1p3platform) on another, and a scripted browser between them."""

import pytest

from lti_tool.dev_platform import register_in_tool
from tests.support.browser import LtiBrowser
from tests.support.live_server import LiveServer, start_dev_platform


@pytest.fixture
def tool(app):
    server = LiveServer(app)
    yield server
    server.stop()


@pytest.fixture
def lms(app, tool, tmp_path):
    server, config = start_dev_platform(tool.url, str(tmp_path / "lms"))
    with app.app_context():
        register_in_tool(config)
    yield config
    server.stop()


@pytest.fixture
def browser():
    return LtiBrowser()
