"""LTI Dynamic Registration 1.0: an LMS registers the tool from one URL.

The LMS opens `/lti/register?openid_configuration=...&registration_token=...` in a window or an
iframe. The tool fetches the LMS's OpenID configuration, checks it, posts its client registration
to the LMS's registration endpoint with the token as a bearer credential, and, once the LMS has
accepted it, stores the platform, its client id and (when the LMS names it) the deployment, in one
transaction. A platform the tool has not approved before waits for an admin unless
AUTO_APPROVE_REGISTRATIONS is on.

We use our own code rather than pylti1p3's `DynamicRegistration`: that class fetches without a
timeout, does not check that the issuer matches the configuration URL, reports bad input through
`assert` (a 500 here), and does not keep a registration token from being used twice.

How each LMS behaves (which of repeated messages it keeps, whether it names the deployment, its
privacy extension) is data in `lti_tool.presets`, looked up by the LMS's product_family_code.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
import socket
import time
from dataclasses import dataclass, field
from typing import Any, Mapping
from urllib.parse import urlsplit

import jwt
import requests
from flask import current_app
from flask_babel import gettext

from lti_tool import presets, registry
from lti_tool.cache import cache
from lti_tool.db import db
from lti_tool.launch import DEEP_LINKING_REQUEST, RESOURCE_LINK_REQUEST
from lti_tool.models import Deployment, Platform, PlatformClient

PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"
TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"

MAX_BODY_BYTES = 512 * 1024
MAX_TOKEN_CHARS = 4096
ERROR_BODY_CHARS = 500
# How long a used registration token is remembered when it does not say when it expires.
TOKEN_MEMORY_SECONDS = 7 * 24 * 3600
USER_AGENT = "CourseStudio-LTI-Tool/1.0 (LTI Dynamic Registration)"


class RegistrationError(Exception):
    """A registration that cannot go on; the message says what is wrong, for an LMS admin."""

    def __init__(self, message: str, *, status: int = 400, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.hint = hint


# --- What the tool offers -----------------------------------------------------------------------


@dataclass(frozen=True)
class OfferedMessage:
    type: str
    label: str
    placements: tuple[str, ...]
    # Where a platform that keeps only one entry per message type must find this one.
    primary: bool = True


@dataclass(frozen=True)
class ToolOffer:
    """The tool as it describes itself to an LMS. Built by the view from the request's base URL."""

    name: str
    description: str
    base_url: str
    login_url: str
    launch_url: str
    jwks_url: str
    logo_url: str
    scopes: tuple[str, ...]
    claims: tuple[str, ...] = ("iss", "sub", "name", "given_name", "family_name", "email", "picture", "locale")
    messages: tuple[OfferedMessage, ...] = ()
    privacy_level: str = "public"

    @property
    def domain(self) -> str:
        return urlsplit(self.base_url).netloc


def offered_messages(tool_name: str) -> tuple[OfferedMessage, ...]:
    """Placements use Canvas's names; platforms that do not know them ignore them (Moodle) ."""
    return (
        OfferedMessage(RESOURCE_LINK_REQUEST, tool_name, ("course_navigation",)),
        # A second deep-linking entry for the rich text editor; the primary one picks course content.
        OfferedMessage(DEEP_LINKING_REQUEST, f"Insert from {tool_name}", ("editor_button",), primary=False),
        OfferedMessage(DEEP_LINKING_REQUEST, f"Add from {tool_name}", ("link_selection", "assignment_selection")),
    )


# --- The platform's configuration ---------------------------------------------------------------


@dataclass(frozen=True)
class PlatformConfiguration:
    url: str
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    registration_endpoint: str
    product_family_code: str
    version: str | None
    scopes_supported: tuple[str, ...] | None
    claims_supported: tuple[str, ...] | None
    # message type -> placements the platform lists for it (empty: any / not said)
    messages_supported: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def behaviour(self) -> presets.RegistrationBehaviour:
        return presets.behaviour(self.product_family_code)


