"""Memory: the resident size of each web worker after the load, how much a 1 GB upload grows the
worker that receives it (local media storage), and that with S3 storage a learner's media URL is a
presigned URL on the store's own origin, so media bytes never pass through the web process.

Run alone: .venv/bin/python -m bench.memory_bench  (it puts some load on the tool first)
"""

from __future__ import annotations

import html
import http.client
import json
import re
import shutil
import struct
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlsplit

from bench import common
from bench.pages_bench import TEACHER, courses_installed, create_course_content

UPLOAD_BYTES = 1_000_000_000  # "a 1 GB upload": under the default 1 GiB limit
CHUNK = 1 << 20


def _csrf_token(page: str) -> str:
    found = re.search(r'name="csrf_token"\s+value="([^"]+)"', page) or re.search(
        r'value="([^"]+)"\s+name="csrf_token"', page
    )
    if not found:
        raise RuntimeError("no csrf_token field on the new-item page")
    return html.unescape(found.group(1))


def _video_parts(size: int) -> tuple[bytes, int]:
    """An ISO media file of `size` bytes: an ftyp box, then one mdat box of zeros."""
    ftyp = struct.pack(">I4s4sI4s4s", 24, b"ftyp", b"isom", 0x200, b"isom", b"mp41")
    mdat_header = struct.pack(">I4s", size - len(ftyp), b"mdat")
    return ftyp + mdat_header, size - len(ftyp) - len(mdat_header)


def _multipart(fields: dict[str, str], file_size: int) -> tuple[str, int, Iterator[bytes]]:
    boundary = "bench" + uuid.uuid4().hex
    head = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    )
    head += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="lecture.mp4"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    ).encode()
    prefix, zeros = _video_parts(file_size)
    tail = f"\r\n--{boundary}--\r\n".encode()
    length = len(head) + len(prefix) + zeros + len(tail)

    def body() -> Iterator[bytes]:
        yield head + prefix
        block = bytes(CHUNK)
        left = zeros
        while left:
            step = min(left, CHUNK)
            yield block if step == CHUNK else bytes(step)
            left -= step
        yield tail

    return f"multipart/form-data; boundary={boundary}", length, body()


def upload_video(server: common.Server, stack: common.ToolStack, module: str, size: int) -> dict[str, Any]:
    """A teacher's upload of a `size`-byte video through the course editor's form."""
    client = common.Client(server.port, 0, {})
    try:
        launch_id, _, _ = common.launch_once(
            client, common.platform_data(stack), TEACHER, roles=[common.INSTRUCTOR]
        )
        client.conn.request("GET", f"/courses/m/{module}/items/new?kind=video&launch_id={launch_id}")
        response = client.conn.getresponse()
        text = response.read().decode()
        if response.status != 200:
            raise RuntimeError(f"new-item page: HTTP {response.status}")
        fields = {
            "launch_id": launch_id,
            "csrf_token": _csrf_token(text),
            "kind": "video",
            "title": "Lecture 1",
        }
        content_type, length, body = _multipart(fields, size)
        began = time.perf_counter()
        client.conn.request(
            "POST",
            f"/courses/m/{module}/items",
            body=body,
            headers={"Content-Type": content_type, "Content-Length": str(length)},
        )
        response = client.conn.getresponse()
        answer = response.read().decode(errors="replace")
        seconds = time.perf_counter() - began
        if response.status not in (200, 302, 303):
            raise RuntimeError(f"upload: HTTP {response.status}: {answer[:300]}")
        location = response.getheader("Location") or ""
        return {
            "seconds": round(seconds, 2),
            "status": response.status,
            "location": location,
            "bytes": length,
        }
    finally:
        client.conn.close()


class RssWatcher:
    """Samples every worker's resident size every 20 ms while an upload runs."""

    def __init__(self, server: common.Server):
        self.server = server
        self.baseline = {p.pid: p.memory_info().rss for p in server.workers_processes()}
        self.peak = dict(self.baseline)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for proc in self.server.workers_processes():
                try:
                    rss = proc.memory_info().rss
                except Exception:
                    continue
                self.peak[proc.pid] = max(self.peak.get(proc.pid, 0), rss)
            time.sleep(0.02)

    def __enter__(self) -> RssWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()

    def growth_mb(self) -> float:
        return round(
            max(self.peak[pid] - self.baseline.get(pid, self.peak[pid]) for pid in self.peak) / 2**20, 1
        )


def local_upload(stack: common.ToolStack, content: dict[str, str]) -> dict[str, Any]:
    common.log(f"uploading {UPLOAD_BYTES / 1e9:.0f} GB to the course editor (local media storage)")
    with RssWatcher(stack.tool) as watcher:
        result = upload_video(stack.tool, stack, content["module"], UPLOAD_BYTES)
    result.update(
        worker_rss_before_mb=round(max(watcher.baseline.values()) / 2**20, 1),
        worker_rss_peak_mb=round(max(watcher.peak.values()) / 2**20, 1),
        worker_growth_mb=watcher.growth_mb(),
        target="the receiving worker grows by < 64 MB",
    )
    # Free the disk at once: the file served its purpose.
    media = Path(stack.env["MEDIA_DIR"])
    stored = sum(f.stat().st_size for f in media.rglob("*") if f.is_file()) if media.exists() else 0
    result["stored_bytes"] = stored
    shutil.rmtree(media, ignore_errors=True)
    common.log(f"1 GB upload: worker grew by {result['worker_growth_mb']} MB in {result['seconds']} s")
    return result


