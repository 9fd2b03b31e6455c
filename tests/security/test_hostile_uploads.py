"""Hostile uploads: names, declared types and lengths that lie, several files at once.

Never a 500; a refusal stores no row and no file; what is stored is served with the type found in
its bytes, `nosniff`, and an inline disposition whose name has no path, control or bidi characters.
"""

from __future__ import annotations

import io
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from werkzeug.test import EnvironBuilder

from courses.models import Item
from lti_tool.db import db
from tests.courses.conftest import Page, media_app, tiny_mp4, tiny_pdf, tiny_png, tiny_vtt  # noqa: F401 - fixture
from tests.courses.test_media_views import fetch, learner, stored_files, studio  # noqa: F401 - fixture
from tests.security.hostile import HOSTILE, assert_no_500, assert_refused_or_fine, changed, row_counts

SCRIPTED_SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(document.domain)</script></svg>'
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
POLYGLOT = tiny_png() + HTML  # a real PNG with a page glued to its end

HOSTILE_NAMES = [
    "../../../../etc/passwd",
    "..\\..\\windows\\win.ini",
    "/absolute/path.png",
    "a\x00.png",
    "x" * 10_240 + ".png",
    "\u202egnp.exe",
    "evil\r\nContent-Type: text/html\r\n\r\n.png",
    'quote".png',
    "<script>alert(1)</script>.png",
    ".",
    "..",
    " ",
    "\u0000",
    "é" * 3000,
    "con.png",
]


def upload(page: Page, module: str, kind: str, files: list[tuple[str, bytes, str, str]], **fields):
    """Multipart POST with (field, bytes, filename, declared type) parts, like a browser or worse."""
    data: dict = {"kind": kind, "title": fields.pop("title", "Evil"), **fields}
    multi = [(name, (io.BytesIO(content), filename, declared)) for name, content, filename, declared in files]
    builder = EnvironBuilder(method="POST", data={**data})
    for name, value in multi:
        builder.files.add_file(name, value[0], filename=value[1], content_type=value[2])
    body_env = builder.get_environ()
    body = body_env["wsgi.input"].read()
    builder.close()
    headers = {"Content-Type": body_env["CONTENT_TYPE"], **fields.pop("headers", {})}
    return page.client.post(
        f"/courses/m/{module}/items",
        data=body,
        headers={"X-Launch-Id": page.launch.launch_id, "X-CSRF-Token": page.token, **headers},
    )


def check_served(app, studio, response) -> None:
    """The item an upload made is served with the detected type, nosniff and a harmless name."""
    public_id = re.search(r"/i/([\w-]+)", response.headers["Location"]).group(1)
    studio["tom"].post(f"/courses/i/{public_id}/publish", {"published": "1"})
    with app.app_context():
        item = db.session.scalar(select(Item).where(Item.public_id == public_id))
        detected = item.media_content_type
        db.session.remove()
    page = learner(studio, public_id).get(f"/courses/view/item/{public_id}").get_data(as_text=True)
    src = re.search(r'(?:src|data)="(/courses/media/[^"]+)"', page).group(1)
    served = fetch(app.test_client(), src)
    assert served.status_code == 200
    assert served.headers["Content-Type"].split(";")[0] == detected
    assert detected in ("image/png", "video/mp4", "application/pdf")
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    disposition = served.headers["Content-Disposition"]
    assert disposition.startswith("inline")
    assert not re.search(r"[\x00-\x1f\x7f\u202a-\u202e\u2066-\u2069/\\]", disposition.split("filename*=")[0])
    assert len(disposition) < 2000


def test_hostile_file_names_are_stored_harmlessly(studio):
    app = studio["app"]
    accepted = 0
    for name in HOSTILE_NAMES:
        before = row_counts(app)
        response = upload(studio["tom"], studio["module"], "image", [("file", tiny_png(), name, "image/png")], alt_text="A dot")
        assert_refused_or_fine(app, response, before)
        if response.status_code == 303:
            accepted += 1
            check_served(app, studio, response)
    with app.app_context():
        for item in db.session.scalars(select(Item).where(Item.media_key.is_not(None))):
            assert len(item.media_filename) <= 255 and not re.search(r"[\x00-\x1f/\\\u202e]", item.media_filename)
    # Names that say nothing at all ("\x00") are no file to the form; every other one was kept once.
    assert accepted >= len(HOSTILE_NAMES) - 2 and len(stored_files(app)) == accepted


