"""The development LMS: configuration, sample course, profiles, and adapters onto `lti1p3platform`.

Nothing here imports Flask: views hand in the request's values and render what comes back, so the
same logic serves the development LMS mounted inside the tool and the standalone test platform.

Per-launch details (person, link, message type, profile) travel inside the signed
`lti_message_hint`, and deep-linking details inside the signed `data` setting, so any process can
answer any step of a launch. The little state a platform must keep (placed links, used nonces and
assertion ids) lives in JSON files beside the platform key, shared by every process on the machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from hashlib import sha1
from pathlib import Path
from typing import Any, Iterator, Mapping
from urllib.parse import urlencode, urlsplit

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from lti1p3platform import exceptions as lib_errors
from lti1p3platform.ltiplatform import JWKS, LTI1P3PlatformConfAbstract
from lti1p3platform.message_launch import LTIAdvantageMessageLaunchAbstract
from lti1p3platform.oidc_login import OIDCLoginAbstract
from lti1p3platform.registration import Registration
from lti1p3platform.request import Request, TRequest

try:  # Advisory file locks keep several processes from losing each other's writes.
    import fcntl
except ImportError:  # pragma: no cover - Windows: one process at a time is fine for a dev LMS
    fcntl = None  # type: ignore[assignment]

# --- LTI vocabulary -------------------------------------------------------------------------------

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
CANVAS_PLACEMENT_CLAIM = "https://www.instructure.com/placement"

RESOURCE_LINK_REQUEST = "LtiResourceLinkRequest"
DEEP_LINKING_REQUEST = "LtiDeepLinkingRequest"
DEEP_LINKING_RESPONSE = "LtiDeepLinkingResponse"
LTI_VERSION = "1.3.0"

MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
INSTITUTION = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#"
SYSTEM = "http://purl.imsglobal.org/vocab/lis/v2/system/person#"

SCOPE_LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
SCOPE_LINEITEM_READONLY = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
SCOPE_RESULT_READONLY = "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly"
SCOPE_SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
SCOPE_NRPS = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
# What this platform grants the tool; a request for anything else is refused (invalid_scope),
# as strict real platforms do.
GRANTED_SCOPES = (
    SCOPE_LINEITEM,
    SCOPE_LINEITEM_READONLY,
    SCOPE_RESULT_READONLY,
    SCOPE_SCORE,
    SCOPE_NRPS,
)

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ID_TOKEN_TTL = 5 * 60
MESSAGE_HINT_TTL = 10 * 60
# A teacher may browse the tool for a while before placing content.
DEEP_LINK_DATA_TTL = 2 * 3600
ACCESS_TOKEN_TTL = 3600

# --- The sample course ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    key: str
    name: str
    given_name: str
    family_name: str
    email: str
    role: str  # learner, teacher or admin
    moodle_user_id: int

    @property
    def can_deep_link(self) -> bool:
        return self.role in ("teacher", "admin")

    @property
    def username(self) -> str:
        return self.given_name.lower()


PEOPLE: tuple[Person, ...] = (
    Person("ada", "Ada Lovelace", "Ada", "Lovelace", "ada.lovelace@example.edu", "learner", 3),
    Person("grace", "Grace Hopper", "Grace", "Hopper", "grace.hopper@example.edu", "learner", 4),
    Person("tom", "Tom Teacher", "Tom", "Teacher", "tom.teacher@example.edu", "teacher", 5),
    # Moodle's first site administrator is user 2.
    Person("alex", "Alex Admin", "Alex", "Admin", "alex.admin@example.edu", "admin", 2),
)


def find_person(key: str | None) -> Person:
    for person in PEOPLE:
        if person.key == key:
            return person
    known = ", ".join(p.key for p in PEOPLE)
    raise DevPlatformError(f"Unknown person {key!r}: choose one of {known}.")


@dataclass(frozen=True)
class Course:
    context_id: str = "astro-101"
    title: str = "Introduction to Astronomy"
    label: str = "ASTRO 101"


COURSE = Course()


@dataclass(frozen=True)
class Link:
    """A resource link placed in the course: the built-in one or one placed by deep linking."""

    id: str
    title: str
    url: str | None = None  # None: the tool's launch URL
    text: str = ""
    custom: Mapping[str, str] = field(default_factory=dict)
    line_item: Mapping[str, Any] | None = None
    profile: str | None = None  # None: shown in every profile
    cmid: int = 7  # the Moodle course module id of this link
    placed_by: str | None = None
    placed_at: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "url": self.url,
            "text": self.text,
            "custom": dict(self.custom),
            "lineItem": dict(self.line_item) if self.line_item else None,
            "profile": self.profile,
            "cmid": self.cmid,
            "placed_by": self.placed_by,
            "placed_at": self.placed_at,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Link:
        return cls(
            id=data["id"],
            title=data.get("title") or "Untitled link",
            url=data.get("url"),
            text=data.get("text") or "",
            custom=dict(data.get("custom") or {}),
            line_item=data.get("lineItem"),
            profile=data.get("profile"),
            cmid=int(data.get("cmid") or 7),
            placed_by=data.get("placed_by"),
            placed_at=data.get("placed_at"),
        )


DEFAULT_LINK = Link(id="astro-101-link-1", title="Astronomy course materials", text="The course in the tool.")

# --- Profiles: how a real LMS shapes the messages, kept as data -------------------------------------


@dataclass(frozen=True)
class Profile:
    key: str
    label: str
    product_family_code: str
    platform_version: str
    context_types: tuple[str, ...]
    roles: Mapping[str, tuple[str, ...]]
    # Canvas defaults to anonymous: no name or email unless the developer key asks for them.
    default_privacy: str
    # "moodle": login_hint is the numeric user id, lti_message_hint a JSON {cmid, launchid}.
    # "canvas": login_hint is an opaque hash, lti_message_hint an opaque signed JWT.
    hint_style: str
    # Moodle's service and return URLs carry query strings; tools must keep them.
    service_query: str = ""
    # Extra parameters on the login initiation request.
    login_extras: Mapping[str, str] = field(default_factory=dict)
    # Whether launches offer platform storage (LTI client-side postMessages) unless the person
    # launching says otherwise: Canvas does, naming its storage frame in `lti_storage_target`.
    offers_platform_storage: bool = False
    sends_lis_and_ext: bool = False
    sends_placement: bool = False
    custom: Mapping[str, str] = field(default_factory=dict)
    # Dynamic registration, as each LMS does it: which entry of a message type listed twice it
    # keeps ("last" Moodle, "first" Sakai, "all" Canvas), whether it names the deployment in its
    # answer, whether it runs the tool's registration page in an iframe, the placements it offers
    # per message type, and the member of the tool configuration that carries a privacy level.
    registration_keeps: str = "all"
    sends_deployment_at_registration: bool = False
    registration_in_iframe: bool = False
    placements: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    privacy_extension: str | None = None


PROFILES: dict[str, Profile] = {
    "moodle": Profile(
        key="moodle",
        label="Moodle",
        product_family_code="moodle",
        platform_version="2024100700",
        context_types=("CourseSection",),
        roles={
            "learner": (MEMBERSHIP + "Learner",),
            "teacher": (MEMBERSHIP + "Instructor",),
            "admin": (INSTITUTION + "Administrator", MEMBERSHIP + "Instructor", SYSTEM + "Administrator"),
        },
        default_privacy="public",
        hint_style="moodle",
        service_query="type_id=1",
        sends_lis_and_ext=True,
        custom={"course_code": "ASTRO-101"},
        registration_keeps="last",
        sends_deployment_at_registration=True,
    ),
    "canvas": Profile(
        key="canvas",
        label="Canvas",
        product_family_code="canvas",
        platform_version="cloud",
        context_types=("http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering",),
        roles={
            "learner": (INSTITUTION + "Student", MEMBERSHIP + "Learner", SYSTEM + "User"),
            "teacher": (INSTITUTION + "Instructor", MEMBERSHIP + "Instructor", SYSTEM + "User"),
            # An account admin who is not enrolled in the course: no membership role at all.
            "admin": (INSTITUTION + "Administrator", SYSTEM + "User"),
        },
        default_privacy="anonymous",
        hint_style="canvas",
        login_extras={
            "canvas_region": "us-east-1",
            "canvas_environment": "prod",
        },
        offers_platform_storage=True,
        sends_placement=True,
        custom={"course_code": "ASTRO-101"},
        registration_keeps="all",
        registration_in_iframe=True,
        placements={
            "LtiResourceLinkRequest": ("course_navigation", "link_selection"),
            "LtiDeepLinkingRequest": ("link_selection", "assignment_selection", "editor_button"),
        },
        privacy_extension="https://canvas.instructure.com/lti/privacy_level",
    ),
}
PRIVACY_LEVELS = ("anonymous", "public")
# The name of the hidden frame on the course page that answers platform-storage postMessages
# (Canvas's name for it); tools address it as window.parent.frames[<name>].
STORAGE_FRAME_NAME = "post_message_forwarding"
DEFAULT_CANVAS_DEPLOYMENT_ID = "42:8865aa05b4b79b64a91a86042e43af5ea8ae79eb"


def tool_origin(config: PlatformConfig) -> str:
    """The origin the tool's pages run on (where its login URL is): the only origin the storage
    frame answers. Spelled as browsers spell `event.origin`: lower case, no default port."""
    parts = urlsplit(config.tool_login_url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port is not None and port != {"http": 80, "https": 443}.get(parts.scheme):
        host = f"{host}:{port}"
    return f"{parts.scheme}://{host}"


def find_profile(key: str | None) -> Profile:
    profile = PROFILES.get(key or "")
    if profile is None:
        raise DevPlatformError(f"Unknown profile {key!r}: choose one of {', '.join(PROFILES)}.")
    return profile


def subject_of(person: Person, profile: Profile) -> str:
    """The stable `sub`: Moodle's user id, Canvas's user UUID."""
    if profile.hint_style == "moodle":
        return str(person.moodle_user_id)
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"dev-lms:canvas:user:{person.key}"))


def login_hint_of(person: Person, profile: Profile) -> str:
    if profile.hint_style == "moodle":
        return str(person.moodle_user_id)
    return sha1(f"dev-lms:canvas:login:{person.key}".encode()).hexdigest()


# --- Configuration --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlatformConfig:
    """Where the platform and the tool live, and who the tool is to the platform.

    `issuer` is the platform's base URL (its endpoints hang under it); `tool_url` the tool's base
    URL. Either may be left empty when the values come from the request (the mounted LMS).
    """

    issuer: str = ""
    tool_url: str = ""
    key_dir: str = ""
    client_id: str = "dev-client"
    # Deployment id of the Moodle profile (Moodle's tool type id) and of the Canvas profile.
    deployment_id: str = "1"
    canvas_deployment_id: str = DEFAULT_CANVAS_DEPLOYMENT_ID
    profile: str = "moodle"
    name: str = "Development LMS"
    login_path: str = "/lti/login"
    launch_path: str = "/lti/launch"
    tool_jwks_path: str = "/.well-known/jwks.json"
    tool_register_path: str = "/lti/register"
    # Seconds of clock drift tolerated on JWTs the tool sends.
    leeway_seconds: int = 60
    # Members per roster (NRPS) page when the tool asks for no limit: small, so paging is exercised.
    roster_page_size: int = 2
    # Set once the tool registered itself by dynamic registration: what it registered replaces
    # the defaults above (see `with_registration`).
    registered_login_url: str = ""
    registered_launch_url: str = ""
    registered_redirect_uris: tuple[str, ...] = ()
    registered_jwks_url: str = ""
    registered_privacy: str = ""

    def with_urls(self, issuer: str, tool_url: str) -> PlatformConfig:
        return replace(self, issuer=self.issuer or issuer, tool_url=self.tool_url or tool_url)

    def _base(self) -> str:
        if not self.issuer:
            raise DevPlatformError("The development LMS has no issuer URL configured.")
        return self.issuer.rstrip("/")

    @property
    def auth_url(self) -> str:
        return self._base() + "/auth"

    @property
    def token_url(self) -> str:
        return self._base() + "/token"

    @property
    def jwks_url(self) -> str:
        return self._base() + "/jwks"

    @property
    def deep_link_return_endpoint(self) -> str:
        return self._base() + "/deep-link-return"

    @property
    def course_url(self) -> str:
        return self._base() + "/"

    def _tool(self, path: str) -> str:
        if not self.tool_url:
            raise DevPlatformError("The development LMS does not know the tool's URL.")
        return self.tool_url.rstrip("/") + path

    @property
    def tool_login_url(self) -> str:
        return self.registered_login_url or self._tool(self.login_path)

    @property
    def tool_launch_url(self) -> str:
        return self.registered_launch_url or self._tool(self.launch_path)

    @property
    def tool_jwks_url(self) -> str:
        return self.registered_jwks_url or self._tool(self.tool_jwks_path)

    @property
    def tool_register_url(self) -> str:
        return self._tool(self.tool_register_path)

    @property
    def redirect_uris(self) -> tuple[str, ...]:
        # The tool's registered redirect URIs: launches and deep-linking requests alike.
        return self.registered_redirect_uris or (self.tool_launch_url,)

    @property
    def openid_configuration_url(self) -> str:
        return self._base() + "/openid-configuration"

    @property
    def registration_endpoint(self) -> str:
        return self._base() + "/registrations"

    def with_registration(self, registration: Mapping[str, Any] | None) -> PlatformConfig:
        """This platform as the tool registered itself with it (unchanged when it did not)."""
        if not registration:
            return self
        return replace(
            self,
            client_id=registration["client_id"],
            registered_login_url=registration["initiate_login_uri"],
            registered_launch_url=registration["target_link_uri"],
            registered_redirect_uris=tuple(registration["redirect_uris"]),
            registered_jwks_url=registration["jwks_uri"],
            registered_privacy=registration.get("privacy_level") or "",
        )

    def deployment_for(self, profile: Profile) -> str:
        return self.canvas_deployment_id if profile.key == "canvas" else self.deployment_id

    @property
    def deployment_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.deployment_for(p) for p in PROFILES.values()))

    @property
    def key_path(self) -> Path:
        if not self.key_dir:
            raise DevPlatformError("The development LMS has no key directory configured.")
        return Path(self.key_dir)


class DevPlatformError(Exception):
    """A request the platform refuses; the message says what is wrong in plain words."""

    def __init__(
        self, message: str, status: int = 400, oauth_error: str | None = None, kind: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.oauth_error = oauth_error
        # For a refused tool JWT: "signer" (not signed by the tool's key) or "claims" (signed, unusable).
        self.kind = kind


# --- The platform key and the small shared stores -------------------------------------------------


@dataclass(frozen=True)
class PlatformKey:
    private_pem: str
    public_pem: str
    jwk: Mapping[str, Any]
    # Loaded once: parsing a private PEM checks the key and costs tens of milliseconds.
    private_key: Any = field(repr=False, compare=False, default=None)

    @property
    def kid(self) -> str:
        return self.jwk["kid"]


_key_cache: dict[str, PlatformKey] = {}
_key_lock = threading.Lock()


def platform_key(config: PlatformConfig) -> PlatformKey:
    """The platform's RSA key, generated into key_dir on first use and reused afterwards."""
    path = config.key_path / "platform-key.pem"
    with _key_lock:
        cached = _key_cache.get(str(path))
        if cached is not None:
            return cached
        if not path.exists():
            _create_key_file(path)
        private_pem = path.read_text()
        private_key = serialization.load_pem_private_key(private_pem.encode(), password=None)
        public_pem = (
            private_key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )
        # The library's JWK carries the RFC 7638 thumbprint as kid, the same kid it signs with.
        key = PlatformKey(private_pem, public_pem, Registration.get_jwk(public_pem), private_key)
        _key_cache[str(path)] = key
        return key


