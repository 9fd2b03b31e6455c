"""HTTP calls to an LMS's LTI Advantage services: access tokens, AGS line items and scores, NRPS.

Built on plain `requests` rather than pylti1p3's ServiceConnector and its AGS/NRPS classes, because
delivering a score reliably needs what they do not give:
- every call here has a timeout (pylti1p3 sets none, so a hung LMS would hold a worker until the
  job is killed);
- the caller needs the HTTP status and `Retry-After` to choose between retrying and failing;
  pylti1p3 folds every non-2xx answer into one exception and never refreshes a refused token;
- its token cache key is the issuer plus the scopes, without the client id, so two Canvas
  tenants (one issuer) would share tokens; here tokens are keyed by (issuer, client id, scopes)
  in the shared cache, and only one process at a time asks the LMS for a new one;
- its `rel="next"` parsing needs the quotes, which RFC 8288 makes optional;
- jobs run long after the launch, and its connectors are built around a launch object.

One pooled `requests.Session` per thread keeps connections to each LMS alive between calls.
"""

from __future__ import annotations

import email.utils
import hashlib
import logging
import math
import os
import re
import secrets
import threading
import time
import urllib.request
from dataclasses import dataclass
from typing import Any, Iterator
from urllib.parse import urlencode, urlsplit, urlunsplit

import requests
from flask import current_app
from requests.adapters import HTTPAdapter

from keys import service as keys_service
from lti_tool.cache import cache

log = logging.getLogger(__name__)

SCOPE_LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
SCOPE_LINEITEM_READONLY = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
SCOPE_RESULT_READONLY = "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly"
SCOPE_SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
SCOPE_NRPS = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
# The scopes this tool uses, in a stable order; it asks only for those the launch granted.
USED_SCOPES = (SCOPE_LINEITEM, SCOPE_LINEITEM_READONLY, SCOPE_SCORE, SCOPE_NRPS)

LINEITEM_MEDIA = "application/vnd.ims.lis.v2.lineitem+json"
LINEITEMS_MEDIA = "application/vnd.ims.lis.v2.lineitemcontainer+json"
SCORE_MEDIA = "application/vnd.ims.lis.v1.score+json"
MEMBERSHIPS_MEDIA = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

USER_AGENT = "CourseStudio-LTI-Tool/1.0 (+LTI Advantage services)"
# A cached token is dropped this long before the LMS says it expires (at most a tenth of its life).
TOKEN_EXPIRY_MARGIN_SECONDS = 60
# While one process asks the LMS for a token, the others wait up to this long for it.
TOKEN_LOCK_SECONDS = 15
MAX_PAGES = 500
ERROR_TEXT_LIMIT = 500


class ServiceError(Exception):
    """An LMS service call that did not succeed. `retryable` says whether trying later may help."""

    def __init__(
        self, message: str, *, status: int | None = None, retryable: bool, retry_after: float | None = None
    ):
        super().__init__(message)
        self.message = message
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after


class Unauthorized(ServiceError):
    """The LMS refused the access token (401): worth one retry with a fresh token."""


@dataclass(frozen=True)
class Client:
    """Who the tool is to one LMS: enough to ask its token endpoint for an access token."""

    platform_id: int
    issuer: str
    client_id: str
    token_url: str


# --- HTTP -------------------------------------------------------------------------------------------

_local = threading.local()


def http() -> requests.Session:
    """This thread's pooled session (RQ work horses and web threads each get their own)."""
    session = getattr(_local, "session", None)
    if session is None:
        session = requests.Session()
        adapter = HTTPAdapter(pool_connections=20, pool_maxsize=20, max_retries=0)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        session.headers["User-Agent"] = USER_AGENT
        # Proxy and CA settings are read from the environment once, here, instead of on every
        # request (requests scans the whole environment per call, a large share of a delivery's CPU).
        session.trust_env = False
        session.proxies.update(_environment_proxies())
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if bundle:
            session.verify = bundle
        _local.session = session
    return session


def _environment_proxies() -> dict[str, str]:
    proxies = urllib.request.getproxies()
    # NO_PROXY hosts are honoured per request by `_send` (requests would, with trust_env).
    proxies.pop("no", None)
    return proxies


def _bypass_proxy(url: str) -> bool:
    return bool(os.environ.get("NO_PROXY") or os.environ.get("no_proxy")) and urllib.request.proxy_bypass(
        urlsplit(url).hostname or ""
    )


def _timeout() -> float:
    return float(current_app.config["SETTINGS"].HTTP_TIMEOUT_SECONDS)


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment is None:
        return None
    return max(moment.timestamp() - time.time(), 0.0)


def _reason(response: requests.Response) -> str:
    """The LMS's own words for a refusal, trimmed: JSON error fields or the start of the body."""
    text = ""
    try:
        body = response.json()
    except (ValueError, RecursionError):
        body = None
    if isinstance(body, dict):
        parts = [body.get(k) for k in ("error", "error_description", "reason", "message", "errors")]
        text = " ".join(str(p) for p in parts if p)
    if not text:
        text = " ".join((response.text or "").split())
    text = text[:ERROR_TEXT_LIMIT]
    label = f"HTTP {response.status_code}"
    return f"{label}: {text}" if text else label