def s3_learner_url(stack: common.ToolStack, content: dict[str, str]) -> dict[str, Any]:
    """A second tool server on the same database with MEDIA_STORAGE=s3 (a local SeaweedFS):
    a teacher uploads a video, a learner opens it, and the page's media URL is checked and fetched."""
    from tests.support.s3_server import S3Server

    root = stack.work_dir / f"s3-{stack.run_id}"
    server = S3Server(root).start()
    tool = None
    try:
        env = dict(stack.env)
        env.update({k: str(v) for k, v in server.settings().items()})
        tool = common.Server("tool-s3", "wsgi:app", env, stack.work_dir, workers=1)
        tool.start()
        upload = upload_video(tool, stack, content["module"], 256 * 1024)
        item = upload["location"].split("/courses/i/")[-1].split("?")[0]
        stack.python(
            "import sys\nfrom sqlalchemy import select\nfrom lti_tool.app import create_app\nfrom lti_tool.db import db\n"
            "from courses import service\nfrom courses.models import Item\nfrom lti_tool.models import User\n"
            "app = create_app()\nwith app.app_context():\n"
            "    item = db.session.scalar(select(Item).where(Item.public_id == sys.argv[1]))\n"
            "    teacher = db.session.scalar(select(User).where(User.sub == sys.argv[2]))\n"
            "    actor = service.Actor(platform_id=item.platform_id, user_pk=teacher.id, context_pk=None, instructor=True)\n"
            "    service.set_item_published(actor, item, True)\n    db.session.commit()\n",
            item,
            TEACHER,
        )
        client = common.Client(tool.port, 0, {})
        try:
            common.launch_once(
                client, common.platform_data(stack), "media-learner", custom={"course_item": item}
            )
            path = client.state["landed_on"]
            client.conn.request("GET", path[path.index("/courses/") :])
            response = client.conn.getresponse()
            page = response.read().decode()
        finally:
            client.conn.close()
        found = re.search(r'<video[^>]*\ssrc="([^"]+)"', page)
        if not found:
            raise RuntimeError("the learner's item page has no video URL")
        url = html.unescape(found.group(1))
        parts, tool_origin = urlsplit(url), urlsplit(tool.url)
        store = urlsplit(server.endpoint_url)
        other_origin = (parts.scheme, parts.netloc) != (tool_origin.scheme, tool_origin.netloc)
        presigned = "X-Amz-Signature=" in parts.query and "X-Amz-Expires=" in parts.query
        fetch = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        fetch.request("GET", parts.path + "?" + parts.query)
        fetched = fetch.getresponse()
        data = fetched.read()
        fetch.close()
        result = {
            "learner_url_origin": f"{parts.scheme}://{parts.netloc}",
            "tool_origin": tool.url,
            "store_origin": f"{store.scheme}://{store.netloc}",
            "other_origin": other_origin,
            "on_store_origin": parts.netloc == store.netloc,
            "presigned": presigned,
            "fetched_from_store": fetched.status == 200 and len(data) == 256 * 1024,
        }
        result["ok"] = all((other_origin, result["on_store_origin"], presigned, result["fetched_from_store"]))
        common.log(
            f"S3: learner URL on {result['learner_url_origin']}, presigned={presigned}, fetched={result['fetched_from_store']}"
        )
        return result
    finally:
        if tool is not None:
            tool.stop()
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def worker_memory(stack: common.ToolStack) -> dict[str, Any]:
    sizes = stack.tool.worker_rss_mb()
    common.log(f"web workers after the load: {sizes} MB resident")
    return {"worker_rss_mb": sizes, "max_mb": max(sizes) if sizes else None, "target": "< 150 MB each"}


def run(stack: common.ToolStack, content: dict[str, str] | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {"after_load": worker_memory(stack)}
    if not courses_installed(stack):
        result["media"] = "not measured: the courses package (media upload) is not installed"
        return result
    content = content or create_course_content(stack)
    try:
        result["upload_1gb_local"] = local_upload(stack, content)
    except Exception as exc:  # reported in the results instead of stopping the other figures
        result["upload_1gb_local"] = {"error": repr(exc)}
        common.log(f"1 GB upload failed: {exc!r}")
    try:
        result["s3_learner_url"] = s3_learner_url(stack, content)
    except Exception as exc:
        result["s3_learner_url"] = {"error": repr(exc)}
        common.log(f"S3 check failed: {exc!r}")
    return result


def main() -> None:
    from bench import launch_bench

    with common.tool_stack(common.ROOT / "bench" / "out") as stack:
        bare = launch_bench.measure_bare(stack, (8,))
        launch_bench.run(stack, bare, (8,))
        result = run(stack)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    started = time.monotonic()
    main()
    common.log(f"done in {time.monotonic() - started:.0f} s")
