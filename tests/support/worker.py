"""Real `flask worker` processes for tests, on the test's database and Redis namespace.

    with WorkerProcess(app, "grades") as worker:
        ...                       # enqueue and commit; the worker runs the jobs
        wait_for(lambda: ...)     # poll for the outcome

The process gets the app's full settings through the environment, exactly as a deployment would.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import tempfile
import time
from typing import Callable

from flask import Flask
from rq import Worker

from config.settings import PROJECT_ROOT
from lti_tool import jobs


def settings_environment(app: Flask, **extra: str) -> dict[str, str]:
    settings = app.config["SETTINGS"]
    env = {key: value for key, value in os.environ.items() if not key.startswith(("FLASK_", "PYTEST_"))}
    for field in dataclasses.fields(settings):
        if field.name == "extra":
            continue
        value = getattr(settings, field.name)
        env[field.name] = ("1" if value else "0") if isinstance(value, bool) else str(value)
    env.update(extra)
    return env


def wait_for(condition: Callable[[], object], timeout: float = 20.0, interval: float = 0.05, message: str = ""):
    """Poll until `condition()` is truthy; return its value, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(message or f"condition not met within {timeout} s")
        time.sleep(interval)


class WorkerProcess:
    """`flask worker QUEUES...` as a subprocess; its output is kept for failing tests to show."""

    def __init__(self, app: Flask, *queues: str, args: tuple[str, ...] = ("--no-periodic",), env: dict | None = None):
        self.app = app
        self.queues = queues
        self.args = args
        self.env = settings_environment(app, LOG_JSON="0", **(env or {}))
        handle, self.log_path = tempfile.mkstemp(prefix="worker-", suffix=".log")
        os.close(handle)
        self.process: subprocess.Popen | None = None

    def start(self, wait: bool = True) -> "WorkerProcess":
        with open(self.log_path, "w") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "wsgi", "worker", *self.queues, *self.args],
                cwd=PROJECT_ROOT,
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if wait and "--burst" not in self.args:
            wait_for(self.registered, timeout=30, message="the worker did not start:\n" + self.log_tail)
        return self

    def registered(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"the worker exited with {self.process.returncode}:\n{self.log_tail}")
        connection = jobs.redis_connection(self.app)
        prefix = jobs.job_id_prefix(self.app)
        return any(
            worker.name.startswith(prefix) and worker.pid == self.process.pid
            for worker in Worker.all(connection=connection)
        )

    @property
    def log_tail(self) -> str:
        with open(self.log_path) as output:
            return output.read()[-6000:]

    def wait(self, timeout: float = 60) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Kill the worker (and a forked job child) at once, as a crash or OOM would."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)  # warm shutdown: finish the current job
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()

    def __enter__(self) -> "WorkerProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def run_burst(app: Flask, *queues: str, args: tuple[str, ...] = (), env: dict | None = None) -> str:
    """Run `flask worker --burst` until the queues are empty; returns its output."""
    worker = WorkerProcess(app, *queues, args=("--burst", "--no-periodic", *args), env=env).start()
    code = worker.wait()
    assert code == 0, f"the worker exited with {code}:\n{worker.log_tail}"
    return worker.log_tail