def issuer_matches(issuer: str, configuration_url: str) -> bool:
    """The spec's rule: the issuer must be a prefix of the openid_configuration URL, so only the
    LMS's own site can vouch for its issuer. Scheme and host compare case-insensitively, the
    path at a segment boundary (https://lms.edu/moodle never matches https://lms.edu/moodle2/...)."""
    try:
        iss, url = urlsplit(issuer), urlsplit(configuration_url)
        iss_port, url_port = iss.port, url.port
    except ValueError:
        return False
    default = {"https": 443, "http": 80}
    if (iss.scheme.lower(), (iss.hostname or "").lower(), iss_port or default.get(iss.scheme.lower())) != (
        url.scheme.lower(),
        (url.hostname or "").lower(),
        url_port or default.get(url.scheme.lower()),
    ):
        return False
    prefix = iss.path.rstrip("/")
    return url.path == prefix or url.path.startswith(prefix + "/")


def _url_field(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise RegistrationError(gettext("The LMS's OpenID configuration has no %(name)s.", name=repr(name)))
    try:
        return registry.check_url(name, value)
    except registry.RegistryError as exc:
        raise RegistrationError(gettext(
            "The LMS's OpenID configuration has a bad %(name)s: %(exc)s.",
            name=name,
            exc=exc,
        )) from None


def _string_list(data: Mapping[str, Any], name: str) -> tuple[str, ...] | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise RegistrationError(gettext(
            "The LMS's OpenID configuration has %(name)s, but not as a list of strings.",
            name=repr(name),
        ))
    return tuple(value)


def parse_configuration(url: str, data: Any) -> PlatformConfiguration:
    """Check an OpenID configuration against the Dynamic Registration spec's required fields."""
    if not isinstance(data, dict):
        raise RegistrationError(gettext("The LMS's OpenID configuration is not a JSON object."))
    issuer = data.get("issuer")
    if not isinstance(issuer, str) or not issuer:
        raise RegistrationError(gettext("The LMS's OpenID configuration has no 'issuer'."))
    try:
        issuer = registry.check_issuer(issuer)
    except registry.RegistryError as exc:
        raise RegistrationError(gettext(
            "The LMS's OpenID configuration has a bad issuer: %(exc)s.",
            exc=exc,
        )) from None
    if not issuer_matches(issuer, url):
        raise RegistrationError(
            gettext(
                "The LMS says its issuer is %(issuer)s, but its configuration was served from %(url)s, "
                "which is not under that issuer.",
                issuer=issuer,
                url=url,
            ),
            hint=gettext(
                "The issuer must be a prefix of the openid_configuration URL (LTI Dynamic Registration 1.0, "
                "3.5.1). Check the LMS's site URL setting.",
            ),
        )
    endpoints = {
        name: _url_field(data, name)
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri", "registration_endpoint")
    }
    for name, required in (
        ("token_endpoint_auth_methods_supported", "private_key_jwt"),
        ("id_token_signing_alg_values_supported", "RS256"),
    ):
        values = _string_list(data, name)
        if values is not None and required not in values:
            raise RegistrationError(
                gettext(
                    "The LMS does not support %(required)s (%(name)s lists %(nothing)s); this tool needs it.",
                    required=required,
                    name=name,
                    nothing=', '.join(values) or gettext('nothing'),
                )
            )
    lti = data.get(PLATFORM_CONFIGURATION)
    if not isinstance(lti, dict):
        raise RegistrationError(
            gettext(
                "The OpenID configuration has no %(PLATFORM_CONFIGURATION)s object: it is not an LTI "
                "platform's.",
                PLATFORM_CONFIGURATION=repr(PLATFORM_CONFIGURATION),
            )
        )
    family = lti.get("product_family_code")
    if not isinstance(family, str) or not family.strip():
        raise RegistrationError(gettext("The LMS's LTI platform configuration has no product_family_code."))
    version = lti.get("version")
    messages: dict[str, tuple[str, ...]] = {}
    raw_messages = lti.get("messages_supported")
    if raw_messages is not None:
        if not isinstance(raw_messages, list):
            raise RegistrationError(gettext("The LMS's messages_supported is not a list."))
        for entry in raw_messages:
            if not isinstance(entry, dict) or not isinstance(entry.get("type"), str):
                raise RegistrationError(gettext("An entry of the LMS's messages_supported has no type."))
            placements = entry.get("placements") or []
            if not isinstance(placements, list) or not all(isinstance(p, str) for p in placements):
                raise RegistrationError(gettext(
                    "The LMS's placements for %(type)s are not a list of strings.",
                    type=entry['type'],
                ))
            messages[entry["type"]] = tuple(dict.fromkeys(messages.get(entry["type"], ()) + tuple(placements)))
        if RESOURCE_LINK_REQUEST not in messages:
            raise RegistrationError(
                gettext(
                    "The LMS does not list %(RESOURCE_LINK_REQUEST)s among the messages it supports; the "
                    "tool cannot be launched without it.",
                    RESOURCE_LINK_REQUEST=RESOURCE_LINK_REQUEST,
                )
            )
    return PlatformConfiguration(
        url=url,
        issuer=issuer,
        authorization_endpoint=endpoints["authorization_endpoint"],
        token_endpoint=endpoints["token_endpoint"],
        jwks_uri=endpoints["jwks_uri"],
        registration_endpoint=endpoints["registration_endpoint"],
        product_family_code=family.strip().lower()[:50],
        version=str(version)[:50] if isinstance(version, (str, int, float)) else None,
        scopes_supported=_string_list(data, "scopes_supported"),
        claims_supported=_string_list(data, "claims_supported"),
        messages_supported=messages,
    )


def _headers(token: str) -> dict[str, str]:
    return {"Accept": "application/json", "Authorization": f"Bearer {token}", "User-Agent": USER_AGENT}


def _read(response: requests.Response) -> bytes:
    body = b""
    for chunk in response.iter_content(64 * 1024):
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise RegistrationError(gettext(
                "The LMS answered %(url)s with more than %(MAX_BODY_BYTES)s KB.",
                url=response.url,
                MAX_BODY_BYTES=MAX_BODY_BYTES // 1024,
            ))
    return body


def _trimmed(body: bytes) -> str:
    """An LMS's error body, short enough to show: the OAuth error fields when it sent JSON."""
    text = body.decode("utf-8", "replace")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        data = None
    if isinstance(data, dict):
        parts = [str(data[k]) for k in ("error", "error_description", "message", "errors") if data.get(k)]
        if parts:
            text = ": ".join(parts)
    text = " ".join(text.split())
    return text[:ERROR_BODY_CHARS] + ("…" if len(text) > ERROR_BODY_CHARS else "")


def check_request(openid_configuration: str | None, registration_token: str | None) -> tuple[str, str]:
    """The two parameters the LMS opens the registration page with, checked."""
    if not openid_configuration:
        raise RegistrationError(
            gettext("The registration request has no openid_configuration parameter."),
            hint=gettext(
                "Start the registration from your LMS (its 'register by URL' or dynamic registration "
                "setting), which adds it.",
            ),
        )
    if not registration_token:
        raise RegistrationError(
            gettext("The registration request has no registration_token parameter."),
            hint=gettext("Start the registration again from your LMS; it issues a new token each time."),
        )
    # Visible ASCII only: it travels in an Authorization header, which cannot carry anything else.
    if len(registration_token) > MAX_TOKEN_CHARS or not re.fullmatch(r"[\x21-\x7e]+", registration_token):
        raise RegistrationError(gettext("The registration_token is not a valid token."))
    try:
        url = registry.check_url("openid_configuration", openid_configuration)
    except registry.RegistryError as exc:
        raise RegistrationError(gettext(
            "The openid_configuration URL is not usable: %(exc)s.",
            exc=exc,
        )) from None
    return url, registration_token


def check_public_host(url: str) -> None:
    """Refuse a URL whose host is on a private, loopback or link-local network (unless allowed).

    Anyone can open the registration page with any URL, and the tool then fetches it and posts to
    the registration endpoint the answer names: without this check that is a way to make the tool
    call services inside its own network (cloud metadata, internal admin pages).
    """
    if current_app.config["SETTINGS"].REGISTRATION_PRIVATE_HOSTS:
        return
    host = urlsplit(url).hostname or ""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except (socket.gaierror, UnicodeError):
        raise RegistrationError(
            gettext("The LMS's host %(host)s could not be found.", host=repr(host)), status=502
        ) from None
    for address in addresses:
        if not ipaddress.ip_address(address.split("%", 1)[0]).is_global:
            raise RegistrationError(
                gettext(
                    "The LMS's address %(url)s is on a private network (%(address)s), which this tool "
                    "does not contact for registrations.",
                    url=url,
                    address=address,
                ),
                hint=gettext(
                    "If your LMS really is on your internal network, set REGISTRATION_PRIVATE_HOSTS=1."
                ),
            )


def fetch_configuration(url: str, token: str, *, timeout: float) -> PlatformConfiguration:
    check_public_host(url)
    try:
        response = requests.get(url, headers=_headers(token), timeout=timeout, allow_redirects=False, stream=True)
    except requests.Timeout:
        raise RegistrationError(
            gettext(
                "The LMS's OpenID configuration at %(url)s did not answer within %(timeout)s seconds.",
                url=url,
                timeout=format(timeout, 'g'),
            ), status=502
        ) from None
    except requests.RequestException as exc:
        raise RegistrationError(
            gettext(
                "The LMS's OpenID configuration at %(url)s could not be fetched (%(name)s).",
                url=url,
                name=exc.__class__.__name__,
            ),
            status=502,
            hint=gettext("Check that the tool's server can reach the LMS."),
        ) from None
    with response:
        body = _read(response)
    if response.status_code != 200:
        raise RegistrationError(
            gettext(
                "The LMS's OpenID configuration at %(url)s answered HTTP %(status_code)s: %(detail)s",
                url=url,
                status_code=response.status_code,
                detail=_trimmed(body),
            )
            if body.strip()
            else gettext(
                "The LMS's OpenID configuration at %(url)s answered HTTP %(status_code)s.",
                url=url,
                status_code=response.status_code,
            ),
            status=502,
        )
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: nesting no configuration has
        raise RegistrationError(
            gettext(
                "The LMS's OpenID configuration at %(url)s is not JSON (it starts with %(body)s).",
                url=url,
                body=repr(_trimmed(body[:80])),
            ),
            status=502,
        ) from None
    return parse_configuration(url, data)


# --- The registration request -------------------------------------------------------------------


def _messages(offer: ToolOffer, config: PlatformConfiguration) -> list[dict[str, Any]]:
    supported = config.messages_supported
    entries = []
    for message in offer.messages:
        if supported and message.type not in supported:
            continue  # never offer a message the LMS said it cannot send
        placements = message.placements
        if supported.get(message.type):
            placements = tuple(p for p in placements if p in supported[message.type])
            if not placements:
                continue
        entry: dict[str, Any] = {
            "type": message.type,
            "target_link_uri": offer.launch_url,
            "label": message.label,
            "icon_uri": offer.logo_url,
        }
        if placements:
            entry["placements"] = list(placements)
        entries.append((message, entry))
    order = config.behaviour.repeated_messages
    if order in ("first", "last"):
        # A platform that keeps one entry per type must keep the primary one: put it where it looks.
        def rank(item) -> int:
            is_primary = item[0].primary
            return (0 if is_primary else 1) if order == "first" else (1 if is_primary else 0)

        entries.sort(key=rank)  # stable: the offer's order holds among equals
    return [entry for _, entry in entries]


def registration_request(offer: ToolOffer, config: PlatformConfiguration) -> dict[str, Any]:
    """The client registration (OpenID Connect Dynamic Client Registration + LTI tool configuration)."""
    scopes = [s for s in offer.scopes if config.scopes_supported is None or s in config.scopes_supported]
    claims = [c for c in offer.claims if config.claims_supported is None or c in config.claims_supported or c in ("iss", "sub")]
    tool_configuration: dict[str, Any] = {
        "domain": offer.domain,
        "description": offer.description,
        "target_link_uri": offer.launch_url,
        "claims": claims,
        "messages": _messages(offer, config),
    }
    extension = config.behaviour.privacy_extension
    if extension:
        tool_configuration[extension] = offer.privacy_level
    return {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": offer.login_url,
        "redirect_uris": [offer.launch_url],
        "client_name": offer.name,
        "jwks_uri": offer.jwks_url,
        "logo_uri": offer.logo_url,
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": " ".join(scopes),
        TOOL_CONFIGURATION: tool_configuration,
    }


@dataclass(frozen=True)
class PlatformAnswer:
    client_id: str
    deployment_id: str | None
    body: Mapping[str, Any]


def _identifier(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    return value if isinstance(value, str) and value.strip() else None


def post_registration(config: PlatformConfiguration, token: str, body: Mapping[str, Any], *, timeout: float) -> PlatformAnswer:
    endpoint = config.registration_endpoint
    check_public_host(endpoint)
    try:
        response = requests.post(
            endpoint,
            json=body,
            headers={**_headers(token), "Content-Type": "application/json"},
            timeout=timeout,
            allow_redirects=False,
            stream=True,
        )
    except requests.RequestException as exc:
        raise RegistrationError(
            gettext(
                "The LMS's registration endpoint %(endpoint)s could not be reached (%(name)s).",
                endpoint=endpoint,
                name=exc.__class__.__name__,
            ),
            status=502,
        ) from None
    with response:
        raw = _read(response)
    if not 200 <= response.status_code < 300:
        detail = _trimmed(raw) if raw.strip() else gettext("no explanation given")
        raise RegistrationError(
            gettext(
                "The LMS refused the registration (HTTP %(status_code)s): %(detail)s",
                status_code=response.status_code,
                detail=detail,
            ),
            status=502,
            hint=gettext(
                "Nothing was stored in the tool. Start the registration again from the LMS once the problem "
                "is fixed.",
            ),
        )
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise RegistrationError(gettext(
            "The LMS accepted the registration but its answer is not JSON.",
        ), status=502) from None
    if not isinstance(data, dict):
        raise RegistrationError(gettext(
            "The LMS accepted the registration but its answer is not a JSON object.",
        ), status=502)
    client_id = _identifier(data.get("client_id"))
    if client_id is None:
        raise RegistrationError(gettext(
            "The LMS accepted the registration but sent no client_id.",
        ), status=502)
    try:
        client_id = registry.check_identifier("client id", client_id)
    except registry.RegistryError as exc:
        raise RegistrationError(gettext(
            "The LMS sent an unusable client id: %(exc)s.",
            exc=exc,
        ), status=502) from None
    deployment_id = None
    tool = data.get(TOOL_CONFIGURATION)
    if isinstance(tool, dict) and tool.get("deployment_id") is not None:
        deployment_id = _identifier(tool.get("deployment_id"))
        try:
            deployment_id = registry.check_identifier("deployment id", deployment_id)
        except registry.RegistryError as exc:
            raise RegistrationError(gettext(
                "The LMS sent an unusable deployment id: %(exc)s.",
                exc=exc,
            ), status=502) from None
    return PlatformAnswer(client_id=client_id, deployment_id=deployment_id, body=data)


# --- Single use of registration tokens ----------------------------------------------------------


def _token_key(token: str) -> str:
    # Only a digest is kept: the token is a credential for the LMS's registration endpoint.
    return "dynreg-token:" + hashlib.sha256(token.encode()).hexdigest()


def _token_lifetime(token: str) -> int:
    """Remember a used token until it expires: its `exp` when it is a JWT (Moodle's and Canvas's
    are), else a week."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
        exp = claims.get("exp") if isinstance(claims, dict) else None
    except jwt.PyJWTError:
        exp = None
    if isinstance(exp, (int, float)) and not isinstance(exp, bool):
        return int(min(max(exp - time.time(), 0) + 3600, 90 * 24 * 3600))
    return TOKEN_MEMORY_SECONDS


def token_was_used(token: str) -> bool:
    return cache().get(_token_key(token)) is not None


def claim_token(token: str) -> None:
    """Mark the token used, atomically; a second registration with it is refused."""
    if not cache().add(_token_key(token), {"used_at": time.time()}, _token_lifetime(token)):
        raise RegistrationError(
            gettext("This registration token was already used. Each registration from the LMS works once."),
            hint=gettext("Start the registration again from the LMS to get a new token."),
        )


# --- Storing the result -------------------------------------------------------------------------


@dataclass(frozen=True)
class RegistrationResult:
    platform: Platform
    client: PlatformClient
    deployment: Deployment | None
    config: PlatformConfiguration
    # True when the registration joined a platform the tool already knew (and had approved).
    joined_existing: bool

    @property
    def pending(self) -> bool:
        return self.platform.status == registry.PENDING


def store(config: PlatformConfiguration, answer: PlatformAnswer, *, auto_approve: bool) -> RegistrationResult:
    """Store what the LMS accepted, in one transaction (committed here)."""
    from lti_tool.admin.service import audit

    deployment_ids = (answer.deployment_id,) if answer.deployment_id else ()
    existing = registry.find_platform_by_endpoints(
        config.issuer, config.authorization_endpoint, config.token_endpoint, config.jwks_uri
    )
    try:
        if existing is not None:
            # Another registration of an LMS the tool already knows: it shares the platform's status.
            platform = existing
            client = registry.add_client(platform, answer.client_id)
            for deployment_id in deployment_ids:
                registry.add_deployment(client, deployment_id)
            if not platform.product_family_code:
                platform.product_family_code = config.product_family_code
        else:
            behaviour = config.behaviour
            host = urlsplit(config.issuer).hostname or config.issuer
            platform = registry.add_platform(
                registry.PlatformInput(
                    issuer=config.issuer,
                    client_id=answer.client_id,
                    auth_url=config.authorization_endpoint,
                    token_url=config.token_endpoint,
                    jwks_url=config.jwks_uri,
                    deployment_ids=deployment_ids,
                    name=f"{behaviour.label} at {urlsplit(config.token_endpoint).hostname or host}",
                    require_deployment=False,
                    status=registry.ACTIVE if auto_approve else registry.PENDING,
                    product_family_code=config.product_family_code,
                )
            )
            client = platform.clients[0]
        deployment = registry.find_deployment(client, answer.deployment_id) if answer.deployment_id else None
        audit(
            actor=f"LMS {config.issuer} (dynamic registration)",
            action="platform.registered",
            target_type="platform",
            target_id=str(platform.id),
            platform_id=platform.id,
            detail={
                "client_id": answer.client_id,
                "deployment_id": answer.deployment_id,
                "product_family_code": config.product_family_code,
                "status": platform.status,
                "joined_existing": existing is not None,
            },
        )
        db.session.commit()
    except registry.RegistryError as exc:
        db.session.rollback()
        raise RegistrationError(
            gettext("The LMS accepted the registration, but the tool could not store it: %(exc)s.", exc=exc),
            status=409,
            hint=gettext("Remove the new registration in the LMS, then ask the tool's administrator."),
        ) from None
    return RegistrationResult(platform, client, deployment, config, joined_existing=existing is not None)


def register(
    openid_configuration: str | None,
    registration_token: str | None,
    offer: ToolOffer,
    *,
    timeout: float,
    auto_approve: bool,
) -> RegistrationResult:
    """The whole registration: check, fetch, post, store. Nothing is stored unless the LMS accepted."""
    url, token = check_request(openid_configuration, registration_token)
    if token_was_used(token):
        claim_token(token)  # raises the same refusal as a concurrent second use
    config = fetch_configuration(url, token, timeout=timeout)
    body = registration_request(offer, config)
    claim_token(token)
    answer = post_registration(config, token, body, timeout=timeout)
    return store(config, answer, auto_approve=auto_approve)