def _create_key_file(path: Path) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    # mkstemp creates the file readable by its owner only (0600), before the key is written.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".platform-key-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        # link() fails if another process won the race; its key then stands.
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        os.unlink(tmp)
    os.chmod(path, 0o600)


_store_lock = threading.Lock()


@contextlib.contextmanager
def _locked(config: PlatformConfig) -> Iterator[None]:
    directory = config.key_path
    directory.mkdir(parents=True, exist_ok=True)
    with _store_lock, open(directory / ".lock", "a") as handle:
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _read_json(path: Path, default: Any) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return default
    except ValueError:
        return default  # a damaged dev file is not worth a crash


def _write_json(path: Path, value: Any) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    with os.fdopen(fd, "w") as handle:
        json.dump(value, handle, indent=2)
    os.replace(tmp, path)


def remember_once(config: PlatformConfig, key: str, expires_at: float) -> bool:
    """Record a single-use value (nonce, jti); False if it was already seen and has not expired."""
    path = config.key_path / "seen.json"
    now = time.time()
    with _locked(config):
        seen = {k: v for k, v in _read_json(path, {}).items() if v > now}
        if key in seen:
            return False
        seen[key] = max(expires_at, now + 60)
        _write_json(path, seen)
        return True


def placed_links(config: PlatformConfig, profile: Profile | None = None) -> list[Link]:
    links = [Link.from_dict(item) for item in _read_json(config.key_path / "placed-links.json", [])]
    if profile is not None:
        links = [link for link in links if link.profile in (None, profile.key)]
    return links


