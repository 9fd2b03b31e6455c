"""Media storage: uploaded videos, audio, PDFs, images and captions, on local disk or in S3.

`get_storage()` picks the backend from `MEDIA_STORAGE`: "local" (the embedded default, files under
`MEDIA_DIR`) or "s3" (AWS, or any S3-compatible store through `S3_ENDPOINT_URL`). Both behave the
same to callers:

- `save(stream, kind=, filename=)` streams the upload in chunks (never the whole file in memory;
  S3 gets a multipart upload once the file outgrows one part), identifies it from its bytes
  against the item kind (`courses.filetypes`), enforces `MEDIA_MAX_UPLOAD_BYTES` as it goes, and
  leaves nothing behind when it refuses or fails.
- Keys are `<kind>/<random token>`: unguessable, and never derived from the file's name.
- `learner_url(key, ...)` is short-lived: a presigned S3 URL, so media bytes never pass through
  the web process, or a signed link to `GET /courses/media/<token>`, answered by `serve_signed`
  with HTTP Range support so video seeking works.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import re
import secrets
import tempfile
import threading
import time
import unicodedata
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Iterator
from urllib.parse import quote

from flask import Flask, Response, current_app, has_request_context, make_response, send_file, url_for
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeSerializer
from werkzeug.exceptions import RequestedRangeNotSatisfiable

from courses import filetypes
from lti_tool.errors import error_response

log = logging.getLogger("lti_tool.courses.storage")

KINDS = tuple(filetypes.KINDS)
# Read size of the incoming stream: small enough to keep memory flat, large enough to be cheap.
CHUNK_BYTES = 1024 * 1024
# S3 refuses multipart parts under 5 MiB (except the last) and uploads over 10,000 parts.
S3_MIN_PART_BYTES = 5 * 1024 * 1024
S3_MAX_PARTS = 10_000
MEDIA_ENDPOINT = "courses.media"
_TOKEN_SALT = "courses.media-link"
_KEY = re.compile(r"(?P<kind>[a-z]+)/(?P<token>[A-Za-z0-9_-]{43})")


class UploadTooLarge(Exception):
    """The upload passed MEDIA_MAX_UPLOAD_BYTES; the caller answers 413. Nothing was kept."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"This file is larger than the {human_size(limit)} this tool accepts per upload.")
        self.limit = limit


class UploadRejected(ValueError):
    """The upload is empty, damaged or not of the item's kind; the message says which, for a teacher.

    `reason` is "empty", "damaged" (answer 400) or "type" (answer 415). Nothing was kept.
    """

    def __init__(self, message: str, reason: str = "type") -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    content_type: str
    sha256: str


def human_size(size: int) -> str:
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= factor:
            value = size / factor
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{size} bytes"


def get_storage(app: Flask | None = None) -> Storage:
    """The storage backend of `app` (default: the current app), built once per app."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    storage = app.extensions.get("courses.storage")
    if storage is None:
        settings = app.config["SETTINGS"]
        storage = S3Storage(settings) if settings.MEDIA_STORAGE == "s3" else LocalStorage(settings)
        app.extensions["courses.storage"] = storage
    return storage


def new_key(kind: str) -> str:
    # 32 random bytes: unguessable, and unrelated to the file's name or contents.
    return f"{kind}/{secrets.token_urlsafe(32)}"


def check_key(key: str) -> str:
    match = _KEY.fullmatch(key or "")
    if match is None or match["kind"] not in KINDS:
        raise ValueError(f"not a media key: {key!r}")
    return key


def clean_filename(filename: str) -> str:
    """The name a learner's browser shows: the last path part, printable, at most 200 characters."""
    name = re.split(r"[\\/]", filename or "")[-1]
    name = "".join(ch for ch in unicodedata.normalize("NFC", name) if ch.isprintable()).strip()
    return name[:200] or "media"


def inline_disposition(filename: str) -> str:
    """`inline` with the file's name: plain for ASCII, RFC 5987 `filename*` as well otherwise."""
    name = clean_filename(filename)
    fallback = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    fallback = re.sub(r'["\\]', "", fallback).strip() or "media"
    if fallback == name:
        return f'inline; filename="{name}"'
    return f"inline; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


