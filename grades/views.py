"""Gradebook pages: the teacher's view of a course's grades and their way to the LMS, and each
learner's own scores. Thin: the work is in `grades.service`.

Every link and form carries the launch id (the LMS frame may drop cookies); forms carry the
launch-bound CSRF token.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _, ngettext

from grades import launches, service
from lti_tool import csrf
from lti_tool.identity import CurrentLaunch, current_launch, requires_launch, requires_role

bp = Blueprint("grades", __name__, template_folder="templates")


def init_app(app: Flask) -> None:
    launches.init_app(app)


def _course_launch() -> CurrentLaunch:
    launch = current_launch()
    if launch.context_pk is None:
        abort(
            400,
            description=_(
                "Grades belong to a course: open the tool from your LMS course, not from a menu outside it.",
            ),
        )
    return launch


def lurl(endpoint: str, **values: Any) -> str:
    return url_for(endpoint, launch_id=current_launch().launch_id, **values)


@bp.context_processor
def _helpers() -> dict[str, Any]:
    return {
        "lurl": lurl,
        "has_courses": "courses.index" in current_app.view_functions,
        # Named here so these forms carry the launch-bound token even where Flask-WTF's own
        # context processor (the session-cookie token) would shadow the app-wide global.
        "csrf_token": csrf.csrf_token,
    }


@bp.get("/")
@requires_role("instructor")
def gradebook():
    launch = _course_launch()
    book = service.gradebook(platform_id=launch.platform_id, context_pk=launch.context_pk)
    return render_template("grades/gradebook.html", launch=launch, book=book, notice=_notice())


@bp.get("/export.csv")
@requires_role("instructor")
def export_csv():
    launch = _course_launch()
    book = service.gradebook(platform_id=launch.platform_id, context_pk=launch.context_pk)
    name = "".join(
        ch if ch.isalnum() or ch in "-_" else "-"
        for ch in (book.context.label or book.context.title or "course")
    )
    return Response(
        "\ufeff" + service.gradebook_csv(book),  # the BOM makes spreadsheet programs read UTF-8
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="grades-{name[:60]}.csv"',
            "Cache-Control": "no-store",
        },
    )


# Messages after an action travel in the redirect's query (a flash needs a cookie the LMS frame may
# drop); only these fixed texts can be shown.
NOTICES = {
    "retried": lambda count: ngettext(
        "Sending %(num)d failed grade to the LMS again.",
        "Sending %(num)d failed grades to the LMS again.",
        count,
    ),
    "nothing-failed": lambda count: _("There were no failed grades to send again."),
    "resent": lambda count: ngettext(
        "Sending %(num)d grade to the LMS again.",
        "Sending %(num)d grades to the LMS again.",
        count,
    ),
    "nothing-to-send": lambda count: _("No learner has a score to send yet."),
    "roster": lambda count: _(
        "The course roster is being read from the LMS; reload this page in a moment to see it.",
    ),
}


def _back(notice: str, count: int = 0):
    return redirect(lurl("grades.gradebook", notice=notice, count=count), code=303)


def _notice() -> str | None:
    template = NOTICES.get(request.args.get("notice", ""))
    if template is None:
        return None
    count = request.args.get("count", "0")
    # Only a plain, short number is shown ("²" passes isdigit, and int() refuses 5000 digits).
    shown = int(count) if count.isascii() and count.isdigit() and len(count) <= 9 else 0
    return template(shown)


@bp.post("/retry-failed")
@requires_role("instructor")
def retry_failed():
    launch = _course_launch()
    count = service.retry_failed(platform_id=launch.platform_id, context_pk=launch.context_pk)
    return _back("retried", count) if count else _back("nothing-failed")


@bp.post("/resend-all")
@requires_role("instructor")
def resend_all():
    launch = _course_launch()
    services = service.context_services(platform_id=launch.platform_id, context_pk=launch.context_pk)
    if not service.can_send_grades(services):
        abort(409, description=service.AGS_HELP)
    count = service.resend_all(platform_id=launch.platform_id, context_pk=launch.context_pk)
    return _back("resent", count) if count else _back("nothing-to-send")


@bp.post("/roster/sync")
@requires_role("instructor")
def sync_roster():
    launch = _course_launch()
    services = service.context_services(platform_id=launch.platform_id, context_pk=launch.context_pk)
    if not service.can_read_roster(services):
        abort(409, description=service.NRPS_HELP)
    launches.request_roster_sync(launch.context_pk)
    return _back("roster")


@bp.get("/mine")
@requires_launch
def mine():
    launch = _course_launch()
    grades = service.learner_grades(
        platform_id=launch.platform_id, context_pk=launch.context_pk, user_pk=launch.user_pk
    )
    services = service.context_services(platform_id=launch.platform_id, context_pk=launch.context_pk)
    return render_template(
        "grades/mine.html", launch=launch, grades=grades, can_send=service.can_send_grades(services)
    )
