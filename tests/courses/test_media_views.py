"""Media items over HTTP with the local storage backend: uploads, bad files, learner links, clean-up."""

import io
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import stream_encode_multipart

from courses import storage as media_storage
from courses.models import Course, CoursePlacement, Item
from lti_tool.db import db
from tests.courses.conftest import FakeLms, Page, field_error, tiny_mp4, tiny_pdf, tiny_png, tiny_vtt


def stored_files(app) -> list[Path]:
    root = Path(app.config["SETTINGS"].MEDIA_DIR)
    return sorted(p for p in root.rglob("*") if p.is_file() and ".incoming" not in p.parts and p.name != ".lock")


@pytest.fixture
def studio(media_app):
    """Tom's published, placed course with one published module, on an app with a 64 KiB upload limit."""
    lms = FakeLms(media_app)
    tom = Page(media_app, lms.launch(sub="tom"))
    course = tom.post("/courses/", {"title": "Astronomy"}).headers["Location"]
    course_id = re.search(r"/c/([\w-]+)", course).group(1)
    tom.post(f"/courses/c/{course_id}/modules", {"title": "Week 1"})
    tom.post(f"/courses/c/{course_id}/publish", {"published": "1"})
    with media_app.app_context():
        course_row = db.session.scalar(select(Course))
        module = course_row.modules[0]
        module.published = True
        db.session.add(CoursePlacement(platform_id=course_row.platform_id, course_pk=course_row.id, context_pk=tom.launch.context_pk))
        db.session.commit()
        module_id = module.public_id
    return {"app": media_app, "lms": lms, "tom": tom, "module": module_id}


def upload(page, module, kind, files, **fields):
    data = {"kind": kind, "title": fields.pop("title", f"A {kind}"), **fields}
    for name, (content, filename) in files.items():
        data[name] = (io.BytesIO(content), filename)
    return page.post(f"/courses/m/{module}/items", data, content_type="multipart/form-data", headers=fields.pop("headers", {}))


def item_id(response) -> str:
    return re.search(r"/i/([\w-]+)", response.headers.get("Location") or response.get_json()["redirect"]).group(1)


def fetch(client, url, **kwargs):
    """GET a media URL and close the response (a streamed file stays open until closed)."""
    response = client.get(url.replace("&amp;", "&"), **kwargs)
    response.get_data()
    response.close()
    return response


def learner(studio, public_id):
    return Page(studio["app"], studio["lms"].launch(sub="ada", role="learner", custom={"course_item": public_id}))


def test_a_video_with_captions_is_stored_and_played_with_its_track(studio):
    app, tom = studio["app"], studio["tom"]
    response = upload(tom, studio["module"], "video", {"file": (tiny_mp4(), "launch.mp4"), "captions": (tiny_vtt(), "launch.vtt")}, caption_language="fr")
    assert response.status_code == 303
    public_id = item_id(response)
    with app.app_context():
        item = db.session.scalar(select(Item))
        assert (item.media_content_type, item.media_size, item.media_filename) == ("video/mp4", len(tiny_mp4()), "launch.mp4")
        assert item.caption_key and item.caption_language == "fr"
    assert len(stored_files(app)) == 2
    assert "launch.mp4" in tom.get(f"/courses/i/{public_id}").get_data(as_text=True)
    tom.post(f"/courses/i/{public_id}/publish", {"published": "1"})

    page = learner(studio, public_id).get(f"/courses/view/item/{public_id}").get_data(as_text=True)
    video = re.search(r"<video[^>]*>", page).group(0)
    assert "controls" in video and 'data-progress-url="/courses/view/item/' in video
    src = re.search(r'src="([^"]+)"', video).group(1)
    track = re.search(r'<track kind="captions" src="([^"]+)" srclang="fr"', page)
    assert track and "progress.js" in page
    client = app.test_client(use_cookies=False)
    played = fetch(client, src)
    assert played.status_code == 200 and played.data == tiny_mp4() and played.mimetype == "video/mp4"
    captions = fetch(client, track.group(1))
    assert captions.status_code == 200 and captions.data == tiny_vtt()


