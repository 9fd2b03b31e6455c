"""What every benchmark shares: throwaway PostgreSQL database and Redis prefix, gunicorn servers on
free loopback ports, a cheap multi-process load generator, percentiles, and CPU accounting of both
the generator and the server processes.

Everything here talks to 127.0.0.1 only, and everything it starts it also stops.
"""

from __future__ import annotations

import base64
import http.client
import json
import multiprocessing
import os
import platform as platform_module
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator

import psutil
import psycopg
import redis
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
POSTGRES_ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_URL", os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0"))
# gunicorn workers for the tool and the baseline alike: one per core on the two-core machine.
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
DURATION = float(os.environ.get("BENCH_DURATION", "6"))
WARMUP = float(os.environ.get("BENCH_WARMUP", "2"))
CONCURRENCY = tuple(int(c) for c in os.environ.get("BENCH_CONCURRENCY", "8,32").split(","))

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def machine() -> dict[str, Any]:
    cpu_model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform_module.python_version(),
        "kernel": platform_module.release(),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


# --- percentiles ------------------------------------------------------------------------------


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted list (0 for an empty one)."""
    if not sorted_values:
        return 0.0
    rank = max(1, min(len(sorted_values), int(-(-fraction * len(sorted_values) // 1))))
    return sorted_values[rank - 1]


def summarize_latencies(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50_ms": round(percentile(ordered, 0.50) * 1000, 2),
        "p90_ms": round(percentile(ordered, 0.90) * 1000, 2),
        "p99_ms": round(percentile(ordered, 0.99) * 1000, 2),
        "max_ms": round((ordered[-1] if ordered else 0.0) * 1000, 2),
    }


# --- throwaway database and Redis prefix ---------------------------------------------------------


def _with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


@contextmanager
def throwaway_database(run_id: str) -> Iterator[str]:
    name = f"lti_bench_{run_id}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(POSTGRES_ADMIN_URL, name)
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def throwaway_redis_prefix(run_id: str) -> Iterator[str]:
    prefix = f"lti-bench-{run_id}:"
    try:
        yield prefix
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(match=prefix + "*", count=1000):
            client.delete(key)
        client.close()


# --- CPU accounting ---------------------------------------------------------------------------


def process_tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def cpu_seconds(processes: list[psutil.Process]) -> dict[int, float]:
    """user+system CPU seconds of each live process, by pid."""
    seen: dict[int, float] = {}
    for proc in processes:
        try:
            times = proc.cpu_times()
            seen[proc.pid] = times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return seen


def database_processes(database_url: str) -> list[psutil.Process]:
    """PostgreSQL backends serving this database (their title names it) and the Redis server."""
    name = database_url.rpartition("/")[2]
    found = []
    for proc in psutil.process_iter(["cmdline", "name"]):
        try:
            title = " ".join(proc.info["cmdline"] or [])
            if (name and f" {name} " in title) or (proc.info["name"] or "").startswith("redis-server"):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return found


def machine_busy_seconds() -> float:
    times = psutil.cpu_times()
    return (
        sum(times)
        - times.idle
        - getattr(times, "iowait", 0.0)
        - getattr(times, "guest", 0.0)
        - getattr(times, "guest_nice", 0.0)
    )


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    # A process that appeared in between counts from zero; one that vanished is lost (workers are
    # not recycled during a benchmark: --max-requests 0).
    return sum(after[pid] - before.get(pid, 0.0) for pid in after)


# --- gunicorn ---------------------------------------------------------------------------------


class Server:
    """A gunicorn server for `app_spec` on a free loopback port, with the project's gunicorn.conf.py.

    The worker count, bind address and request recycling are set on the command line (which wins
    over the config file); everything else is the production configuration.
    """

    def __init__(
        self,
        name: str,
        app_spec: str,
        env: dict[str, str],
        log_dir: Path,
        *,
        workers: int = WORKERS,
        ready_path: str = "/healthz",
    ):
        self.name = name
        self.app_spec = app_spec
        self.env = env
        self.workers = workers
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.ready_path = ready_path
        self.log_path = log_dir / f"{name}.log"
        self.log_dir = log_dir
        self.proc: subprocess.Popen | None = None

    def start(self) -> Server:
        log(f"starting {self.name}: gunicorn {self.app_spec} with {self.workers} workers on {self.url}")
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "-c",
                str(ROOT / "gunicorn.conf.py"),
                "--bind",
                f"{HOST}:{self.port}",
                "--workers",
                str(self.workers),
                # Recycling would throw away the workers whose CPU and memory are being measured.
                "--max-requests",
                "0",
                "--access-logfile",
                "/dev/null",
                # Several servers run at once: none may take over another's (or a developer's) control socket.
                "--no-control-socket",
                self.app_spec,
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited during start; see {self.log_path}")
            try:
                status, _ = http_get(self.port, self.ready_path, timeout=2)
                if status == 200 and len(self.workers_processes()) >= self.workers:
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not answer {self.ready_path} within 60 s; see {self.log_path}")

    def processes(self) -> list[psutil.Process]:
        return process_tree(self.proc.pid) if self.proc else []

    def workers_processes(self) -> list[psutil.Process]:
        return self.processes()[1:]

    def worker_rss_mb(self) -> list[float]:
        sizes = []
        for proc in self.workers_processes():
            try:
                sizes.append(round(proc.memory_info().rss / 2**20, 1))
            except psutil.NoSuchProcess:
                pass
        return sizes

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=35)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self._log.close()


def http_get(
    port: int, path: str, *, timeout: float = 10, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


# --- the platform the generator plays ----------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class BenchPlatform:
    """An LMS for the benchmark: its RSA key, a JWKS served over HTTP, id_tokens signed with
    `cryptography` directly (one RSA signature per launch is the generator's largest cost)."""

    def __init__(self, deployment_id: str = "bench-deployment", client_id: str = "bench-client"):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "bench-key-1"
        self.client_id = client_id
        self.deployment_id = deployment_id
        self.port = free_port()
        self.issuer = f"http://{HOST}:{self.port}"
        self.jwks_url = self.issuer + "/jwks"
        self.auth_url = self.issuer + "/auth"
        self.token_url = self.issuer + "/token"
        self.jwks_requests = 0
        numbers = self.key.public_key().public_numbers()
        self.jwks_body = json.dumps(
            {
                "keys": [
                    {
                        "kty": "RSA",
                        "alg": "RS256",
                        "use": "sig",
                        "kid": self.kid,
                        "n": _b64(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
                        "e": _b64(numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")),
                    }
                ]
            }
        ).encode()
        self.header_b64 = _b64(json.dumps({"alg": "RS256", "typ": "JWT", "kid": self.kid}).encode())
        self._server: ThreadingHTTPServer | None = None

    def serve(self) -> None:
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                if self.path.split("?")[0] == "/jwks":
                    platform.jwks_requests += 1
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(platform.jwks_body)))
                    self.end_headers()
                    self.wfile.write(platform.jwks_body)
                else:
                    self.send_error(404)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((HOST, self.port), Handler)
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        ).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def login_query(self, tool_url: str, user: str, resource_link: str = "bench-link-1") -> str:
        return (
            f"/lti/login?iss={self.issuer}&login_hint={user}&target_link_uri={tool_url}/lti/launch"
            f"&client_id={self.client_id}&lti_deployment_id={self.deployment_id}&lti_message_hint={resource_link}"
        )

    def claims(
        self,
        *,
        nonce: str,
        user: str,
        tool_url: str,
        resource_link: str = "bench-link-1",
        custom: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """What Moodle sends for a learner opening an activity: ~2.6 KB once signed, like the real thing."""
        now = int(time.time())
        context = "bench-course-1"
        return {
            "iss": self.issuer,
            "aud": self.client_id,
            "azp": self.client_id,
            "sub": user,
            "iat": now,
            "exp": now + 60,
            "nonce": nonce,
            "name": f"Learner {user}",
            "given_name": "Learner",
            "family_name": user,
            "email": f"{user}@example.edu",
            "locale": "en",
            CLAIM + "message_type": "LtiResourceLinkRequest",
            CLAIM + "version": "1.3.0",
            CLAIM + "deployment_id": self.deployment_id,
            CLAIM + "target_link_uri": f"{tool_url}/lti/launch",
            CLAIM + "roles": [LEARNER, "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Student"],
            CLAIM + "resource_link": {
                "id": resource_link,
                "title": "Week 1: the night sky",
                "description": "",
            },
            CLAIM + "context": {
                "id": context,
                "title": "Astronomy for everyone",
                "label": "ASTRO101",
                "type": ["http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"],
            },
            CLAIM + "tool_platform": {
                "guid": "bench.example.edu",
                "name": "Benchmark LMS",
                "version": "2024100700",
                "product_family_code": "moodle",
            },
            CLAIM + "launch_presentation": {
                "locale": "en",
                "document_target": "iframe",
                "return_url": f"{self.issuer}/mod/lti/return.php?course=2&launch_container=3&instanceid=1",
            },
            CLAIM + "lis": {"person_sourcedid": "", "course_section_sourcedid": ""},
            CLAIM + "custom": custom or {},
            "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint": {
                "scope": [
                    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
                    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly",
                    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
                    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
                ],
                "lineitems": f"{self.issuer}/mod/lti/services.php/2/lineitems?type_id=1",
                "lineitem": f"{self.issuer}/mod/lti/services.php/2/lineitems/1/lineitem?type_id=1",
            },
            "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice": {
                "context_memberships_url": f"{self.issuer}/mod/lti/services.php/CourseSection/2/bindings/1/memberships",
                "service_versions": ["1.0", "2.0"],
            },
            "https://purl.imsglobal.org/spec/lti/claim/ext": {"user_username": user, "lms": "moodle-2"},
        }

    def sign(self, claims: dict[str, Any]) -> str:
        signing_input = self.header_b64 + "." + _b64(json.dumps(claims, separators=(",", ":")).encode())
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + _b64(signature)


# --- the environment of the tool under test ----------------------------------------------------


@dataclass
class ToolStack:
    """A tool on PostgreSQL and Redis, served by gunicorn, registered with a BenchPlatform, and the
    bare Flask baseline under the same gunicorn configuration."""

    run_id: str
    work_dir: Path
    database_url: str
    redis_prefix: str
    platform: BenchPlatform
    env: dict[str, str]
    tool: Server
    bare: Server
    extra: dict[str, Any] = field(default_factory=dict)

    def flask(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(BIN / "flask"), "--app", "wsgi", *args],
            cwd=ROOT,
            env=self.env,
            check=check,
            capture_output=True,
            text=True,
        )

    def python(self, code: str, *args: str) -> str:
        """Run `code` in a fresh interpreter with the tool's environment (an app is built there)."""
        result = subprocess.run(
            [sys.executable, "-c", code, *args], cwd=ROOT, env=self.env, capture_output=True, text=True
        )
        if result.returncode != 0:
            raise RuntimeError(f"setup script failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout


def tool_environment(
    database_url: str, redis_prefix: str, instance_dir: Path, base_url: str
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOOL_", "DATABASE_", "REDIS_"))}
    env.update(
        TOOL_ENV="production",
        SECRET_KEY=secrets.token_urlsafe(32),
        KEY_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        DATABASE_URL=database_url,
        REDIS_URL=REDIS_URL,
        REDIS_KEY_PREFIX=redis_prefix,
        INSTANCE_PATH=str(instance_dir),
        MEDIA_DIR=str(instance_dir / "media"),
        TOOL_BASE_URL=base_url,
        WEB_ACCESS_LOG="0",
        PYTHONUNBUFFERED="1",
    )
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return env


@contextmanager
def tool_stack(work_dir: Path, *, serve: bool = True) -> Iterator[ToolStack]:
    """Database, Redis prefix, platform and registration; with `serve`, the two servers running."""
    run_id = uuid.uuid4().hex[:10]
    work_dir.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        database_url = stack.enter_context(throwaway_database(run_id))
        prefix = stack.enter_context(throwaway_redis_prefix(run_id))
        platform = BenchPlatform()
        platform.serve()
        stack.callback(platform.stop)
        instance = work_dir / f"instance-{run_id}"
        instance.mkdir()
        stack.callback(shutil.rmtree, instance, True)
        tool_port = free_port()
        env = tool_environment(database_url, prefix, instance, f"http://{HOST}:{tool_port}")
        tool = Server("tool", "wsgi:app", env, work_dir)
        tool.port, tool.url = tool_port, f"http://{HOST}:{tool_port}"
        bare = Server("bare", "bench.bare_app:app", env, work_dir, ready_path="/")
        result = ToolStack(run_id, work_dir, database_url, prefix, platform, env, tool, bare)
        log(f"database {database_url.rpartition('/')[2]}, Redis prefix {prefix}")
        result.flask("db", "upgrade", "heads")
        result.flask("keys", "ensure")
        result.flask(
            "platform",
            "add",
            "--issuer",
            platform.issuer,
            "--client-id",
            platform.client_id,
            "--auth-url",
            platform.auth_url,
            "--token-url",
            platform.token_url,
            "--jwks-url",
            platform.jwks_url,
            "--deployment-id",
            platform.deployment_id,
            "--name",
            "Benchmark LMS",
        )
        if serve:
            stack.callback(bare.stop)
            stack.callback(tool.stop)
            bare.start()
            tool.start()
        yield result


# --- the load generator -----------------------------------------------------------------------


class Client:
    """One simulated user: one persistent keep-alive connection, reused for every request."""

    def __init__(self, port: int, index: int, context: dict[str, Any]):
        self.port = port
        self.index = index
        self.context = context
        self.conn = http.client.HTTPConnection(HOST, port, timeout=30)
        self.state: dict[str, Any] = {}

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> http.client.HTTPResponse:
        for attempt in (0, 1):
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                response = self.conn.getresponse()
                response.read()
                if response.will_close:
                    self.conn.close()
                return response
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # The server closed an idle keep-alive connection: reconnect once.
                self.conn.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")


# A scenario is a pair of functions run in the generator's processes:
#   setup(client) once per client before the clock starts, and
#   step(client) -> list of (label, seconds) for each timed operation; raises on a wrong answer.
Scenario = tuple[Callable[[Client], None] | None, Callable[[Client], list[tuple[str, float]]]]


@dataclass
class LoadResult:
    clients: int
    duration: float
    operations: int
    errors: int
    rate: float
    latency: dict[str, dict[str, float]]
    generator_cpu_s: float
    server_cpu_s: float
    first_error: str | None = None
    # PostgreSQL backends of this database and the Redis server, over the same window.
    data_cpu_s: float = 0.0
    # Everything else the machine ran meanwhile (other people's work on a shared machine).
    other_cpu_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "clients": self.clients,
            "duration_s": round(self.duration, 2),
            "operations": self.operations,
            "errors": self.errors,
            "rate_per_s": round(self.rate, 1),
            "latency": self.latency,
            "generator_cpu_s": round(self.generator_cpu_s, 2),
            "server_cpu_s": round(self.server_cpu_s, 2),
            "postgres_redis_cpu_s": round(self.data_cpu_s, 2),
            "other_processes_cpu_s": round(self.other_cpu_s, 2),
            "generator_cpu_share": round(self.generator_cpu_s / (self.generator_cpu_s + self.server_cpu_s), 3)
            if self.generator_cpu_s + self.server_cpu_s
            else 0.0,
            "first_error": self.first_error,
        }


def _generator_process(
    port: int,
    first_index: int,
    count: int,
    scenario_ref: tuple[str, str],
    context: dict[str, Any],
    start_at: float,
    measure_from: float,
    stop_at: float,
    out: Any,
) -> None:
    module_name, attr = scenario_ref
    module = __import__(module_name, fromlist=[attr])
    setup, step = getattr(module, attr)(context)
    clients = [Client(port, first_index + i, context) for i in range(count)]
    samples: list[list[tuple[float, list[tuple[str, float]]]]] = [[] for _ in clients]
    errors = [0] * count
    first_error: list[str] = []

    def run(i: int) -> None:
        client = clients[i]
        try:
            if setup is not None:
                setup(client)
        except Exception as exc:  # reported, and this client sits the run out
            errors[i] += 1
            first_error.append(f"setup: {exc!r}")
            return
        while time.monotonic() < start_at:
            time.sleep(0.001)
        mine = samples[i]
        while True:
            began = time.monotonic()
            if began >= stop_at:
                break
            try:
                timings = step(client)
            except Exception as exc:
                if time.monotonic() >= measure_from:
                    errors[i] += 1
                if not first_error:
                    first_error.append(repr(exc))
                client.conn.close()
                continue
            mine.append((time.monotonic(), timings))

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    while time.monotonic() < measure_from:
        time.sleep(0.005)
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    while time.monotonic() < stop_at:
        time.sleep(0.005)
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    for thread in threads:
        thread.join(timeout=30)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    counted: dict[str, list[float]] = {}
    operations = 0
    for per_client in samples:
        for finished, timings in per_client:
            if measure_from <= finished < stop_at:
                operations += 1
                for label, seconds in timings:
                    counted.setdefault(label, []).append(seconds)
    out.send(
        {
            "operations": operations,
            "errors": sum(errors),
            "cpu": cpu,
            "latencies": counted,
            "first_error": first_error[0] if first_error else None,
        }
    )
    out.close()
    for client in clients:
        client.conn.close()


def run_load(
    server: Server,
    scenario_ref: tuple[str, str],
    context: dict[str, Any],
    clients: int,
    *,
    duration: float = DURATION,
    warmup: float = WARMUP,
    processes: int | None = None,
    setup_seconds: float = 3.0,
    database_url: str = "",
) -> LoadResult:
    """Drive `server` with `clients` concurrent clients spread over a few generator processes.

    The scenario is named as (module, factory) so the generator processes build it themselves.
    Only operations that finish inside the measured window count; CPU of the generator processes
    and of the server's processes is measured over that same window.
    """
    processes = processes or min(clients, int(os.environ.get("BENCH_GENERATOR_PROCESSES", "2")))
    per_process = [clients // processes + (1 if i < clients % processes else 0) for i in range(processes)]
    start_at = time.monotonic() + setup_seconds
    measure_from = start_at + warmup
    stop_at = measure_from + duration
    ctx = multiprocessing.get_context("fork")
    pipes, procs = [], []
    first = 0
    for count in per_process:
        receiver, sender = ctx.Pipe(duplex=False)
        proc = ctx.Process(
            target=_generator_process,
            args=(server.port, first, count, scenario_ref, context, start_at, measure_from, stop_at, sender),
            daemon=True,
        )
        proc.start()
        sender.close()
        pipes.append(receiver)
        procs.append(proc)
        first += count
    server_procs = server.processes()
    data_procs = database_processes(database_url or server.env.get("DATABASE_URL", ""))
    while time.monotonic() < measure_from:
        time.sleep(0.005)
    server_before, data_before, busy_before = (
        cpu_seconds(server_procs),
        cpu_seconds(data_procs),
        machine_busy_seconds(),
    )
    while time.monotonic() < stop_at:
        time.sleep(0.005)
    server_after, data_after, busy_after = (
        cpu_seconds(server_procs),
        cpu_seconds(data_procs),
        machine_busy_seconds(),
    )
    reports = []
    for receiver, proc in zip(pipes, procs):
        if receiver.poll(60):
            reports.append(receiver.recv())
        proc.join(timeout=10)
        if proc.is_alive():
            proc.kill()
            proc.join()
    latencies: dict[str, list[float]] = {}
    for report in reports:
        for label, values in report["latencies"].items():
            latencies.setdefault(label, []).extend(values)
    operations = sum(r["operations"] for r in reports)
    errors = sum(r["errors"] for r in reports)
    if len(reports) < len(procs):
        errors += 1
    first_error = next((r["first_error"] for r in reports if r["first_error"]), None)
    return LoadResult(
        clients=clients,
        duration=duration,
        operations=operations,
        errors=errors,
        rate=operations / duration,
        latency={label: summarize_latencies(values) for label, values in latencies.items()},
        generator_cpu_s=sum(r["cpu"] for r in reports),
        server_cpu_s=cpu_delta(server_before, server_after),
        first_error=first_error,
        data_cpu_s=cpu_delta(data_before, data_after),
        other_cpu_s=max(
            0.0,
            (busy_after - busy_before)
            - sum(r["cpu"] for r in reports)
            - cpu_delta(server_before, server_after)
            - cpu_delta(data_before, data_after),
        ),
    )


# --- scenarios shared by several benchmarks -----------------------------------------------------


def get_scenario(context: dict[str, Any]) -> Scenario:
    """GET one path; 200 expected."""
    path = context["path"]

    def step(client: Client) -> list[tuple[str, float]]:
        began = time.perf_counter()
        response = client.request("GET", path)
        elapsed = time.perf_counter() - began
        if response.status != 200:
            raise RuntimeError(f"GET {path}: HTTP {response.status}")
        return [("request", elapsed)]

    return None, step


def _query_value(location: str, name: str) -> str:
    # Minimal parsing: state and nonce are URL-safe tokens, so no unquoting is needed.
    start = location.index("&" + name + "=") + len(name) + 2
    end = location.find("&", start)
    return location[start:] if end < 0 else location[start:end]


def launch_once(
    client: Client,
    platform_data: dict[str, Any],
    user: str,
    custom: dict[str, str] | None = None,
    roles: list[str] | None = None,
) -> tuple[str, float, float]:
    """One complete LTI launch as the LMS and the browser make it: the login request, the
    platform's signed id_token (signing is not timed), the launch POST with the state cookie.
    Returns the launch id and the two timed round trips."""
    began = time.perf_counter()
    response = client.request("GET", platform_data["login_path"].replace("{user}", user))
    login_time = time.perf_counter() - began
    if response.status != 302:
        raise RuntimeError(f"login: HTTP {response.status}")
    location = response.getheader("Location") or ""
    state = _query_value(location, "state")
    nonce = _query_value(location, "nonce")
    cookie = (response.getheader("Set-Cookie") or "").split(";", 1)[0]
    claims = platform_data["claims_template"].copy()
    now = int(time.time())
    claims.update(
        sub=user,
        nonce=nonce,
        iat=now,
        exp=now + 60,
        name=f"Learner {user}",
        family_name=user,
        email=f"{user}@example.edu",
    )
    if custom:
        claims[CLAIM + "custom"] = custom
    if roles:
        claims[CLAIM + "roles"] = roles
    id_token = platform_data["sign"](claims)
    body = f"id_token={id_token}&state={state}".encode()
    began = time.perf_counter()
    response = client.request(
        "POST",
        "/lti/launch",
        body=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie},
    )
    launch_time = time.perf_counter() - began
    if response.status != 303:
        raise RuntimeError(f"launch: HTTP {response.status}")
    target = response.getheader("Location") or ""
    client.state["landed_on"] = target
    return target.rpartition("launch_id=")[2].partition("&")[0], login_time, launch_time


def platform_data(stack: ToolStack) -> dict[str, Any]:
    """What the generator processes need of the platform (inherited across fork)."""
    platform = stack.platform
    template = platform.claims(nonce="", user="", tool_url=stack.tool.url)
    return {
        "login_path": platform.login_query(stack.tool.url, "{user}"),
        "claims_template": template,
        "sign": platform.sign,
    }
