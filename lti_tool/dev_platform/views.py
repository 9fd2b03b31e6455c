"""HTTP endpoints of the development LMS, and a standalone app serving them on their own origin.

Mounted inside the tool (url_prefix /dev/lms), the platform takes its URLs from the request and
registers itself in the tool's registry on first visit. The standalone app (`create_platform_app`)
gets a fixed configuration and never touches the tool's database.
"""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Blueprint, Flask, current_app, jsonify, redirect, render_template, request, url_for

from lti_tool.dev_platform import services
from lti_tool.dev_platform.platform import (
    COURSE,
    PEOPLE,
    PRIVACY_LEVELS,
    PROFILES,
    STORAGE_FRAME_NAME,
    DevPlatformError,
    PlatformConfig,
    ValuesRequest,
    accept_deep_link_response,
    accept_registration,
    authorize,
    course_links,
    default_privacy,
    find_profile,
    forget_tool_registration,
    openid_configuration,
    registration_start_url,
    tool_registration_record,
    issue_access_token,
    jwks,
    login_hint_of,
    register_in_tool,
    start_launch,
    subject_of,
    tool_origin,
)

log = logging.getLogger(__name__)

URL_PREFIX = "/dev/lms"
CONFIG_KEY = "lti_dev_platform"
# The course page's frame that launches open in (the form target of its launch buttons).
TOOL_FRAME_NAME = "tool_frame"
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
    """This request's configuration, as the tool registered itself by dynamic registration if it did."""
    config = base_config()
    return config.with_registration(tool_registration_record(config))


def base_config() -> PlatformConfig:
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
    privacy = request.args.get("privacy") or default_privacy(config, profile)
    if privacy not in PRIVACY_LEVELS:
        privacy = default_privacy(config, profile)
    problem = _ensure_registered(base_config())
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
        registration=tool_registration_record(config),
        registered_now=request.args.get("registered") == "1",
        tool_message=request.args.get("lti_msg"),
        tool_error=request.args.get("lti_errormsg"),
        platform_storage=_storage_choice(request.args, profile.offers_platform_storage),
        launch_target="_blank" if request.args.get("open") == "window" else TOOL_FRAME_NAME,
        tool_frame=TOOL_FRAME_NAME,
        storage_frame=STORAGE_FRAME_NAME,
        gradebook=services.received_gradebook(config),
    )


def _storage_choice(values, default: bool | None) -> bool | None:
    """The platform-storage choice of a form: a hidden "off" precedes the "on" checkbox, so an
    unticked box still says off; absent altogether, the profile's default (`default`)."""
    chosen = values.getlist("storage")
    if not chosen:
        return default
    if any(value not in ("on", "off") for value in chosen):
        raise DevPlatformError("storage must be 'on' or 'off'.")
    return "on" in chosen


def _start(deep_linking: bool):
    config = current_config()
    problem = _ensure_registered(base_config())
    if problem:
        raise DevPlatformError(problem)
    url = start_launch(
        config,
        person_key=request.values.get("person"),
        profile_key=request.values.get("profile"),
        link_id=request.values.get("link"),
        privacy=request.values.get("privacy"),
        deep_linking=deep_linking,
        platform_storage=_storage_choice(request.values, None),
    )
    return redirect(url, 302)


@bp.get("/storage-frame")
def storage_frame():
    """The hidden frame of the course page that keeps data for the tool (LTI client-side
    postMessages: lti.put_data / lti.get_data), in this platform's own, first-party storage."""
    page = render_template(
        "dev_platform/storage_frame.html", tool_origin=tool_origin(current_config()), frame_name=STORAGE_FRAME_NAME
    )
    # Only this platform's own pages may embed it.
    headers = {"X-Frame-Options": "SAMEORIGIN", "Content-Security-Policy": "frame-ancestors 'self'"}
    return page, 200, headers


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


@bp.get("/register-tool")
def register_tool():
    """Run LTI Dynamic Registration against the tool: open its registration page the way the
    chosen LMS does (Canvas in an iframe, Moodle in a new window)."""
    config = current_config()
    profile = find_profile(request.args.get("profile") or config.profile)
    return render_template(
        "dev_platform/register_tool.html",
        platform=config,
        profile=profile,
        start_url=registration_start_url(config, profile.key),
        course_url=url_for("dev_platform.course", profile=profile.key, registered="1"),
    )


@bp.get("/openid-configuration")
def platform_openid_configuration():
    body = openid_configuration(current_config(), request.headers.get("Authorization"))
    return jsonify(body), 200, {"Cache-Control": "no-store"}


@bp.post("/registrations")
def registrations():
    body = request.get_json(silent=True)
    if body is None:
        raise DevPlatformError("The registration request must be JSON.", oauth_error="invalid_client_metadata")
    answer = accept_registration(base_config(), request.headers.get("Authorization"), body)
    return jsonify(answer), 201, {"Cache-Control": "no-store"}


@bp.post("/registration/forget")
def registration_forget():
    """Go back to the built-in registration (client id dev-client)."""
    config = base_config()
    forget_tool_registration(config)
    return redirect(url_for("dev_platform.course", profile=request.form.get("profile") or config.profile), 303)


# --- LTI Advantage services (AGS and NRPS) --------------------------------------------------------


def _reply(reply: services.Reply):
    if reply.body is None:
        response = current_app.response_class(status=reply.status)
    else:
        response = jsonify(reply.body)
        response.status_code = reply.status
        response.mimetype = reply.media_type
    response.headers.update(reply.headers)
    response.headers["Cache-Control"] = "no-store"
    return response


def _token(*accepted: str) -> PlatformConfig:
    config = current_config()
    services.check_token(config, request.headers.get("Authorization"), *accepted)
    return config


def _json_body():
    body = request.get_json(silent=True, force=True)
    if body is None:
        raise DevPlatformError("The request body must be JSON.", oauth_error="invalid_request")
    return body


@bp.route("/ags/<context_id>/lineitems", methods=["GET", "POST"])
def line_items(context_id: str):
    if request.method == "POST":
        config = _token(*services.WRITE_LINE_ITEMS)
        return _reply(services.create_line_item(config, context_id, request.args.to_dict(), _json_body()))
    config = _token(*services.READ_LINE_ITEMS)
    return _reply(services.list_line_items(config, context_id, request.args.to_dict()))


@bp.route("/ags/<context_id>/lineitems/<item_id>/lineitem", methods=["GET", "PUT", "DELETE"])
def line_item(context_id: str, item_id: str):
    if request.method == "GET":
        return _reply(services.get_line_item(_token(*services.READ_LINE_ITEMS), context_id, item_id))
    config = _token(*services.WRITE_LINE_ITEMS)
    if request.method == "PUT":
        return _reply(services.update_line_item(config, context_id, item_id, _json_body()))
    return _reply(services.delete_line_item(config, context_id, item_id))


@bp.post("/ags/<context_id>/lineitems/<item_id>/lineitem/scores")
def scores(context_id: str, item_id: str):
    config = _token(*services.POST_SCORES)
    return _reply(services.post_score(config, context_id, item_id, request.content_type, _json_body()))


@bp.get("/ags/<context_id>/lineitems/<item_id>/lineitem/results")
def results(context_id: str, item_id: str):
    config = _token(*services.READ_RESULTS)
    return _reply(services.results(config, context_id, item_id, request.args.to_dict()))


@bp.get("/nrps/<profile_key>/<context_id>/memberships")
def memberships(profile_key: str, context_id: str):
    config = _token(*services.READ_MEMBERS)
    return _reply(services.memberships(config, profile_key, context_id, request.args.to_dict()))


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