def _classify(response: requests.Response, what: str) -> ServiceError:
    status = response.status_code
    reason = f"{what}: {_reason(response)}"
    if status == 401:
        return Unauthorized(reason, status=status, retryable=False)
    if status == 429 or status >= 500 or status == 408:
        return ServiceError(
            reason,
            status=status,
            retryable=True,
            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
        )
    return ServiceError(reason, status=status, retryable=False)


def _send(method: str, url: str, what: str, **kwargs: Any) -> requests.Response:
    session = http()
    if session.proxies and _bypass_proxy(url):
        kwargs["proxies"] = {"http": None, "https": None}
    try:
        return session.request(method, url, timeout=_timeout(), **kwargs)
    except requests.Timeout:
        raise ServiceError(
            f"{what}: the LMS did not answer within {_timeout():g} seconds", retryable=True
        ) from None
    except requests.ConnectionError as exc:
        raise ServiceError(
            f"{what}: could not connect to the LMS ({type(exc).__name__})", retryable=True
        ) from None
    except requests.RequestException as exc:
        raise ServiceError(f"{what}: {exc}", retryable=False) from None


# --- access tokens ------------------------------------------------------------------------------------


def _token_key(client: Client, scopes: tuple[str, ...]) -> str:
    # Issuer AND client id: every hosted Canvas tenant shares one issuer.
    raw = "\n".join([client.issuer, client.client_id, *scopes])
    return "grades:token:" + hashlib.sha256(raw.encode()).hexdigest()[:40]


def _normal_scopes(scopes: Any) -> tuple[str, ...]:
    return tuple(sorted(set(scopes)))


def access_token(client: Client, scopes: tuple[str, ...] | list[str], *, refused: str | None = None) -> str:
    """A bearer token for `scopes`, from the shared cache or the LMS's token endpoint.

    `refused`: a token the LMS just answered 401 to; it is dropped (unless another process has
    already replaced it) and a fresh one fetched. One process at a time asks the LMS; the others
    wait for its answer, so a burst of jobs costs one token request per token lifetime.
    """
    scopes = _normal_scopes(scopes)
    if not scopes:
        raise ServiceError("no LTI Advantage scope was granted for this call", retryable=False)
    store = cache()
    key = _token_key(client, scopes)
    cached = store.get(key)
    if cached and refused and cached.get("token") == refused:
        store.delete(key)
        cached = None
    if cached and cached.get("expires_at", 0) > time.time():
        return cached["token"]

    def usable(entry) -> bool:
        return bool(entry) and entry.get("token") != refused and entry.get("expires_at", 0) > time.time()

    lock_key = key + ":lock"
    deadline = time.monotonic() + TOKEN_LOCK_SECONDS
    acquired = store.add(lock_key, 1, TOKEN_LOCK_SECONDS)
    while not acquired:
        time.sleep(0.05)
        cached = store.get(key)
        if usable(cached):
            return cached["token"]
        if time.monotonic() > deadline:
            break  # the holder is gone (its lock expires on its own); ask the LMS ourselves
        acquired = store.add(lock_key, 1, TOKEN_LOCK_SECONDS)
    try:
        cached = store.get(key)
        if usable(cached):
            return cached["token"]
        token, lifetime = _request_token(client, scopes)
        margin = min(TOKEN_EXPIRY_MARGIN_SECONDS, lifetime / 10)
        ttl = lifetime - margin
        if ttl >= 1:
            store.set(key, {"token": token, "expires_at": time.time() + ttl}, int(ttl))
        return token
    finally:
        if acquired:
            store.delete(lock_key)


def _request_token(client: Client, scopes: tuple[str, ...]) -> tuple[str, float]:
    """OAuth 2 client credentials with a JWT assertion signed by the tool's active key."""
    now = int(time.time())
    assertion = keys_service.sign(
        {
            "iss": client.client_id,
            "sub": client.client_id,
            "aud": client.token_url,
            "iat": now - 5,
            "exp": now + 300,
            "jti": secrets.token_urlsafe(24),
        }
    )
    what = "Access token request"
    response = _send(
        "POST",
        client.token_url,
        what,
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": JWT_BEARER,
            "client_assertion": assertion,
            "scope": " ".join(scopes),
        },
        headers={"Accept": "application/json"},
    )
    if response.status_code != 200:
        error = _classify(response, what)
        # Raised as a plain ServiceError: a 401 here refuses the tool's assertion (its key or
        # client id), which another token request would not cure.
        raise ServiceError(
            error.message, status=error.status, retryable=error.retryable, retry_after=error.retry_after
        )
    try:
        body = response.json()
        token = body["access_token"]
        lifetime = float(body.get("expires_in") or 3600)
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        raise ServiceError(f"{what}: the LMS answered without an access_token", retryable=True) from None
    if not isinstance(token, str) or not token:
        raise ServiceError(f"{what}: the LMS answered without an access_token", retryable=True)
    log.info(
        "new LMS access token for %s (client %s), %d scopes", client.issuer, client.client_id, len(scopes)
    )
    # NaN, infinity ("1e999") or centuries must not become a cache lifetime; a day is plenty.
    return token, min(max(lifetime, 0.0), 24 * 3600.0) if math.isfinite(lifetime) else 0.0


