"""Teacher pages, the deep-linking picker, learner views and the local media route (all thin).

Every page after a launch carries the launch id (`?launch_id=` or a hidden field): the LMS frame
may drop cookies. Forms carry the launch-bound CSRF token; JSON posts send X-Launch-Id and
X-CSRF-Token headers.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, abort, current_app, jsonify, redirect, render_template, request, url_for
from flask_babel import format_datetime, gettext as _, lazy_gettext
from markupsafe import Markup

from courses import service
from courses import models as m
from courses.sanitize import clean_html
from courses.storage import get_storage, serve_signed
from lti_tool import landing
from lti_tool.csrf import csrf_token
from lti_tool.errors import error_response, wants_json
from lti_tool.identity import CurrentLaunch, LaunchRecord, current_launch, requires_launch, requires_role
from lti_tool.launch import CLAIM, DEEP_LINKING_REQUEST, RESOURCE_LINK_REQUEST, ValidatedLaunch
from lti_tool.roles import INSTRUCTOR

bp = Blueprint("courses", __name__, template_folder="templates", static_folder="static", static_url_path="/static")

CUSTOM = CLAIM + "custom"
# Room for the form fields and multipart framing around the largest media file.
FORM_OVERHEAD_BYTES = 1024 * 1024

# Labels are lazy: they are translated when a page shows them, in that page's language.
KIND_LABELS = {
    m.VIDEO: lazy_gettext("Video"),
    m.AUDIO: lazy_gettext("Audio"),
    m.PDF: lazy_gettext("PDF document"),
    m.IMAGE: lazy_gettext("Image"),
    m.PAGE: lazy_gettext("Page"),
    m.LINK: lazy_gettext("Web link"),
    m.QUIZ: lazy_gettext("Quiz"),
}
QUESTION_LABELS = {
    m.SINGLE: lazy_gettext("Single choice"),
    m.MULTIPLE: lazy_gettext("Multiple choice"),
    m.NUMERIC: lazy_gettext("Number"),
    m.TEXT: lazy_gettext("Short text"),
}
SHOW_ANSWER_LABELS = {
    m.SHOW_NEVER: lazy_gettext("Never (learners see their score only)"),
    m.SHOW_AFTER_ATTEMPT: lazy_gettext("After each attempt"),
    m.SHOW_AFTER_DUE: lazy_gettext("After the due date"),
}
GRADE_POLICY_LABELS = {
    m.GRADE_HIGHEST: lazy_gettext("Highest attempt"),
    m.GRADE_LATEST: lazy_gettext("Latest attempt"),
    m.GRADE_AVERAGE: lazy_gettext("Average of attempts"),
}


def init_app(app: Flask) -> None:
    """Wire the package into the app: launch landing, upload size limit, template helpers."""
    landing.register(app, land)
    settings = app.config["SETTINGS"]
    # Werkzeug refuses a larger body with 413 before reading it; storage checks each file exactly.
    if app.config.get("MAX_CONTENT_LENGTH") is None:
        app.config["MAX_CONTENT_LENGTH"] = settings.MEDIA_MAX_UPLOAD_BYTES + FORM_OVERHEAD_BYTES


def land(record: LaunchRecord, launch: ValidatedLaunch) -> str | None:
    """Where a launch goes: the picker for deep linking, the item an LMS link names, a teacher's courses."""
    instructor = INSTRUCTOR in record.roles
    if launch.message_type == DEEP_LINKING_REQUEST:
        return url_for("courses.deep_link", launch_id=record.launch_id) if instructor else None
    if launch.message_type != RESOURCE_LINK_REQUEST:
        return None
    target = service.target_from_custom(launch.claims.get(CUSTOM))
    if target is not None:
        return url_for(f"courses.view_{target.kind}", public_id=target.public_id, launch_id=record.launch_id)
    if instructor:
        return url_for("courses.index", launch_id=record.launch_id)
    return None


# --- helpers --------------------------------------------------------------------------------------


def _actor(launch: CurrentLaunch | None = None) -> service.Actor:
    launch = launch or current_launch()
    target = None
    if launch.message_type == RESOURCE_LINK_REQUEST:
        target = service.target_from_custom(launch.claims.get(CUSTOM))
    return service.Actor(
        platform_id=launch.platform_id,
        user_pk=launch.user_pk,
        context_pk=launch.context_pk,
        instructor=launch.is_instructor,
        resource_link_pk=launch.resource_link_pk,
        target=target,
    )