LIES = [
    # (kind, bytes, declared type, name): what arrives vs what it claims to be.
    ("image", HTML, "image/png", "cat.png"),
    ("image", SCRIPTED_SVG, "image/png", "cat.png"),
    ("image", SCRIPTED_SVG, "image/svg+xml", "cat.svg"),
    ("image", tiny_pdf(), "image/png", "cat.png"),
    ("video", tiny_png(), "video/mp4", "film.mp4"),
    ("pdf", HTML, "application/pdf", "notes.pdf"),
    ("pdf", b"%PDF-1.4\n" + HTML, "application/pdf", "notes.pdf"),
    ("audio", b"ID3" + b"\x00" * 20, "audio/mpeg", "song.mp3"),
    ("image", b"", "image/png", "empty.png"),
    ("image", b"\x89PNG\r\n\x1a\n", "image/png", "truncated.png"),
]


def test_declared_types_that_lie_are_refused(studio):
    app = studio["app"]
    files_before = stored_files(app)
    for kind, content, declared, name in LIES:
        before = row_counts(app)
        response = upload(studio["tom"], studio["module"], kind, [("file", content, name, declared)], alt_text="x")
        assert 400 <= response.status_code < 500, (kind, name, response.status_code)
        assert not changed(before, row_counts(app))
    assert stored_files(app) == files_before


def test_a_polyglot_is_served_as_what_its_bytes_start_with(studio):
    """A PNG with HTML glued on is a PNG: served as image/png with nosniff, never as a page."""
    response = upload(studio["tom"], studio["module"], "image", [("file", POLYGLOT, "page.html", "text/html")], alt_text="x")
    assert response.status_code == 303
    check_served(studio["app"], studio, response)


def test_captions_that_are_html_are_refused(studio):
    app = studio["app"]
    before = row_counts(app)
    files = [("file", tiny_mp4(), "a.mp4", "video/mp4"), ("captions", HTML, "a.vtt", "text/vtt")]
    response = upload(studio["tom"], studio["module"], "video", files)
    assert 400 <= response.status_code < 500 and row_counts(app) == before
    assert stored_files(app) == []


def test_several_files_in_one_request(studio):
    """Repeated and unexpected file fields: at most the expected ones are kept, nothing is left over."""
    app = studio["app"]
    files = [
        ("file", tiny_mp4(), "one.mp4", "video/mp4"),
        ("file", tiny_mp4(), "two.mp4", "video/mp4"),
        ("captions", tiny_vtt(), "a.vtt", "text/vtt"),
        ("captions", tiny_vtt(), "b.vtt", "text/vtt"),
        ("evil", HTML, "x.html", "text/html"),
    ]
    before = row_counts(app)
    response = upload(studio["tom"], studio["module"], "video", files)
    assert_refused_or_fine(app, response, before)
    with app.app_context():
        keys = [key for item in db.session.scalars(select(Item)) for key in (item.media_key, item.caption_key) if key]
    # Every file on disk belongs to an item: nothing was written for the extra parts.
    assert len(stored_files(app)) == len(keys)


# A body cut short leaves Werkzeug's multipart parser holding the temporary file of the cut part;
# it gives up with an empty form (our 400) and the file is closed by the garbage collector.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_declared_lengths_that_lie(studio):
    app = studio["app"]
    tom, module = studio["tom"], studio["module"]
    before = row_counts(app)
    builder = EnvironBuilder(method="POST", data={"kind": "pdf", "title": "x", "file": (io.BytesIO(tiny_pdf()), "a.pdf")})
    body_env = builder.get_environ()
    body = body_env["wsgi.input"].read()
    builder.close()
    base = {"X-Launch-Id": tom.launch.launch_id, "X-CSRF-Token": tom.token}
    path = f"/courses/m/{module}/items"
    cases = {
        "huge": {"CONTENT_LENGTH": str(10**12)},
        "negative": {"CONTENT_LENGTH": "-1"},
        "not a number": {"CONTENT_LENGTH": "ten"},
        "missing": {"CONTENT_LENGTH": ""},
        "short": {"CONTENT_LENGTH": str(len(body) // 2)},
    }
    for name, environ in cases.items():
        response = tom.client.post(
            path, data=body, headers={**base, "Content-Type": body_env["CONTENT_TYPE"]}, environ_overrides=environ
        )
        assert_no_500(response)
        assert 400 <= response.status_code < 500, (name, response.status_code)
    assert row_counts(app) == before and stored_files(app) == []


@HOSTILE
@given(
    name=st.text(max_size=300),
    declared=st.sampled_from(["image/png", "text/html", "image/svg+xml", "application/octet-stream", "", "x" * 500]),
    content=st.sampled_from([tiny_png(), HTML, SCRIPTED_SVG, POLYGLOT, b"\x00" * 100]),
)
def test_random_names_and_types(studio, name, declared, content):
    app = studio["app"]
    before = row_counts(app)
    response = upload(studio["tom"], studio["module"], "image", [("file", content, name, declared)], alt_text="x")
    assert_refused_or_fine(app, response, before)
