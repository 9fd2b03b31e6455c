"""A scripted browser for LTI flows: follows redirects and submits auto-posting forms.

LTI launches hop between origins through 302 redirects and HTML pages whose script posts a form
(the platform posting the id_token, the tool posting a deep-linking response). `LtiBrowser` plays
those hops like a browser with scripts on, keeping cookies in a `requests.Session`, and records
every response so a test can assert on any step of the chain.

It does not enforce SameSite or third-party cookie rules: cookie-blocking behaviour needs a real
browser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser
from typing import Any, Callable, Mapping
from urllib.parse import urljoin, urlsplit

import requests

REDIRECTS_AS_GET = {301, 302, 303}
REDIRECTS_KEEPING_METHOD = {307, 308}


@dataclass
class Form:
    """One HTML form as a browser would submit it."""

    action: str
    method: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    id: str | None = None
    buttons: list[tuple[str | None, str, str]] = field(default_factory=list)  # (name, value, text)
    auto_submit: bool = False

    @property
    def values(self) -> dict[str, str]:
        """Fields as a dict (the last value wins for repeated names)."""
        return dict(self.fields)

    def with_values(self, extra: Mapping[str, str] | None) -> list[tuple[str, str]]:
        if not extra:
            return list(self.fields)
        kept = [(name, value) for name, value in self.fields if name not in extra]
        return kept + [(name, value) for name, value in extra.items()]


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[dict[str, Any]] = []
        self.scripts: list[str] = []
        self.onloads: list[str] = []
        self._form: dict[str, Any] | None = None
        self._select: dict[str, Any] | None = None
        self._textarea: dict[str, Any] | None = None
        self._button: dict[str, Any] | None = None
        self._in_script = False
        self._option: dict[str, Any] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "body" and "onload" in a:
            self.onloads.append(a["onload"])
        if tag == "script":
            self._in_script = True
            self.scripts.append("")
            return
        if tag == "form":
            self._form = {"attrs": a, "fields": [], "buttons": [], "index": len(self.forms)}
            self.forms.append(self._form)
            if "onload" in a:
                self.onloads.append(a["onload"])
            return
        if self._form is None:
            return
        if tag == "input":
            kind = a.get("type", "text").lower()
            name = a.get("name")
            if kind in ("submit", "image", "button", "reset"):
                if kind == "submit":
                    self._form["buttons"].append((name, a.get("value", ""), a.get("value", "")))
                return
            if not name or "disabled" in a:
                return
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            default = "on" if kind in ("checkbox", "radio") else ""
            self._form["fields"].append((name, a.get("value", default)))
        elif tag == "select":
            self._select = {"name": a.get("name"), "options": [], "selected": None}
        elif tag == "option" and self._select is not None:
            self._option = {"value": a.get("value"), "text": "", "selected": "selected" in a}
            self._select["options"].append(self._option)
        elif tag == "textarea":
            self._textarea = {"name": a.get("name"), "text": ""}
        elif tag == "button":
            self._button = {
                "name": a.get("name"),
                "value": a.get("value", ""),
                "type": a.get("type", "submit"),
                "text": "",
            }

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False
        elif tag == "form":
            self._form = None
        elif tag == "option":
            self._option = None
        elif tag == "select" and self._select is not None:
            options = self._select["options"]
            chosen = next((o for o in options if o["selected"]), options[0] if options else None)
            if self._form is not None and self._select["name"] and chosen is not None:
                value = chosen["value"] if chosen["value"] is not None else chosen["text"].strip()
                self._form["fields"].append((self._select["name"], value))
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            if self._form is not None and self._textarea["name"]:
                self._form["fields"].append((self._textarea["name"], self._textarea["text"]))
            self._textarea = None
        elif tag == "button" and self._button is not None:
            if self._form is not None and self._button["type"].lower() == "submit":
                b = self._button
                self._form["buttons"].append((b["name"], b["value"], b["text"].strip()))
            self._button = None

    def handle_data(self, data: str) -> None:
        if self._in_script and self.scripts:
            self.scripts[-1] += data
        if self._option is not None:
            self._option["text"] += data
        if self._textarea is not None:
            self._textarea["text"] += data
        if self._button is not None:
            self._button["text"] += data


_SUBMIT_BY_ID = re.compile(
    r"""getElementById\(\s*['"]([^'"]+)['"]\s*\)\s*\.\s*(?:requestSubmit|submit)\s*\("""
)
_SUBMIT_BY_INDEX = re.compile(r"""document\.forms\s*\[\s*(\d+)\s*\]\s*\.\s*(?:requestSubmit|submit)\s*\(""")
_SUBMIT_ANY = re.compile(r"""\.\s*(?:requestSubmit|submit)\s*\(""")


_STORAGE_LOGIN = re.compile(r'id="lti-storage-login"[^>]*?data-next="([^"]+)"', re.S)


def parse_forms(html: str, base_url: str) -> list[Form]:
    """Every form of a page; `auto_submit` marks the one its scripts submit on load."""
    parser = _FormParser()
    parser.feed(html)
    parser.close()
    forms = []
    for raw in parser.forms:
        a = raw["attrs"]
        forms.append(
            Form(
                action=urljoin(base_url, a.get("action") or base_url),
                method=(a.get("method") or "GET").upper(),
                fields=raw["fields"],
                id=a.get("id") or None,
                buttons=raw["buttons"],
            )
        )
    code = "\n".join(parser.scripts + parser.onloads)
    auto: Form | None = None
    by_id = _SUBMIT_BY_ID.search(code)
    by_index = _SUBMIT_BY_INDEX.search(code)
    if by_id:
        auto = next((f for f in forms if f.id == by_id.group(1)), None)
    elif by_index and int(by_index.group(1)) < len(forms):
        auto = forms[int(by_index.group(1))]
    elif len(forms) == 1 and _SUBMIT_ANY.search(code):
        auto = forms[0]
    if auto is not None:
        auto.auto_submit = True
    return forms


def is_html(response: requests.Response) -> bool:
    return "html" in response.headers.get("Content-Type", "")


class LtiBrowser:
    """A browser with scripts on, as far as LTI flows need one.

    `get`, `post` and `submit` make a request and keep following redirects and auto-submitting
    forms until a page stops; they return that final response. `chain` holds every response of
    the last navigation, in order; `history` every response since the browser was made.

    `stop_before(method, url)` (per call or for the browser) is asked before each follow-up
    request; when it answers True the browser stops there and keeps the request it did not make
    in `pending` as (method, url, data), e.g. to capture the id_token post to a tool endpoint
    that a test does not want to reach.
    """

    def __init__(
        self,
        session: requests.Session | None = None,
        *,
        max_steps: int = 25,
        timeout: float = 10.0,
        stop_before: Callable[[str, str], bool] | None = None,
    ) -> None:
        self.session = session or requests.Session()
        self.max_steps = max_steps
        self.timeout = timeout
        self.stop_before = stop_before
        self.chain: list[requests.Response] = []
        self.history: list[requests.Response] = []
        self.pending: tuple[str, str, list[tuple[str, str]] | None] | None = None

    # --- navigation ---

    def get(self, url: str, params: Mapping[str, Any] | None = None, **kwargs: Any) -> requests.Response:
        return self.open("GET", url, params=params, **kwargs)

    def post(self, url: str, data: Any = None, **kwargs: Any) -> requests.Response:
        return self.open("POST", url, data=data, **kwargs)

    def open(
        self,
        method: str,
        url: str,
        *,
        follow: bool = True,
        stop_before: Callable[[str, str], bool] | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """One request, then (unless follow=False) every redirect and auto-submitted form after it."""
        self.chain = []
        self.pending = None
        response = self._send(method, url, **kwargs)
        if not follow:
            return response
        return self._follow(response, method, kwargs.get("data"), stop_before or self.stop_before)

    def submit(
        self,
        form: Form,
        extra: Mapping[str, str] | None = None,
        *,
        follow: bool = True,
        stop_before: Callable[[str, str], bool] | None = None,
    ) -> requests.Response:
        """Submit a form (as a click on its button would), with `extra` values replacing fields."""
        data = form.with_values(extra)
        if form.method == "GET":
            return self.open("GET", form.action, params=data, follow=follow, stop_before=stop_before)
        return self.open("POST", form.action, data=data, follow=follow, stop_before=stop_before)

    def follow(self, response: requests.Response) -> requests.Response:
        """Continue a navigation stopped by follow=False or stop_before."""
        return self._follow(response, response.request.method or "GET", None, self.stop_before)

    # --- reading pages ---

    @property
    def last(self) -> requests.Response:
        return self.chain[-1]

    def forms(self, response: requests.Response | None = None) -> list[Form]:
        response = response if response is not None else self.last
        if not is_html(response):
            return []
        return parse_forms(response.text, response.url)

    def form(
        self,
        response: requests.Response | None = None,
        *,
        id: str | None = None,
        action: str | None = None,
        fields: Mapping[str, str] | None = None,
        button: str | None = None,
    ) -> Form:
        """The one form matching every criterion given: id, action path suffix, field values, button text."""
        candidates = []
        for form in self.forms(response):
            if id is not None and form.id != id:
                continue
            if action is not None and not urlsplit(form.action).path.endswith(action):
                continue
            if fields and any(form.values.get(k) != v for k, v in fields.items()):
                continue
            if button is not None and not any(button == text.strip() for _, _, text in form.buttons):
                continue
            candidates.append(form)
        if len(candidates) != 1:
            raise AssertionError(
                f"expected one matching form, found {len(candidates)} "
                f"(id={id!r}, action={action!r}, fields={fields!r}, button={button!r})"
            )
        return candidates[0]

    # --- internals ---

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        response = self.session.request(method, url, allow_redirects=False, **kwargs)
        self.chain.append(response)
        self.history.append(response)
        return response

    def _follow(
        self,
        response: requests.Response,
        method: str,
        data: Any,
        stop_before: Callable[[str, str], bool] | None,
    ) -> requests.Response:
        for _ in range(self.max_steps):
            step = self._next_step(response, method, data)
            if step is None:
                return response
            method, url, data = step
            if stop_before is not None and stop_before(method, url):
                self.pending = (method, url, data)
                return response
            if method == "GET":
                response = self._send("GET", url, params=data)
            else:
                response = self._send(method, url, data=data)
        raise AssertionError(
            f"more than {self.max_steps} redirects or auto-posted forms; last was {response.url}"
        )

    def _next_step(self, response: requests.Response, method: str, data: Any):
        if response.status_code in REDIRECTS_AS_GET | REDIRECTS_KEEPING_METHOD:
            location = response.headers.get("Location")
            if not location:
                return None
            url = urljoin(response.url, location)
            if response.status_code in REDIRECTS_KEEPING_METHOD:
                return method, url, data if method != "GET" else None
            return "GET", url, None
        if is_html(response):
            # The tool's platform-storage login page: with no LMS storage frame around (this browser
            # has no frames), its script gives up on storage and continues to `data-next`.
            storage = _STORAGE_LOGIN.search(response.text)
            if storage:
                return "GET", urljoin(response.url, unescape(storage.group(1))), None
        auto = next((f for f in self.forms(response) if f.auto_submit), None)
        if auto is None:
            return None
        return auto.method, auto.action, auto.with_values(None)