def lurl(endpoint: str, _anchor: str | None = None, **values: Any) -> str:
    """url_for that keeps the page's launch id."""
    return url_for(endpoint, launch_id=current_launch().launch_id, _anchor=_anchor, **values)


def _form() -> dict[str, list[str]]:
    return request.form.to_dict(flat=False)


def _back(endpoint: str, _anchor: str | None = None, **values: Any):
    return redirect(lurl(endpoint, _anchor=_anchor, **values), code=303)


def _published_flag() -> bool:
    value = request.form.get("published", "")
    if value not in ("0", "1"):
        abort(400, description=_("Say whether to publish (1) or unpublish (0)."))
    return value == "1"


def _direction() -> str:
    value = request.form.get("direction", "")
    if value not in (service.UP, service.DOWN):
        abort(400, description=_("Move up or down."))
    return value


@bp.errorhandler(service.CourseError)
def _course_error(exc: service.CourseError):
    if wants_json():
        body = {"error": str(exc.title), "message": exc.message}
        if exc.fields:
            body["fields"] = exc.fields
        return jsonify(body), exc.status
    return error_response(exc.status, exc.title, exc.message)


@bp.app_template_filter("due_date")
def _due_filter(item: m.Item) -> str:
    local = service.due_local(item)
    if local is None:
        return ""
    # In the due date's own zone (rebase=False), with day and month names in the page's language.
    when = format_datetime(local, "EEE dd MMM yyyy, HH:mm", rebase=False)
    return f"{when} ({item.due_timezone or 'UTC'})"


@bp.app_template_filter("file_size")
def _size_filter(size: int | None) -> str:
    if not size:
        return ""
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} bytes"


@bp.app_template_filter("score_points")
def _points_filter(value: float) -> str:
    return f"{value:g}"


@bp.context_processor
def _helpers() -> dict[str, Any]:
    return {
        # Flask-WTF's context processor offers its session-bound token under this name; inside a
        # launch the forms need the launch-bound one (cookies may not reach the LMS frame).
        "csrf_token": csrf_token,
        "lurl": lurl,
        "kind_labels": KIND_LABELS,
        "question_labels": QUESTION_LABELS,
        "show_answer_labels": SHOW_ANSWER_LABELS,
        "grade_policy_labels": GRADE_POLICY_LABELS,
        "safe_html": lambda html: Markup(clean_html(html or "")),
    }


def _render(template: str, status: int = 200, **context: Any):
    return render_template(template, launch=current_launch(), **context), status


# --- teacher: courses -----------------------------------------------------------------------------


@bp.get("/")
@requires_role("instructor")
def index():
    actor = _actor()
    return _index_page(actor)


def _index_page(actor: service.Actor, errors: dict[str, str] | None = None, form: Any = None, status: int = 200):
    courses = service.editable_courses(actor, with_content=True)
    return _render(
        "courses/index.html",
        status,
        courses=courses,
        actor=actor,
        errors=errors or {},
        form=form or {},
        placed_here=service.placed_course_ids(courses, actor.context_pk),
    )


@bp.post("/")
@requires_role("instructor")
def create_course():
    actor = _actor()
    try:
        course = service.create_course(actor, _form())
    except service.InvalidInput as exc:
        return _index_page(actor, exc.fields, request.form, 400)
    return _back("courses.edit_course", public_id=course.public_id)


@bp.get("/c/<public_id>")
@requires_role("instructor")
def edit_course(public_id: str):
    actor = _actor()
    course = service.course_for_edit(actor, public_id, with_content=True)
    return _course_page(actor, course)


def _course_page(actor, course, *, errors=None, form=None, module_errors=None, status=200):
    return _render(
        "courses/course.html",
        status,
        course=course,
        actor=actor,
        errors=errors or {},
        form=form,
        module_errors=module_errors or {},
        placements=service.placements_of(course),
        item_kinds=m.ITEM_KINDS,
        publish_problem=service.publish_problem,
    )


@bp.post("/c/<public_id>")
@requires_role("instructor")
def update_course(public_id: str):
    actor = _actor()
    course = service.course_for_edit(actor, public_id)
    try:
        service.update_course(actor, course, _form())
    except service.InvalidInput as exc:
        return _course_page(actor, course, errors=exc.fields, form=request.form, status=400)
    return _back("courses.edit_course", public_id=course.public_id)


@bp.post("/c/<public_id>/publish")
@requires_role("instructor")
def publish_course(public_id: str):
    actor = _actor()
    course = service.course_for_edit(actor, public_id)
    service.set_course_published(actor, course, _published_flag())
    return _back("courses.edit_course", public_id=course.public_id)


