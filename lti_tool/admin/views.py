"""The admin area at /admin: sign-in, platforms and deployments, set-up values, keys, health, audit.

Thin views over `lti_tool.admin.service` and `lti_tool.registry`. Admins sign in with an account
of this tool; the session is a random token in an HttpOnly cookie scoped to /admin, looked up in
the cache, replaced at every sign-in and deleted at sign-out. Every form carries the session CSRF
token, and every change is written to the audit log in the same transaction as the change.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _

from keys import service as keys_service
from lti_tool import presets, registry
from lti_tool.admin import service
from lti_tool.admin.registration_views import tool_offer
from lti_tool.db import MAX_ROW_ID, db
from lti_tool.limits import limiter
from lti_tool.views import tool_base_url, tool_url

bp = Blueprint("admin", __name__)

COOKIE = "lti_admin_session"
COOKIE_PATH = "/admin"


def _settings():
    return current_app.config["SETTINGS"]


def current_admin():
    if "admin_user" not in g:
        g.admin_user = service.admin_for_session(request.cookies.get(COOKIE))
    return g.admin_user


@bp.before_request
def _require_admin():
    if request.endpoint == "admin.login":
        return None
    if current_admin() is None:
        target = request.full_path if request.method == "GET" else None
        return redirect(url_for("admin.login", next=target), code=303)
    return None


@bp.after_request
def _no_store(response):
    # Admin pages show registration details: never keep them in shared caches.
    response.headers["Cache-Control"] = "no-store"
    # Never framed, not even by a registered LMS (browsers follow frame-ancestors over X-Frame-Options).
    response.headers["Content-Security-Policy"] = "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
    response.headers["X-Frame-Options"] = "DENY"
    return response


@bp.context_processor
def _admin_context():
    return {"admin": g.get("admin_user"), "pending": service.pending_counts() if g.get("admin_user") else None}


def _audit(action: str, target_type: str, target_id, *, platform_id=None, detail=None) -> None:
    service.audit(
        actor="",
        admin=current_admin(),
        action=action,
        target_type=target_type,
        target_id=str(target_id) if target_id is not None else None,
        platform_id=platform_id,
        detail=detail,
        ip=request.remote_addr,
    )


def _safe_next(value: str | None) -> str:
    # Only pages of the admin area: never an open redirect to another site.
    parts = urlsplit(value or "")
    if value and not parts.scheme and not parts.netloc and parts.path.startswith(COOKIE_PATH):
        return value
    return url_for("admin.index")


def _login_email_key() -> str:
    return "admin-login-email:" + (request.form.get("email") or "").strip().lower()[:320]


def _login_limit() -> str:
    return _settings().ADMIN_LOGIN_RATE_LIMIT


# --- Sign-in ------------------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
@limiter.limit(_login_limit, methods=["POST"], key_func=_login_email_key)
def login():
    next_url = request.values.get("next")
    if request.method == "GET":
        if current_admin() is not None:
            return redirect(_safe_next(next_url))
        return render_template("admin/login.html", next_url=next_url, email="")
    admin = service.authenticate(request.form.get("email"), request.form.get("password"))
    if admin is None:
        return (
            render_template(
                "admin/login.html",
                next_url=next_url,
                email=(request.form.get("email") or "")[:320],
                error="The email address or password is not right.",
            ),
            401,
        )
    # A new session on every sign-in: clear what the browser held before (CSRF token included).
    service.end_session(request.cookies.get(COOKIE))
    session.clear()
    token = service.start_session(admin)
    service.audit(actor=admin.email, admin=admin, action="admin.login", target_type="admin",
                  target_id=str(admin.id), ip=request.remote_addr)
    db.session.commit()
    response = redirect(_safe_next(next_url), code=303)
    secure = tool_base_url().startswith("https://") or request.is_secure
    response.set_cookie(
        COOKIE,
        token,
        max_age=_settings().ADMIN_SESSION_TTL_SECONDS,
        path=COOKIE_PATH,
        httponly=True,
        secure=secure,
        samesite="Lax",
    )
    return response


@bp.post("/logout")
def logout():
    admin = current_admin()
    service.end_session(request.cookies.get(COOKIE))
    service.audit(actor=admin.email, admin=admin, action="admin.logout", target_type="admin",
                  target_id=str(admin.id), ip=request.remote_addr)
    db.session.commit()
    session.clear()
    response = redirect(url_for("admin.login"), code=303)
    response.delete_cookie(COOKIE, path=COOKIE_PATH)
    return response


# --- Platforms ----------------------------------------------------------------------------------


@bp.get("/")
def index():
    return render_template("admin/index.html", platforms=registry.list_platforms())


def _platform_or_404(platform_id: int):
    platform = service.get_platform(platform_id)
    if platform is None:
        abort(404, description=_("There is no platform %(platform_id)s.", platform_id=platform_id))
    return platform


@bp.route("/platforms/new", methods=["GET", "POST"])
def platform_new():
    form = request.form if request.method == "POST" else {"preset": request.args.get("preset", "moodle")}
    if request.method == "GET":
        return render_template("admin/platform_new.html", form=form, presets=presets.PRESETS.values())
    try:
        platform = service.add_platform_from_preset(
            service.NewPlatform(
                preset=form.get("preset", ""),
                site_url=form.get("site_url", ""),
                client_id=form.get("client_id", ""),
                deployment_ids=service.split_ids(form.get("deployment_ids")),
                name=form.get("name") or None,
                issuer=form.get("issuer") or None,
            )
        )
        _audit("platform.added", "platform", platform.id, platform_id=platform.id,
               detail={"preset": form.get("preset"), "issuer": platform.issuer})
        db.session.commit()
    except registry.RegistryError as error:
        db.session.rollback()
        return (
            render_template("admin/platform_new.html", form=form, presets=presets.PRESETS.values(), error=str(error)),
            400,
        )
    flash(_("Registered %(platform)s.", platform=platform.name))
    return redirect(url_for("admin.platform", platform_id=platform.id), code=303)


@bp.get("/platforms/<int:platform_id>")
def platform(platform_id: int):
    platform = _platform_or_404(platform_id)
    return render_template(
        "admin/platform.html",
        platform=platform,
        health=service.platform_health(platform),
        audit_rows=service.recent_audit(limit=20, platform_id=platform.id),
        behaviour=presets.behaviour(platform.product_family_code),
    )


@bp.route("/platforms/<int:platform_id>/edit", methods=["GET", "POST"])
def platform_edit(platform_id: int):
    platform = _platform_or_404(platform_id)
    if request.method == "GET":
        form = {
            "name": platform.name,
            "issuer": platform.issuer,
            "auth_url": platform.auth_url,
            "token_url": platform.token_url,
            "jwks_url": platform.jwks_url or "",
            "public_key": platform.public_key or "",
        }
        return render_template("admin/platform_edit.html", platform=platform, form=form)
    form = request.form
    try:
        changed = registry.update_platform(
            platform,
            registry.PlatformUpdate(
                name=form.get("name", ""),
                issuer=form.get("issuer", ""),
                auth_url=form.get("auth_url", ""),
                token_url=form.get("token_url", ""),
                jwks_url=form.get("jwks_url") or None,
                public_key=form.get("public_key") or None,
            ),
        )
        if changed:
            _audit("platform.edited", "platform", platform.id, platform_id=platform.id, detail={"changed": changed})
        db.session.commit()
    except registry.RegistryError as error:
        db.session.rollback()
        return render_template("admin/platform_edit.html", platform=_platform_or_404(platform_id), form=form,
                               error=str(error)), 400
    flash(_("Saved.") if changed else _("Nothing changed."))
    return redirect(url_for("admin.platform", platform_id=platform_id), code=303)


STATUS_ACTIONS = {"approve": registry.ACTIVE, "enable": registry.ACTIVE, "disable": registry.DISABLED}


def _status_for(action: str | None) -> str:
    status = STATUS_ACTIONS.get(action or "")
    if status is None:
        abort(400, description=_("Choose approve, enable or disable."))
    return status


@bp.post("/platforms/<int:platform_id>/status")
def platform_status(platform_id: int):
    platform = _platform_or_404(platform_id)
    action = request.form.get("action")
    status = _status_for(action)
    before = platform.status
    registry.set_platform_status(platform, status)
    _audit(f"platform.{action}", "platform", platform.id, platform_id=platform.id,
           detail={"from": before, "to": status})
    db.session.commit()
    flash(_("%(platform)s is now %(status)s.", platform=platform.name, status=status))
    return redirect(url_for("admin.platform", platform_id=platform.id), code=303)


@bp.post("/platforms/<int:platform_id>/deployments")
def deployment_add(platform_id: int):
    platform = _platform_or_404(platform_id)
    client_pk = request.form.get("client_pk", type=int)
    # A number past any row id would be a database error, not a "no such client".
    client = service.get_client(platform, client_pk) if client_pk and 0 < client_pk <= MAX_ROW_ID else None
    if client is None:
        abort(400, description=_("Choose one of this platform's client ids."))
    try:
        deployment = registry.add_deployment(client, request.form.get("deployment_id", ""))
        _audit("deployment.added", "deployment", deployment.id, platform_id=platform.id,
               detail={"client_id": client.client_id, "deployment_id": deployment.deployment_id})
        db.session.commit()
    except registry.RegistryError as error:
        db.session.rollback()
        flash(_("Not added: %(error)s.", error=error), "error")
        return redirect(url_for("admin.platform", platform_id=platform_id), code=303)
    flash(_("Added deployment %(deployment_id)s.", deployment_id=deployment.deployment_id))
    return redirect(url_for("admin.platform", platform_id=platform.id), code=303)


@bp.post("/platforms/<int:platform_id>/clients")
def client_add(platform_id: int):
    platform = _platform_or_404(platform_id)
    try:
        client = registry.add_client(platform, request.form.get("client_id", ""))
        for deployment_id in service.split_ids(request.form.get("deployment_ids")):
            registry.add_deployment(client, deployment_id)
        _audit("client.added", "client", client.id, platform_id=platform.id, detail={"client_id": client.client_id})
        db.session.commit()
    except registry.RegistryError as error:
        db.session.rollback()
        flash(_("Not added: %(error)s.", error=error), "error")
        return redirect(url_for("admin.platform", platform_id=platform_id), code=303)
    flash(_("Added client id %(client_id)s.", client_id=client.client_id))
    return redirect(url_for("admin.platform", platform_id=platform.id), code=303)


@bp.post("/platforms/<int:platform_id>/deployments/<int:deployment_pk>/status")
def deployment_status(platform_id: int, deployment_pk: int):
    platform = _platform_or_404(platform_id)
    deployment = service.get_deployment(platform, deployment_pk)
    if deployment is None:
        abort(404, description=_("This platform has no such deployment."))
    action = request.form.get("action")
    status = _status_for(action)
    before = deployment.status
    registry.set_deployment_status(deployment, status)
    _audit(f"deployment.{action}", "deployment", deployment.id, platform_id=platform.id,
           detail={"deployment_id": deployment.deployment_id, "from": before, "to": status})
    db.session.commit()
    flash(_(
        "Deployment %(deployment_id)s is now %(status)s.",
        deployment_id=deployment.deployment_id,
        status=status,
    ))
    return redirect(url_for("admin.platform", platform_id=platform.id), code=303)


# --- Set-up values, keys, audit -------------------------------------------------------------------


@bp.get("/setup")
def setup():
    offer = tool_offer()
    return render_template(
        "admin/setup.html",
        offer=offer,
        values=service.manual_values(offer),
        register_url=tool_url("lti_registration.register_start"),
        canvas_json_url=tool_url("lti_registration.canvas_json"),
        presets=presets.PRESETS.values(),
    )


@bp.get("/keys")
def keys():
    return render_template(
        "admin/keys.html",
        keys=keys_service.list_keys(),
        jwks_url=tool_url("keys.jwks"),
        grace_hours=_settings().KEY_RETIRE_GRACE_SECONDS / 3600,
    )


@bp.post("/keys/rotate")
def keys_rotate():
    if request.form.get("confirm") != "yes":
        flash(_("Tick the confirmation box to rotate the keys."), "error")
        return redirect(url_for("admin.keys"), code=303)
    try:
        rotation = keys_service.rotate()
    except keys_service.RotationConflict as error:
        flash(_("Not rotated: %(error)s.", error=error), "error")
        return redirect(url_for("admin.keys"), code=303)
    _audit("keys.rotated", "key", rotation.active.kid,
           detail={"active": rotation.active.kid, "next": rotation.next.kid, "retired": rotation.retired.kid,
                   "deleted": rotation.deleted_kids})
    db.session.commit()
    flash(_("Rotated: %(kid)s now signs.", kid=rotation.active.kid))
    return redirect(url_for("admin.keys"), code=303)


@bp.get("/audit")
def audit_log():
    return render_template("admin/audit.html", rows=service.recent_audit(limit=200))

