"""OIDC login initiation and id_token validation: the security core of every LTI 1.3 launch.

We validate here rather than through pylti1p3's MessageLaunch because the launch is where the
known failures of tool libraries live (see docs/launch-validation.md): a nonce that is never
consumed, `azp` unchecked, zero clock leeway, state kept only in a cookie, the platform JWKS fetched
on every launch, and unknown issuers surfacing as 500s. pylti1p3 still provides the tool config,
deep linking and the LTI Advantage services on top of the validated launch.

Every rejection is a LaunchError with a stable reason code, a message an LMS admin can act on,
and, where it helps, the exact command that fixes it.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Mapping
from urllib.parse import urlencode, urlsplit

import jwt
from flask import current_app
# Lazy: a refused launch is shown in the reader's language and logged in English.
from flask_babel import lazy_gettext as _

from lti_tool import jws, registrations, registry
from lti_tool.cache import cache
from lti_tool.models import Deployment, PlatformClient
from lti_tool.platform_keys import PlatformKeyError, verification_key

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
DL_CLAIM = "https://purl.imsglobal.org/spec/lti-dl/claim/"
MESSAGE_TYPE = CLAIM + "message_type"
VERSION = CLAIM + "version"
DEPLOYMENT_ID = CLAIM + "deployment_id"
ROLES = CLAIM + "roles"
TARGET_LINK_URI = CLAIM + "target_link_uri"
RESOURCE_LINK = CLAIM + "resource_link"
CONTEXT = CLAIM + "context"
DEEP_LINKING_SETTINGS = DL_CLAIM + "deep_linking_settings"

RESOURCE_LINK_REQUEST = "LtiResourceLinkRequest"
DEEP_LINKING_REQUEST = "LtiDeepLinkingRequest"
SUPPORTED_MESSAGE_TYPES = (RESOURCE_LINK_REQUEST, DEEP_LINKING_REQUEST)

STATE_COOKIE_PREFIX = "lti1p3_state_"
MAX_ID_TOKEN_BYTES = 64 * 1024
MAX_PARAM_CHARS = 4096
# An id_token is good for minutes; one claiming to last longer than a day is refused (its nonce
# would have to be remembered until then, and a date past year 9999 cannot even be stored).
MAX_ID_TOKEN_LIFETIME_SECONDS = 24 * 3600

# Reason code -> short title shown on the error page and counted in the launch log.
REASONS = {
    "bad_login_request": _("The LMS sent an incomplete login request"),
    "unknown_issuer": _("This LMS is not registered with the tool"),
    "unknown_client": _("This client id is not registered with the tool"),
    "unknown_deployment": _("This deployment is not registered with the tool"),
    "bad_target": _("The launch points outside this tool"),
    "malformed_jwt": _("The launch token is malformed"),
    "bad_signature": _("The launch token's signature is not valid"),
    "unknown_kid": _("The launch token was signed with an unknown key"),
    "jwks_unreachable": _("The LMS's public keys could not be fetched"),
    "expired": _("The launch token has expired"),
    "iat_future": _("The launch token was issued in the future"),
    "wrong_aud": _("The launch token is addressed to another tool"),
    "azp_mismatch": _("The launch token's authorized party does not match"),
    "nonce_replayed": _("This launch was already used"),
    "state_missing": _("The launch has no state"),
    "state_mismatch": _("The launch does not match a login started by this browser"),
    "wrong_message_type": _("The tool does not handle this kind of LTI message"),
    "wrong_version": _("The launch is not LTI 1.3"),
    "missing_claim": _("The launch token lacks a required claim"),
    "platform_pending": _("This LMS is waiting for approval"),
    "platform_disabled": _("This LMS has been disabled in the tool"),
    "deployment_pending": _("This deployment is waiting for approval"),
    "deployment_disabled": _("This deployment has been disabled in the tool"),
}


class LaunchError(Exception):
    def __init__(
        self,
        reason: str,
        message: str,
        *,
        hint: str | None = None,
        command: str | None = None,
        status: int = 400,
        log: Mapping[str, Any] | None = None,
        relaunch_ticket: str | None = None,
    ):
        super().__init__(message)
        assert reason in REASONS, reason
        self.reason = reason
        self.title = REASONS[reason]
        self.message = message
        self.hint = hint
        self.command = command
        self.status = status
        # What is known about the attempt, for the launch log.
        self.log: dict[str, Any] = dict(log or {})
        # Set when the launch can be retried in a top-level window, where cookies work.
        self.relaunch_ticket = relaunch_ticket


def _settings():
    return current_app.config["SETTINGS"]


_CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f]")


def is_clean_text(value: Any) -> bool:
    """Text without control characters: what may reach a query, a cache key or a log line."""
    # A regular expression scans in C: a launch checks a few hundred characters.
    return isinstance(value, str) and _CONTROL_CHARACTERS.search(value) is None


def _param(params: Mapping[str, str], name: str, *, required: bool = True) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise LaunchError(
                "bad_login_request",
                _("The login request has no %(name)s parameter.", name=repr(name)),
                hint=_("LTI 1.3 login initiation needs iss, login_hint and target_link_uri."),
            )
        return None
    if not isinstance(value, str) or len(value) > MAX_PARAM_CHARS:
        raise LaunchError("bad_login_request", _(
            "The %(name)s parameter is too long or not text.",
            name=repr(name),
        ))
    if not is_clean_text(value):
        raise LaunchError("bad_login_request", _(
            "The %(name)s parameter contains control characters.",
            name=repr(name),
        ))
    return value


def add_platform_command(issuer: str, client_id: str | None, deployment_id: str | None) -> str:
    return (
        "flask --app wsgi platform add"
        f" --issuer {issuer}"
        f" --client-id {client_id or 'CLIENT_ID'}"
        " --auth-url AUTH_URL --token-url TOKEN_URL --jwks-url JWKS_URL"
        f" --deployment-id {deployment_id or 'DEPLOYMENT_ID'}"
    )


def find_client_for_login(issuer: str, client_id: str | None, deployment_id: str | None) -> PlatformClient:
    """The registration a login request is for: by (issuer, client id), never by issuer alone."""
    log = {"issuer": issuer, "client_id": client_id, "deployment_id": deployment_id}
    if client_id:
        client = registrations.find_client(issuer, client_id)
        if client is not None:
            return client
        if registry.clients_of_issuer(issuer):
            raise LaunchError(
                "unknown_client",
                _(
                    "The LMS at %(issuer)s is registered, but not with client id %(client_id)s.",
                    issuer=issuer,
                    client_id=repr(client_id),
                ),
                hint=_("Check the client id in the LMS's tool settings, or register it with the tool."),
                command=f"flask --app wsgi platform client-add {issuer} --client-id {client_id}",
                log=log,
            )
    else:
        clients = registry.clients_of_issuer(issuer)
        if len(clients) == 1:
            return clients[0]
        if len(clients) > 1:
            raise LaunchError(
                "unknown_client",
                _(
                    "The LMS at %(issuer)s has several client ids registered and did not say which one this "
                    "login is for (no client_id parameter).",
                    issuer=issuer,
                ),
                hint=_(
                    "Configure the LMS to send client_id in its login request, or remove unused "
                    "registrations.",
                ),
                log=log,
            )
    raise LaunchError(
        "unknown_issuer",
        _("No LMS with issuer %(issuer)s is registered with this tool.", issuer=issuer),
        hint=_(
            "An administrator of the tool must register the LMS first, with the values from its tool "
            "settings.",
        ),
        command=add_platform_command(issuer, client_id, deployment_id),
        log=log,
    )


def _check_platform(client: PlatformClient, log: Mapping[str, Any]) -> None:
    """Only approved platforms launch: a dynamically registered one waits for an admin."""
    platform = client.platform
    if platform.status == registry.PENDING:
        raise LaunchError(
            "platform_pending",
            _(
                "The LMS at %(issuer)s registered with this tool, but an administrator of the tool has not "
                "approved it yet.",
                issuer=client.issuer,
            ),
            hint=_("Ask the tool's administrator to approve it under Platforms in the tool's admin area."),
            status=403,
            log=log,
        )
    if platform.status != registry.ACTIVE:
        raise LaunchError(
            "platform_disabled",
            _(
                "The LMS at %(issuer)s has been disabled by an administrator of this tool.",
                issuer=client.issuer,
            ),
            hint=_("Ask the tool's administrator to enable it again in the tool's admin area."),
            status=403,
            log=log,
        )


def _check_deployment(
    client: PlatformClient, deployment_id: str, log: Mapping[str, Any], *, signed: bool = True
) -> Deployment | None:
    """The registered deployment. An unknown one is refused, or, with UNKNOWN_DEPLOYMENTS=pending,
    recorded for approval once a signed launch names it (None at the unsigned login step)."""
    deployment = registrations.find_deployment(client, deployment_id)
    if deployment is None and _settings().UNKNOWN_DEPLOYMENTS == "pending":
        if not signed:
            return None  # anyone can send a login request: record only what the LMS signed
        deployment = registry.record_pending_deployment(client, deployment_id)
    if deployment is not None and deployment.status == registry.PENDING:
        raise LaunchError(
            "deployment_pending",
            _(
                "Deployment %(deployment_id)s of the LMS at %(issuer)s (client id %(client_id)s) is new to "
                "this tool: an administrator of the tool must approve it before it can be used.",
                deployment_id=repr(deployment_id),
                issuer=client.issuer,
                client_id=repr(client.client_id),
            ),
            hint=_(
                "Ask the tool's administrator to approve this deployment under Platforms in the admin area.",
            ),
            status=403,
            log=log,
        )
    if deployment is not None and deployment.status != registry.ACTIVE:
        raise LaunchError(
            "deployment_disabled",
            _(
                "Deployment %(deployment_id)s of the LMS at %(issuer)s has been disabled by an "
                "administrator of this tool.",
                deployment_id=repr(deployment_id),
                issuer=client.issuer,
            ),
            status=403,
            log=log,
        )
    if deployment is None:
        raise LaunchError(
            "unknown_deployment",
            _(
                "Deployment %(deployment_id)s of the LMS at %(issuer)s (client id %(client_id)s) is not "
                "registered with the tool.",
                deployment_id=repr(deployment_id),
                issuer=client.issuer,
                client_id=repr(client.client_id),
            ),
            hint=_("Each place the LMS installs the tool has its own deployment id; register this one."),
            command=(
                f"flask --app wsgi platform deployment-add {client.issuer} "
                f"--client-id {client.client_id} --deployment-id {deployment_id}"
            ),
            log=log,
        )
    return deployment


@dataclass(frozen=True)
class LoginRedirect:
    url: str
    state: str
    nonce: str
    cookie_name: str
    cookie_max_age: int
    # Platform storage (LTI client-side postMessages): the frame to talk to and the origin it has.
    storage_target: str | None = None
    storage_origin: str | None = None


LOGIN_PARAMS = (
    "iss",
    "login_hint",
    "target_link_uri",
    "lti_message_hint",
    "client_id",
    "lti_deployment_id",
    "deployment_id",
    "lti_storage_target",
)
STORAGE_TARGET_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")


def start_login(params: Mapping[str, str], *, launch_url: str, tool_origin: str) -> LoginRedirect:
    """Answer an OIDC third-party-initiated login: where to send the browser, and the state kept."""
    issuer = _param(params, "iss")
    login_hint = _param(params, "login_hint")
    target_link_uri = _param(params, "target_link_uri")
    message_hint = _param(params, "lti_message_hint", required=False)
    client_id = _param(params, "client_id", required=False)
    deployment_id = _param(params, "lti_deployment_id", required=False) or _param(
        params, "deployment_id", required=False
    )
    log = {"issuer": issuer, "client_id": client_id, "deployment_id": deployment_id}
    if origin_of(target_link_uri) != tool_origin or _ambiguous_host(target_link_uri):
        # Never an open redirect: a launch may only land on this tool.
        raise LaunchError(
            "bad_target",
            _(
                "The login asks to launch %(target_link_uri)s, which is not part of this tool "
                "(%(tool_origin)s).",
                target_link_uri=target_link_uri,
                tool_origin=tool_origin,
            ),
            hint=_("Set the tool's target link URI in the LMS to this tool's launch URL."),
            log=log,
        )
    client = find_client_for_login(issuer, client_id, deployment_id)
    log["client_id"] = client.client_id
    log["platform_id"] = client.platform_id
    _check_platform(client, log)
    if deployment_id:
        _check_deployment(client, deployment_id, log, signed=False)

    storage_target = _param(params, "lti_storage_target", required=False)
    if storage_target and not set(storage_target) <= STORAGE_TARGET_CHARS:
        storage_target = None  # a frame name we would not trust in a page; cookies still work
    auth_url = client.platform.auth_url
    storage_origin = origin_of(auth_url) if storage_target else None

    settings = _settings()
    state = secrets.token_urlsafe(32)
    nonce = secrets.token_urlsafe(32)
    cache().set(
        f"state:{state}",
        {
            "nonce": nonce,
            "issuer": client.issuer,
            "client_pk": client.id,
            "client_id": client.client_id,
            "target_link_uri": target_link_uri,
            "created": time.time(),
            "storage_target": storage_target,
            "storage_origin": storage_origin,
            # What a relaunch in a new window needs to start the same login again.
            "login_params": {k: params[k] for k in LOGIN_PARAMS if isinstance(params.get(k), str)},
        },
        settings.LOGIN_STATE_TTL_SECONDS,
    )
    query = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": client.client_id,
        "redirect_uri": launch_url,
        "login_hint": login_hint,
        "state": state,
        "nonce": nonce,
    }
    if message_hint:
        query["lti_message_hint"] = message_hint  # opaque: passed back untouched
    separator = "&" if urlsplit(auth_url).query else "?"
    return LoginRedirect(
        url=auth_url + separator + urlencode(query),
        state=state,
        nonce=nonce,
        cookie_name=STATE_COOKIE_PREFIX + state,
        cookie_max_age=settings.LOGIN_STATE_TTL_SECONDS,
        storage_target=storage_target,
        storage_origin=storage_origin,
    )


def _ambiguous_host(url: str) -> bool:
    # Python reads "https://evil.example\\@tool/" as host "tool"; browsers read "evil.example".
    # A URL whose host two parsers could disagree on is never taken as this tool's.
    return "\\" in url or "@" in urlsplit(url).netloc


def origin_of(url: str) -> str:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return ""
    if not parts.scheme or not parts.hostname:
        return ""
    default = {"http": 80, "https": 443}.get(parts.scheme)
    host = parts.hostname if port in (None, default) else f"{parts.hostname}:{port}"
    return f"{parts.scheme}://{host}"


@dataclass
class ValidatedLaunch:
    claims: dict[str, Any]
    client: PlatformClient
    deployment: Deployment
    message_type: str
    log: dict[str, Any] = field(default_factory=dict)
    # Set when no state cookie came back but the login used platform storage: the page must read
    # the state from the platform's storage frame and confirm it before the launch counts.
    storage_check: dict[str, str] | None = None


def _unverified(id_token: str) -> jws.Token:
    """The token split and decoded once: read here untrusted, verified later over the same parts."""
    if len(id_token) > MAX_ID_TOKEN_BYTES:
        raise LaunchError("malformed_jwt", _("The id_token is larger than any LTI launch should be."))
    try:
        return jws.parse(id_token)
    except (jwt.InvalidTokenError, ValueError, TypeError, RecursionError):
        raise LaunchError(
            "malformed_jwt",
            _("The id_token is not a well-formed JWT (three base64url parts, header and body JSON objects)."),
        ) from None


def _string_claim(body: Mapping[str, Any], name: str, log: Mapping[str, Any]) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise LaunchError("missing_claim", _(
            "The id_token has no %(name)s claim (or it is not text).",
            name=repr(name),
        ), log=log)
    if not is_clean_text(value) or len(value) > 1000:
        raise LaunchError("missing_claim", _(
            "The id_token's %(name)s claim is too long or has control characters.",
            name=repr(name),
        ), log=log)
    return value


def _audiences(body: Mapping[str, Any], log: Mapping[str, Any]) -> list[str]:
    aud = body.get("aud")
    if isinstance(aud, str) and aud and is_clean_text(aud) and len(aud) <= 255:
        return [aud]
    if isinstance(aud, list) and aud and all(isinstance(a, str) and a for a in aud):
        if all(is_clean_text(a) and len(a) <= 255 for a in aud):
            return aud
    raise LaunchError("missing_claim", _("The id_token has no valid 'aud' claim."), log=log)


def validate_launch(form: Mapping[str, str], cookies: Mapping[str, str]) -> ValidatedLaunch:
    """Check everything an LTI 1.3 launch must satisfy; consume its state and nonce on success."""
    settings = _settings()
    id_token = form.get("id_token")
    state = form.get("state")
    if not id_token:
        error = form.get("error")
        if error:
            # The platform answered the authentication request with an OIDC error.
            description = str(form.get("error_description") or "")[:500]
            raise LaunchError(
                "bad_login_request",
                f"The LMS refused the login: {str(error)[:100]}" + (f" ({description})" if description else ""),
            )
        raise LaunchError("malformed_jwt", _("The launch has no id_token."))
    token = _unverified(id_token)
    header, body = token.header, token.claims
    log: dict[str, Any] = {
        "issuer": body.get("iss") if isinstance(body.get("iss"), str) else None,
        "deployment_id": body.get(DEPLOYMENT_ID) if isinstance(body.get(DEPLOYMENT_ID), str) else None,
        "message_type": body.get(MESSAGE_TYPE) if isinstance(body.get(MESSAGE_TYPE), str) else None,
        "user_sub": body.get("sub") if isinstance(body.get("sub"), str) else None,
    }
    if not state:
        raise LaunchError(
            "state_missing", _("The launch has no state parameter, so it cannot be tied to a login."), log=log
        )
    if header.get("alg") != "RS256":
        raise LaunchError(
            "bad_signature",
            _(
                "The id_token is signed with %(alg)s; LTI 1.3 requires RS256.",
                alg=repr(str(header.get('alg'))[:20]),
            ),
            log=log,
        )
    issuer = _string_claim(body, "iss", log)
    audiences = _audiences(body, log)
    azp = body.get("azp")
    if azp is not None and (not is_clean_text(azp) or azp not in audiences):
        raise LaunchError(
            "azp_mismatch",
            _(
                "The id_token's azp %(azp)s is not one of its audiences %(audiences)s.",
                azp=repr(str(azp)[:255]),
                audiences=repr(audiences[:5]),
            ),
            log=log,
        )
    if azp is None and len(audiences) > 1:
        raise LaunchError(
            "azp_mismatch", _(
                "The id_token has several audiences but no azp naming this tool's client id.",
            ), log=log
        )
    client_id = azp or audiences[0]
    log["client_id"] = client_id

    login = cache().get(f"state:{state}") if len(state) <= 100 and is_clean_text(state) else None
    client = registrations.find_client(issuer, client_id)
    if client is None:
        if login and login.get("issuer") == issuer:
            raise LaunchError(
                "wrong_aud",
                _(
                    "The id_token is addressed to client id %(client_id)s, but this login was started for "
                    "client id %(client_id2)s.",
                    client_id=repr(client_id),
                    client_id2=repr(login.get('client_id')),
                ),
                log=log,
            )
        if registry.clients_of_issuer(issuer):
            raise LaunchError(
                "unknown_client",
                _(
                    "The LMS at %(issuer)s is registered, but not with client id %(client_id)s.",
                    issuer=issuer,
                    client_id=repr(client_id),
                ),
                command=f"flask --app wsgi platform client-add {issuer} --client-id {client_id}",
                log=log,
            )
        raise LaunchError(
            "unknown_issuer",
            _("No LMS with issuer %(issuer)s is registered with this tool.", issuer=issuer),
            command=add_platform_command(issuer, client_id, log.get("deployment_id")),
            log=log,
        )
    log["platform_id"] = client.platform_id
    _check_platform(client, log)
    if login and login.get("client_pk") != client.id:
        raise LaunchError(
            "wrong_aud",
            _(
                "The id_token is addressed to client id %(client_id)s, but this login was started for "
                "client id %(client_id2)s.",
                client_id=repr(client_id),
                client_id2=repr(login.get('client_id')),
            ),
            log=log,
        )

    try:
        kid = header.get("kid")
        key = verification_key(client.platform, kid if is_clean_text(kid) and len(kid) <= 255 else None)
    except PlatformKeyError as exc:
        raise LaunchError(exc.reason, exc.message, status=502 if exc.reason == "jwks_unreachable" else 400, log=log) from None
    try:
        claims = jws.verify(
            token,
            key,
            audience=client_id,
            issuer=issuer,
            leeway=settings.LAUNCH_LEEWAY_SECONDS,
            require=("exp", "iat", "nonce"),
        )
    except jwt.ExpiredSignatureError:
        raise LaunchError(
            "expired",
            _("The id_token has expired: the launch took too long, or the LMS clock is behind."),
            hint=_(
                "The tool allows %(LAUNCH_LEEWAY_SECONDS)s s of clock drift (LAUNCH_LEEWAY_SECONDS).",
                LAUNCH_LEEWAY_SECONDS=settings.LAUNCH_LEEWAY_SECONDS,
            ),
            log=log,
        ) from None
    except jwt.ImmatureSignatureError:
        raise LaunchError(
            "iat_future",
            _("The id_token says it was issued in the future: the LMS clock is ahead of the tool's."),
            hint=_(
                "The tool allows %(LAUNCH_LEEWAY_SECONDS)s s of clock drift (LAUNCH_LEEWAY_SECONDS); check "
                "both servers synchronise their time (NTP).",
                LAUNCH_LEEWAY_SECONDS=settings.LAUNCH_LEEWAY_SECONDS,
            ),
            log=log,
        ) from None
    except jwt.InvalidSignatureError:
        raise LaunchError(
            "bad_signature", _("The id_token's signature does not match the LMS's public key."), log=log
        ) from None
    except jwt.MissingRequiredClaimError as exc:
        raise LaunchError("missing_claim", _(
            "The id_token has no %(claim)s claim.",
            claim=repr(exc.claim),
        ), log=log) from None
    except jwt.InvalidAudienceError:
        raise LaunchError("wrong_aud", _(
            "The id_token is not addressed to client id %(client_id)s.",
            client_id=repr(client_id),
        ), log=log) from None
    except jwt.InvalidTokenError as exc:
        raise LaunchError("malformed_jwt", _(
            "The id_token is not valid: %(exc)s",
            exc=str(exc)[:200],
        ), log=log) from None
    if claims["exp"] - time.time() > MAX_ID_TOKEN_LIFETIME_SECONDS:
        raise LaunchError(
            "malformed_jwt", _("The id_token's 'exp' is more than a day ahead; a launch token lasts minutes."), log=log
        )

    deployment_id = _string_claim(claims, DEPLOYMENT_ID, log)
    deployment = _check_deployment(client, deployment_id, log)
    if claims.get(VERSION) != "1.3.0":
        raise LaunchError(
            "wrong_version",
            _(
                "The launch says LTI version %(VERSION)s; this tool speaks LTI 1.3.0.",
                VERSION=repr(str(claims.get(VERSION))[:20]),
            ),
            log=log,
        )
    message_type = claims.get(MESSAGE_TYPE)
    if message_type not in SUPPORTED_MESSAGE_TYPES:
        raise LaunchError(
            "wrong_message_type",
            f"The tool does not handle {str(message_type)[:60]!r} messages; it handles "
            + " and ".join(SUPPORTED_MESSAGE_TYPES)
            + ".",
            log=log,
        )
    _check_message_claims(claims, message_type, log)

    nonce = claims["nonce"]
    if not is_clean_text(nonce) or len(nonce) > 255:
        raise LaunchError("missing_claim", _("The id_token's nonce is not a short string."), log=log)
    nonce_key = f"nonce:{client.platform_id}:{nonce}"
    if cache().get(nonce_key) is not None:
        raise LaunchError(
            "nonce_replayed",
            _("This id_token was already used for a launch; each launch token works once."),
            hint=_("Open the tool again from the LMS."),
            log=log,
        )
    if login is None:
        raise LaunchError(
            "state_mismatch",
            _(
                "The launch's state is unknown or expired: it does not match a login started with this tool "
                "in the last %(LOGIN_STATE_TTL_SECONDS)s minutes.",
                LOGIN_STATE_TTL_SECONDS=settings.LOGIN_STATE_TTL_SECONDS // 60,
            ),
            hint=_("Open the tool again from the LMS."),
            log=log,
        )
    if login.get("nonce") != nonce:
        raise LaunchError(
            "state_mismatch", _("The id_token's nonce does not match the one sent at login."), log=log
        )

    cookie_ok = cookies.get(STATE_COOKIE_PREFIX + state) == state
    if not cookie_ok and not login.get("storage_target"):
        raise LaunchError(
            "state_mismatch",
            _(
                "The browser did not send back the cookie set when this launch began, so the launch cannot "
                "be tied to this browser.",
            ),
            hint=_(
                "Browsers often block cookies inside an LMS frame. Open the tool in a new window to "
                "continue.",
            ),
            log=log,
            relaunch_ticket=_relaunch_ticket(login),
        )

    # Consume both, atomically: a second use of this state or nonce fails from here on.
    if cache().pop(f"state:{state}") is None or not cache().add(
        nonce_key, 1, int(claims["exp"] - time.time()) + settings.LAUNCH_LEEWAY_SECONDS + 60
    ):
        raise LaunchError(
            "nonce_replayed", _("This launch was used twice at the same moment; each works once."), log=log
        )
    launch = ValidatedLaunch(
        claims=claims, client=client, deployment=deployment, message_type=message_type, log=log
    )
    if not cookie_ok:
        launch.storage_check = {
            "state": state,
            "target": login["storage_target"],
            "origin": login["storage_origin"],
            "relaunch_ticket": _relaunch_ticket(login),
        }
    return launch


def _relaunch_ticket(login: Mapping[str, Any]) -> str | None:
    """A short-lived ticket to start the same login again in a top-level window."""
    params = login.get("login_params")
    if not params:
        return None
    ticket = secrets.token_urlsafe(24)
    cache().set(f"relaunch:{ticket}", params, _settings().LOGIN_STATE_TTL_SECONDS)
    return ticket


def relaunch_params(ticket: str) -> dict[str, str] | None:
    """The login parameters a relaunch ticket stands for (single use)."""
    if not ticket or len(ticket) > 100 or not is_clean_text(ticket):
        return None
    return cache().pop(f"relaunch:{ticket}")


PENDING_TTL_SECONDS = 120


def hold_for_storage_check(launch: ValidatedLaunch) -> str:
    """Keep a validated launch until the page proves, from platform storage, that this browser
    started the login. Returns the id the page confirms with."""
    pending_id = secrets.token_urlsafe(32)
    cache().set(
        f"pending:{pending_id}",
        {
            "claims": launch.claims,
            "client_pk": launch.client.id,
            "deployment_pk": launch.deployment.id,
            "message_type": launch.message_type,
            "log": launch.log,
            "state": launch.storage_check["state"] if launch.storage_check else None,
        },
        PENDING_TTL_SECONDS,
    )
    return pending_id


def confirm_storage_check(pending_id: str, state_from_storage: str) -> ValidatedLaunch:
    """Complete a held launch when the state read from the platform's storage matches."""
    held = (
        cache().pop(f"pending:{pending_id}")
        if pending_id and len(pending_id) <= 100 and is_clean_text(pending_id)
        else None
    )
    if held is None:
        raise LaunchError(
            "state_mismatch",
            _("This launch waited too long for the browser to confirm it, or was already confirmed."),
            hint=_("Open the tool again from the LMS."),
        )
    log = held.get("log") or {}
    expected = held.get("state") or ""
    if not state_from_storage or not secrets.compare_digest(str(state_from_storage), expected):
        raise LaunchError(
            "state_mismatch",
            _(
                "The LMS's storage does not hold the state of this launch, so it cannot be tied to this "
                "browser.",
            ),
            hint=_("Open the tool in a new window, or again from the LMS."),
            log=log,
        )
    client = registry.client_by_pk(held["client_pk"])
    deployment = registry.deployment_by_pk(held["deployment_pk"])
    if client is None or deployment is None:
        raise LaunchError("unknown_client", _(
            "This LMS registration was removed while the launch was under way.",
        ), log=log)
    return ValidatedLaunch(
        claims=held["claims"], client=client, deployment=deployment, message_type=held["message_type"], log=log
    )


