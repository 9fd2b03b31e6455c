"""Public registration endpoints: LTI Dynamic Registration at /lti/register and the Canvas
developer-key JSON at /lti/config/canvas.json.

They live beside the admin area rather than in `lti_tool/views.py` because they are how an LMS
admin sets the tool up, and they share the admin area's description of the tool; they are public
(no sign-in) because the LMS, not an admin of this tool, opens them.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template, request
from flask_babel import gettext as _

from lti_tool import dynamic_registration as dynreg
from lti_tool import presets
from lti_tool.csrf import csrf
from lti_tool.errors import error_response
from lti_tool.limits import limiter, setting
from lti_tool.views import SCOPES, tool_base_url, tool_url

registration_bp = Blueprint("lti_registration", __name__)
# Per client address: each request fetches the LMS's configuration from the URL it names.
REGISTRATION_LIMIT = setting("REGISTRATION_RATE_LIMIT")

# The LMS that frames the registration page (Canvas does) is not registered yet, so the tool's
# usual frame-ancestors list of registered platforms cannot name it: any https site may frame these
# pages. They hold nothing the framing LMS does not already have (its own registration token).
REGISTRATION_CSP = "frame-ancestors https: http://localhost:* http://127.0.0.1:*; base-uri 'self'; form-action 'self'"


@registration_bp.after_request
def _frameable_by_any_lms(response):
    if request.endpoint in ("lti_registration.register_start", "lti_registration.register_finish"):
        response.headers["Content-Security-Policy"] = REGISTRATION_CSP
    return response


def _settings():
    return current_app.config["SETTINGS"]


def tool_offer() -> dynreg.ToolOffer:
    """How this tool describes itself to an LMS, with URLs for the host the LMS reaches."""
    settings = _settings()
    return dynreg.ToolOffer(
        name=settings.TOOL_NAME,
        description=settings.TOOL_DESCRIPTION,
        base_url=tool_base_url(),
        login_url=tool_url("lti.login"),
        launch_url=tool_url("lti.launch"),
        jwks_url=tool_url("keys.jwks"),
        logo_url=tool_url("lti.static", filename="logo.svg"),
        scopes=tuple(SCOPES),
        messages=dynreg.offered_messages(settings.TOOL_NAME),
        privacy_level=settings.CANVAS_PRIVACY_LEVEL,
    )


def _refused(error: dynreg.RegistrationError):
    return error_response(error.status, _("The tool could not be registered"), error.message, hint=error.hint)


@registration_bp.get("/lti/register")
@limiter.limit(REGISTRATION_LIMIT)
def register_start():
    """The page the LMS opens: what will be registered, and a button to go ahead."""
    try:
        url, token = dynreg.check_request(
            request.args.get("openid_configuration"), request.args.get("registration_token")
        )
        if dynreg.token_was_used(token):
            dynreg.claim_token(token)
        config = dynreg.fetch_configuration(url, token, timeout=_settings().HTTP_TIMEOUT_SECONDS)
    except dynreg.RegistrationError as error:
        return _refused(error)
    offer = tool_offer()
    body = dynreg.registration_request(offer, config)
    return render_template(
        "admin/register.html",
        platform_config=config,
        behaviour=config.behaviour,
        offer=offer,
        request_body=body,
        tool_configuration=body[dynreg.TOOL_CONFIGURATION],
        openid_configuration=url,
        registration_token=token,
        auto_approve=_settings().AUTO_APPROVE_REGISTRATIONS,
        privacy_extension=presets.CANVAS_PRIVACY_EXTENSION,
    )


@registration_bp.post("/lti/register")
@csrf.exempt  # authenticated by the LMS's single-use registration token; often runs in an iframe
@limiter.limit(REGISTRATION_LIMIT)
def register_finish():
    settings = _settings()
    try:
        result = dynreg.register(
            request.form.get("openid_configuration"),
            request.form.get("registration_token"),
            tool_offer(),
            timeout=settings.HTTP_TIMEOUT_SECONDS,
            auto_approve=settings.AUTO_APPROVE_REGISTRATIONS,
        )
    except dynreg.RegistrationError as error:
        return _refused(error)
    return render_template("admin/registered.html", result=result, behaviour=result.config.behaviour)


@registration_bp.get("/lti/config/canvas.json")
def canvas_json():
    """Canvas's developer-key JSON (Developer Keys → + LTI Key → Paste JSON). Public on purpose:
    it holds nothing but the tool's public URLs."""
    from lti_tool.admin.service import canvas_developer_key

    response = jsonify(canvas_developer_key(tool_offer(), _settings().CANVAS_PRIVACY_LEVEL))
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
