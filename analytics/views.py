"""Teacher dashboard, learner progress, CSV and xAPI exports (thin: the numbers come from service)."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timezone
from typing import Any, Iterator

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _

from analytics import charts, exports, service, xapi
from analytics.models import SCORE_BINS
from lti_tool import jobs
from lti_tool.identity import CurrentLaunch, current_launch, requires_launch

bp = Blueprint("analytics", __name__, template_folder="templates")

DAY_CHOICES = (7, 14, 30, 90, 180, 365)


def lurl(endpoint: str, **values: Any) -> str:
    """A link that carries the launch id (pages inside the LMS frame have no cookies)."""
    return url_for(endpoint, launch_id=current_launch().launch_id, **values)


@bp.app_template_global("analytics_url")
def _analytics_url(endpoint: str, **values: Any) -> str:
    return lurl(endpoint, **values)


def _nav(launch: CurrentLaunch) -> list[tuple[str, str, bool]]:
    """(label, link, is this page) for the header: the tool's course pages this user can open."""
    endpoints = current_app.view_functions
    here = request.endpoint
    if launch.is_instructor:
        wanted = [(_("Your courses"), "courses.index", {}), (_("Gradebook"), "grades.gradebook", {})]
        if launch.context_pk is not None:
            wanted.append((_("Course analytics"), "analytics.dashboard", {"context_pk": launch.context_pk}))
    else:
        wanted = [(_("My grades"), "grades.mine", {}), (_("My progress"), "analytics.my_progress", {})]
    return [
        (label, lurl(endpoint, **values), endpoint == here)
        for label, endpoint, values in wanted
        if endpoint in endpoints
    ]


@bp.context_processor
def _analytics_nav() -> dict[str, Any]:
    # Error pages (no launch, or a refused one) get no links.
    launch = g.get("launch")
    return {"analytics_nav": _nav(launch) if launch is not None else []}


def _tool_base() -> str:
    return (current_app.config["SETTINGS"].TOOL_BASE_URL or request.host_url).rstrip("/")


def _int_arg(name: str, default: int, low: int, high: int, what: str) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        abort(400, description=_(
            "%(what)s must be a whole number from %(low)s to %(high)s; got %(raw)s.",
            what=what,
            low=low,
            high=high,
            raw=repr(raw[:40]),
        ))
    return value


def _moment_arg(name: str) -> datetime | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        if len(raw) == 10:
            return datetime.combine(date.fromisoformat(raw), time(), timezone.utc)
        moment = datetime.fromisoformat(raw)
        # A moment at the edge of the calendar may not exist in UTC (9999-12-31T23:59-05:00).
        moment = moment.astimezone(timezone.utc) if moment.tzinfo is not None else None
    except (ValueError, OverflowError):
        moment = None
    if moment is None:
        abort(
            400,
            description=_(
                "%(name)s must be a date (2025-01-31) or a date and time with its zone "
                "(2025-01-31T08:00:00Z); got %(raw)s.",
                name=name,
                raw=repr(raw[:40]),
            ),
        )
    return moment


def _teacher(context_pk: int) -> CurrentLaunch:
    launch = current_launch()
    if launch.context_pk != context_pk or not launch.is_instructor:
        abort(
            403,
            description=_(
                "Course analytics are for the instructors of this course. Open the tool from a course you "
                "teach in your LMS to see its analytics.",
            ),
        )
    return launch


def _catch_up() -> None:
    # Embedded mode has no scheduler: bring the numbers up to date before showing them. With
    # Redis, workers and the scheduler keep them fresh and pages only read.
    if current_app.config["SETTINGS"].embedded_queue:
        jobs.run_job("analytics.jobs.refresh", 20)


@bp.get("/")
@requires_launch
def index():
    launch = current_launch()
    if launch.context_pk is None:
        abort(404, description=_("Analytics belong to an LMS course; this launch did not come from one."))
    if launch.is_instructor:
        return redirect(lurl("analytics.dashboard", context_pk=launch.context_pk), code=303)
    return redirect(lurl("analytics.my_progress"), code=303)


def _board(context_pk: int, *, all_learners: bool = False) -> service.Dashboard:
    launch = _teacher(context_pk)
    days = _int_arg("days", 30, 7, 365, "days")
    settings = current_app.config["SETTINGS"]
    inactive = _int_arg("inactive", settings.ANALYTICS_AT_RISK_DAYS, 1, 365, "inactive")
    _catch_up()
    board = service.dashboard(
        launch.platform_id, context_pk, days=days, at_risk_days=inactive, all_learners=all_learners
    )
    if board is None:
        abort(404, description=_("This course is not known to the tool any more."))
    return board


def _percent(value: float) -> str:
    return f"{value:.0%}"


def _item_link(item: service.ItemRow) -> str | None:
    if item.public_id and "courses.view_item" in current_app.view_functions:
        return lurl("courses.view_item", public_id=item.public_id)
    return None