def test_uploads_through_xhr_answer_json(studio):
    response = upload(studio["tom"], studio["module"], "pdf", {"file": (tiny_pdf(), "notes.pdf")}, headers={"Accept": "application/json"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["redirect"].startswith("/courses/i/") and "launch_id=" in body["redirect"]


def test_the_pdf_viewer_streams_with_ranges_and_refuses_altered_or_expired_links(studio, monkeypatch):
    app, tom = studio["app"], studio["tom"]
    public_id = item_id(upload(tom, studio["module"], "pdf", {"file": (tiny_pdf(), "notes.pdf")}))
    tom.post(f"/courses/i/{public_id}/publish", {"published": "1"})
    page = learner(studio, public_id).get(f"/courses/view/item/{public_id}").get_data(as_text=True)
    src = re.search(r'<iframe class="pdf-viewer" src="([^"]+)" title="A pdf \(PDF document\)"', page).group(1).replace("&amp;", "&")
    assert 'download="notes.pdf"' in page
    client = app.test_client(use_cookies=False)
    whole = fetch(client, src)
    assert whole.status_code == 200 and whole.mimetype == "application/pdf" and whole.data == tiny_pdf()
    part = fetch(client, src, headers={"Range": "bytes=0-7"})
    assert part.status_code == 206 and part.data == b"%PDF-1.4" and part.headers["Content-Range"] == f"bytes 0-7/{len(tiny_pdf())}"
    token = src.rsplit("/", 1)[1]
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    assert fetch(client, f"/courses/media/{tampered}").status_code == 403
    monkeypatch.setattr(media_storage, "_now", lambda: 10**12)
    assert fetch(client, src).status_code == 403


@pytest.mark.parametrize(
    "kind, content, filename, status, message",
    [
        ("video", b"#!/bin/sh\nrm -rf ~\n" * 10, "movie.mp4", 415, "video"),
        ("video", b"", "empty.mp4", 400, "empty"),
        ("video", tiny_mp4()[:40], "cut.mp4", 400, "ends early"),
        ("pdf", tiny_png(), "scan.pdf", 415, "PDF"),
        ("image", b"<svg onload='alert(1)'></svg>", "x.png", 415, "image"),
    ],
)
def test_mistyped_empty_and_corrupt_uploads_store_nothing(studio, kind, content, filename, status, message):
    app = studio["app"]
    response = upload(studio["tom"], studio["module"], kind, {"file": (content, filename)}, alt_text="A picture")
    assert response.status_code == status
    error = field_error(response.get_data(as_text=True), "file")
    assert error and message in error
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Item)) == 0
    assert stored_files(app) == []


def test_a_file_over_the_limit_is_refused_with_413(studio):
    app = studio["app"]
    big = tiny_mp4(payload=80 * 1024)  # over the 64 KiB limit, under the request limit
    response = upload(studio["tom"], studio["module"], "video", {"file": (big, "big.mp4")})
    assert response.status_code == 413
    assert "64 KiB" in field_error(response.get_data(as_text=True), "file")
    xhr = upload(studio["tom"], studio["module"], "video", {"file": (big, "big.mp4")}, headers={"Accept": "application/json"})
    assert xhr.status_code == 413 and "64 KiB" in xhr.get_json()["message"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Item)) == 0
    assert stored_files(app) == []


