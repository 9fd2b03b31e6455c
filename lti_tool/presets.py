"""What known LMSs look like, as data: endpoint layouts for manual registration, and how each
behaves during LTI Dynamic Registration.

An admin registering an LMS by hand types its site URL and the client id it showed; the preset
fills in the issuer and the three endpoints. Dynamic registration looks up the platform's
behaviour by the `product_family_code` the platform announces. Nothing else in the tool asks
"is this Moodle?": it reads these tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from flask_babel import lazy_gettext

from lti_tool.registry import RegistryError, check_url

CANVAS_PRIVACY_EXTENSION = "https://canvas.instructure.com/lti/privacy_level"


@dataclass(frozen=True)
class Preset:
    """Where an LMS keeps its LTI endpoints, relative to the site URL an admin types.

    Hints are lazy translations, shown in the admin's language; labels stay as the products name
    themselves (they also make up stored platform names).
    """

    key: str
    label: str
    product_family_code: str
    # A fixed issuer (hosted Canvas), or None: the site URL is the issuer.
    issuer: str | None
    # Absolute URLs, or paths ("/mod/lti/auth.php") joined to the site URL.
    auth_url: str
    token_url: str
    jwks_url: str
    deployment_hint: str
    site_hint: str


PRESETS: dict[str, Preset] = {
    "moodle": Preset(
        key="moodle",
        label="Moodle (4.x and 5.x)",
        product_family_code="moodle",
        issuer=None,
        auth_url="/mod/lti/auth.php",
        token_url="/mod/lti/token.php",
        jwks_url="/mod/lti/certs.php",
        deployment_hint=lazy_gettext(
            "The tool's Deployment ID in Moodle's tool configuration details, often 1.",
        ),
        site_hint=lazy_gettext("The Moodle site URL (its wwwroot), e.g. https://moodle.example.edu"),
    ),
    "canvas": Preset(
        key="canvas",
        label="Canvas (hosted by Instructure)",
        product_family_code="canvas",
        # Every hosted tenant shares this issuer; tenants differ by client id and token URL.
        issuer="https://canvas.instructure.com",
        auth_url="https://sso.canvaslms.com/api/lti/authorize_redirect",
        token_url="/login/oauth2/token",
        jwks_url="https://sso.canvaslms.com/api/lti/security/jwks",
        deployment_hint=lazy_gettext(
            "The app's Deployment Id, shown in its settings menu, e.g. 42:8865aa05b4b7...",
        ),
        site_hint=lazy_gettext("Your school's Canvas URL, e.g. https://school.instructure.com"),
    ),
    "canvas-beta": Preset(
        key="canvas-beta",
        label="Canvas beta environment (hosted)",
        product_family_code="canvas",
        issuer="https://canvas.beta.instructure.com",
        auth_url="https://sso.beta.canvaslms.com/api/lti/authorize_redirect",
        token_url="/login/oauth2/token",
        jwks_url="https://sso.beta.canvaslms.com/api/lti/security/jwks",
        deployment_hint=lazy_gettext("The app's Deployment Id, shown in its settings menu."),
        site_hint=lazy_gettext("Your school's Canvas beta URL, e.g. https://school.beta.instructure.com"),
    ),
    "canvas-test": Preset(
        key="canvas-test",
        label="Canvas test environment (hosted)",
        product_family_code="canvas",
        issuer="https://canvas.test.instructure.com",
        auth_url="https://sso.test.canvaslms.com/api/lti/authorize_redirect",
        token_url="/login/oauth2/token",
        jwks_url="https://sso.test.canvaslms.com/api/lti/security/jwks",
        deployment_hint=lazy_gettext("The app's Deployment Id, shown in its settings menu."),
        site_hint=lazy_gettext("Your school's Canvas test URL, e.g. https://school.test.instructure.com"),
    ),
    "canvas-self-hosted": Preset(
        key="canvas-self-hosted",
        label="Canvas (self-hosted)",
        product_family_code="canvas",
        issuer=None,
        auth_url="/api/lti/authorize_redirect",
        token_url="/login/oauth2/token",
        jwks_url="/api/lti/security/jwks",
        deployment_hint=lazy_gettext("The app's Deployment Id, shown in its settings menu."),
        site_hint=lazy_gettext("Your Canvas URL, e.g. https://canvas.example.edu"),
    ),
}


@dataclass(frozen=True)
class Endpoints:
    issuer: str
    auth_url: str
    token_url: str
    jwks_url: str


def get_preset(key: str | None) -> Preset:
    preset = PRESETS.get((key or "").strip())
    if preset is None:
        raise RegistryError(f"unknown preset {key!r}; choose one of {', '.join(PRESETS)}")
    return preset


def endpoints(preset: Preset, site_url: str, *, issuer: str | None = None) -> Endpoints:
    """The issuer and endpoints of an LMS at `site_url`; `issuer` overrides the preset's."""
    site = check_url("site URL", site_url)
    parts = urlsplit(site)
    if parts.query:
        raise RegistryError(f"site URL {site!r} must not have a query string")
    site = site.rstrip("/")

    def resolve(value: str) -> str:
        return value if value.startswith(("https://", "http://")) else site + value

    return Endpoints(
        issuer=(issuer or "").strip() or preset.issuer or site,
        auth_url=resolve(preset.auth_url),
        token_url=resolve(preset.token_url),
        jwks_url=resolve(preset.jwks_url),
    )


