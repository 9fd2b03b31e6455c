"""Media storage on both backends: local disk, and S3 against a real S3-compatible server.

Every behaviour test runs on `local` and on `s3` (SeaweedFS, which checks signatures and expiry
as AWS does). Learner links are fetched as a browser would: local links through the tool's
`/courses/media/<token>` route, S3 links straight from the S3 server over HTTP.
"""

from __future__ import annotations

import hashlib
import io
import random
import struct
import time
import tracemalloc
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
import requests
from cryptography.fernet import Fernet
from flask import Blueprint, Flask
from werkzeug.http import parse_options_header

from config.settings import SettingsError, load_settings
from courses import storage as media
from courses.storage import (
    MEDIA_ENDPOINT,
    LocalStorage,
    S3Storage,
    StoredObject,
    UploadRejected,
    UploadTooLarge,
    get_storage,
    serve_signed,
)
from tests.conftest import BACKENDS
from tests.courses.test_filetypes import VTT, minimal_pdf, mp4_file, sample
from tests.support.s3_server import S3Server, s3_server  # noqa: F401 - the session fixture

MiB = 1024 * 1024


# Storage does not touch the database: one data stack is enough for these tests.
pytestmark = pytest.mark.stack(BACKENDS[0])
STORAGES = ("local", "s3")


def pytest_generate_tests(metafunc) -> None:
    # Each test runs on both storage backends, or on the one its `storage` marker names.
    if "make_media" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker("storage")
        metafunc.parametrize("make_media", marker.args if marker else STORAGES, indirect=True)


