"""LTI endpoints (login, launch, configuration), the landing page, and health checks."""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify, make_response, redirect, render_template, request, url_for
from flask_babel import force_locale, gettext as _
from sqlalchemy import text

from lti_tool import i18n, identity, landing, launch as lti_launch
from lti_tool.csrf import csrf
from lti_tool.cache import redis_client
from lti_tool.db import db
from lti_tool.errors import error_response
from lti_tool.limits import limiter, setting
from lti_tool.models import Context, LaunchLog, Platform, User
from lti_tool.observability import LAUNCHES

bp = Blueprint(
    "lti",
    __name__,
    static_folder="static",
    static_url_path="/static/lti",
    template_folder="templates",
)
log = logging.getLogger("lti_tool.launch")
# Per client address, each route counted on its own; see LTI_LAUNCH_RATE_LIMIT for the numbers.
LAUNCH_LIMIT = setting("LTI_LAUNCH_RATE_LIMIT")

SCOPES = [
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
    "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",
]


def tool_base_url() -> str:
    """Scheme and host the LMS reaches us at: the setting if given, else this request's."""
    return (current_app.config["SETTINGS"].TOOL_BASE_URL or request.host_url).rstrip("/")


def tool_url(endpoint: str, **values) -> str:
    return tool_base_url() + url_for(endpoint, **values)


def _reject(stage: str, error: lti_launch.LaunchError):
    db.session.rollback()
    details = error.log
    # The launch log and the server log stay in English whatever language the page is shown in.
    with force_locale(i18n.DEFAULT_LOCALE):
        logged_message = str(error.message)
    db.session.add(
        LaunchLog(
            stage=stage,
            platform_id=details.get("platform_id"),
            issuer=_clip(details.get("issuer"), 500),
            client_id=_clip(details.get("client_id"), 255),
            deployment_id=_clip(details.get("deployment_id"), 255),
            message_type=_clip(details.get("message_type"), 100),
            user_sub=_clip(details.get("user_sub"), 255),
            outcome="rejected",
            reason=error.reason,
            detail=logged_message[:2000],
        )
    )
    db.session.commit()
    LAUNCHES.labels(stage, "rejected", error.reason).inc()
    relaunch_url = url_for("lti.relaunch", ticket=error.relaunch_ticket) if error.relaunch_ticket else None
    log.warning(
        "%s rejected: %s: %s",
        stage,
        error.reason,
        logged_message,
        extra={"reason": error.reason, "issuer": details.get("issuer"), "client_id": details.get("client_id")},
    )
    return error_response(
        error.status, error.title, error.message, hint=error.hint, command=error.command, relaunch_url=relaunch_url
    )


def _clip(value, size: int):
    # NUL bytes cannot be stored in PostgreSQL text; hostile values are logged without them.
    return value.replace("\x00", "")[:size] if isinstance(value, str) else None


@bp.route("/lti/login", methods=["GET", "POST"])
@csrf.exempt  # authenticated by the platform registry; it only starts a login
@limiter.limit(LAUNCH_LIMIT)
def login():
    params = request.form if request.method == "POST" else request.args
    return _start_login(params.to_dict())


def _start_login(params: dict[str, str]):
    base = tool_base_url()
    try:
        answer = lti_launch.start_login(
            params,
            launch_url=tool_url("lti.launch"),
            tool_origin=lti_launch.origin_of(base),
        )
    except lti_launch.LaunchError as error:
        return _reject("login", error)
    LAUNCHES.labels("login", "accepted", "").inc()
    if answer.storage_target:
        # The platform offers storage: keep state and nonce there too, then go on to its login.
        response = make_response(render_template("lti_tool/login_storage.html", answer=answer))
        response.headers["Cache-Control"] = "no-store"
    else:
        response = redirect(answer.url, code=302)
    secure = base.startswith("https://")
    response.set_cookie(
        answer.cookie_name,
        answer.state,
        max_age=answer.cookie_max_age,
        httponly=True,
        secure=secure,
        # The launch POST comes from the LMS's site: only SameSite=None cookies travel with it,
        # and browsers accept those only when Secure. Partitioned keeps it working in iframes.
        samesite="None" if secure else "Lax",
        partitioned=secure,
        path=url_for("lti.launch"),
    )
    return response


