"""HTTP endpoints of the development LMS, and a standalone app serving them on their own origin.

Mounted inside the tool (url_prefix /dev/lms), the platform takes its URLs from the request and
registers itself in the tool's registry on first visit. The standalone app (`create_platform_app`)
gets a fixed configuration and never touches the tool's database.
"""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Blueprint, Flask, current_app, jsonify, redirect, render_template, request, url_for

from lti_tool.dev_platform.platform import (
    COURSE,
    PEOPLE,
    PRIVACY_LEVELS,
    PROFILES,
    DevPlatformError,
    PlatformConfig,
    ValuesRequest,
    accept_deep_link_response,
    authorize,
    course_links,
    find_profile,
    issue_access_token,
    jwks,
    login_hint_of,
    register_in_tool,
    start_launch,
    subject_of,
)

log = logging.getLogger(__name__)

URL_PREFIX = "/dev/lms"
CONFIG_KEY = "lti_dev_platform"
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

bp = Blueprint("dev_platform", __name__, template_folder=str(TEMPLATES))


@bp.record_once
def _exempt_from_csrf(state) -> None:
    # The tool and the browser post here from another site, without the tool app's CSRF token.
    csrf = state.app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(bp)


def _is_mounted() -> bool:
    return CONFIG_KEY not in current_app.extensions


def current_config() -> PlatformConfig:
    """The configuration for this request: fixed (standalone) or derived from the request (mounted)."""
    fixed: PlatformConfig | None = current_app.extensions.get(CONFIG_KEY)
    settings = current_app.config.get("SETTINGS")
    configured_base = getattr(settings, "TOOL_BASE_URL", "") if fixed is None else ""
    tool_url = (configured_base or request.root_url).rstrip("/")
    prefix = url_for("dev_platform.course").rstrip("/")[len(request.script_root) :]
    if fixed is None:
        return PlatformConfig(
            issuer=tool_url + prefix,
            tool_url=tool_url,
            key_dir=str(Path(current_app.instance_path) / "dev-platform"),
        )
    return fixed.with_urls(issuer=tool_url + prefix, tool_url=tool_url)


def _ensure_registered(config: PlatformConfig) -> str | None:
    """Mounted only: register this platform in the tool; a problem is shown, not raised."""
    if not _is_mounted():
        return None
    from lti_tool.registry import RegistryError

    try:
        if register_in_tool(config):
            log.info("registered the development LMS %s in the tool", config.issuer)
    except RegistryError as exc:
        return f"The tool refused to register the development LMS: {exc}."
    return None


@bp.errorhandler(DevPlatformError)
def _refused(exc: DevPlatformError):
    if exc.oauth_error:
        body = jsonify(error=exc.oauth_error, error_description=exc.message)
        return body, exc.status, {"Cache-Control": "no-store", "Pragma": "no-cache"}
    return render_template("dev_platform/error.html", message=exc.message, status=exc.status), exc.status


@bp.get("/")
def course():
    config = current_config()
    profile = find_profile(request.args.get("profile") or config.profile)
    privacy = request.args.get("privacy") or profile.default_privacy
    if privacy not in PRIVACY_LEVELS:
        privacy = profile.default_privacy
    problem = _ensure_registered(config)
    people = [
        {"person": person, "sub": subject_of(person, profile), "login_hint": login_hint_of(person, profile)}
        for person in PEOPLE
    ]
    return render_template(
        "dev_platform/course.html",
        platform=config,
        course=COURSE,
        profile=profile,
        profiles=PROFILES.values(),
        privacy=privacy,
        privacy_levels=PRIVACY_LEVELS,
        people=people,
        links=course_links(config, profile),
        problem=problem,
        tool_message=request.args.get("lti_msg"),
        tool_error=request.args.get("lti_errormsg"),
    )


def _start(deep_linking: bool):
    config = current_config()
    problem = _ensure_registered(config)
    if problem:
        raise DevPlatformError(problem)
    url = start_launch(
        config,
        person_key=request.values.get("person"),
        profile_key=request.values.get("profile"),
        link_id=request.values.get("link"),
        privacy=request.values.get("privacy"),
        deep_linking=deep_linking,
    )
    return redirect(url, 302)


@bp.route("/launch", methods=["GET", "POST"])
def launch():
    """Start a resource link launch: a redirect to the tool's login initiation URL."""
    return _start(deep_linking=False)


@bp.route("/deep-link", methods=["GET", "POST"])
def deep_link():
    """Start a deep-linking request (teachers and administrators only)."""
    return _start(deep_linking=True)


@bp.route("/auth", methods=["GET", "POST"])
def auth():
    """The OIDC authorization endpoint: answers a valid request with an auto-posting id_token."""
    launch_data = authorize(current_config(), ValuesRequest.from_flask(request))
    page = render_template(
        "dev_platform/autopost.html",
        action=launch_data["launch_url"],
        fields={"id_token": launch_data["id_token"], "state": launch_data["state"]},
        heading="Launching the tool",
    )
    return page, 200, {"Cache-Control": "no-store"}


@bp.get("/jwks")
def platform_jwks():
    return jsonify(jwks(current_config()))


@bp.post("/token")
def token():
    body = issue_access_token(current_config(), request.form.to_dict())
    return jsonify(body), 200, {"Cache-Control": "no-store", "Pragma": "no-cache"}


@bp.post("/deep-link-return")
def deep_link_return():
    config = current_config()
    result = accept_deep_link_response(config, request.form.to_dict())
    return render_template(
        "dev_platform/deep_link_result.html",
        result=result,
        course=COURSE,
        course_url=url_for("dev_platform.course", profile=result.profile),
    )


@bp.route("/ags/<path:rest>", methods=["GET", "POST", "PUT", "DELETE"])
@bp.route("/nrps/<path:rest>", methods=["GET"])
def not_yet(rest: str):
    # The URLs are in the launch claims already; the services come later.
    description = "This service is not available in the development LMS yet."
    return jsonify(error="not_implemented", error_description=description), 501


def create_platform_app(config: PlatformConfig) -> Flask:
    """A standalone Flask app serving the development LMS at /dev/lms (its own origin in tests)."""
    if not config.tool_url:
        raise ValueError("the standalone development LMS needs the tool's URL (tool_url)")
    if not config.key_dir:
        raise ValueError("the standalone development LMS needs a key directory (key_dir)")
    app = Flask(__name__)
    app.extensions[CONFIG_KEY] = config
    app.register_blueprint(bp, url_prefix=URL_PREFIX)

    @app.get("/")
    def home():
        return redirect(url_for("dev_platform.course"))

    return app
