"""Typed settings built from environment variables, with embedded defaults.

With no environment at all the tool runs on its embedded defaults: SQLite and media under
`instance/`, jobs in-process, and development secrets generated into `instance/` on first run.
`TOOL_ENV=production` refuses to start unless the secrets and the database are given explicitly.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from cryptography.fernet import Fernet

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENVIRONMENTS = ("development", "testing", "production")
REQUIRED_IN_PRODUCTION = ("SECRET_KEY", "KEY_ENCRYPTION_KEY", "DATABASE_URL")


class SettingsError(RuntimeError):
    """The environment does not describe a runnable tool; the message says what to fix."""


@dataclass(frozen=True)
class Settings:
    TOOL_ENV: str = "development"
    TOOL_NAME: str = "Course Studio"
    TOOL_DESCRIPTION: str = "Courses, media and quizzes for your LMS, with grades sent back."
    # Public base URL (scheme and host) the LMS reaches the tool at. Empty: taken from each request.
    TOOL_BASE_URL: str = ""
    INSTANCE_PATH: str = str(PROJECT_ROOT / "instance")
    # Number of reverse proxies in front of the tool whose X-Forwarded-* headers are trusted.
    PROXY_FIX_HOPS: int = 0

    SECRET_KEY: str = ""
    # A Fernet key (urlsafe base64 of 32 bytes) that encrypts the tool's private keys at rest.
    KEY_ENCRYPTION_KEY: str = ""

    DATABASE_URL: str = ""
    # Empty: embedded mode (launch data and caches in the database, jobs run in-process).
    REDIS_URL: str = ""
    # Prepended to every Redis key this tool writes, so several tools or test runs share a server.
    REDIS_KEY_PREFIX: str = "lti:"

    MEDIA_STORAGE: str = "local"
    MEDIA_DIR: str = ""

    # Seconds of clock drift tolerated on `iat`/`exp`. LMS clocks drift; zero breaks real launches.
    LAUNCH_LEEWAY_SECONDS: int = 60
    # How long a launch stays usable by the pages it opens (seconds).
    LAUNCH_TTL_SECONDS: int = 8 * 3600
    # How long an OIDC login may take before its state expires (seconds).
    LOGIN_STATE_TTL_SECONDS: int = 600
    # How long a platform's JWKS is trusted before it is fetched again (seconds).
    PLATFORM_JWKS_TTL_SECONDS: int = 3600
    # At most one refetch per platform key set in this many seconds when a token names an unknown kid.
    PLATFORM_JWKS_REFETCH_INTERVAL_SECONDS: int = 30
    # Timeout of every outgoing HTTP call to a platform (seconds).
    HTTP_TIMEOUT_SECONDS: float = 10.0
    # A retired tool key stays in the JWKS this long after rotation, so tokens it signed still verify.
    KEY_RETIRE_GRACE_SECONDS: int = 24 * 3600

    # Extra origins allowed to frame the tool (space-separated), beyond the registered platforms'
    # (e.g. a Canvas custom domain such as https://lms.university.edu).
    FRAME_ANCESTORS: str = ""
    LOG_LEVEL: str = "INFO"
    # One JSON object per log line (request id, platform, launch id); off for plain text.
    LOG_JSON: bool = True
    # Bearer token that protects /metrics. Empty: open in development, not served in production.
    METRICS_TOKEN: str = ""

    # The development LMS at /dev/lms: on by default in development, never in production.
    DEV_PLATFORM: bool = True

    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_production(self) -> bool:
        return self.TOOL_ENV == "production"

    @property
    def embedded_queue(self) -> bool:
        return not self.REDIS_URL


_TYPES = {f.name: f.type for f in dataclasses.fields(Settings)}


def _parse(name: str, raw: Any) -> Any:
    kind = _TYPES[name]
    if not isinstance(raw, str):
        return raw
    try:
        if kind == "bool":
            lowered = raw.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(raw)
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a valid {kind}") from None
    return raw


def load_settings(
    environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
) -> Settings:
    """Build settings from `environ` (default: os.environ), then apply `overrides` (tests)."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for name in _TYPES:
        if name == "extra":
            continue
        if name in environ:
            values[name] = _parse(name, environ[name])
    for name, value in (overrides or {}).items():
        if name not in _TYPES:
            raise SettingsError(f"unknown setting {name}")
        values[name] = _parse(name, value)

    env = values.get("TOOL_ENV", Settings.TOOL_ENV)
    if env not in ENVIRONMENTS:
        raise SettingsError(f"TOOL_ENV must be one of {', '.join(ENVIRONMENTS)}, not {env!r}")

    if env == "production":
        missing = [name for name in REQUIRED_IN_PRODUCTION if not values.get(name)]
        if missing:
            raise SettingsError(
                "TOOL_ENV=production refuses to start without "
                + ", ".join(missing)
                + ": set "
                + ("it" if len(missing) == 1 else "them")
                + " in the environment."
            )
        values["DEV_PLATFORM"] = False
    instance = Path(values.get("INSTANCE_PATH") or Settings.INSTANCE_PATH)
    values["INSTANCE_PATH"] = str(instance)
    if env != "production":
        values.update(_development_secrets(instance, values))
    if not values.get("DATABASE_URL"):
        values["DATABASE_URL"] = f"sqlite:///{instance / 'tool.sqlite3'}"
    if not values.get("MEDIA_DIR"):
        values["MEDIA_DIR"] = str(instance / "media")
    settings = Settings(**values)
    _validate(settings)
    return settings


def _development_secrets(instance: Path, values: Mapping[str, Any]) -> dict[str, str]:
    """Secrets a development or test run needs, kept in instance/ so they survive restarts."""
    wanted = [name for name in ("SECRET_KEY", "KEY_ENCRYPTION_KEY") if not values.get(name)]
    if not wanted:
        return {}
    path = instance / "dev-secrets.json"
    stored: dict[str, str] = {}
    if path.exists():
        stored = json.loads(path.read_text())
    changed = False
    if "SECRET_KEY" not in stored:
        stored["SECRET_KEY"] = secrets.token_urlsafe(48)
        changed = True
    if "KEY_ENCRYPTION_KEY" not in stored:
        stored["KEY_ENCRYPTION_KEY"] = Fernet.generate_key().decode()
        changed = True
    if changed:
        instance.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(stored, indent=2))
        path.chmod(0o600)
    return {name: stored[name] for name in wanted}


def _validate(settings: Settings) -> None:
    try:
        Fernet(settings.KEY_ENCRYPTION_KEY.encode())
    except (ValueError, TypeError):
        raise SettingsError(
            "KEY_ENCRYPTION_KEY must be a Fernet key (32 url-safe base64-encoded bytes); "
            'make one with: python -c "from cryptography.fernet import Fernet; '
            'print(Fernet.generate_key().decode())"'
        ) from None
    if settings.MEDIA_STORAGE not in ("local", "s3"):
        raise SettingsError(f"MEDIA_STORAGE must be 'local' or 's3', not {settings.MEDIA_STORAGE!r}")
    if settings.LAUNCH_LEEWAY_SECONDS < 0 or settings.LAUNCH_LEEWAY_SECONDS > 600:
        raise SettingsError("LAUNCH_LEEWAY_SECONDS must be between 0 and 600")
    if settings.TOOL_BASE_URL and not settings.TOOL_BASE_URL.startswith(("https://", "http://")):
        raise SettingsError("TOOL_BASE_URL must start with https:// (or http:// for local testing)")
