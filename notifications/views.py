"""The bell, the list, mark read, email preferences, and the small JSON the bell polls (all thin)."""

from __future__ import annotations

import logging
from typing import Any

from flask import (
    Blueprint,
    Flask,
    abort,
    g,
    has_request_context,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _

from lti_tool.db import MAX_ROW_ID
from lti_tool.identity import current_launch, launch_id_from_request, load_launch, requires_launch
from notifications import service, sources
from notifications.models import Notification

bp = Blueprint(
    "notifications",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/notifications",
)
log = logging.getLogger("notifications")
POLL_SECONDS = 30


def _back(**values: Any):
    return redirect(url_for("notifications.index", launch_id=current_launch().launch_id, **values), code=303)


def _open_link(notification: Notification, launch_id: str) -> str | None:
    if not notification.link:
        return None
    separator = "&" if "?" in notification.link else "?"
    return f"{request.script_root}{notification.link}{separator}launch_id={launch_id}"


@bp.get("/")
@requires_launch
def index():
    launch = current_launch()
    before = request.args.get("before", "")
    # isdigit() alone lets through "²" and numbers past any row id, which int() or the database refuse.
    if before and not (before.isascii() and before.isdigit() and len(before) <= 10 and int(before) <= MAX_ROW_ID):
        abort(400, description=_("The 'before' parameter must be a notification number."))
    items = service.latest(launch.platform_id, launch.user_pk, before_id=int(before) if before else None)
    titles = {pk: sources.context_title(pk) for pk in {n.context_pk for n in items if n.context_pk}}
    return render_template(
        "notifications/index.html",
        launch=launch,
        notifications=items,
        course_titles=titles,
        unread=service.unread_count(launch.platform_id, launch.user_pk),
        open_link=lambda n: _open_link(n, launch.launch_id),
        more=len(items) == service.PAGE_SIZE,
    )


@bp.post("/<int:notification_id>/read")
@requires_launch
def mark_read(notification_id: int):
    launch = current_launch()
    if not service.mark_read(launch.platform_id, launch.user_pk, notification_id):
        abort(404, description=_("There is no such notification for you; it may belong to someone else."))
    return _back()


@bp.post("/read-all")
@requires_launch
def mark_all_read():
    launch = current_launch()
    service.mark_all_read(launch.platform_id, launch.user_pk)
    return _back()


@bp.get("/unread.json")
@requires_launch
def unread():
    """What the bell polls (send the launch id as X-Launch-Id): the count and the newest unread."""
    launch = current_launch()
    newest = [
        {"id": n.id, "title": n.title, "created_at": n.created_at.isoformat()}
        for n in service.latest(launch.platform_id, launch.user_pk, limit=5)
        if n.read_at is None
    ]
    count = service.unread_count(launch.platform_id, launch.user_pk)
    response = jsonify(unread=count, newest=newest, poll_seconds=POLL_SECONDS)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/preferences", methods=["GET", "POST"])
@requires_launch
def preferences():
    launch = current_launch()
    kinds = service.kinds_for(launch.roles)
    saved = False
    if request.method == "POST":
        unknown = [
            name.removeprefix("email_")
            for name in request.form
            if name.startswith("email_") and name.removeprefix("email_") not in kinds
        ]
        if unknown:
            listed = ", ".join(sorted(unknown))[:200]
            abort(400, description=_("Unknown kind of notification: %(unknown)s.", unknown=listed))
        service.set_email_choices(
            launch.platform_id, launch.user_pk, {kind: request.form.get(f"email_{kind}") == "on" for kind in kinds}
        )
        saved = True
    choices = service.email_choices(launch.platform_id, launch.user_pk, kinds)
    return render_template(
        "notifications/preferences.html",
        launch=launch,
        kinds=[(kind, service.KINDS[kind].label, choices[kind]) for kind in kinds],
        email=service.email_address(launch.user_pk),
        saved=saved,
    )


def bell() -> dict[str, Any] | None:
    """For the header of every page opened by a launch: the unread count (None without a launch)."""
    if not has_request_context():
        return None
    try:
        # The page's view has usually read the launch already (`current_launch`): not again.
        launch = g.launch if "launch" in g else load_launch(launch_id_from_request())
        if launch is None:
            return None
        return {
            "launch_id": launch.launch_id,
            "unread": service.unread_count(launch.platform_id, launch.user_pk),
            "poll_seconds": POLL_SECONDS,
        }
    except Exception:
        # The bell must never break the page it sits on (an error page, the database away).
        log.warning("could not count unread notifications", exc_info=True)
        return None


def init_app(app: Flask) -> None:
    app.jinja_env.globals["notification_bell"] = bell
