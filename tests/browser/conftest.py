"""Real-browser tests: Debian's Chromium driven by Playwright, with third-party cookies blocked.

The development LMS runs at https://localhost:<port> and the tool at https://127.0.0.1:<port>:
two sites to a browser, as an LMS and a tool are in the field. Its course page shows the tool in
an iframe, so every cookie the tool sets there is a third-party cookie, which this browser blocks.
Both serve https (a certificate made for the run) so the tool sets its cookies exactly as in
production (`SameSite=None; Secure; Partitioned`).

Chromium keeps *partitioned* (CHIPS) cookies in a cross-site frame even when third-party cookies
are blocked; Safari and Firefox's strict mode do not, and those are the browsers where LTI
launches break. So the tool's server drops the `Partitioned` attribute on the way out (see
`WithoutPartitionedCookies`), and Chromium then treats the tool's cookies as those browsers do.
A test that wants Chromium's own behaviour parametrizes `partitioned_cookies` to True.

The browser starts once for all browser tests (package scope: Playwright's sync API keeps an
asyncio loop running on the main thread while it lives, which other packages' tests must not
see). Each test gets a fresh page; cookies are cleared between tests.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import json
import os
import re
import shutil
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from flask import Flask
from playwright.sync_api import expect, sync_playwright

from lti_tool import security
from lti_tool.dev_platform import URL_PREFIX, PlatformConfig, create_platform_app, register_in_tool
from lti_tool.dev_platform.platform import platform_key
from tests.browser.review import ARTIFACTS, DESKTOP
from tests.conftest import BACKENDS
from tests.support.live_server import LiveServer

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Chromium's own setting ("Block third-party cookies"), set in the fresh profile before start.
# (The --test-third-party-cookie-phaseout switch does not override a profile that allows them.)
BLOCK_THIRD_PARTY_COOKIES = {"profile": {"cookie_controls_mode": 1, "block_third_party_cookies": True}}
ALLOW_THIRD_PARTY_COOKIES = {"profile": {"cookie_controls_mode": 0, "block_third_party_cookies": False}}
# Generous: a loaded two-core CI machine runs the tool, the LMS and Chromium at once. Waits end as
# soon as what they wait for is there, so this costs nothing when all is well.
TIMEOUT_MS = 30_000
expect.set_options(timeout=TIMEOUT_MS)


def pytest_collection_modifyitems(config, items) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    # Kept for the page fixture, which saves a screenshot of a failed test.
    setattr(item, f"report_{report.when}", report)
    return report


# --- the browser ------------------------------------------------------------------------------


def _require_chromium() -> None:
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}: install Debian's package with "
            "`apt-get install -y chromium` (the browser tests never download a browser).",
            pytrace=False,
        )


def launch_chromium(playwright, profile_dir: Path, preferences: dict[str, Any], tls: Tls):
    """A persistent Chromium context on a fresh profile directory with the given preferences,
    trusting this run's certificate (and no other one that would not verify)."""
    (profile_dir / "Default").mkdir(parents=True, exist_ok=True)
    (profile_dir / "Default" / "Preferences").write_text(json.dumps(preferences))
    context = playwright.chromium.launch_persistent_context(
        str(profile_dir),
        executable_path=CHROMIUM,
        args=[*CHROMIUM_ARGS, f"--ignore-certificate-errors-spki-list={tls.spki_sha256}"],
        headless=True,
        viewport=DESKTOP,
        locale="en-US",
    )
    context.set_default_timeout(TIMEOUT_MS)
    return context


@pytest.fixture(scope="package")
def playwright_driver() -> Iterator[Any]:
    _require_chromium()
    driver = sync_playwright().start()
    yield driver
    driver.stop()


@pytest.fixture(scope="package")
def browser(playwright_driver, tmp_path_factory, tls) -> Iterator[Any]:
    """Chromium with third-party cookies blocked, for every browser test."""
    profile = tmp_path_factory.mktemp("chromium-profile")
    context = launch_chromium(playwright_driver, profile, BLOCK_THIRD_PARTY_COOKIES, tls)
    yield context
    context.close()