def course_links(config: PlatformConfig, profile: Profile) -> list[Link]:
    return [DEFAULT_LINK, *placed_links(config, profile)]


def find_link(config: PlatformConfig, profile: Profile, link_id: str | None) -> Link:
    link_id = link_id or DEFAULT_LINK.id
    for link in course_links(config, profile):
        if link.id == link_id:
            return link
    raise DevPlatformError(f"There is no resource link {link_id!r} in this course ({profile.label} profile).")


def _add_placed_links(config: PlatformConfig, links: list[Link]) -> None:
    path = config.key_path / "placed-links.json"
    with _locked(config):
        stored = _read_json(path, [])
        stored.extend(link.as_dict() for link in links)
        _write_json(path, stored)


# --- Adapters onto lti1p3platform ------------------------------------------------------------------


class ValuesRequest(Request):
    """The library's request, built from plain values so it fits any web framework."""

    def __init__(
        self,
        method: str,
        query: Mapping[str, Any] | None = None,
        form: Mapping[str, Any] | None = None,
        headers: Mapping[str, Any] | None = None,
        path: str = "",
    ) -> None:
        self._values = {
            "method": method,
            "get_data": dict(query or {}),
            "form_data": dict(form or {}),
            "headers": dict(headers or {}),
            "content_type": None,
            "path": path,
            "json": None,
        }
        super().__init__(None)

    def build_metadata(self, request: Any) -> TRequest:
        return self._values  # type: ignore[return-value]

    @classmethod
    def from_flask(cls, request: Any) -> ValuesRequest:
        return cls(
            request.method,
            query=request.args.to_dict(),
            form=request.form.to_dict(),
            headers=dict(request.headers),
            path=request.path,
        )


class DevRegistration(Registration):
    """The library's registration, signing with the already loaded key and always naming its kid."""

    def __init__(self, key: PlatformKey) -> None:
        self._key = key
        self.set_platform_private_key(key.private_pem).set_platform_public_key(key.public_pem)

    def get_kid(self) -> str:
        # The library derives the kid from the private PEM again on every signature.
        return self._key.kid

    def encode_and_sign(  # type: ignore[override]
        self,
        payload: dict[str, Any],
        private_key: Any,
        headers: Any = None,
        expiration: int | None = None,
    ) -> str:
        # Called by the library for access tokens, which it signs without a kid header.
        if private_key == self._key.private_pem:
            private_key = self._key.private_key
        headers = {"kid": self._key.kid, **(headers or {})}
        return Registration.encode_and_sign(payload, private_key, headers, expiration=expiration)

    def platform_encode_and_sign(self, payload: dict[str, Any], expiration: int | None = None) -> str:
        return self.encode_and_sign(payload, self._key.private_key, None, expiration=expiration)