def _check_message_claims(claims: Mapping[str, Any], message_type: str, log: Mapping[str, Any]) -> None:
    _string_claim(claims, "sub", log)
    roles = claims.get(ROLES)
    if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
        raise LaunchError("missing_claim", _(
            "The id_token has no %(ROLES)s claim (a list of role URIs).",
            ROLES=repr(ROLES),
        ), log=log)
    if not isinstance(claims.get(TARGET_LINK_URI), str):
        raise LaunchError("missing_claim", _(
            "The id_token has no %(TARGET_LINK_URI)s claim.",
            TARGET_LINK_URI=repr(TARGET_LINK_URI),
        ), log=log)
    context = claims.get(CONTEXT)
    if context is not None and (not isinstance(context, dict) or not is_clean_text(context.get("id")) or not context["id"]):
        raise LaunchError("missing_claim", _("The id_token's context claim has no id."), log=log)
    if message_type == RESOURCE_LINK_REQUEST:
        link = claims.get(RESOURCE_LINK)
        if not isinstance(link, dict) or not is_clean_text(link.get("id")) or not link["id"]:
            raise LaunchError("missing_claim", _(
                "The id_token has no %(RESOURCE_LINK)s claim with an id.",
                RESOURCE_LINK=repr(RESOURCE_LINK),
            ), log=log)
    if message_type == DEEP_LINKING_REQUEST:
        settings = claims.get(DEEP_LINKING_SETTINGS)
        if not isinstance(settings, dict) or not isinstance(settings.get("deep_link_return_url"), str):
            raise LaunchError(
                "missing_claim",
                _(
                    "The deep-linking request has no deep_link_return_url in %(DEEP_LINKING_SETTINGS)s.",
                    DEEP_LINKING_SETTINGS=repr(DEEP_LINKING_SETTINGS),
                ),
                log=log,
            )
    for name in ("name", "given_name", "family_name", "email", "picture", "locale"):
        if name in claims and claims[name] is not None and not isinstance(claims[name], str):
            raise LaunchError("missing_claim", _(
                "The id_token's %(name)s claim is not text.",
                name=repr(name),
            ), log=log)