@dataclass
class Media:
    """One app on one storage backend, with ways to look behind the storage's back."""

    app: Flask
    name: str
    server: S3Server | None
    prefix: str
    media_dir: Path

    @property
    def storage(self):
        with self.app.app_context():
            return get_storage()

    def save(self, data: bytes | io.RawIOBase, kind: str, filename: str = "upload.bin") -> StoredObject:
        stream = io.BytesIO(data) if isinstance(data, bytes) else data
        with self.app.app_context():
            return get_storage().save(stream, kind=kind, filename=filename)

    def delete(self, key: str) -> None:
        with self.app.app_context():
            get_storage().delete(key)

    def url(self, stored: StoredObject, filename: str = "upload.bin") -> str:
        with self.app.test_request_context():
            return get_storage().learner_url(stored.key, content_type=stored.content_type, filename=filename)

    def fetch(self, url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        """GET a learner link as the browser would."""
        if url.startswith("/"):
            response = self.app.test_client().get(url, headers=headers or {})
            try:
                return response.status_code, dict(response.headers), response.get_data()
            finally:
                response.close()  # the file it streamed from
        answer = requests.get(url, headers=headers or {}, timeout=30)
        return answer.status_code, dict(answer.headers), answer.content

    def leftovers(self) -> list[str]:
        """Everything stored, or half-stored, by this test: files, objects, unfinished uploads."""
        if self.server is None:
            return sorted(
                str(p.relative_to(self.media_dir)) for p in self.media_dir.rglob("*") if p.is_file()
            )
        unfinished = [f"multipart upload of {key}" for key in self.server.multipart_uploads(self.prefix)]
        return sorted(self.server.keys(self.prefix) + unfinished)


def _with_media_route(app: Flask) -> Flask:
    """The courses blueprint serves `/courses/media/<token>`; until it is registered, a stand-in
    does exactly what that route does (return serve_signed(token))."""
    if MEDIA_ENDPOINT not in app.view_functions:
        stand_in = Blueprint("media_route_for_tests", __name__)
        stand_in.add_url_rule("/courses/media/<token>", "media", serve_signed)
        app.register_blueprint(stand_in)
    return app


@pytest.fixture
def make_media(request, make_app, tmp_path) -> Callable[..., Media]:
    def build(**overrides: Any) -> Media:
        media_dir = tmp_path / f"media-{uuid.uuid4().hex[:6]}"
        prefix = f"test-{uuid.uuid4().hex}/"
        server = None
        settings = {"MEDIA_DIR": str(media_dir), **overrides}
        if request.param == "s3":
            server = request.getfixturevalue("s3_server")
            settings = server.settings(S3_KEY_PREFIX=prefix, **settings)
        app = _with_media_route(make_app(**settings))
        return Media(app=app, name=request.param, server=server, prefix=prefix, media_dir=media_dir)

    return build


@pytest.fixture
def media_env(make_media) -> Media:
    return make_media()


class Generated(io.RawIOBase):
    """A file of `size` bytes made on demand (an MP4 header, then seeded noise): never whole in memory.

    `fail_after` makes reads fail past that many bytes, like a browser that went away mid-upload.
    """

    # Noise repeating every PERIOD bytes: no part size is a multiple of it, so parts stored out of
    # order or twice change the digest. Made up front, so reads cost only the bytes they return.
    PERIOD = 65_537

    def __init__(self, size: int, *, seed: int = 1, fail_after: int | None = None) -> None:
        self.size = size
        self.head = mp4_file(b"")[:40] + struct.pack(">I", size - 40) + b"mdat"
        self.pattern = memoryview(random.Random(seed).randbytes(self.PERIOD + 4 * MiB))
        self.position = 0
        self.fail_after = fail_after
        self.sha256 = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if self.fail_after is not None and self.position >= self.fail_after:
            raise OSError("the client went away")
        n = self.size - self.position if n is None or n < 0 else min(n, self.size - self.position)
        if n <= 0:
            return b""
        if self.position < len(self.head):
            chunk = self.head[self.position : self.position + n]
        else:
            start = self.position % self.PERIOD
            chunk = bytes(self.pattern[start : start + min(n, 4 * MiB)])
        self.position += len(chunk)
        self.sha256.update(chunk)
        return chunk


# ---------------------------------------------------------------------------------------------
# Saving and reading back

SMALL_FILES = {
    "video": (mp4_file(random.Random(3).randbytes(300_000)), "video/mp4", "lecture.mp4"),
    "audio": (sample("mp3"), "audio/mpeg", "interview.mp3"),
    "pdf": (minimal_pdf(), "application/pdf", "syllabus.pdf"),
    "image": (sample("png"), "image/png", "diagram.png"),
    "captions": (VTT, "text/vtt", "lecture.vtt"),
}


@pytest.mark.parametrize("kind", sorted(SMALL_FILES))
def test_a_saved_file_reads_back_byte_identical_with_its_sniffed_type(media_env, kind):
    data, content_type, filename = SMALL_FILES[kind]
    stored = media_env.save(data, kind, filename)
    assert stored.size == len(data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.content_type == content_type

    status, headers, body = media_env.fetch(media_env.url(stored, filename))
    assert status == 200
    assert body == data
    assert headers["Content-Type"].split(";")[0] == content_type
    assert parse_options_header(headers["Content-Disposition"]) == ("inline", {"filename": filename})


def test_the_stored_type_is_the_sniffed_one_not_the_name(media_env):
    # An MP4 container saved as audio is served as audio/mp4, whatever the name says.
    stored = media_env.save(SMALL_FILES["video"][0], "audio", "song.mp3")
    assert stored.content_type == "audio/mp4"
    status, headers, _ = media_env.fetch(media_env.url(stored, "song.mp3"))
    assert (status, headers["Content-Type"]) == (200, "audio/mp4")


def test_keys_are_random_and_never_derived_from_the_name(media_env):
    data = sample("png")
    first = media_env.save(data, "image", "secret-exam-answers.png")
    second = media_env.save(data, "image", "secret-exam-answers.png")
    assert first.key != second.key
    for stored in (first, second):
        kind, token = stored.key.split("/")
        assert kind == "image" and len(token) == 43
        assert "secret" not in stored.key and "png" not in stored.key
    assert len(media_env.leftovers()) == 2


@pytest.mark.storage("local")
def test_local_files_land_in_sharded_directories(make_media):
    env = make_media()
    stored = env.save(sample("png"), "image")
    token = stored.key.split("/")[1]
    assert env.leftovers() == [f"image/{token[:2]}/{token}"]
    assert (env.media_dir / "image" / token[:2] / token).read_bytes() == sample("png")


@pytest.mark.storage("s3")
def test_s3_objects_carry_type_and_name_and_sit_under_the_prefix(make_media):
    env = make_media()
    stored = env.save(minimal_pdf(), "pdf", "Cours d'été.pdf")
    assert env.leftovers() == [env.prefix + stored.key]
    head = env.server.client().head_object(Bucket=env.server.bucket, Key=env.prefix + stored.key)
    assert head["ContentType"] == "application/pdf"
    assert (
        head["ContentDisposition"]
        == "inline; filename=\"Cours d'ete.pdf\"; filename*=UTF-8''Cours%20d%27%C3%A9t%C3%A9.pdf"
    )


# ---------------------------------------------------------------------------------------------
# Refusals leave nothing behind


@pytest.mark.parametrize(
    "data, kind, reason, words",
    [
        (b"#!/bin/sh\nrm -rf /\n", "video", "type", "is a script (program code), not a video"),
        (b"", "audio", "empty", "is empty"),
        (sample("png")[:20], "image", "damaged", "looks like a PNG image"),
        (sample("png")[:-20], "image", "damaged", "its end is missing"),
        (b"PK\x03\x04" + b"\x00" * 100, "video", "type", "is a ZIP archive, not a video"),
    ],
)
def test_refused_uploads_say_why_and_store_nothing(media_env, data, kind, reason, words):
    with pytest.raises(UploadRejected) as caught:
        media_env.save(data, kind, "lecture.mp4")
    assert caught.value.reason == reason
    assert words in str(caught.value)
    assert isinstance(caught.value, ValueError)
    assert media_env.leftovers() == []


def test_an_upload_found_damaged_at_its_end_after_parts_were_sent_leaves_nothing(make_media):
    env = make_media(S3_MULTIPART_PART_BYTES=5 * MiB)
    # 12 MiB announced by its header, 11 MiB sent: two parts are out before the end shows it.
    source = Generated(12 * MiB)
    short = io.BytesIO(b"".join(iter(lambda: source.read(MiB), b""))[: 11 * MiB])
    with pytest.raises(UploadRejected, match="ends early"):
        env.save(short, "video", "cut.mp4")
    assert env.leftovers() == []


@pytest.mark.parametrize("kind", ["spreadsheet", ""])
def test_an_unknown_kind_is_refused(media_env, kind):
    with pytest.raises(UploadRejected, match="cannot be uploaded"):
        media_env.save(sample("png"), kind)
    assert media_env.leftovers() == []


# ---------------------------------------------------------------------------------------------
# Size limit


def test_an_upload_over_the_limit_is_stopped_as_it_crosses_it(make_media):
    env = make_media(MEDIA_MAX_UPLOAD_BYTES=12 * MiB, S3_MULTIPART_PART_BYTES=5 * MiB)
    source = Generated(40 * MiB)
    with pytest.raises(UploadTooLarge) as caught:
        env.save(source, "video", "long.mp4")
    assert "larger than the 12 MiB" in str(caught.value)
    # Stopped within one read of the limit, not after reading all 40 MiB.
    assert source.position <= 12 * MiB + media.CHUNK_BYTES
    # S3 had two parts of a multipart upload: it was aborted, not left to linger.
    assert env.leftovers() == []


def test_a_small_limit_stops_an_upload_inside_its_first_bytes(make_media):
    env = make_media(MEDIA_MAX_UPLOAD_BYTES=1000)
    with pytest.raises(UploadTooLarge):
        env.save(SMALL_FILES["video"][0], "video")
    assert env.leftovers() == []


def test_a_file_exactly_at_the_limit_is_accepted(make_media):
    data = minimal_pdf()
    env = make_media(MEDIA_MAX_UPLOAD_BYTES=len(data))
    assert env.save(data, "pdf").size == len(data)
    with pytest.raises(UploadTooLarge):
        env.save(b"\n" + data, "pdf")


def test_a_client_that_goes_away_mid_upload_leaves_nothing(make_media):
    env = make_media(S3_MULTIPART_PART_BYTES=5 * MiB)
    with pytest.raises(OSError, match="went away"):
        env.save(Generated(30 * MiB, fail_after=13 * MiB), "video")
    assert env.leftovers() == []


# ---------------------------------------------------------------------------------------------
# Large uploads: multipart on S3, and never the whole file in memory


def test_a_large_upload_streams_in_bounded_memory_and_goes_multipart_on_s3(make_media):
    env = make_media(S3_MULTIPART_PART_BYTES=5 * MiB)
    env.save(sample("png"), "image")  # warm up: clients, service models, connections
    source = Generated(24 * MiB, seed=9)

    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        stored = env.save(source, "video", "recording.mp4")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    growth = peak - base
    # Local: a few read chunks (1 MiB each). S3: one part (5 MiB) and a few chunks. Never the file.
    limit = 4 * MiB if env.name == "local" else 5 * MiB + 4 * MiB
    assert growth < limit, f"peak memory grew {growth / MiB:.1f} MiB"
    assert stored.size == 24 * MiB
    assert stored.sha256 == source.sha256.hexdigest()

    if env.name == "local":
        digest = hashlib.sha256()
        with open(env.storage.path(stored.key), "rb") as stored_file:
            for block in iter(lambda: stored_file.read(MiB), b""):
                digest.update(block)
        assert digest.hexdigest() == stored.sha256
        return
    client, bucket, name = env.server.client(), env.server.bucket, env.prefix + stored.key
    assert client.head_object(Bucket=bucket, Key=name)["ETag"].endswith('-5"')  # 5 parts of 5 MiB
    assert client.head_object(Bucket=bucket, Key=name, PartNumber=1)["ContentLength"] == 5 * MiB
    answer = requests.get(env.url(stored), stream=True, timeout=60)
    digest = hashlib.sha256()
    for block in answer.iter_content(MiB):
        digest.update(block)
    assert answer.status_code == 200
    assert digest.hexdigest() == stored.sha256


# ---------------------------------------------------------------------------------------------
# Delete


def test_delete_removes_the_media_and_is_idempotent(media_env):
    stored = media_env.save(sample("png"), "image")
    url = media_env.url(stored)
    media_env.delete(stored.key)
    assert media_env.leftovers() == []
    media_env.delete(stored.key)  # deleting again is harmless
    assert media_env.fetch(url)[0] == 404


def test_delete_refuses_what_is_not_a_media_key(media_env):
    for key in ("../../etc/passwd", "image/../../x", "image/short", "script/" + "a" * 43, ""):
        with pytest.raises(ValueError):
            media_env.delete(key)


# ---------------------------------------------------------------------------------------------
# Learner links: Range requests, types, names, tampering, expiry

RANGE_DATA = mp4_file(random.Random(5).randbytes(10_000))
N = len(RANGE_DATA)


@pytest.mark.parametrize(
    "range_header, start, end",
    [
        ("bytes=0-99", 0, 99),  # the first bytes: a player reading the header
        ("bytes=4000-4999", 4000, 4999),  # the middle: seeking
        ("bytes=-100", N - 100, N - 1),  # the last bytes: an MP4 index at the end
        (f"bytes={N - 10}-", N - 10, N - 1),  # from an offset to the end
        (f"bytes=0-{N + 500}", 0, N - 1),  # an end past the file is cut to the file
    ],
)
def test_range_requests_return_the_asked_bytes(media_env, range_header, start, end):
    stored = media_env.save(RANGE_DATA, "video", "clip.mp4")
    status, headers, body = media_env.fetch(media_env.url(stored), {"Range": range_header})
    assert status == 206
    assert headers["Content-Range"] == f"bytes {start}-{end}/{N}"
    assert body == RANGE_DATA[start : end + 1]
    assert int(headers["Content-Length"]) == end - start + 1


def test_a_range_past_the_end_is_unsatisfiable(media_env):
    stored = media_env.save(RANGE_DATA, "video", "clip.mp4")
    status, headers, _ = media_env.fetch(media_env.url(stored), {"Range": f"bytes={N}-"})
    assert status == 416
    if media_env.name == "local":
        assert headers["Content-Range"] == f"bytes */{N}"


def test_without_range_the_whole_file_comes_with_accept_ranges(media_env):
    stored = media_env.save(RANGE_DATA, "video", "clip.mp4")
    status, headers, body = media_env.fetch(media_env.url(stored))
    assert status == 200 and body == RANGE_DATA
    assert headers["Accept-Ranges"] == "bytes"
    assert int(headers["Content-Length"]) == N


@pytest.mark.storage("local")
def test_local_media_headers_keep_it_private_and_unsniffed(make_media):
    env = make_media(MEDIA_URL_TTL_SECONDS=300)
    stored = env.save(RANGE_DATA, "video", "clip.mp4")
    status, headers, _ = env.fetch(env.url(stored))
    assert status == 200
    assert headers["X-Content-Type-Options"] == "nosniff"
    directives = {d.strip() for d in headers["Cache-Control"].split(",")}
    assert "private" in directives and "public" not in directives and "no-cache" not in directives
    max_age = int(next(d for d in directives if d.startswith("max-age=")).split("=")[1])
    assert 290 <= max_age <= 300


@pytest.mark.storage("local")
def test_a_conditional_request_gets_not_modified_on_the_local_route(make_media):
    env = make_media()
    stored = env.save(RANGE_DATA, "video", "clip.mp4")
    url = env.url(stored)
    _, headers, _ = env.fetch(url)
    assert env.fetch(url, {"If-None-Match": headers["ETag"]})[0] == 304


def test_non_ascii_names_use_rfc5987(media_env):
    stored = media_env.save(RANGE_DATA, "video", "ignored.mp4")
    name = "Cours d'été – ép. 1.mp4"
    status, headers, _ = media_env.fetch(media_env.url(stored, name))
    assert status == 200
    disposition = headers["Content-Disposition"]
    assert disposition.startswith("inline; ")
    assert "filename*=UTF-8''Cours%20d%27%C3%A9t%C3%A9%20%E2%80%93%20%C3%A9p.%201.mp4" in disposition


def _change_one_character(value: str) -> str:
    middle = len(value) // 2
    return value[:middle] + ("A" if value[middle] != "A" else "B") + value[middle + 1 :]


def test_a_tampered_link_is_refused(media_env):
    stored = media_env.save(sample("png"), "image")
    url = media_env.url(stored)
    assert media_env.fetch(url)[0] == 200
    if media_env.name == "local":
        prefix, token = url.rsplit("/", 1)
        tampered = f"{prefix}/{_change_one_character(token)}"
    else:
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        signature = query["X-Amz-Signature"]
        query["X-Amz-Signature"] = ("0" if signature[0] != "0" else "1") + signature[1:]
        tampered = urlunsplit(parts._replace(query=urlencode(query)))
    status, _, body = media_env.fetch(tampered)
    assert status == 403
    if media_env.name == "local":
        assert b"not valid" in body
    else:
        assert b"SignatureDoesNotMatch" in body


@pytest.mark.storage("s3")
def test_a_presigned_link_cannot_be_pointed_at_another_object(make_media):
    env = make_media()
    first = env.save(sample("png"), "image")
    second = env.save(sample("gif"), "image")
    edited = env.url(first).replace(first.key, second.key)
    assert env.fetch(edited)[0] == 403


def test_an_expired_link_is_refused(make_media):
    env = make_media(MEDIA_URL_TTL_SECONDS=1)
    stored = env.save(sample("png"), "image")
    url = env.url(stored)
    assert env.fetch(url)[0] == 200
    time.sleep(2.1)
    status, _, body = env.fetch(url)
    assert status == 403
    if env.name == "local":
        assert b"expired" in body and b"Reload the page" in body
    else:
        assert b"expired" in body


@pytest.mark.storage("local")
def test_expired_links_say_so_in_json_too(make_media):
    env = make_media(MEDIA_URL_TTL_SECONDS=1)
    stored = env.save(sample("png"), "image")
    url = env.url(stored)
    time.sleep(2.1)
    response = env.app.test_client().get(url, headers={"Accept": "application/json"})
    assert response.status_code == 403
    assert response.get_json()["error"] == "Media link expired"
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.storage("local")
def test_a_validly_signed_token_with_a_bad_key_is_refused_not_an_error(make_media):
    env = make_media()
    with env.app.test_request_context():
        forged = media._serializer().dumps(
            {"k": "../../config/settings.py", "t": "text/plain", "f": "x", "e": 2**40}
        )
        junk = media._serializer().dumps(["not", "a", "mapping"])
    for token in (forged, junk):
        assert env.app.test_client().get(f"/courses/media/{token}").status_code == 403


@pytest.mark.storage("s3")
def test_the_local_route_serves_nothing_when_media_lives_in_s3(make_media):
    env = make_media()
    with env.app.test_request_context():
        token = media._serializer().dumps({"k": "image/" + "a" * 43, "t": "image/png", "f": "x", "e": 2**40})
    assert env.app.test_client().get(f"/courses/media/{token}").status_code == 404


@pytest.mark.storage("local")
def test_local_links_are_relative_paths_to_the_media_route(make_media):
    env = make_media()
    stored = env.save(sample("png"), "image")
    assert env.url(stored).startswith("/courses/media/")
    with env.app.app_context():  # outside a request (a background job): the same path
        assert (
            get_storage()
            .learner_url(stored.key, content_type="image/png", filename="x.png")
            .startswith("/courses/media/")
        )


@pytest.mark.storage("s3")
def test_presigned_links_are_short_lived_and_carry_the_response_headers(make_media):
    env = make_media(MEDIA_URL_TTL_SECONDS=120)
    stored = env.save(RANGE_DATA, "video", "clip.mp4")
    query = dict(parse_qsl(urlsplit(env.url(stored, "clip.mp4")).query))
    assert query["X-Amz-Expires"] == "120"
    assert query["response-content-type"] == "video/mp4"
    assert query["response-content-disposition"] == 'inline; filename="clip.mp4"'
    status, headers, _ = env.fetch(env.url(stored, "clip.mp4"))
    assert headers["Cache-Control"] == "private, max-age=120"


@pytest.mark.storage("s3")
def test_presigned_links_can_name_a_public_endpoint(make_media):
    env = make_media()
    public = make_media(S3_PUBLIC_ENDPOINT_URL="https://media.example.edu")
    assert public.storage.presigner is not public.storage.client
    stored = public.save(sample("png"), "image")
    assert public.url(stored).startswith("https://media.example.edu/")
    # The tool itself still talks to the internal endpoint.
    assert public.leftovers() == [public.prefix + stored.key]


# ---------------------------------------------------------------------------------------------
# Backend choice and settings


def test_get_storage_follows_the_setting_and_is_built_once(media_env):
    expected = LocalStorage if media_env.name == "local" else S3Storage
    with media_env.app.app_context():
        assert isinstance(get_storage(), expected)
        assert get_storage() is get_storage()


@pytest.mark.storage("s3")
def test_the_part_size_grows_so_the_largest_upload_fits_in_10000_parts(make_media):
    env = make_media(MEDIA_MAX_UPLOAD_BYTES=200 * 1024**3, S3_MULTIPART_PART_BYTES=5 * MiB)
    assert env.storage.part_bytes * 10_000 >= 200 * 1024**3


@pytest.fixture
def settings_of(tmp_path) -> Callable[..., Any]:
    """Settings from an empty environment plus `overrides`, with the secrets production needs."""

    def build(**overrides: Any):
        base = {
            "SECRET_KEY": "s" * 40,
            "KEY_ENCRYPTION_KEY": Fernet.generate_key().decode(),
            "DATABASE_URL": "sqlite://",
            "INSTANCE_PATH": str(tmp_path),
        }
        return load_settings(environ={}, overrides={**base, **overrides})

    return build


def test_media_settings_have_their_documented_defaults(settings_of):
    settings = settings_of()
    assert settings.MEDIA_MAX_UPLOAD_BYTES == 1024**3
    assert settings.MEDIA_URL_TTL_SECONDS == 600
    assert settings.MEDIA_STORAGE == "local"
    assert settings.S3_ADDRESSING_STYLE == "auto"


def test_production_s3_refuses_to_start_without_bucket_or_credentials(settings_of):
    with pytest.raises(
        SettingsError, match="MEDIA_STORAGE=s3 needs S3_BUCKET, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY"
    ):
        settings_of(TOOL_ENV="production", MEDIA_STORAGE="s3")
    with pytest.raises(SettingsError, match="needs S3_SECRET_ACCESS_KEY: set it"):
        settings_of(TOOL_ENV="production", MEDIA_STORAGE="s3", S3_BUCKET="b", S3_ACCESS_KEY_ID="k")
    assert (
        settings_of(
            TOOL_ENV="production",
            MEDIA_STORAGE="s3",
            S3_BUCKET="b",
            S3_ACCESS_KEY_ID="k",
            S3_SECRET_ACCESS_KEY="s",
        ).S3_BUCKET
        == "b"
    )
    # Outside production the bucket is still required; credentials may come from boto3's chain.
    with pytest.raises(SettingsError, match="needs S3_BUCKET"):
        settings_of(MEDIA_STORAGE="s3")
    assert settings_of(MEDIA_STORAGE="s3", S3_BUCKET="b").S3_ACCESS_KEY_ID == ""


@pytest.mark.parametrize(
    "overrides, words",
    [
        ({"MEDIA_MAX_UPLOAD_BYTES": "0"}, "MEDIA_MAX_UPLOAD_BYTES must be a positive"),
        ({"MEDIA_URL_TTL_SECONDS": "0"}, "MEDIA_URL_TTL_SECONDS must be between 1 and 604800"),
        ({"MEDIA_URL_TTL_SECONDS": str(8 * 86400)}, "MEDIA_URL_TTL_SECONDS must be between"),
        ({"S3_ADDRESSING_STYLE": "dns"}, "S3_ADDRESSING_STYLE must be auto, path or virtual"),
        ({"S3_MULTIPART_PART_BYTES": str(4 * MiB)}, "S3_MULTIPART_PART_BYTES must be between 5 MiB"),
        ({"S3_ENDPOINT_URL": "minio:9000"}, "S3_ENDPOINT_URL must start with https://"),
        ({"S3_KEY_PREFIX": "/media/"}, "S3_KEY_PREFIX must not start with '/'"),
        ({"MEDIA_MAX_UPLOAD_BYTES": "lots"}, "is not a valid int"),
    ],
)
def test_bad_media_settings_are_refused_with_a_reason(settings_of, overrides, words):
    with pytest.raises(SettingsError, match=words):
        settings_of(**overrides)