@bp.route("/c/<public_id>/delete", methods=["GET", "POST"])
@requires_role("instructor")
def delete_course(public_id: str):
    actor = _actor()
    course = service.course_for_edit(actor, public_id)
    if request.method == "GET":
        return _render("courses/confirm_delete.html", what="course", title=course.title, course=course,
                       action=lurl("courses.delete_course", public_id=public_id),
                       cancel=lurl("courses.edit_course", public_id=public_id),
                       placed=service.count_placed_contexts(course))
    service.delete_course(actor, course)
    return _back("courses.index")


# --- teacher: modules -----------------------------------------------------------------------------


@bp.post("/c/<public_id>/modules")
@requires_role("instructor")
def create_module(public_id: str):
    actor = _actor()
    course = service.course_for_edit(actor, public_id)
    try:
        module = service.create_module(actor, course, _form())
    except service.InvalidInput as exc:
        return _course_page(actor, course, module_errors={"new": exc.fields}, form=request.form, status=400)
    return _back("courses.edit_course", public_id=course.public_id, _anchor=f"module-{module.public_id}")


@bp.post("/m/<public_id>")
@requires_role("instructor")
def update_module(public_id: str):
    actor = _actor()
    module = service.module_for_edit(actor, public_id)
    try:
        service.update_module(actor, module, _form())
    except service.InvalidInput as exc:
        return _course_page(actor, module.course, module_errors={module.public_id: exc.fields}, form=request.form, status=400)
    return _back("courses.edit_course", public_id=module.course.public_id, _anchor=f"module-{module.public_id}")


@bp.post("/m/<public_id>/publish")
@requires_role("instructor")
def publish_module(public_id: str):
    actor = _actor()
    module = service.module_for_edit(actor, public_id)
    service.set_module_published(actor, module, _published_flag())
    return _back("courses.edit_course", public_id=module.course.public_id, _anchor=f"module-{module.public_id}")


@bp.post("/m/<public_id>/move")
@requires_role("instructor")
def move_module(public_id: str):
    actor = _actor()
    module = service.module_for_edit(actor, public_id)
    service.move_module(actor, module, _direction())
    return _back("courses.edit_course", public_id=module.course.public_id, _anchor=f"module-{module.public_id}")


@bp.route("/m/<public_id>/delete", methods=["GET", "POST"])
@requires_role("instructor")
def delete_module(public_id: str):
    actor = _actor()
    module = service.module_for_edit(actor, public_id)
    course = module.course
    if request.method == "GET":
        return _render("courses/confirm_delete.html", what="module", title=module.title, course=course,
                       action=lurl("courses.delete_module", public_id=public_id),
                       cancel=lurl("courses.edit_course", public_id=course.public_id),
                       count=len(module.items))
    service.delete_module(actor, module)
    return _back("courses.edit_course", public_id=course.public_id)


# --- teacher: items -------------------------------------------------------------------------------


def _item_page(actor, *, kind, module, item=None, errors=None, form=None, status=200):
    return _render(
        "courses/item_form.html",
        status,
        actor=actor,
        kind=kind,
        module=module,
        course=module.course,
        item=item,
        errors=errors or {},
        form=form,
        media_url=_media_url(item) if item is not None and item.media_key else None,
        accept=ACCEPT.get(kind, ""),
        publish_problem=service.publish_problem(item) if item is not None else None,
        due_value=_due_value(item),
        max_upload=current_app.config["SETTINGS"].MEDIA_MAX_UPLOAD_BYTES,
    )


# What the file picker offers; the server checks the bytes whatever the browser sends.
ACCEPT = {
    m.VIDEO: "video/mp4,video/webm,video/ogg,.mp4,.m4v,.webm,.ogv",
    m.AUDIO: "audio/mpeg,audio/mp4,audio/ogg,audio/wav,audio/webm,audio/flac,.mp3,.m4a,.ogg,.oga,.wav,.flac",
    m.PDF: "application/pdf,.pdf",
    m.IMAGE: "image/png,image/jpeg,image/gif,image/webp,.png,.jpg,.jpeg,.gif,.webp",
}


def _due_value(item: m.Item | None) -> str:
    local = service.due_local(item) if item is not None else None
    return f"{local:%Y-%m-%dT%H:%M}" if local else ""