class DevPlatformConf(LTI1P3PlatformConfAbstract):
    """One registration: this platform, the tool, and the deployment of the chosen profile."""

    def init_platform_config(self, **kwargs: Any) -> None:
        config: PlatformConfig = kwargs["config"]
        profile: Profile = kwargs["profile"]
        key = platform_key(config)
        self.config = config
        self._registration = (
            DevRegistration(key)
            .set_iss(config.issuer)
            .set_client_id(config.client_id)
            .set_deployment_id(config.deployment_for(profile))
            .set_oidc_login_url(config.tool_login_url)
            .set_launch_url(config.tool_launch_url)
            .set_deeplink_launch_url(config.tool_launch_url)
            .set_tool_key_set_url(config.tool_jwks_url)
        )
        self._expected_audience: str | None = None

    def get_registration_by_params(self, **kwargs: Any) -> Registration:
        assert self._registration is not None
        return self._registration

    def fetch_public_key(self, key_set_url: str) -> JWKS:
        # The library reads any body as JWKS and echoes a whole HTML error page into its message.
        try:
            response = requests.get(key_set_url, timeout=5, headers={"Accept": "application/json"})
        except requests.RequestException as exc:
            raise DevPlatformError(f"Could not fetch the tool's JWKS from {key_set_url}: {exc}") from None
        if response.status_code != 200:
            raise DevPlatformError(
                f"The tool's JWKS at {key_set_url} answered HTTP {response.status_code}, not a key set."
            )
        try:
            keys = response.json()
        except ValueError:
            raise DevPlatformError(f"The tool's JWKS at {key_set_url} is not JSON.") from None
        if not isinstance(keys, dict) or not isinstance(keys.get("keys"), list):
            raise DevPlatformError(f"The tool's JWKS at {key_set_url} has no \"keys\" list.")
        return keys  # type: ignore[return-value]

    def tool_validate_and_decode(self, jwt_token_string: str) -> dict[str, Any]:
        # The library checks the signature only (no audience, no leeway, no required claims).
        try:
            self.validate_jwt_format(jwt_token_string)
            public_key = self.get_tool_public_key()
        except lib_errors.LtiException as exc:
            raise DevPlatformError(_key_problem(str(exc), self.config.tool_jwks_url), kind="signer") from None

        def unusable(message: str) -> DevPlatformError:
            return DevPlatformError(message, kind="claims")

        try:
            return jwt.decode(
                jwt_token_string,
                public_key,
                algorithms=["RS256"],
                audience=self._expected_audience,
                leeway=self.config.leeway_seconds,
                options={"require": ["iss", "aud", "exp", "iat"]},
            )
        except jwt.ExpiredSignatureError:
            raise unusable("The JWT has expired (exp is in the past).") from None
        except jwt.ImmatureSignatureError:
            raise unusable("The JWT is issued in the future (iat or nbf); check the tool's clock.") from None
        except jwt.InvalidAudienceError:
            got = _unverified(jwt_token_string).get("aud")
            raise unusable(f"The JWT's aud must be {self._expected_audience!r}; got {got!r}.") from None
        except jwt.MissingRequiredClaimError as exc:
            raise unusable(f"The JWT has no {exc.claim!r} claim.") from None
        except jwt.InvalidSignatureError:
            kid = _unverified_header(jwt_token_string).get("kid")
            raise DevPlatformError(
                "The JWT signature does not verify with the tool's public key "
                f"(kid {kid!r} from {self.config.tool_jwks_url}).",
                kind="signer",
            ) from None
        except jwt.PyJWTError as exc:
            raise unusable(f"The JWT is not valid: {exc}.") from None

    def decode_tool_jwt(self, token: str, audience: str) -> dict[str, Any]:
        self._expected_audience = audience
        return self.tool_validate_and_decode(token)


def _key_problem(message: str, jwks_url: str) -> str:
    if message == "Unable to find public key":
        return f"The tool's JWKS ({jwks_url}) has no RS256 key with the kid named in the JWT header."
    if message == "JWT KID not found":
        return "The JWT header has no kid, so the tool's key cannot be found."
    return message


def _unverified(token: str) -> dict[str, Any]:
    try:
        return jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return {}


def _unverified_header(token: str) -> dict[str, Any]:
    try:
        return jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        return {}


class DevOIDCLogin(OIDCLoginAbstract):
    """Third-party initiated login: a redirect to the tool's login URL."""

    def __init__(self, request: Any, platform_config: DevPlatformConf, extras: Mapping[str, str]) -> None:
        super().__init__(request, platform_config)
        self._extras = dict(extras)

    def set_lti_message_hint(self, **kwargs: Any) -> None:
        self._lti_message_hint = kwargs["hint"]

    def prepare_preflight_url(self, user_id: str) -> str:
        url = super().prepare_preflight_url(user_id)
        if self._extras:
            url += "&" + urlencode(self._extras)
        return url

    def get_redirect(self, url: str) -> str:
        return url  # the view turns it into a 302