# --- Dynamic registration behaviours, keyed by the platform's product_family_code ------------


@dataclass(frozen=True)
class RegistrationBehaviour:
    label: str
    # When the tool lists one message type several times: "last" (Moodle keeps the last entry),
    # "first" (Sakai keeps the first) or "all" (each entry counts, e.g. Canvas placements).
    repeated_messages: str = "all"
    # The platform runs the registration page in an iframe (cookies there are third-party).
    runs_in_iframe: bool = False
    # The platform names the deployment in its registration response.
    sends_deployment_id: bool = False
    # The platform's privacy level when the tool does not ask (anonymous: `sub` only).
    default_privacy: str = "public"
    # Extra members of the lti-tool-configuration object this platform understands, by setting.
    privacy_extension: str | None = None
    # What the admin still has to do in the LMS after registering.
    next_steps: str = ""


GENERIC = RegistrationBehaviour(
    label="LTI 1.3 platform",
    next_steps=lazy_gettext("Enable the tool in your LMS, then place it in a course."),
)

BEHAVIOURS: dict[str, RegistrationBehaviour] = {
    "moodle": RegistrationBehaviour(
        label="Moodle",
        repeated_messages="last",
        runs_in_iframe=False,
        sends_deployment_id=True,
        next_steps=lazy_gettext(
            "In Moodle, activate the tool under Manage tools, then add it to a course as an "
            "External tool activity."
        ),
    ),
    "canvas": RegistrationBehaviour(
        label="Canvas",
        repeated_messages="all",
        runs_in_iframe=True,
        sends_deployment_id=False,
        default_privacy="anonymous",
        privacy_extension=CANVAS_PRIVACY_EXTENSION,
        next_steps=lazy_gettext(
            "In Canvas, enable the developer key, then install the app by its client id. "
            "Canvas creates the deployment only then: give the app's Deployment Id to an admin of this "
            "tool, who adds it (or approves it after its first launch, with UNKNOWN_DEPLOYMENTS=pending)."
        ),
    ),
    "sakai": RegistrationBehaviour(
        label="Sakai",
        repeated_messages="first",
        sends_deployment_id=True,
        next_steps=lazy_gettext("In Sakai, make the tool available to sites, then add it to a site."),
    ),
    "desire2learn": RegistrationBehaviour(
        label="D2L Brightspace",
        sends_deployment_id=True,
        next_steps=lazy_gettext(
            "In Brightspace, enable the deployment for the org units that will use the tool.",
        ),
    ),
}


def behaviour(product_family_code: str | None) -> RegistrationBehaviour:
    return BEHAVIOURS.get((product_family_code or "").strip().lower(), GENERIC)