@pytest.fixture
def page(browser, request) -> Iterator[Any]:
    log: list[str] = []
    # What the browser said (console messages: refused frames, script errors) and every answer,
    # kept for the report of a failed test.
    listeners = {
        "console": lambda message: log.append(f"console {message.type}: {message.text}"),
        "response": lambda response: log.append(f"{response.status} {response.request.method} {response.url}"),
        "requestfailed": lambda req: log.append(f"failed {req.method} {req.url}: {req.failure}"),
    }
    for event, listener in listeners.items():
        browser.on(event, listener)
    page = browser.new_page()
    yield page
    for event, listener in listeners.items():
        browser.remove_listener(event, listener)
    reports = (getattr(request.node, f"report_{when}", None) for when in ("setup", "call"))
    if any(report is not None and report.failed for report in reports):
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)[-120:]
        folder = ARTIFACTS / "failures"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.log").write_text("\n".join(log) + "\n")
        for index, open_page in enumerate(browser.pages):
            try:
                open_page.screenshot(path=str(folder / f"{name}-{index}.png"), full_page=True)
            except Exception:  # a page that crashed has nothing to show; the failure is reported anyway
                pass
    for open_page in list(browser.pages):
        open_page.close()
    browser.clear_cookies()


# --- https for both sites ------------------------------------------------------------------------


@dataclass(frozen=True)
class Tls:
    cert_file: str
    context: ssl.SSLContext
    spki_sha256: str  # base64 SHA-256 of the public key, as Chromium's certificate pinning names it


@pytest.fixture(scope="session")
def tls(tmp_path_factory) -> Tls:
    """A certificate for localhost and 127.0.0.1, made for this run."""
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, crl_sign=False, encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file = folder / "cert.pem"
    key_file = folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert_file), str(key_file))
    spki = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return Tls(str(cert_file), context, base64.b64encode(hashlib.sha256(spki).digest()).decode())


# --- the tool and the development LMS ------------------------------------------------------------


@pytest.fixture
def backend() -> str:
    # Browser flows run on one stack (tests/e2e runs the same protocol on both): the production
    # one, PostgreSQL with Redis, when this run has it.
    return "postgresql" if "postgresql" in BACKENDS else BACKENDS[0]


_PARTITIONED = re.compile(r";\s*Partitioned(?=;|$)", re.IGNORECASE)


class WithoutPartitionedCookies:
    """WSGI middleware: the tool's cookies as a browser without CHIPS sees them (see the module doc)."""

    def __init__(self, app) -> None:
        self.app = app

    def __call__(self, environ, start_response):
        def start(status, headers, exc_info=None):
            headers = [
                (name, _PARTITIONED.sub("", value) if name.lower() == "set-cookie" else value)
                for name, value in headers
            ]
            return start_response(status, headers, exc_info)

        return self.app(environ, start)


@pytest.fixture
def partitioned_cookies() -> bool:
    return False


@pytest.fixture
def tool(app: Flask, tls: Tls, partitioned_cookies: bool, monkeypatch) -> Iterator[LiveServer]:
    """The tool on https://127.0.0.1:<port>."""
    # The tool and the LMS call each other's key sets over https: trust this run's certificate.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", tls.cert_file)
    served = app if partitioned_cookies else WithoutPartitionedCookies(app)
    server = LiveServer(served, ssl_context=tls.context)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def lms_key_dir(tmp_path_factory) -> Path:
    # One platform key for the run: generating an RSA key per test costs more than the test.
    folder = tmp_path_factory.mktemp("lms-key")
    platform_key(PlatformConfig(key_dir=str(folder)))
    return folder


@dataclass
class Lms:
    url: str  # the course page
    config: PlatformConfig
    server: LiveServer

    def course(self, **params: str) -> str:
        query = "&".join(f"{name}={value}" for name, value in params.items())
        return self.url + ("?" + query if query else "")


@pytest.fixture
def lms(app: Flask, tool: LiveServer, tls: Tls, lms_key_dir: Path, tmp_path) -> Iterator[Lms]:
    """The development LMS on https://localhost:<port>, registered in the tool."""
    key_dir = tmp_path / "lms"
    key_dir.mkdir()
    shutil.copy(lms_key_dir / "platform-key.pem", key_dir / "platform-key.pem")
    server = LiveServer(ssl_context=tls.context, public_host="localhost")
    config = PlatformConfig(issuer=server.url + URL_PREFIX, tool_url=tool.url, key_dir=str(key_dir))
    server.start(create_platform_app(config))
    with app.app_context():
        register_in_tool(config)
    # The tool lists the registered LMSs in its frame-ancestors and caches the list briefly.
    security.forget_origins()
    yield Lms(url=config.course_url, config=config, server=server)
    server.stop()