def call(
    client: Client, scopes: tuple[str, ...] | list[str], method: str, url: str, what: str, **kwargs: Any
) -> requests.Response:
    """An authorized service call; a 401 gets one fresh token and one more try. Raises ServiceError."""
    token = access_token(client, scopes)
    headers = dict(kwargs.pop("headers", {}))
    for attempt in (1, 2):
        headers["Authorization"] = f"Bearer {token}"
        response = _send(method, url, what, headers=headers, **kwargs)
        if 200 <= response.status_code < 300:
            return response
        error = _classify(response, what)
        if isinstance(error, Unauthorized) and attempt == 1:
            token = access_token(client, scopes, refused=token)
            continue
        if isinstance(error, Unauthorized):
            error.message += " (again with a fresh access token)"
        raise error
    raise AssertionError("unreachable")


# --- URLs -----------------------------------------------------------------------------------------------


def sub_url(base: str, suffix: str) -> str:
    """`suffix` added to the path of `base`, before any query (Moodle: .../lineitem?type_id=1)."""
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/" + suffix.strip("/")))


def with_query(base: str, params: dict[str, str]) -> str:
    """`base` with `params` added to its query string, keeping what was there."""
    parts = urlsplit(base)
    extra = urlencode(params)
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit(parts._replace(query=query))


_LINK = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]+)*)")


def next_link(header: str | None) -> str | None:
    """The rel=next target of an RFC 8288 Link header (quoted or not)."""
    for match in _LINK.finditer(header or ""):
        for param in match.group(2).split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "rel" and "next" in value.strip().strip('"').lower().split():
                return match.group(1).strip()
    return None


def _json(response: requests.Response, what: str) -> Any:
    try:
        return response.json()
    except (ValueError, RecursionError):
        raise ServiceError(
            f"{what}: the LMS answered with something that is not JSON", retryable=True
        ) from None


# --- AGS ----------------------------------------------------------------------------------------------


def find_line_items(
    client: Client, scopes, lineitems_url: str, filters: dict[str, str]
) -> list[dict[str, Any]]:
    """Line items of the container matching `filters`, every page of them."""
    url: str | None = with_query(lineitems_url, filters) if filters else lineitems_url
    found: list[dict[str, Any]] = []
    pages = 0
    while url and pages < MAX_PAGES:
        response = call(client, scopes, "GET", url, "Line item lookup", headers={"Accept": LINEITEMS_MEDIA})
        body = _json(response, "Line item lookup")
        if isinstance(body, list):
            found.extend(item for item in body if isinstance(item, dict))
        url = next_link(response.headers.get("Link"))
        pages += 1
    return found


def get_line_item(client: Client, scopes, url: str) -> dict[str, Any]:
    response = call(client, scopes, "GET", url, "Line item lookup", headers={"Accept": LINEITEM_MEDIA})
    body = _json(response, "Line item lookup")
    if not isinstance(body, dict):
        raise ServiceError(
            "Line item lookup: the LMS answered with something that is not a line item", retryable=True
        )
    return body


def create_line_item(client: Client, scopes, lineitems_url: str, line_item: dict[str, Any]) -> dict[str, Any]:
    response = call(
        client,
        scopes,
        "POST",
        lineitems_url,
        "Line item creation",
        json=line_item,
        headers={"Content-Type": LINEITEM_MEDIA, "Accept": LINEITEM_MEDIA},
    )
    body = _json(response, "Line item creation")
    if not isinstance(body, dict) or not isinstance(body.get("id"), str):
        raise ServiceError(
            "Line item creation: the LMS did not say where the new line item is", retryable=False
        )
    return body


def post_score(client: Client, scopes, lineitem_url: str, score: dict[str, Any]) -> None:
    call(
        client,
        scopes,
        "POST",
        sub_url(lineitem_url, "scores"),
        "Score",
        json=score,
        headers={"Content-Type": SCORE_MEDIA},
    )


# --- NRPS -----------------------------------------------------------------------------------------------


def membership_pages(client: Client, scopes, memberships_url: str) -> Iterator[list[dict[str, Any]]]:
    """Each page of a context's members, following Link rel="next"."""
    url: str | None = memberships_url
    pages = 0
    seen: set[str] = set()
    while url and pages < MAX_PAGES:
        if url in seen:
            raise ServiceError("Roster: the LMS's next-page links go round in a circle", retryable=False)
        seen.add(url)
        response = call(client, scopes, "GET", url, "Roster", headers={"Accept": MEMBERSHIPS_MEDIA})
        body = _json(response, "Roster")
        members = body.get("members") if isinstance(body, dict) else None
        if not isinstance(members, list):
            raise ServiceError("Roster: the LMS's answer has no members list", retryable=False)
        yield [member for member in members if isinstance(member, dict)]
        url = next_link(response.headers.get("Link"))
        pages += 1