def _uploads() -> dict[str, service.Upload]:
    uploads = {}
    for name, sent in request.files.items():
        if sent and sent.filename:
            uploads[name] = service.Upload(sent.stream, sent.filename)
    return uploads


def _saved(item: m.Item, status: int = 303):
    target = lurl("courses.edit_item", public_id=item.public_id)
    if wants_json():
        return jsonify({"redirect": target, "item": item.public_id}), 200
    return redirect(target, code=status)


@bp.get("/m/<public_id>/items/new")
@requires_role("instructor")
def new_item(public_id: str):
    actor = _actor()
    module = service.module_for_edit(actor, public_id)
    kind = request.args.get("kind", "")
    if kind not in m.ITEM_KINDS:
        abort(400, description=_(
            "Choose what kind of item to add: %(kinds)s.",
            kinds=", ".join(m.ITEM_KINDS),
        ))
    return _item_page(actor, kind=kind, module=module)


@bp.post("/m/<public_id>/items")
@requires_role("instructor")
def create_item(public_id: str):
    actor = _actor()
    module = service.module_for_edit(actor, public_id)
    kind = request.form.get("kind", "")
    try:
        item = service.save_item(actor, kind=kind, form=_form(), uploads=_uploads(), module=module)
    except (service.InvalidInput, service.TooLarge) as exc:
        if wants_json() or kind not in m.ITEM_KINDS:
            raise
        return _item_page(actor, kind=kind, module=module, errors=exc.fields, form=request.form, status=exc.status)
    return _saved(item)


@bp.get("/i/<public_id>")
@requires_role("instructor")
def edit_item(public_id: str):
    actor = _actor()
    item = service.item_for_edit(actor, public_id)
    return _item_page(actor, kind=item.kind, module=item.module, item=item)


@bp.post("/i/<public_id>")
@requires_role("instructor")
def update_item(public_id: str):
    actor = _actor()
    item = service.item_for_edit(actor, public_id)
    try:
        service.save_item(actor, kind=item.kind, form=_form(), uploads=_uploads(), item=item)
    except (service.InvalidInput, service.TooLarge) as exc:
        if wants_json():
            raise
        item = service.item_for_edit(actor, public_id)
        return _item_page(
            actor, kind=item.kind, module=item.module, item=item, errors=exc.fields, form=request.form, status=exc.status
        )
    return _saved(item)


@bp.post("/i/<public_id>/publish")
@requires_role("instructor")
def publish_item(public_id: str):
    actor = _actor()
    item = service.item_for_edit(actor, public_id)
    service.set_item_published(actor, item, _published_flag())
    if request.form.get("next") == "item":
        return _back("courses.edit_item", public_id=item.public_id)
    return _back("courses.edit_course", public_id=item.module.course.public_id, _anchor=f"item-{item.public_id}")


@bp.post("/i/<public_id>/move")
@requires_role("instructor")
def move_item(public_id: str):
    actor = _actor()
    item = service.item_for_edit(actor, public_id)
    service.move_item(actor, item, _direction())
    return _back("courses.edit_course", public_id=item.module.course.public_id, _anchor=f"item-{item.public_id}")


@bp.route("/i/<public_id>/delete", methods=["GET", "POST"])
@requires_role("instructor")
def delete_item(public_id: str):
    actor = _actor()
    item = service.item_for_edit(actor, public_id)
    module = item.module
    course = module.course
    if request.method == "GET":
        return _render("courses/confirm_delete.html", what=KIND_LABELS[item.kind].lower(), title=item.title,
                       course=course, action=lurl("courses.delete_item", public_id=public_id),
                       cancel=lurl("courses.edit_item", public_id=public_id), item=item)
    anchor = f"module-{module.public_id}"
    service.delete_item(actor, item)
    return _back("courses.edit_course", public_id=course.public_id, _anchor=anchor)


# --- teacher: quiz questions ----------------------------------------------------------------------


def _question_page(actor, item, *, kind, question=None, errors=None, form=None, status=200):
    return _render(
        "courses/question_form.html",
        status,
        actor=actor,
        item=item,
        course=item.module.course,
        kind=kind,
        question=question,
        errors=errors or {},
        form=form,
        max_choices=service.MAX_CHOICES,
    )


@bp.get("/i/<public_id>/questions/new")
@requires_role("instructor")
def new_question(public_id: str):
    actor = _actor()
    item = service.item_for_edit(actor, public_id)
    if item.kind != m.QUIZ:
        abort(400, description=_("Only quizzes have questions."))
    kind = request.args.get("kind", "")
    if kind not in m.QUESTION_KINDS:
        abort(400, description=_("Choose a question type: %(kinds)s.", kinds=", ".join(m.QUESTION_KINDS)))
    return _question_page(actor, item, kind=kind)