class DevMessageLaunch(LTIAdvantageMessageLaunchAbstract):
    """The id_token answer to the tool's authentication request; claims come from the message hint."""

    def __init__(self, request: Request, platform_config: DevPlatformConf, hint: LaunchHint) -> None:
        super().__init__(request, platform_config)
        self.hint = hint
        self.set_id_token_expiration(ID_TOKEN_TTL)

    def prepare_launch(self, preflight_response: dict[str, Any]) -> None:
        build_claims(self, self._platform_config.config, self.hint)  # type: ignore[attr-defined]

    def render_launch_form(self, launch_data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return launch_data  # the view renders the auto-posting form


# --- Launch: from a click on the course page to the login initiation redirect ----------------------


@dataclass(frozen=True)
class LaunchHint:
    """What the platform needs to finish a launch, carried by the signed lti_message_hint."""

    person: str
    profile: str
    privacy: str
    message_type: str
    link_id: str | None
    login_hint: str
    target_link_uri: str
    deployment_id: str

    def claims(self) -> dict[str, Any]:
        return {
            "person": self.person,
            "profile": self.profile,
            "privacy": self.privacy,
            "message_type": self.message_type,
            "link": self.link_id,
            "login_hint": self.login_hint,
            "target_link_uri": self.target_link_uri,
            "deployment_id": self.deployment_id,
        }


def _hint_audience(config: PlatformConfig) -> str:
    # Distinct audiences keep a message hint, a deep-linking data token and an id_token
    # (all signed with the platform key) from standing in for one another.
    return config.auth_url


def _data_audience(config: PlatformConfig) -> str:
    return config.deep_link_return_endpoint


def _sign(config: PlatformConfig, payload: dict[str, Any], audience: str, ttl: int) -> str:
    key = platform_key(config)
    body = {**payload, "iss": config.issuer, "aud": audience, "jti": secrets.token_urlsafe(12)}
    return Registration.encode_and_sign(body, key.private_key, {"kid": key.kid}, expiration=ttl)


def _verify(config: PlatformConfig, token: str, audience: str, what: str) -> dict[str, Any]:
    try:
        return jwt.decode(
            token,
            platform_key(config).public_pem,
            algorithms=["RS256"],
            audience=audience,
            issuer=config.issuer,
            options={"require": ["exp", "iat", "iss", "aud"]},
        )
    except jwt.ExpiredSignatureError:
        raise DevPlatformError(f"{what} has expired; start again from the course page.") from None
    except jwt.PyJWTError:
        raise DevPlatformError(f"{what} was not issued by this platform or was altered.") from None


def start_launch(
    config: PlatformConfig,
    *,
    person_key: str,
    profile_key: str | None = None,
    link_id: str | None = None,
    deep_linking: bool = False,
    privacy: str | None = None,
    platform_storage: bool | None = None,
) -> str:
    """Begin a launch as `person`: the URL of the tool's login initiation endpoint to redirect to.

    `platform_storage` offers the tool this platform's storage frame for the launch (None: as the
    profile does by default)."""
    person = find_person(person_key)
    profile = find_profile(profile_key or config.profile)
    privacy = privacy or default_privacy(config, profile)
    if privacy not in PRIVACY_LEVELS:
        levels = ", ".join(PRIVACY_LEVELS)
        raise DevPlatformError(f"Unknown privacy level {privacy!r}: choose one of {levels}.")
    if deep_linking:
        if not person.can_deep_link:
            raise DevPlatformError(
                f"{person.name} is a {person.role}; only teachers and administrators can add content.",
                status=403,
            )
        link = None
        message_type = DEEP_LINKING_REQUEST
        target = config.tool_launch_url
    else:
        link = find_link(config, profile, link_id)
        message_type = RESOURCE_LINK_REQUEST
        target = link.url or config.tool_launch_url

    hint = LaunchHint(
        person=person.key,
        profile=profile.key,
        privacy=privacy,
        message_type=message_type,
        link_id=link.id if link else None,
        login_hint=login_hint_of(person, profile),
        target_link_uri=target,
        deployment_id=config.deployment_for(profile),
    )
    token = _sign(config, hint.claims(), _hint_audience(config), MESSAGE_HINT_TTL)
    if profile.hint_style == "moodle":
        # Moodle's hint is JSON naming the course module and a launch id it checks on return.
        cmid = link.cmid if link else 0
        message_hint = json.dumps({"cmid": cmid, "launchid": token}, separators=(",", ":"))
    else:
        message_hint = token

    extras: dict[str, str] = dict(profile.login_extras)
    if profile.offers_platform_storage if platform_storage is None else platform_storage:
        extras["lti_storage_target"] = STORAGE_FRAME_NAME
    if profile.key == "canvas":
        # Canvas repeats the registration on the login request.
        extras["deployment_id"] = hint.deployment_id
    conf = DevPlatformConf(config=config, profile=profile)
    login = DevOIDCLogin(None, conf, extras)
    login.set_lti_message_hint(hint=message_hint)
    login.set_launch_url(target)
    return login.initiate_login(hint.login_hint)


# --- Auth: the tool's authentication request, answered with an id_token ----------------------------


def read_message_hint(config: PlatformConfig, value: str) -> LaunchHint:
    token = value
    if value.startswith("{"):
        try:
            token = json.loads(value)["launchid"]
        except (ValueError, KeyError, TypeError):
            raise DevPlatformError(
                "lti_message_hint is not the value this platform sent; pass it back untouched."
            ) from None
    claims = _verify(config, str(token), _hint_audience(config), "lti_message_hint")
    return LaunchHint(
        person=claims["person"],
        profile=claims["profile"],
        privacy=claims["privacy"],
        message_type=claims["message_type"],
        link_id=claims.get("link"),
        login_hint=claims["login_hint"],
        target_link_uri=claims["target_link_uri"],
        deployment_id=claims["deployment_id"],
    )


def _require(params: Mapping[str, str], name: str, expected: str | None = None) -> str:
    value = (params.get(name) or "").strip()
    if not value:
        raise DevPlatformError(f"{name} is missing from the authentication request.")
    if expected is not None and value != expected:
        raise DevPlatformError(f"{name} must be {expected!r}; got {value!r}.")
    return value


def validate_auth_request(config: PlatformConfig, params: Mapping[str, str]) -> LaunchHint:
    """Check the tool's OIDC authentication request the way Moodle's auth.php and Canvas do."""
    _require(params, "scope", "openid")
    _require(params, "response_type", "id_token")
    _require(params, "response_mode", "form_post")
    _require(params, "prompt", "none")
    client_id = _require(params, "client_id")
    if client_id != config.client_id:
        raise DevPlatformError(f"client_id {client_id!r} is not registered with this platform.")
    redirect_uri = _require(params, "redirect_uri")
    if redirect_uri not in config.redirect_uris:
        registered = ", ".join(config.redirect_uris)
        raise DevPlatformError(
            f"redirect_uri {redirect_uri!r} is not one of the tool's registered redirect URIs ({registered})."
        )
    login_hint = _require(params, "login_hint")
    hint = read_message_hint(config, _require(params, "lti_message_hint"))
    if login_hint != hint.login_hint:
        raise DevPlatformError("login_hint does not match the user this platform started the login for.")
    _require(params, "nonce")
    _require(params, "state")
    return hint


def authorize(config: PlatformConfig, request: Request) -> dict[str, Any]:
    """Validate the authentication request; the launch form data (launch_url, id_token, state)."""
    params = request.get_data or request.form_data
    hint = validate_auth_request(config, params)
    conf = DevPlatformConf(config=config, profile=find_profile(hint.profile))
    launch = DevMessageLaunch(request, conf, hint)
    try:
        return launch.lti_launch()
    except lib_errors.PreflightRequestValidationException:
        raise DevPlatformError("The authentication request is incomplete.") from None


def build_claims(launch: DevMessageLaunch, config: PlatformConfig, hint: LaunchHint) -> None:
    """Shape the LTI claims for one person, link and profile onto the library's launch object."""
    person = find_person(hint.person)
    profile = find_profile(hint.profile)
    base = config.issuer.rstrip("/")
    share_identity = hint.privacy == "public"
    query = f"?{profile.service_query}" if profile.service_query else ""

    launch.set_launch_url(hint.target_link_uri)
    launch.set_user_data(
        subject_of(person, profile),
        list(profile.roles[person.role]),
        full_name=person.name if share_identity else None,
        email_address=person.email if share_identity else None,
    )
    extra: dict[str, Any] = {}
    if share_identity:
        extra.update(given_name=person.given_name, family_name=person.family_name)
    extra["locale"] = "en"
    launch.set_launch_context_claim(
        COURSE.context_id, list(profile.context_types), COURSE.title, COURSE.label
    )
    return_url = f"{base}/?{urlencode({'profile': profile.key})}"
    launch.set_launch_presentation_claim("iframe", return_url)
    assert launch.lti_claim_launch_presentation is not None
    launch.lti_claim_launch_presentation[LTI + "launch_presentation"]["locale"] = "en"

    lineitems_url = f"{base}/ags/{COURSE.context_id}/lineitems{query}"
    custom = dict(profile.custom)
    lineitem_url = None
    if hint.message_type == RESOURCE_LINK_REQUEST:
        link = find_link(config, profile, hint.link_id)
        launch.set_resource_link_claim(link.id, link.text or None, link.title)
        custom.update(link.custom)
        if link.line_item:
            lineitem_url = f"{base}/ags/{COURSE.context_id}/lineitems/{link.id}/lineitem{query}"
        if profile.sends_placement:
            placement = "course_navigation" if link.id == DEFAULT_LINK.id else "link_selection"
            extra[CANVAS_PLACEMENT_CLAIM] = placement
    else:
        data = _sign(
            config,
            {"person": person.key, "profile": profile.key, "deployment_id": hint.deployment_id},
            _data_audience(config),
            DEEP_LINK_DATA_TTL,
        )
        return_to = config.deep_link_return_endpoint
        if profile.hint_style == "moodle":
            return_to += "?" + urlencode({"course": COURSE.context_id})
        launch.set_dl(
            return_to,
            title=f"Add content to {COURSE.title}",
            description="Choose the items to place in the course.",
            accept_types={"ltiResourceLink"},
        )
        settings = launch._deep_linking_launch_data[DL + "deep_linking_settings"]  # type: ignore[index]
        # The library hard-codes "embed" and a dict-valued data; the spec's data is an opaque string.
        settings.update(
            accept_presentation_document_targets=["iframe", "window"],
            accept_multiple=True,
            accept_lineitem=True,
            auto_create=True,
            data=data,
        )
        if profile.sends_placement:
            extra[CANVAS_PLACEMENT_CLAIM] = "link_selection"
    launch.set_custom_parameters_claim(custom)
    launch.set_ags(lineitems_url, lineitem_url, allow_creating_lineitems=True)
    # The profile is part of the roster URL: each profile knows the people by its own user ids.
    launch.set_nrps(f"{base}/nrps/{profile.key}/{COURSE.context_id}/memberships{query}")

    extra[LTI + "tool_platform"] = {
        "guid": f"{urlsplit(base).netloc}:{profile.key}",
        "name": config.name,
        "product_family_code": profile.product_family_code,
        "version": profile.platform_version,
        "description": f"{config.name} ({profile.label} profile)",
    }
    if profile.sends_lis_and_ext:
        extra[LTI + "lis"] = {
            "person_sourcedid": f"SIS-{person.username}",
            "course_section_sourcedid": COURSE.label.replace(" ", "-"),
        }
        extra[LTI + "ext"] = {"user_username": person.username, "lms": "moodle-2"}
    if profile.key == "canvas":
        extra[LTI + "lti11_legacy_user_id"] = sha1(f"dev-lms:lti11:{person.key}".encode()).hexdigest()
    launch.set_extra_claims(extra)


# --- Token endpoint: OAuth2 client credentials with a signed JWT assertion -------------------------


def issue_access_token(config: PlatformConfig, form: Mapping[str, str]) -> dict[str, Any]:
    """RFC 6749 client credentials with an RFC 7523 JWT assertion, as the LTI Security Framework asks."""

    def refuse(error: str, message: str, status: int = 400) -> DevPlatformError:
        return DevPlatformError(message, status=status, oauth_error=error)

    grant_type = form.get("grant_type")
    if not grant_type:
        raise refuse("invalid_request", "grant_type is missing.")
    if grant_type != "client_credentials":
        raise refuse("unsupported_grant_type", f"grant_type must be client_credentials, not {grant_type!r}.")
    assertion_type = form.get("client_assertion_type")
    if assertion_type != JWT_BEARER:
        raise refuse("invalid_client", f"client_assertion_type must be {JWT_BEARER}.", 401)
    assertion = form.get("client_assertion")
    if not assertion:
        raise refuse("invalid_client", "client_assertion is missing.", 401)
    requested = (form.get("scope") or "").split()
    if not requested:
        raise refuse("invalid_scope", "scope is missing: name the scopes the tool needs.")
    refused = [scope for scope in requested if scope not in GRANTED_SCOPES]
    if refused:
        raise refuse("invalid_scope", "Scopes not granted to this tool: " + " ".join(refused))

    unverified = _unverified(assertion)
    if not unverified:
        raise refuse("invalid_client", "client_assertion is not a JWT.", 401)
    client_id = unverified.get("sub") or unverified.get("iss")
    if client_id != config.client_id or unverified.get("iss") != client_id:
        raise refuse(
            "invalid_client",
            f"The assertion's iss and sub must both be the client id {config.client_id!r}.",
            401,
        )
    if form.get("client_id") and form["client_id"] != client_id:
        raise refuse("invalid_client", "client_id does not match the assertion's sub.", 401)

    conf = DevPlatformConf(config=config, profile=find_profile(config.profile))
    try:
        claims = conf.decode_tool_jwt(assertion, config.token_url)
    except DevPlatformError as exc:
        # A well-signed but unusable assertion is a bad grant; one that is not the tool's, a bad client.
        if exc.kind == "claims":
            raise refuse("invalid_grant", "client_assertion: " + exc.message) from None
        raise refuse("invalid_client", "client_assertion: " + exc.message, 401) from None
    jti = claims.get("jti")
    if not jti:
        raise refuse("invalid_grant", "client_assertion has no jti; each assertion needs a unique id.")
    if not remember_once(config, f"assertion:{jti}", float(claims["exp"]) + config.leeway_seconds):
        raise refuse("invalid_grant", f"client_assertion jti {jti!r} was already used; sign a new assertion.")

    # The library mints the token (it verifies the assertion again, from the key set already fetched).
    token = conf.get_access_token({**form, "scope": " ".join(dict.fromkeys(requested))})
    return {
        "access_token": token["access_token"],
        "token_type": "Bearer",
        "expires_in": ACCESS_TOKEN_TTL,
        "scope": token["scope"],
    }


# --- Deep linking return ---------------------------------------------------------------------------


@dataclass
class DeepLinkResult:
    items: list[dict[str, Any]]
    placed: list[Link]
    message: str | None = None
    log: str | None = None
    error_message: str | None = None
    error_log: str | None = None
    profile: str = "moodle"


def accept_deep_link_response(config: PlatformConfig, form: Mapping[str, str]) -> DeepLinkResult:
    """Verify an LtiDeepLinkingResponse and place its resource links in the course."""
    token = form.get("JWT")
    if not token:
        raise DevPlatformError(
            "The JWT form field is missing: post the deep-linking response as JWT=<token>."
        )
    unverified = _unverified(token)
    if not unverified:
        raise DevPlatformError("The JWT field is not a JWT.")
    data_token = unverified.get(DL + "data")
    if not data_token:
        raise DevPlatformError(
            "The response has no data claim: the tool must echo deep_linking_settings.data untouched."
        )
    data = _verify(config, str(data_token), _data_audience(config), "The data claim")
    profile = find_profile(data["profile"])
    person = find_person(data["person"])

    conf = DevPlatformConf(config=config, profile=profile)
    conf.set_accepted_deeplinking_types(["ltiResourceLink"])
    claims = conf.decode_tool_jwt(token, config.issuer)
    if claims.get("iss") != config.client_id:
        raise DevPlatformError(
            f"iss must be the tool's client id {config.client_id!r}; got {claims.get('iss')!r}."
        )
    if claims.get(LTI + "message_type") != DEEP_LINKING_RESPONSE:
        raise DevPlatformError(
            f"message_type must be {DEEP_LINKING_RESPONSE}; got {claims.get(LTI + 'message_type')!r}."
        )
    if claims.get(LTI + "version") != LTI_VERSION:
        raise DevPlatformError(f"version must be {LTI_VERSION!r}; got {claims.get(LTI + 'version')!r}.")
    if claims.get(LTI + "deployment_id") != data["deployment_id"]:
        raise DevPlatformError(
            f"deployment_id must be {data['deployment_id']!r} (the deep-linking request's); "
            f"got {claims.get(LTI + 'deployment_id')!r}."
        )
    nonce = claims.get("nonce")
    if not nonce:
        raise DevPlatformError("The response has no nonce.")

    raw_items = claims.get(DL + "content_items", [])
    if not isinstance(raw_items, list):
        raise DevPlatformError("content_items must be a list.")
    for index, item in enumerate(raw_items, 1):
        if not isinstance(item, dict) or "type" not in item:
            raise DevPlatformError(f"Content item {index} has no type.")
        if item["type"] != "ltiResourceLink":
            raise DevPlatformError(
                f"Content item {index} has type {item['type']!r}; "
                "this platform accepted only ltiResourceLink."
            )
    # The library's own check of the accepted types (it decodes the JWT once more).
    try:
        items = conf.validate_deeplinking_resp({"JWT": token})
    except lib_errors.LtiDeepLinkingResponseException as exc:
        raise DevPlatformError(str(exc)) from None

    placed: list[Link] = []
    for index, item in enumerate(items, 1):
        placed.append(_link_from_item(config, profile, person, index, item))
    if not remember_once(config, f"deep-link-nonce:{nonce}", float(claims["exp"]) + config.leeway_seconds):
        raise DevPlatformError("This deep-linking response was already received (its nonce was used).")
    if placed:
        _add_placed_links(config, placed)
    return DeepLinkResult(
        items=items,
        placed=placed,
        message=claims.get(DL + "msg"),
        log=claims.get(DL + "log"),
        error_message=claims.get(DL + "errormsg"),
        error_log=claims.get(DL + "errorlog"),
        profile=profile.key,
    )


def _link_from_item(
    config: PlatformConfig, profile: Profile, person: Person, index: int, item: Mapping[str, Any]
) -> Link:
    url = item.get("url")
    if url is not None:
        tool = urlsplit(config.tool_url)
        target = urlsplit(str(url))
        same_site = (target.scheme, target.netloc) == (tool.scheme, tool.netloc)
        if target.scheme not in ("http", "https") or not same_site:
            raise DevPlatformError(
                f"Content item {index} url {url!r} is not on the tool's site ({tool.scheme}://{tool.netloc})."
            )
    custom = item.get("custom") or {}
    if not isinstance(custom, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in custom.items()
    ):
        raise DevPlatformError(f"Content item {index} custom must map strings to strings.")
    line_item = item.get("lineItem")
    if line_item is not None:
        maximum = line_item.get("scoreMaximum") if isinstance(line_item, dict) else None
        if isinstance(maximum, bool) or not isinstance(maximum, (int, float)) or maximum <= 0:
            raise DevPlatformError(f"Content item {index} lineItem needs a positive scoreMaximum.")
    title = item.get("title")
    if title is not None and not isinstance(title, str):
        raise DevPlatformError(f"Content item {index} title must be a string.")
    return Link(
        id=f"dl-{uuid.uuid4().hex[:12]}",
        title=title or "Untitled link",
        url=url,
        text=str(item.get("text") or ""),
        custom=custom,
        line_item=line_item,
        profile=profile.key,
        cmid=100 + secrets.randbelow(900),
        placed_by=person.key,
        placed_at=int(time.time()),
    )


# --- Registration in the tool ----------------------------------------------------------------------


def jwks(config: PlatformConfig) -> dict[str, Any]:
    return {"keys": [dict(platform_key(config).jwk)]}


def tool_registration(config: PlatformConfig) -> Any:
    """The tool's registry entry for this platform (both profiles' deployments)."""
    from lti_tool.registry import PlatformInput

    return PlatformInput(
        issuer=config.issuer,
        client_id=config.client_id,
        auth_url=config.auth_url,
        token_url=config.token_url,
        jwks_url=config.jwks_url,
        deployment_ids=config.deployment_ids,
        name=config.name,
    )


def register_in_tool(config: PlatformConfig) -> bool:
    """Make sure the tool's registry knows this platform; True if anything was added. Idempotent.

    Needs the tool's application context.
    """
    from sqlalchemy.exc import IntegrityError

    from lti_tool.db import db
    from lti_tool.registry import add_deployment, add_platform, find_client

    for attempt in (1, 2):
        try:
            client = find_client(config.issuer, config.client_id)
            if client is None:
                add_platform(tool_registration(config))
                db.session.commit()
                return True
            known = {d.deployment_id for d in client.deployments}
            missing = [d for d in config.deployment_ids if d not in known]
            for deployment_id in missing:
                add_deployment(client, deployment_id)
            if missing:
                db.session.commit()
            return bool(missing)
        except IntegrityError:
            # Another process registered it at the same moment: read what it wrote.
            db.session.rollback()
            if attempt == 2:
                raise
    return False


# --- Dynamic registration: the platform side ---------------------------------------------------

PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"
TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"
REGISTRATION_TOKEN_TTL = 3600
SUPPORTED_MESSAGES = (RESOURCE_LINK_REQUEST, DEEP_LINKING_REQUEST)
CLAIMS_SUPPORTED = ("iss", "sub", "aud", "name", "given_name", "family_name", "email", "picture", "locale")
CANVAS_PRIVACY_LEVELS = ("anonymous", "name_only", "email_only", "public")


def default_privacy(config: PlatformConfig, profile: Profile) -> str:
    """The privacy of launches: the level the tool registered with (Canvas honours it), else the
    profile's own default."""
    if profile.privacy_extension and config.registered_privacy:
        return "public" if config.registered_privacy == "public" else "anonymous"
    return profile.default_privacy


def _registration_audience(config: PlatformConfig) -> str:
    return config.registration_endpoint


def registration_start_url(config: PlatformConfig, profile_key: str | None) -> str:
    """The tool's registration URL with the two parameters a platform adds: where its OpenID
    configuration is, and a single-use token for the registration endpoint."""
    profile = find_profile(profile_key or config.profile)
    token = _sign(
        config, {"purpose": "registration", "profile": profile.key}, _registration_audience(config), REGISTRATION_TOKEN_TTL
    )
    query = urlencode({"openid_configuration": config.openid_configuration_url, "registration_token": token})
    return f"{config.tool_register_url}?{query}"


def _bearer_claims(config: PlatformConfig, authorization: str | None) -> dict[str, Any]:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise DevPlatformError(
            "The registration token is missing: send it as 'Authorization: Bearer <registration_token>'.",
            status=401,
            oauth_error="invalid_token",
        )
    try:
        claims = _verify(config, token.strip(), _registration_audience(config), "The registration token")
    except DevPlatformError as exc:
        raise DevPlatformError(exc.message, status=401, oauth_error="invalid_token") from None
    if claims.get("purpose") != "registration":
        raise DevPlatformError("That token is not a registration token.", status=401, oauth_error="invalid_token")
    return claims


def openid_configuration(config: PlatformConfig, authorization: str | None) -> dict[str, Any]:
    """The platform's OpenID configuration (LTI Dynamic Registration 1.0, section 3.4). Like
    Canvas, it is served only to a holder of a registration token."""
    profile = find_profile(_bearer_claims(config, authorization)["profile"])
    messages = []
    for message_type in SUPPORTED_MESSAGES:
        entry: dict[str, Any] = {"type": message_type}
        if profile.placements.get(message_type):
            entry["placements"] = list(profile.placements[message_type])
        messages.append(entry)
    return {
        "issuer": config.issuer,
        "authorization_endpoint": config.auth_url,
        "registration_endpoint": config.registration_endpoint,
        "jwks_uri": config.jwks_url,
        "token_endpoint": config.token_url,
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", *GRANTED_SCOPES],
        "response_types_supported": ["id_token"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "claims_supported": list(CLAIMS_SUPPORTED),
        "subject_types_supported": ["public", "pairwise"],
        PLATFORM_CONFIGURATION: {
            "product_family_code": profile.product_family_code,
            "version": profile.platform_version,
            "messages_supported": messages,
            "variables": ["CourseSection.sourcedId", "Person.name.full", "ResourceLink.id"],
        },
    }


def _metadata_error(message: str) -> DevPlatformError:
    # RFC 7591's answer to client metadata a platform will not accept.
    return DevPlatformError(message, status=400, oauth_error="invalid_client_metadata")


def _checked_url(name: str, value: Any, domain: str | None = None) -> str:
    if not isinstance(value, str) or not value:
        raise _metadata_error(f"{name} is missing or not a string.")
    parts = urlsplit(value)
    local = parts.hostname in ("localhost", "127.0.0.1", "::1")
    if parts.scheme not in ("https", "http") or not parts.netloc or (parts.scheme == "http" and not local):
        raise _metadata_error(f"{name} {value!r} must be an absolute https URL.")
    if parts.fragment:
        raise _metadata_error(f"{name} {value!r} must not have a fragment.")
    if domain is not None and parts.netloc.lower() != domain.lower():
        raise _metadata_error(f"{name} {value!r} is not on the tool's domain {domain!r}.")
    return value


def _string_list(name: str, value: Any, *, required: bool = True) -> list[str]:
    if value is None and not required:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise _metadata_error(f"{name} must be a list of strings.")
    if required and not value:
        raise _metadata_error(f"{name} must not be empty.")
    return value


def check_client_registration(body: Any, profile: Profile) -> dict[str, Any]:
    """Check a tool's registration request field by field (LTI Dynamic Registration 1.0, 3.5.2,
    and OpenID Connect Dynamic Client Registration). Returns what the platform keeps."""
    if not isinstance(body, dict):
        raise _metadata_error("The registration request must be a JSON object.")
    if body.get("application_type") != "web":
        raise _metadata_error(f"application_type must be 'web', not {body.get('application_type')!r}.")
    if "id_token" not in _string_list("response_types", body.get("response_types")):
        raise _metadata_error("response_types must include 'id_token'.")
    grant_types = _string_list("grant_types", body.get("grant_types"))
    for grant in ("implicit", "client_credentials"):
        if grant not in grant_types:
            raise _metadata_error(f"grant_types must include {grant!r}.")
    if body.get("token_endpoint_auth_method") != "private_key_jwt":
        raise _metadata_error("token_endpoint_auth_method must be 'private_key_jwt'.")
    client_name = body.get("client_name")
    if not isinstance(client_name, str) or not client_name.strip():
        raise _metadata_error("client_name is missing.")
    tool = body.get(TOOL_CONFIGURATION)
    if not isinstance(tool, dict):
        raise _metadata_error(f"{TOOL_CONFIGURATION} is missing or not an object.")
    domain = tool.get("domain")
    if not isinstance(domain, str) or not domain or "/" in domain:
        raise _metadata_error("The tool configuration's domain must be a host name (with its port, if any).")
    login = _checked_url("initiate_login_uri", body.get("initiate_login_uri"), domain)
    redirect_uris = [_checked_url("redirect_uris", uri, domain) for uri in _string_list("redirect_uris", body.get("redirect_uris"))]
    jwks_uri = _checked_url("jwks_uri", body.get("jwks_uri"))
    if body.get("logo_uri") is not None:
        _checked_url("logo_uri", body.get("logo_uri"))
    scope = body.get("scope", "")
    if not isinstance(scope, str):
        raise _metadata_error("scope must be a space-separated string.")
    scopes = scope.split()
    refused = [s for s in scopes if s not in GRANTED_SCOPES]
    if refused:
        raise _metadata_error("Scopes this platform does not offer: " + " ".join(refused))
    target = _checked_url("target_link_uri", tool.get("target_link_uri"), domain)
    if target not in redirect_uris:
        raise _metadata_error(f"target_link_uri {target!r} must be one of the redirect_uris.")
    claims = _string_list("claims", tool.get("claims"))
    if "sub" not in claims:
        raise _metadata_error("claims must include 'sub'.")
    raw_messages = tool.get("messages")
    if not isinstance(raw_messages, list) or not raw_messages:
        raise _metadata_error("messages must be a non-empty list.")
    kept: dict[str, dict[str, Any]] = {}
    for index, message in enumerate(raw_messages, 1):
        if not isinstance(message, dict) or message.get("type") not in SUPPORTED_MESSAGES:
            raise _metadata_error(f"Message {index} has no supported type (one of {', '.join(SUPPORTED_MESSAGES)}).")
        if message.get("target_link_uri") is not None:
            _checked_url(f"message {index} target_link_uri", message["target_link_uri"], domain)
        placements = _string_list(f"message {index} placements", message.get("placements"), required=False)
        allowed = profile.placements.get(message["type"])
        if allowed is not None and any(p not in allowed for p in placements):
            raise _metadata_error(
                f"Message {index} asks for placements {placements}; this platform offers {list(allowed)} for {message['type']}."
            )
        for name in ("label", "icon_uri"):
            if message.get(name) is not None and not isinstance(message[name], str):
                raise _metadata_error(f"Message {index} {name} must be a string.")
        if profile.registration_keeps == "first" and message["type"] in kept:
            continue
        kept[message["type"]] = {**message, "placements": placements}
    if profile.registration_keeps == "all":
        accepted = list(raw_messages)
    else:
        accepted = list(kept.values())
    privacy = None
    if profile.privacy_extension and profile.privacy_extension in tool:
        privacy = tool[profile.privacy_extension]
        if privacy not in CANVAS_PRIVACY_LEVELS:
            raise _metadata_error(f"{profile.privacy_extension} must be one of {', '.join(CANVAS_PRIVACY_LEVELS)}.")
    return {
        "client_name": client_name,
        "initiate_login_uri": login,
        "redirect_uris": redirect_uris,
        "jwks_uri": jwks_uri,
        "target_link_uri": target,
        "scope": " ".join(scopes),
        "claims": claims,
        "messages": accepted,
        "privacy_level": privacy,
        "domain": domain,
    }


def accept_registration(config: PlatformConfig, authorization: str | None, body: Any) -> dict[str, Any]:
    """The registration endpoint: check the token (single use) and the request, keep the tool's
    registration, and answer with its client id (and, where the profile does, the deployment)."""
    token_claims = _bearer_claims(config, authorization)
    profile = find_profile(token_claims["profile"])
    kept = check_client_registration(body, profile)
    if not remember_once(config, f"registration-token:{token_claims['jti']}", float(token_claims["exp"])):
        raise DevPlatformError("This registration token was already used.", status=401, oauth_error="invalid_token")
    client_id = f"dr-{uuid.uuid4().hex[:16]}"
    deployment_id = config.deployment_for(profile)
    registration = {
        **kept,
        "client_id": client_id,
        "profile": profile.key,
        "deployment_id": deployment_id,
        "registered_at": int(time.time()),
    }
    with _locked(config):
        _write_json(config.key_path / "registration.json", registration)
    tool_answer = {**body[TOOL_CONFIGURATION], "messages": kept["messages"]}
    if profile.sends_deployment_at_registration:
        tool_answer["deployment_id"] = deployment_id
    return {**body, "client_id": client_id, TOOL_CONFIGURATION: tool_answer}


def tool_registration_record(config: PlatformConfig) -> dict[str, Any] | None:
    """What the tool registered by dynamic registration, if it did."""
    record = _read_json(config.key_path / "registration.json", None)
    return record if isinstance(record, dict) and record.get("client_id") else None


def forget_tool_registration(config: PlatformConfig) -> None:
    with _locked(config):
        with contextlib.suppress(FileNotFoundError):
            (config.key_path / "registration.json").unlink()
