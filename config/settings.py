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
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cryptography.fernet import Fernet
from limits import parse_many as parse_rate_limits

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
    # Fork a child process per job: isolates each job (memory, crashes) at ~1/3 of the throughput.
    WORKER_FORK: bool = False

    # Outgoing mail. Empty SMTP_HOST: emails are written to the log instead (development).
    SMTP_HOST: str = ""
    SMTP_PORT: int = 587
    SMTP_USERNAME: str = ""
    SMTP_PASSWORD: str = ""
    # Upgrade the connection with STARTTLS before logging in (port 587). Off only for local relays.
    SMTP_STARTTLS: bool = True
    # The From address, e.g. "Course Studio <no-reply@lti.example.edu>"; required with SMTP_HOST.
    SMTP_FROM: str = ""
    # Seconds to wait for the mail server before the send is retried later.
    SMTP_TIMEOUT_SECONDS: float = 10.0

    MEDIA_STORAGE: str = "local"
    MEDIA_DIR: str = ""
    # Largest upload accepted (bytes); a larger one is refused with 413 while it streams.
    MEDIA_MAX_UPLOAD_BYTES: int = 1024**3
    # How long a learner's media link works (seconds): presigned S3 URLs and signed local links.
    MEDIA_URL_TTL_SECONDS: int = 600
    # MEDIA_STORAGE=s3: AWS, or any S3-compatible store at S3_ENDPOINT_URL (empty: AWS).
    S3_BUCKET: str = ""
    S3_ENDPOINT_URL: str = ""
    # Where browsers reach the store, when that differs from S3_ENDPOINT_URL (an internal host name).
    S3_PUBLIC_ENDPOINT_URL: str = ""
    S3_REGION: str = "us-east-1"
    # Empty: boto3's own credential chain (AWS_* variables, instance or task role) outside production.
    S3_ACCESS_KEY_ID: str = ""
    S3_SECRET_ACCESS_KEY: str = ""
    # Prepended to every object key, so one bucket can hold several tools' media.
    S3_KEY_PREFIX: str = "media/"
    # "path" (most S3-compatible stores), "virtual" (AWS), or "auto": path when S3_ENDPOINT_URL is set.
    S3_ADDRESSING_STYLE: str = "auto"
    # Multipart part size (bytes, at least 5 MiB): also what one upload holds in memory at a time.
    S3_MULTIPART_PART_BYTES: int = 8 * 1024 * 1024

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
    # Grade passback: tries per score before it is marked failed (429, 5xx and network errors
    # are retried; 400/403/404 fail at once), the first retry wait (doubled each time, with
    # jitter, at most GRADE_RETRY_MAX_SECONDS; an LMS's Retry-After wins when longer), and how
    # long a score may stay pending past its due time before the sweeper queues it again.
    GRADE_DELIVERY_MAX_TRIES: int = 10
    GRADE_RETRY_FIRST_SECONDS: float = 15.0
    GRADE_RETRY_MAX_SECONDS: int = 3600
    GRADE_SWEEP_AFTER_SECONDS: int = 180
    # An instructor launch refreshes the course roster (NRPS) when it is older than this (seconds).
    ROSTER_SYNC_INTERVAL_SECONDS: int = 3600
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
    # OpenTelemetry tracing: an OTLP/HTTP collector's base URL (spans go to <url>/v1/traces).
    # Empty: tracing off.
    OTEL_EXPORTER_OTLP_ENDPOINT: str = ""
    OTEL_SERVICE_NAME: str = "lti-tool"

    # Learning analytics. Chart days are calendar days in this IANA time zone (fixed per event
    # when it is ingested, so a change applies to later events).
    ANALYTICS_TIMEZONE: str = "UTC"
    # A pause longer than this between a learner's events ends a session and is not time on task.
    ANALYTICS_SESSION_GAP_SECONDS: int = 1800
    # Share of a video or audio item a learner must reach for it to count as completed.
    ANALYTICS_COMPLETION_THRESHOLD: float = 0.9
    # Learners at risk: no activity for this many days, or a mean quiz score below this share.
    ANALYTICS_AT_RISK_DAYS: int = 7
    ANALYTICS_AT_RISK_SCORE: float = 0.5
    # Events read and written per ingest transaction.
    ANALYTICS_INGEST_BATCH: int = 5000
    # xAPI exports carry the learner's name when the LMS shared it; off: the LMS account id only.
    ANALYTICS_XAPI_NAMES: bool = False

    # The development LMS at /dev/lms: on by default in development, never in production.
    DEV_PLATFORM: bool = True

    # Platforms registered through LTI Dynamic Registration start as pending until an admin
    # approves them; on, they are accepted at once.
    AUTO_APPROVE_REGISTRATIONS: bool = False
    # A launch from an unknown deployment of a known platform: "reject" it, or record it as
    # "pending" for an admin to approve (the launch is refused until then).
    UNKNOWN_DEPLOYMENTS: str = "reject"
    # Privacy level asked of Canvas (dynamic registration and developer-key JSON): anonymous,
    # name_only, email_only or public. Canvas's own default is anonymous.
    CANVAS_PRIVACY_LEVEL: str = "public"
    # Sign-in attempts allowed per client address (and per account), in Flask-Limiter notation.
    ADMIN_LOGIN_RATE_LIMIT: str = "10 per minute;100 per hour"
    # LTI logins and launches per client address and minute, counted per route (login, launch,
    # storage-check confirmation, relaunch). A whole class behind one campus NAT shares an address:
    # a 1,000-seat lecture opening the tool in the same minute makes about 1,000 logins and 1,000
    # launches, so the default leaves room for that plus reloads; it stops one machine from flooding
    # the launch state store and the LMS key fetches, not a crowd of real students.
    LTI_LAUNCH_RATE_LIMIT: str = "1200 per minute;20000 per hour"
    # Dynamic registration pages per client address: each one fetches the LMS's configuration from
    # the URL it is given, so a loop must not turn the tool into a request cannon. LMS admins
    # register a handful of times a year.
    REGISTRATION_RATE_LIMIT: str = "20 per minute;100 per hour"
    # Let dynamic registration fetch from and post to LMS hosts on private, loopback or link-local
    # networks. On by default for development (a local LMS); off in production unless set, since
    # the registration page is public and would otherwise reach into the tool's own network.
    REGISTRATION_PRIVATE_HOSTS: bool = True
    # How long an admin stays signed in without signing in again (seconds).
    ADMIN_SESSION_TTL_SECONDS: int = 8 * 3600

    # Retention (days; 0 keeps forever), applied hourly by `privacy.jobs.purge_expired`. The
    # launch log is for debugging LMS set-ups; raw events are removed only once analytics has
    # counted them and their subscribers were handed them (the analytics facts stay).
    LAUNCH_LOG_RETENTION_DAYS: int = 90
    EVENT_RETENTION_DAYS: int = 365

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
        values.setdefault("REGISTRATION_PRIVATE_HOSTS", False)
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
    if settings.UNKNOWN_DEPLOYMENTS not in ("reject", "pending"):
        raise SettingsError(f"UNKNOWN_DEPLOYMENTS must be 'reject' or 'pending', not {settings.UNKNOWN_DEPLOYMENTS!r}")
    if settings.CANVAS_PRIVACY_LEVEL not in ("anonymous", "name_only", "email_only", "public"):
        raise SettingsError(
            "CANVAS_PRIVACY_LEVEL must be one of anonymous, name_only, email_only, public, "
            f"not {settings.CANVAS_PRIVACY_LEVEL!r}"
        )
    for name in ("ADMIN_LOGIN_RATE_LIMIT", "LTI_LAUNCH_RATE_LIMIT", "REGISTRATION_RATE_LIMIT"):
        try:
            parse_rate_limits(getattr(settings, name))
        except ValueError:
            raise SettingsError(
                f"{name}={getattr(settings, name)!r} is not a rate limit such as '10 per minute;100 per hour'"
            ) from None
    if settings.GRADE_DELIVERY_MAX_TRIES < 1:
        raise SettingsError("GRADE_DELIVERY_MAX_TRIES must be at least 1")
    if settings.GRADE_RETRY_FIRST_SECONDS <= 0 or settings.GRADE_RETRY_MAX_SECONDS < settings.GRADE_RETRY_FIRST_SECONDS:
        raise SettingsError("GRADE_RETRY_FIRST_SECONDS must be positive and at most GRADE_RETRY_MAX_SECONDS")
    if settings.GRADE_SWEEP_AFTER_SECONDS < 0 or settings.ROSTER_SYNC_INTERVAL_SECONDS < 0:
        raise SettingsError("GRADE_SWEEP_AFTER_SECONDS and ROSTER_SYNC_INTERVAL_SECONDS cannot be negative")
    if settings.MEDIA_STORAGE not in ("local", "s3"):
        raise SettingsError(f"MEDIA_STORAGE must be 'local' or 's3', not {settings.MEDIA_STORAGE!r}")
    _validate_media(settings)
    _validate_analytics(settings)
    _validate_retention(settings)
    if settings.LAUNCH_LEEWAY_SECONDS < 0 or settings.LAUNCH_LEEWAY_SECONDS > 600:
        raise SettingsError("LAUNCH_LEEWAY_SECONDS must be between 0 and 600")
    if settings.SMTP_HOST and not settings.SMTP_FROM:
        raise SettingsError("SMTP_FROM is required with SMTP_HOST: the address emails are sent from")
    if not 0 < settings.SMTP_PORT < 65536:
        raise SettingsError("SMTP_PORT must be a TCP port (1-65535)")
    if settings.TOOL_BASE_URL and not settings.TOOL_BASE_URL.startswith(("https://", "http://")):
        raise SettingsError("TOOL_BASE_URL must start with https:// (or http:// for local testing)")