class _Upload:
    """The incoming stream, read in chunks: counts bytes against the limit and hashes them."""

    def __init__(self, stream: BinaryIO, limit: int) -> None:
        self._stream = stream
        self._limit = limit
        self.size = 0
        self.sha256 = hashlib.sha256()

    def _read(self) -> bytes:
        chunk = self._stream.read(CHUNK_BYTES)
        if chunk:
            self.size += len(chunk)
            if self.size > self._limit:
                raise UploadTooLarge(self._limit)
            self.sha256.update(chunk)
        return chunk or b""

    def head(self, size: int) -> tuple[bytes, bool, Iterator[bytes]]:
        """The first `size` (or more) bytes, whether that is the whole file, and the chunks after."""
        parts: list[bytes] = []
        have = 0
        while have < size:
            chunk = self._read()
            if not chunk:
                return b"".join(parts), True, iter(())
            parts.append(chunk)
            have += len(chunk)
        # One more read tells a file of exactly `size` bytes from a longer one.
        following = self._read()
        rest = itertools.chain([following], iter(self._read, b"")) if following else iter(())
        return b"".join(parts), not following, rest


class Storage(ABC):
    """What both backends share: the checks around a save; each backend writes, deletes, links."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self.max_bytes: int = settings.MEDIA_MAX_UPLOAD_BYTES
        self.url_ttl: int = settings.MEDIA_URL_TTL_SECONDS

    def save(self, stream: BinaryIO, *, kind: str, filename: str) -> StoredObject:
        """Store an upload of `kind` ("video", "audio", "pdf", "image" or "captions").

        Raises UploadRejected (empty, damaged, wrong type) or UploadTooLarge; either way, and on
        any other failure, nothing is left in storage.
        """
        try:
            check = filetypes.UploadCheck(kind, filename)
            upload = _Upload(stream, self.max_bytes)
            head, complete, rest = upload.head(filetypes.HEAD_BYTES)
            content_type = check.start(head, complete=complete)
        except filetypes.FileRejected as rejected:
            raise UploadRejected(str(rejected), rejected.reason) from None
        key = new_key(kind)
        # Handed over once, so the head is not held for the rest of the upload.
        pending = [head]
        del head

        def chunks() -> Iterator[bytes]:
            yield pending.pop()
            for chunk in rest:
                check.feed(chunk)
                yield chunk
            check.finish(upload.size)

        try:
            self._write(key, chunks(), content_type=content_type, filename=filename)
        except filetypes.FileRejected as rejected:
            raise UploadRejected(str(rejected), rejected.reason) from None
        stored = StoredObject(
            key=key, size=upload.size, content_type=content_type, sha256=upload.sha256.hexdigest()
        )
        log.info("stored %s (%s, %d bytes)", key, content_type, stored.size)
        return stored

    @abstractmethod
    def _write(self, key: str, chunks: Iterator[bytes], *, content_type: str, filename: str) -> None:
        """Write every chunk under `key`; on any exception, leave nothing behind and re-raise."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the media under `key`; removing what is already gone is not an error."""

    @abstractmethod
    def learner_url(self, key: str, *, content_type: str, filename: str) -> str:
        """A short-lived URL (MEDIA_URL_TTL_SECONDS) that plays the media inline in a browser."""


class LocalStorage(Storage):
    """Files under MEDIA_DIR (`<kind>/<first two characters>/<key token>`), served by `serve_signed`."""

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.root = Path(settings.MEDIA_DIR)
        # Uploads in progress live here, on the same file system, until an atomic rename.
        self.incoming = self.root / ".incoming"

    def path(self, key: str) -> Path:
        kind, token = check_key(key).split("/")
        return self.root / kind / token[:2] / token

    def _write(self, key: str, chunks: Iterator[bytes], *, content_type: str, filename: str) -> None:
        target = self.path(key)
        self.incoming.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=self.incoming, prefix="upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def delete(self, key: str) -> None:
        # The directory stays: removing it could race a save into the same one.
        self.path(key).unlink(missing_ok=True)

    def learner_url(self, key: str, *, content_type: str, filename: str) -> str:
        check_key(key)
        token = _serializer().dumps(
            {"k": key, "t": content_type, "f": clean_filename(filename), "e": int(_now()) + self.url_ttl}
        )
        if has_request_context() and MEDIA_ENDPOINT in current_app.view_functions:
            return url_for(MEDIA_ENDPOINT, token=token)
        return f"/courses/media/{token}"


