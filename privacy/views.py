"""Privacy pages of the admin area at /admin/privacy: find a learner, export, erase.

The blueprint is nested in the admin blueprint, so the admin area's sign-in check, response
headers and template context apply to every page here as they do to the rest of /admin. Every
form carries the session CSRF token; exports and erases are written to the audit log.
"""

from __future__ import annotations

import json

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from lti_tool import registry
from lti_tool.admin import views as admin_views
from lti_tool.db import db
from lti_tool.models import Platform, User
from privacy import service

bp = Blueprint("privacy", __name__, template_folder="templates")
# Registered once, at import, before the app registers the admin blueprint (a blueprint cannot
# gain children after its first registration).
admin_views.bp.register_blueprint(bp, url_prefix="/privacy")


def _user_or_404(user_pk: int) -> tuple[Platform, User]:
    user = db.session.get(User, user_pk)
    if user is None:
        abort(404, description=_("There is no user %(user_pk)s.", user_pk=user_pk))
    return db.session.get(Platform, user.platform_id), user


@bp.get("/")
def index():
    platforms = registry.list_platforms()
    form = {key: (request.args.get(key) or "").strip()[:320] for key in ("platform", "sub", "email")}
    results, error, status = None, None, 200
    if request.args.get("search"):
        platform_id = None
        if form["platform"]:
            if not form["platform"].isdigit() or not any(p.id == int(form["platform"]) for p in platforms):
                abort(400, description=_("Choose one of the registered platforms, or all of them."))
            platform_id = int(form["platform"])
        try:
            results = service.search_users(platform_id=platform_id, sub=form["sub"], email=form["email"])
        except service.PrivacyError as exc:
            error, status = _("Not searched: %(error)s.", error=exc), 400
    return render_template(
        "privacy/index.html",
        platforms=platforms,
        platform_names={p.id: p.name for p in platforms},
        form=form,
        results=results,
        error=error,
        erasures=service.recent_erasures(limit=20),
        settings=current_app.config["SETTINGS"],
    ), status


def _user_page(platform: Platform, user: User, *, error: str | None = None, status: int = 200):
    return render_template(
        "privacy/user.html",
        platform=platform,
        user=user,
        erased=service.is_erased(user),
        erasure=service.erasure_of(user),
        summary=service.holdings_summary(user),
        pending_scores=service.pending_scores(user),
        error=error,
    ), status


@bp.get("/users/<int:user_pk>")
def user(user_pk: int):
    platform, person = _user_or_404(user_pk)
    return _user_page(platform, person)


@bp.post("/users/<int:user_pk>/export")
def export(user_pk: int):
    platform, person = _user_or_404(user_pk)
    document = service.export(platform, person)
    service.audit_export(platform, person, requested_by="", admin=admin_views.current_admin(), ip=request.remote_addr)
    db.session.commit()
    body = json.dumps(document, ensure_ascii=False, indent=2)
    return Response(
        body,
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="{service.export_filename(platform, person)}"'},
    )


@bp.post("/users/<int:user_pk>/erase")
def erase(user_pk: int):
    platform, person = _user_or_404(user_pk)
    if service.is_erased(person):
        flash(_("This user was already erased; nothing changed."))
        return redirect(url_for(".user", user_pk=person.id), code=303)
    if (request.form.get("confirm") or "").strip() != person.sub:
        return _user_page(platform, person, status=400,
                          error=_("Not erased: type the LMS user id exactly as shown to confirm."))
    try:
        record = service.erase(
            platform,
            person,
            requested_by="",
            reason=request.form.get("reason", ""),
            cancel_pending=request.form.get("cancel_pending") == "yes",
            admin=admin_views.current_admin(),
            ip=request.remote_addr,
        )
        db.session.commit()
    except service.PendingScores as exc:
        db.session.rollback()
        return _user_page(platform, person, status=409, error=_("Not erased: %(error)s", error=exc))
    except service.PrivacyError as exc:
        db.session.rollback()
        return _user_page(platform, person, status=400, error=_("Not erased: %(error)s.", error=exc))
    flash(_("Erased. The user is now the pseudonym %(pseudonym)s; erasure record %(record_id)s.",
            pseudonym=record.pseudonym, record_id=record.id))
    return redirect(url_for(".user", user_pk=person.id), code=303)