def _validate_retention(settings: Settings) -> None:
    # The admin area's health page reads the last 7 days of launches and grade events.
    for name in ("LAUNCH_LOG_RETENTION_DAYS", "EVENT_RETENTION_DAYS"):
        days = getattr(settings, name)
        if days != 0 and days < 7:
            raise SettingsError(f"{name} must be 0 (keep forever) or at least 7 days, not {days}")


def _validate_analytics(settings: Settings) -> None:
    try:
        # UTC needs no time zone database (a slim container may have none).
        if settings.ANALYTICS_TIMEZONE != "UTC":
            ZoneInfo(settings.ANALYTICS_TIMEZONE)
    except (ValueError, ZoneInfoNotFoundError):
        raise SettingsError(
            f"ANALYTICS_TIMEZONE={settings.ANALYTICS_TIMEZONE!r} is not an IANA time zone such as 'Europe/Paris'"
        ) from None
    if settings.ANALYTICS_SESSION_GAP_SECONDS < 60:
        raise SettingsError("ANALYTICS_SESSION_GAP_SECONDS must be at least 60")
    if not 0 < settings.ANALYTICS_COMPLETION_THRESHOLD <= 1:
        raise SettingsError("ANALYTICS_COMPLETION_THRESHOLD must be a share above 0 and at most 1, such as 0.9")
    if settings.ANALYTICS_AT_RISK_DAYS < 1:
        raise SettingsError("ANALYTICS_AT_RISK_DAYS must be at least 1")
    if not 0 <= settings.ANALYTICS_AT_RISK_SCORE <= 1:
        raise SettingsError("ANALYTICS_AT_RISK_SCORE must be a share between 0 and 1, such as 0.5")
    if not 100 <= settings.ANALYTICS_INGEST_BATCH <= 50000:
        raise SettingsError("ANALYTICS_INGEST_BATCH must be between 100 and 50000")