class S3Storage(Storage):
    """Objects in S3_BUCKET under S3_KEY_PREFIX, through boto3; learners get presigned GET URLs."""

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.bucket: str = settings.S3_BUCKET
        self.prefix: str = settings.S3_KEY_PREFIX
        # Never more parts than S3 allows, whatever the size limit.
        self.part_bytes = max(
            settings.S3_MULTIPART_PART_BYTES, -(-self.max_bytes // S3_MAX_PARTS), S3_MIN_PART_BYTES
        )
        self.client = self._client(settings.S3_ENDPOINT_URL)
        public = settings.S3_PUBLIC_ENDPOINT_URL
        # Presigning makes no request; it signs for the host the browser will reach.
        self.presigner = (
            self._client(public) if public and public != settings.S3_ENDPOINT_URL else self.client
        )

    def _client(self, endpoint_url: str):
        from botocore.config import Config

        settings = self.settings
        style = settings.S3_ADDRESSING_STYLE
        if style == "auto":
            # AWS prefers virtual-hosted buckets; most S3-compatible stores need path style.
            style = "path" if settings.S3_ENDPOINT_URL else "virtual"
        credentials = {}
        if settings.S3_ACCESS_KEY_ID:
            credentials = {
                "aws_access_key_id": settings.S3_ACCESS_KEY_ID,
                "aws_secret_access_key": settings.S3_SECRET_ACCESS_KEY,
            }
        with _BOTO_LOCK:
            return _boto_session().client(
                "s3",
                endpoint_url=endpoint_url or None,
                region_name=settings.S3_REGION or None,
                config=Config(
                    signature_version="s3v4",
                    s3={"addressing_style": style},
                    retries={"mode": "standard", "max_attempts": 3},
                    connect_timeout=settings.HTTP_TIMEOUT_SECONDS,
                    read_timeout=max(settings.HTTP_TIMEOUT_SECONDS, 60),
                ),
                **credentials,
            )

    def object_key(self, key: str) -> str:
        return self.prefix + check_key(key)

    def _write(self, key: str, chunks: Iterator[bytes], *, content_type: str, filename: str) -> None:
        name = self.object_key(key)
        headers = {
            "Bucket": self.bucket,
            "Key": name,
            "ContentType": content_type,
            "ContentDisposition": inline_disposition(filename),
        }
        buffer = _PartBuffer(self.part_bytes)
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []
        try:
            for chunk in chunks:
                for part in buffer.add(chunk):
                    if upload_id is None:
                        upload_id = self.client.create_multipart_upload(**headers)["UploadId"]
                    parts.append(self._upload_part(name, upload_id, len(parts) + 1, part))
            if upload_id is None:
                # Smaller than one part: a single request.
                self.client.put_object(Body=buffer.data, **headers)
                return
            if buffer.data:
                parts.append(self._upload_part(name, upload_id, len(parts) + 1, buffer.data))
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=name, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            if upload_id is not None:
                self._abort(name, upload_id)
            raise

    def _upload_part(self, name: str, upload_id: str, number: int, body: bytearray) -> dict[str, Any]:
        answer = self.client.upload_part(
            Bucket=self.bucket, Key=name, UploadId=upload_id, PartNumber=number, Body=body
        )
        return {"PartNumber": number, "ETag": answer["ETag"]}

    def _abort(self, name: str, upload_id: str) -> None:
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=name, UploadId=upload_id)
        except Exception:
            # A bucket lifecycle rule for incomplete multipart uploads is the backstop for this.
            log.exception("could not abort the multipart upload of %s", name)

    def delete(self, key: str) -> None:
        # S3 answers a delete of a missing key with success: deleting twice is harmless.
        self.client.delete_object(Bucket=self.bucket, Key=self.object_key(key))

    def learner_url(self, key: str, *, content_type: str, filename: str) -> str:
        return self.presigner.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": self.object_key(key),
                "ResponseContentType": content_type,
                "ResponseContentDisposition": inline_disposition(filename),
                "ResponseCacheControl": f"private, max-age={self.url_ttl}",
            },
            ExpiresIn=self.url_ttl,
        )