@bp.post("/i/<public_id>/questions")
@requires_role("instructor")
def create_question(public_id: str):
    actor = _actor()
    item = service.item_for_edit(actor, public_id)
    kind = request.form.get("kind", "")
    try:
        question = service.save_question(actor, item, _form())
    except service.InvalidInput as exc:
        if item.kind != m.QUIZ or kind not in m.QUESTION_KINDS:
            raise
        return _question_page(actor, item, kind=kind, errors=exc.fields, form=request.form, status=400)
    return _back("courses.edit_item", public_id=item.public_id, _anchor=f"question-{question.id}")


@bp.get("/i/<public_id>/questions/<int:question_id>")
@requires_role("instructor")
def edit_question(public_id: str, question_id: int):
    actor = _actor()
    item = service.item_for_edit(actor, public_id)
    question = service.question_for_edit(actor, item, question_id)
    return _question_page(actor, item, kind=question.kind, question=question)


@bp.post("/i/<public_id>/questions/<int:question_id>")
@requires_role("instructor")
def update_question(public_id: str, question_id: int):
    actor = _actor()
    item = service.item_for_edit(actor, public_id)
    question = service.question_for_edit(actor, item, question_id)
    try:
        service.save_question(actor, item, _form(), question)
    except service.InvalidInput as exc:
        return _question_page(actor, item, kind=question.kind, question=question, errors=exc.fields, form=request.form, status=400)
    return _back("courses.edit_item", public_id=item.public_id, _anchor=f"question-{question.id}")


@bp.post("/i/<public_id>/questions/<int:question_id>/move")
@requires_role("instructor")
def move_question(public_id: str, question_id: int):
    actor = _actor()
    item = service.item_for_edit(actor, public_id)
    question = service.question_for_edit(actor, item, question_id)
    service.move_question(actor, question, _direction())
    return _back("courses.edit_item", public_id=item.public_id, _anchor=f"question-{question.id}")


@bp.post("/i/<public_id>/questions/<int:question_id>/delete")
@requires_role("instructor")
def delete_question(public_id: str, question_id: int):
    actor = _actor()
    item = service.item_for_edit(actor, public_id)
    question = service.question_for_edit(actor, item, question_id)
    service.delete_question(actor, question)
    return _back("courses.edit_item", public_id=item.public_id, _anchor="questions")


# --- deep linking ---------------------------------------------------------------------------------


def _deep_link_launch() -> CurrentLaunch:
    launch = current_launch()
    if launch.message_type != DEEP_LINKING_REQUEST:
        abort(
            400,
            description=_(
                "This page answers your LMS's request to add content, and this launch is not one. Use the "
                "LMS's “add activity” or “add content” button to place content.",
            ),
        )
    return launch


def _picker(launch, actor, *, errors=None, message=None, picked=(), status=200):
    request_settings = service.deep_link_request(launch.claims)
    return _render(
        "courses/deep_link.html",
        status,
        actor=actor,
        dl=request_settings,
        courses=service.editable_courses(actor, with_content=True),
        errors=errors or {},
        message=message,
        picked=set(picked),
    )


@bp.get("/deep-link")
@requires_role("instructor")
def deep_link():
    launch = _deep_link_launch()
    return _picker(launch, _actor(launch))


@bp.post("/deep-link")
@requires_role("instructor")
def deep_link_answer():
    launch = _deep_link_launch()
    actor = _actor(launch)
    if request.form.get("action") == "cancel":
        dl, token = service.cancel_deep_link(actor, client_pk=launch.client_pk, claims=launch.claims)
        placed = False
    else:
        picks = request.form.getlist("pick")
        try:
            dl, token = service.place_picks(
                actor,
                client_pk=launch.client_pk,
                claims=launch.claims,
                values=picks,
                launch_url=_tool_url("lti.launch"),
            )
        except service.InvalidInput as exc:
            return _picker(launch, actor, errors=exc.fields, message=exc.message, picked=picks, status=400)
        placed = True
    page = render_template("courses/deep_link_return.html", return_url=dl.return_url, token=token, placed=placed)
    return page, 200, {"Cache-Control": "no-store"}


def _tool_url(endpoint: str) -> str:
    base = current_app.config["SETTINGS"].TOOL_BASE_URL or request.host_url
    return base.rstrip("/") + url_for(endpoint)