@bp.get("/contexts/<int:context_pk>")
@requires_launch
def dashboard(context_pk: int):
    board = _board(context_pk)
    step = max(1, len(board.engagement) // 10)
    engagement_chart = charts.column_chart(
        "engagement",
        _("Active learners per day"),
        _(
            "Learners who did something in this course on each of the last %(days)s days; the most on one "
            "day was %(most)s.",
            days=board.days,
            most=max((d.learners for d in board.engagement), default=0),
        ),
        [
            charts.Point(
                d.day.strftime("%b %d"),
                d.learners,
                _(
                    "%(day)s: %(learners)s learners, %(views)s views, %(submissions)s submissions",
                    day=format(d.day, '%a %b %d'),
                    learners=d.learners,
                    views=d.views,
                    submissions=d.submissions,
                ),
            )
            for d in board.engagement
        ],
        label_every=step,
    )
    module_chart = charts.bar_chart(
        "modules",
        _("Completion per module"),
        _("Share of the class that completed every item of each module."),
        [charts.Point(m.title, m.completion_rate or 0.0) for m in board.modules],
    )
    score_charts = {
        quiz.item_id: charts.column_chart(
            f"scores-{quiz.item_id}",
            _("Best scores: %(quiz)s", quiz=quiz.title),
            _(
                "How many learners' best score falls in each range; %(submitters)s learners submitted.",
                submitters=quiz.submitters,
            ),
            [charts.Point(exports.score_range(k), count) for k, count in enumerate(quiz.score_bins)],
            height=200,
        )
        for quiz in board.quizzes
    }
    activity_chart = charts.column_chart(
        "activity",
        _("Learners by last activity"),
        _(
            "When each of the %(class_size)s learners last did something in this course.",
            class_size=board.class_size,
        ),
        [charts.Point(bucket.label, bucket.learners) for bucket in board.activity],
        height=200,
    )
    return render_template(
        "analytics/dashboard.html",
        board=board,
        engagement_chart=engagement_chart,
        module_chart=module_chart,
        score_charts=score_charts,
        activity_chart=activity_chart,
        score_range=exports.score_range,
        score_bins=SCORE_BINS,
        day_choices=DAY_CHOICES,
        percent=_percent,
        item_link=_item_link,
        timezone_name=current_app.config["SETTINGS"].ANALYTICS_TIMEZONE,
        launch=current_launch(),
    )


@bp.get("/contexts/<int:context_pk>/export/<name>.csv")
@requires_launch
def export_csv(context_pk: int, name: str):
    build = exports.TABLES.get(name)
    _teacher(context_pk)
    if build is None:
        abort(
            404, description=_(
                "There is no %(name)s export; choose one of %(TABLES)s.",
                name=repr(name[:40]),
                TABLES=', '.join(exports.TABLES),
            )
        )
    board = _board(context_pk, all_learners=name == "learners")
    body = "\ufeff" + build(board)  # the byte-order mark makes spreadsheets read UTF-8
    filename = f"course-{context_pk}-{name}-{service.today():%Y-%m-%d}.csv"
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


@bp.get("/contexts/<int:context_pk>/xapi.json")
@requires_launch
def export_xapi(context_pk: int):
    launch = _teacher(context_pk)
    since, until = _moment_arg("since"), _moment_arg("until")
    if since and until and since >= until:
        abort(400, description=_("since must be before until."))
    _catch_up()
    settings = current_app.config["SETTINGS"]
    context = service.get_context(launch.platform_id, context_pk)
    platform = service.platform_of(launch.platform_id)
    if context is None or platform is None:
        abort(404, description=_("This course is not known to the tool any more."))
    base = _tool_base()
    has_items = "courses.view_item" in current_app.view_functions

    def item_iri(item_id: int, public_id: str | None) -> str:
        if has_items and public_id:
            return base + url_for("courses.view_item", public_id=public_id)
        # An item deleted since: a stable address in the tool's namespace.
        return f"{base}/analytics/activities/items/{item_id}"

    export = xapi.ExportContext(
        platform=platform,
        context=context,
        course_iri=base + url_for("analytics.dashboard", context_pk=context_pk),
        statement_namespace=base,
        tool_name=settings.TOOL_NAME,
        include_names=settings.ANALYTICS_XAPI_NAMES,
        completion_threshold=settings.ANALYTICS_COMPLETION_THRESHOLD,
        item_iri=item_iri,
        item_info=xapi.item_info_lookup(launch.platform_id),
    )
    facts = service.export_facts(launch.platform_id, context_pk, since=since, until=until)

    def generate() -> Iterator[str]:
        # A JSON array written statement by statement: a big course never sits in memory whole.
        yield "["
        first = True
        for item in xapi.statements(facts, export):
            yield ("\n" if first else ",\n") + json.dumps(item, ensure_ascii=False, separators=(",", ":"))
            first = False
        yield "\n]\n"

    filename = f"course-{context_pk}-xapi-{service.today():%Y-%m-%d}.json"
    return Response(
        stream_with_context(generate()),
        mimetype="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "X-Experience-API-Version": "1.0.3",
            "Cache-Control": "no-store",
        },
    )


@bp.get("/me")
@requires_launch
def my_progress():
    launch = current_launch()
    if launch.context_pk is None:
        abort(404, description=_("Progress belongs to an LMS course; this launch did not come from one."))
    _catch_up()
    progress = service.my_progress(launch.platform_id, launch.context_pk, launch.user_pk)
    if progress is None:
        abort(404, description=_("This course is not known to the tool any more."))
    chart = charts.bar_chart(
        "my-modules",
        _("Your progress per module"),
        _("Share of the items of each module you have completed."),
        [
            charts.Point(title, done / total if total else 0.0, _(
                "%(title)s: %(done)s of %(total)s items completed",
                title=title,
                done=done,
                total=total,
            ))
            for title, done, total in progress.modules
        ],
    )
    return render_template(
        "analytics/my_progress.html",
        progress=progress,
        chart=chart,
        percent=_percent,
        launch=launch,
    )