def _validate_media(settings: Settings) -> None:
    if settings.MEDIA_MAX_UPLOAD_BYTES < 1:
        raise SettingsError("MEDIA_MAX_UPLOAD_BYTES must be a positive number of bytes")
    # Seven days is the longest a SigV4 presigned URL can live.
    if not 1 <= settings.MEDIA_URL_TTL_SECONDS <= 7 * 24 * 3600:
        raise SettingsError("MEDIA_URL_TTL_SECONDS must be between 1 and 604800 (7 days)")
    if settings.S3_ADDRESSING_STYLE not in ("auto", "path", "virtual"):
        raise SettingsError(f"S3_ADDRESSING_STYLE must be auto, path or virtual, not {settings.S3_ADDRESSING_STYLE!r}")
    if not 5 * 1024**2 <= settings.S3_MULTIPART_PART_BYTES <= 5 * 1024**3:
        raise SettingsError("S3_MULTIPART_PART_BYTES must be between 5 MiB (5242880) and 5 GiB, as S3 requires")
    for name in ("S3_ENDPOINT_URL", "S3_PUBLIC_ENDPOINT_URL"):
        value = getattr(settings, name)
        if value and not value.startswith(("https://", "http://")):
            raise SettingsError(f"{name} must start with https:// (or http://)")
    if settings.S3_KEY_PREFIX.startswith("/"):
        raise SettingsError("S3_KEY_PREFIX must not start with '/'")
    if settings.MEDIA_STORAGE != "s3":
        return
    needed = ["S3_BUCKET"]
    if settings.is_production:
        # Production says where its keys come from, rather than whatever the host happens to have.
        needed += ["S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"]
    elif settings.S3_ACCESS_KEY_ID:
        needed.append("S3_SECRET_ACCESS_KEY")
    missing = [name for name in needed if not getattr(settings, name)]
    if missing:
        raise SettingsError(
            "MEDIA_STORAGE=s3 needs " + ", ".join(missing) + ": set "
            + ("it" if len(missing) == 1 else "them") + " in the environment."
        )