# --- learners -------------------------------------------------------------------------------------


def _media_url(item: m.Item) -> str | None:
    if not item.media_key:
        return None
    return get_storage().learner_url(
        item.media_key, content_type=item.media_content_type or "application/octet-stream", filename=item.media_filename or "file"
    )


def _caption_url(item: m.Item) -> str | None:
    if not item.caption_key:
        return None
    return get_storage().learner_url(item.caption_key, content_type="text/vtt", filename=item.caption_filename or "captions.vtt")


@bp.get("/view/course/<public_id>")
@requires_launch
def view_course(public_id: str):
    actor = _actor()
    course, viewing = service.course_for_viewing(actor, public_id)
    return _render(
        "courses/view_course.html",
        course=course,
        modules=service.visible_modules(course, viewing),
        viewing=viewing,
        actor=actor,
        only_module=None,
        visible_items=service.visible_items,
    )


@bp.get("/view/module/<public_id>")
@requires_launch
def view_module(public_id: str):
    actor = _actor()
    module, viewing = service.module_for_viewing(actor, public_id)
    return _render(
        "courses/view_course.html",
        course=module.course,
        modules=[module],
        viewing=viewing,
        actor=actor,
        only_module=module,
        visible_items=service.visible_items,
    )


def _item_view(actor, item, viewing, *, errors=None, form=None, status=200, message=None):
    quiz = None
    if item.kind == m.QUIZ and not viewing.preview and not viewing.unavailable:
        quiz = service.quiz_state(actor, item)
    return _render(
        "courses/view_item.html",
        status,
        item=item,
        course=item.module.course,
        viewing=viewing,
        actor=actor,
        media_url=None if viewing.unavailable else _media_url(item),
        caption_url=None if viewing.unavailable else _caption_url(item),
        quiz=quiz,
        errors=errors or {},
        form=form,
        message=message,
        field_name=service.field_name,
        answer_text=service.answer_text,
        correct_answer_text=service.correct_answer_text,
        shown_attempt=_shown_attempt(quiz),
        can_open_course=actor.target is not None and actor.target.kind == service.COURSE_TARGET,
        can_open_module=actor.target is not None and actor.target.kind in (service.COURSE_TARGET, service.MODULE_TARGET),
    )


def _shown_attempt(quiz):
    if quiz is None or not quiz.attempts:
        return None
    wanted = request.args.get("attempt", "")
    for attempt in quiz.attempts:
        if str(attempt.id) == wanted:
            return attempt
    return quiz.attempts[0]


@bp.get("/view/item/<public_id>")
@requires_launch
def view_item(public_id: str):
    actor = _actor()
    item, viewing = service.item_for_viewing(actor, public_id)
    page = _item_view(actor, item, viewing)
    if "attempt" not in request.args:
        # The page shown after a quiz submission is the same view, not a new visit. Recorded once
        # the page is rendered: the commit expires every row read so far, and rendering after it
        # read item, module and course again (3 statements).
        service.record_view(actor, item, viewing)
    return page


@bp.post("/view/item/<public_id>/attempts")
@requires_launch
def submit_quiz(public_id: str):
    actor = _actor()
    item, viewing = service.item_for_viewing(actor, public_id)
    try:
        attempt = service.submit_quiz(actor, item, viewing, _form())
    except (service.InvalidInput, service.Closed) as exc:
        item, viewing = service.item_for_viewing(actor, public_id)
        return _item_view(actor, item, viewing, errors=exc.fields, form=request.form, status=exc.status, message=exc.message)
    return _back("courses.view_item", public_id=item.public_id, attempt=attempt.id, _anchor="result")


@bp.post("/view/item/<public_id>/progress")
@requires_launch
def media_progress(public_id: str):
    actor = _actor()
    item, viewing = service.item_for_viewing(actor, public_id)
    payload = request.get_json(silent=True)
    if payload is None:
        return jsonify({"error": _(
            "Bad request",
        ), "message": _("Send a JSON object with position and duration.")}), 400
    try:
        stored = service.record_progress(actor, item, viewing, payload)
    except service.CourseError as exc:
        body = {"error": str(exc.title), "message": exc.message}
        if exc.fields:
            body["fields"] = exc.fields
        return jsonify(body), exc.status
    return jsonify(stored), 200


@bp.get("/media/<token>")
def media(token: str):
    """Local storage's learner URL: the signed token is the permission (it names one file, and expires)."""
    return serve_signed(token)