def test_a_request_over_the_size_limit_is_refused_before_it_is_read(studio):
    tom = studio["tom"]
    huge = tiny_mp4(payload=2 * 1024 * 1024)
    fields = {"launch_id": tom.launch.launch_id, "csrf_token": tom.token, "kind": "video", "title": "Huge",
              "file": FileStorage(io.BytesIO(huge), filename="huge.mp4", content_type="video/mp4")}
    # Encoded in memory: the test client would otherwise spool it to a temporary file nobody reads.
    stream, length, boundary = stream_encode_multipart(fields, use_tempfile=False)
    response = tom.client.post(
        f"/courses/m/{studio['module']}/items",
        input_stream=stream,
        content_length=length,
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    assert response.status_code == 413
    assert stored_files(studio["app"]) == []


def test_wrong_file_fields_are_refused(studio):
    response = upload(studio["tom"], studio["module"], "pdf", {"file": (tiny_pdf(), "a.pdf"), "captions": (tiny_vtt(), "a.vtt")})
    assert response.status_code == 400
    assert "Captions can only be added to a video." in response.get_data(as_text=True)
    page = upload(studio["tom"], studio["module"], "page", {"file": (tiny_pdf(), "a.pdf")}, body="<p>x</p>")
    assert page.status_code == 400
    assert stored_files(studio["app"]) == []


def test_replacing_and_deleting_remove_the_old_files(studio):
    app, tom = studio["app"], studio["tom"]
    public_id = item_id(upload(tom, studio["module"], "video", {"file": (tiny_mp4(), "a.mp4"), "captions": (tiny_vtt(), "a.vtt")}))
    first = stored_files(app)
    replaced = tom.post(
        f"/courses/i/{public_id}",
        {"title": "New cut", "file": (io.BytesIO(tiny_mp4(payload=4096)), "b.mp4"), "remove_captions": "1"},
        content_type="multipart/form-data",
    )
    assert replaced.status_code == 303
    now = stored_files(app)
    assert len(now) == 1 and now[0] not in first
    with app.app_context():
        item = db.session.scalar(select(Item))
        assert (item.title, item.media_filename, item.caption_key) == ("New cut", "b.mp4", None)
    # A bad replacement keeps the current file.
    bad = tom.post(f"/courses/i/{public_id}", {"title": "x", "file": (io.BytesIO(b"not a video"), "c.mp4")}, content_type="multipart/form-data")
    assert bad.status_code == 415 and stored_files(app) == now
    assert tom.post(f"/courses/i/{public_id}/delete").status_code == 303
    assert stored_files(app) == []


def test_deleting_a_course_deletes_every_file(studio):
    app, tom = studio["app"], studio["tom"]
    upload(tom, studio["module"], "pdf", {"file": (tiny_pdf(), "a.pdf")})
    upload(tom, studio["module"], "image", {"file": (tiny_png(), "a.png")}, alt_text="A dot")
    assert len(stored_files(app)) == 2
    with app.app_context():
        course_id = db.session.scalar(select(Course.public_id))
    assert tom.post(f"/courses/c/{course_id}/delete").status_code == 303
    assert stored_files(app) == []


def test_images_render_with_their_text_alternative(studio):
    tom = studio["tom"]
    public_id = item_id(upload(tom, studio["module"], "image", {"file": (tiny_png(), "dot.png")}, alt_text="A single green dot"))
    tom.post(f"/courses/i/{public_id}/publish", {"published": "1"})
    page = learner(studio, public_id).get(f"/courses/view/item/{public_id}").get_data(as_text=True)
    assert re.search(r'<img src="/courses/media/[^"]+" alt="A single green dot">', page)


def test_media_progress_endpoint(studio):
    app, tom = studio["app"], studio["tom"]
    public_id = item_id(upload(tom, studio["module"], "audio", {"file": (tiny_mp4(), "talk.m4a")}))
    tom.post(f"/courses/i/{public_id}/publish", {"published": "1"})
    ada = learner(studio, public_id)
    url = f"/courses/view/item/{public_id}/progress"
    ok = ada.post_json(url, {"position": 12.5, "duration": 10})
    assert ok.status_code == 200 and ok.get_json() == {"position": 10.0, "duration": 10.0}
    assert ada.post_json(url, {"position": -3, "duration": 10}).status_code == 400
    assert ada.post_json(url, {"position": "x", "duration": 10}).get_json()["fields"] == {"position": "position must be a number of seconds."}
    assert ada.client.post(url, data="not json", headers={"X-Launch-Id": ada.launch.launch_id, "X-CSRF-Token": ada.token}).status_code == 400
    assert ada.post_json(url, {"position": 1, "duration": 10}, token="forged").status_code == 400
    assert tom.post_json(url, {"position": 1, "duration": 10}).status_code == 403  # a teacher's preview
    from lti_tool.events import Event

    with app.app_context():
        events = db.session.scalars(select(Event).where(Event.kind == "media_progress")).all()
        assert [(e.data["position"], e.data["duration"], e.user_pk) for e in events] == [(10.0, 10.0, ada.launch.user_pk)]