_BOTO_LOCK = threading.Lock()
_BOTO_SESSION: Any = None


def _boto_session():
    """One boto3 session per process: its clients share the loaded S3 model (loading it takes a
    noticeable fraction of a second). Sessions are not thread-safe, so clients are made under a lock;
    the clients themselves are."""
    global _BOTO_SESSION
    if _BOTO_SESSION is None:
        import boto3

        _BOTO_SESSION = boto3.session.Session()
    return _BOTO_SESSION


class _PartBuffer:
    """One multipart part in memory: the most an S3 upload holds at a time.

    A bytearray, because botocore sends and checksums one without copying it (bytes and BytesIO
    bodies cost another copy of the part).
    """

    def __init__(self, part_bytes: int) -> None:
        self.part_bytes = part_bytes
        self.data = bytearray()

    def add(self, chunk: bytes) -> Iterator[bytearray]:
        """Append `chunk`; yield each part as it reaches exactly `part_bytes`."""
        view = memoryview(chunk)
        while view:
            room = self.part_bytes - len(self.data)
            self.data += view[:room]
            view = view[room:]
            if len(self.data) == self.part_bytes:
                yield self.data
                # Emptied in place once sent: the caller's reference must not keep a second part alive.
                self.data.clear()


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_TOKEN_SALT)


def _now() -> float:
    return time.time()


def serve_signed(token: str) -> Response:
    """Answer `GET /courses/media/<token>` for the local backend: the file, with Range support.

    403 for a tampered or expired link (a reload of the page makes a fresh one), 404 when the file
    is gone or media lives in S3 (whose links go to S3 itself).
    """
    storage = get_storage()
    if not isinstance(storage, LocalStorage):
        return _refusal(404, _("Not found"), _("Media is not served from this address."))
    try:
        claims = _serializer().loads(token)
        key, content_type, filename, expires = claims["k"], claims["t"], claims["f"], claims["e"]
        path = storage.path(key)
        if not (isinstance(content_type, str) and isinstance(filename, str) and isinstance(expires, int)):
            raise ValueError("malformed claims")
    except (BadSignature, KeyError, TypeError, ValueError):
        return _refusal(
            403,
            _("Media link not valid"),
            _("This media link is not valid: it was changed or cut short."),
            hint=_("Reload the page that showed it to get a working link."),
        )
    remaining = expires - int(_now())
    if remaining <= 0:
        return _refusal(
            403,
            _("Media link expired"),
            _("This media link has expired: links to media work for a short time only."),
            hint=_("Reload the page to get a fresh link."),
        )
    if not path.is_file():
        return _refusal(404, _("Media not found"), _("This media file is no longer available."))
    try:
        response = send_file(
            path, mimetype=content_type, download_name=filename, conditional=True, etag=True, max_age=None
        )
    except RequestedRangeNotSatisfiable:
        # The app's error page would drop the Content-Range a player needs to learn the size.
        response = Response(status=416)
        response.headers["Content-Range"] = f"bytes */{path.stat().st_size}"
        response.headers["Accept-Ranges"] = "bytes"
        response.headers["Cache-Control"] = "no-store"
        return response
    response.headers["Accept-Ranges"] = "bytes"
    response.headers["X-Content-Type-Options"] = "nosniff"
    if content_type != "application/pdf":
        # Opened on its own, a file is a sandboxed document that runs nothing: even one that
        # fooled the type check cannot script the tool's origin. (Not PDFs: browsers' PDF viewers
        # refuse to render in a sandbox, and they run no page scripts anyway.)
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'; sandbox"
        )
    # Private: only this learner's browser may keep it, and only while the link is valid.
    response.cache_control.no_cache = None
    response.cache_control.public = False
    response.cache_control.private = True
    response.cache_control.max_age = remaining
    response.expires = None
    return response


def _refusal(status: int, title: str, message: str, *, hint: str | None = None) -> Response:
    response = make_response(error_response(status, title, message, hint=hint))
    response.headers["Cache-Control"] = "no-store"
    return response
