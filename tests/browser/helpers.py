"""Steps of the browser flows: open the LMS course page, launch as someone, read what came back."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from playwright.sync_api import expect

TOOL_FRAME = "iframe#tool-frame"
STORAGE_FRAME_NAME = "post_message_forwarding"
PEOPLE = {"ada": "Ada Lovelace", "grace": "Grace Hopper", "tom": "Tom Teacher", "alex": "Alex Admin"}


@dataclass
class Traffic:
    """Requests the browser sent to the tool, and the tool's Set-Cookie headers, as they happened."""

    tool_url: str
    requests: list[Any] = field(default_factory=list)
    set_cookies: list[str] = field(default_factory=list)

    def attach(self, page_or_context: Any) -> Traffic:
        page_or_context.on("request", self._on_request)
        page_or_context.on("response", self._on_response)
        return self

    def _on_request(self, request: Any) -> None:
        if request.url.startswith(self.tool_url):
            self.requests.append(request)

    def _on_response(self, response: Any) -> None:
        if response.url.startswith(self.tool_url):
            cookie = response.header_value("set-cookie")
            if cookie:
                self.set_cookies.append(cookie)

    def to(self, path: str, method: str | None = None) -> list[Any]:
        return [
            r
            for r in self.requests
            if r.url.split("?")[0] == self.tool_url + path and (method is None or r.method == method)
        ]


def state_cookie_sent(request: Any) -> bool:
    return "lti1p3_state_" in (request.header_value("cookie") or "")


def open_course(page: Any, lms: Any, **params: str) -> None:
    """The LMS course page, loaded with its frames (the storage frame answers from then on)."""
    page.goto(lms.course(**params), wait_until="load")
    expect(page.get_by_role("heading", level=1)).to_have_text("Introduction to Astronomy")


def person_card(page: Any, person: str) -> Any:
    return page.locator("article.person").filter(has=page.get_by_role("heading", name=re.compile(PEOPLE[person])))


def launch(page: Any, person: str) -> Any:
    """Press "Launch the tool" for `person`; the tool's frame (a FrameLocator)."""
    person_card(page, person).get_by_role("button", name="Launch the tool").click()
    return page.frame_locator(TOOL_FRAME)


def deep_link(page: Any, person: str) -> Any:
    person_card(page, person).get_by_role("button", name="Add content (Deep Linking)").click()
    return page.frame_locator(TOOL_FRAME)


def tool_frame(page: Any) -> Any:
    """The tool's frame as a Frame (for its URL and for running scripts in it)."""
    frame = page.locator(TOOL_FRAME).element_handle().content_frame()
    assert frame is not None
    return frame


def expect_welcome(target: Any) -> None:
    """The tool's landing page after a launch (a page or a frame locator)."""
    expect(target.get_by_role("heading", level=1, name=re.compile(r"^Welcome, "))).to_be_visible()


def expect_new_window_offer(frame: Any) -> Any:
    """The page a cookie-less launch without platform storage gets; its "Open in a new window" link."""
    link = frame.get_by_role("link", name="Open in a new window")
    expect(link).to_be_visible()
    return link