@bp.route("/lti/launch", methods=["POST"])
@csrf.exempt  # authenticated by state, nonce and the platform's signature
@limiter.limit(LAUNCH_LIMIT)
def launch():
    try:
        validated = lti_launch.validate_launch(request.form.to_dict(), request.cookies)
    except lti_launch.LaunchError as error:
        return _reject("launch", error)
    if validated.storage_check:
        # No cookie came back: the page asks the platform's storage for the state, then confirms.
        pending_id = lti_launch.hold_for_storage_check(validated)
        response = make_response(
            render_template(
                "lti_tool/launch_storage.html",
                pending_id=pending_id,
                check=validated.storage_check,
                relaunch_ticket=validated.storage_check.get("relaunch_ticket"),
            )
        )
        response.headers["Cache-Control"] = "no-store"
        return response
    return _accept(validated)


@bp.route("/lti/launch/confirm", methods=["POST"])
@csrf.exempt  # proven by the held launch's id and the state read back from platform storage
@limiter.limit(LAUNCH_LIMIT)
def confirm_launch():
    try:
        validated = lti_launch.confirm_storage_check(
            request.form.get("pending_id", ""), request.form.get("state", "")
        )
    except lti_launch.LaunchError as error:
        return _reject("launch", error)
    return _accept(validated)


@bp.route("/lti/relaunch")
@limiter.limit(LAUNCH_LIMIT)
def relaunch():
    """Start the same login again in a top-level window, where the browser keeps cookies."""
    params = lti_launch.relaunch_params(request.args.get("ticket", ""))
    if params is None:
        return error_response(
            400,
            _("This link has expired"),
            _("The link to reopen the tool is used up or too old."),
            hint=_("Open the tool again from your LMS."),
        )
    params.pop("lti_storage_target", None)  # a top-level window has no storage frame; cookies work
    return _start_login(params)


def _accept(validated: lti_launch.ValidatedLaunch):
    platform_id = validated.client.platform_id  # read before record_launch's commit expires it
    record = identity.record_launch(validated)
    LAUNCHES.labels("launch", "accepted", "").inc()
    log.info(
        "launch accepted",
        extra={"platform_id": platform_id, "launch_id": record.launch_id, "message_type": validated.message_type},
    )
    # A feature package may claim the launch (a deep-linking picker, the item a link names).
    target = landing.landing_url(record, validated) or url_for("lti.home", launch_id=record.launch_id)
    response = redirect(target, code=303)
    response.delete_cookie(
        lti_launch.STATE_COOKIE_PREFIX + request.form["state"], path=url_for("lti.launch")
    )
    return response


@bp.route("/lti/home")
@identity.requires_launch
def home():
    current = identity.current_launch()
    user = db.session.get(User, current.user_pk)
    context = db.session.get(Context, current.context_pk) if current.context_pk else None
    platform = db.session.get(Platform, current.platform_id)
    return render_template(
        "lti_tool/home.html",
        launch=current,
        user=user,
        context=context,
        platform=platform,
        deep_linking=current.message_type == lti_launch.DEEP_LINKING_REQUEST,
        config_url=tool_url("lti.config_json"),
    )


@bp.route("/lti/config.json")
def config_json():
    """What an LMS admin pastes into the LMS to register the tool by hand."""
    settings = current_app.config["SETTINGS"]
    launch_url = tool_url("lti.launch")
    return jsonify(
        {
            "title": settings.TOOL_NAME,
            "description": settings.TOOL_DESCRIPTION,
            "tool_url": tool_base_url(),
            "oidc_initiation_url": tool_url("lti.login"),
            "target_link_uri": launch_url,
            "launch_url": launch_url,
            "deep_linking_url": launch_url,
            "redirect_uris": [launch_url],
            "jwks_url": tool_url("keys.jwks"),
            "scopes": SCOPES,
            "messages": [lti_launch.RESOURCE_LINK_REQUEST, lti_launch.DEEP_LINKING_REQUEST],
            "claims": ["iss", "sub", "name", "given_name", "family_name", "email", "picture", "locale"],
        }
    )


@bp.route("/healthz")
def healthz():
    return jsonify({"status": "ok"})


@bp.route("/readyz")
def readyz():
    checks: dict[str, str] = {}
    ok = True
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # readiness reports any failure instead of raising
        checks["database"] = f"error: {exc.__class__.__name__}"
        ok = False
    finally:
        db.session.rollback()
    client = redis_client()
    if client is not None:
        try:
            client.ping()
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"error: {exc.__class__.__name__}"
            ok = False
    return jsonify({"status": "ok" if ok else "unavailable", "checks": checks}), 200 if ok else 503
