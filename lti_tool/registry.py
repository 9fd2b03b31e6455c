"""The platform registry: add, find, list and remove platforms, their client ids and deployments.

Every input is checked here, so the CLI, the admin pages and dynamic registration refuse the same
bad values with the same words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.serialization import load_pem_public_key
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from lti_tool.db import db
from lti_tool.models import Deployment, Platform, PlatformClient

LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


class RegistryError(ValueError):
    """Bad registry input; the message names the field and what is wrong with it."""


def check_url(field: str, value: str | None) -> str:
    """An absolute https URL (http allowed for localhost only), without fragment or credentials."""
    value = (value or "").strip()
    if not value:
        raise RegistryError(_("%(field)s is required", field=field))
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise RegistryError(_(
            "%(field)s %(value)s is not a valid URL",
            field=field,
            value=repr(value),
        )) from None
    if parts.scheme not in ("https", "http") or not host:
        raise RegistryError(_(
            "%(field)s %(value)s must be an absolute https:// URL",
            field=field,
            value=repr(value),
        ))
    if parts.scheme == "http" and host not in LOCAL_HOSTS:
        raise RegistryError(
            _(
                "%(field)s %(value)s must use https:// (plain http is accepted for localhost only)",
                field=field,
                value=repr(value),
            )
        )
    if parts.username or parts.password:
        raise RegistryError(_(
            "%(field)s %(value)s must not carry a user name or password",
            field=field,
            value=repr(value),
        ))
    if parts.fragment:
        raise RegistryError(_(
            "%(field)s %(value)s must not have a #fragment",
            field=field,
            value=repr(value),
        ))
    if len(value) > 1000:
        raise RegistryError(_("%(field)s is longer than 1000 characters", field=field))
    return value


def check_issuer(value: str | None) -> str:
    # LTI issuers are https URLs; Moodle's is the site URL, Canvas's is canvas.instructure.com.
    value = check_url("issuer", value)
    if urlsplit(value).query:
        raise RegistryError(_("issuer %(value)s must not have a query string", value=repr(value)))
    return value


def check_identifier(field: str, value: str | None) -> str:
    value = (value or "").strip()
    if not value:
        raise RegistryError(_("%(field)s is required", field=field))
    if len(value) > 255:
        raise RegistryError(_("%(field)s is longer than 255 characters", field=field))
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        raise RegistryError(_(
            "%(field)s %(value)s must not contain spaces or control characters",
            field=field,
            value=repr(value),
        ))
    return value


def check_public_key(value: str | None) -> str:
    value = (value or "").strip()
    try:
        load_pem_public_key(value.encode())
    except ValueError:
        raise RegistryError(_(
            "public key must be a PEM-encoded public key (-----BEGIN PUBLIC KEY-----)",
        )) from None
    return value


@dataclass(frozen=True)
class PlatformInput:
    issuer: str
    client_id: str
    auth_url: str
    token_url: str
    jwks_url: str | None = None
    public_key: str | None = None
    deployment_ids: tuple[str, ...] = ()
    name: str | None = None
    # Dynamic registration may learn the deployment only at the first launch (Canvas).
    require_deployment: bool = True
    status: str = "active"
    product_family_code: str | None = None


def add_platform(data: PlatformInput) -> Platform:
    """Register a platform with its first client id and deployments. The caller commits."""
    issuer = check_issuer(data.issuer)
    client_id = check_identifier("client id", data.client_id)
    auth_url = check_url("auth URL", data.auth_url)
    token_url = check_url("token URL", data.token_url)
    jwks_url = check_url("JWKS URL", data.jwks_url) if data.jwks_url else None
    public_key = check_public_key(data.public_key) if data.public_key else None
    if not jwks_url and not public_key:
        raise RegistryError(_("a JWKS URL (or a static public key) is required to verify launches"))
    deployment_ids = _check_deployment_ids(data.deployment_ids, required=data.require_deployment)
    status = check_status(data.status)
    if find_client(issuer, client_id) is not None:
        raise RegistryError(_(
            "issuer %(issuer)s already has client id %(client_id)s registered",
            issuer=issuer,
            client_id=repr(client_id),
        ))
    name = (data.name or "").strip() or (urlsplit(issuer).hostname or issuer)
    if len(name) > 200:
        raise RegistryError(_("name is longer than 200 characters"))

    platform = Platform(
        name=name,
        issuer=issuer,
        auth_url=auth_url,
        token_url=token_url,
        jwks_url=jwks_url,
        public_key=public_key,
        status=status,
        product_family_code=(data.product_family_code or "").strip().lower()[:50] or None,
    )
    client = PlatformClient(issuer=issuer, client_id=client_id)
    platform.clients.append(client)
    for deployment_id in deployment_ids:
        client.deployments.append(Deployment(platform=platform, deployment_id=deployment_id))
    db.session.add(platform)
    db.session.flush()
    return platform


def add_client(platform: Platform, client_id: str) -> PlatformClient:
    client_id = check_identifier("client id", client_id)
    if find_client(platform.issuer, client_id) is not None:
        raise RegistryError(_(
            "issuer %(issuer)s already has client id %(client_id)s registered",
            issuer=platform.issuer,
            client_id=repr(client_id),
        ))
    client = PlatformClient(issuer=platform.issuer, client_id=client_id)
    platform.clients.append(client)
    db.session.flush()
    return client


def add_deployment(client: PlatformClient, deployment_id: str) -> Deployment:
    deployment_id = check_identifier("deployment id", deployment_id)
    if any(d.deployment_id == deployment_id for d in client.deployments):
        raise RegistryError(
            _(
                "deployment %(deployment_id)s is already registered for client id %(client_id)s",
                deployment_id=repr(deployment_id),
                client_id=repr(client.client_id),
            )
        )
    deployment = Deployment(platform_id=client.platform_id, deployment_id=deployment_id)
    client.deployments.append(deployment)
    db.session.flush()
    return deployment


def _check_deployment_ids(values: Iterable[str], *, required: bool = True) -> list[str]:
    checked: list[str] = []
    for value in values:
        value = check_identifier("deployment id", value)
        if value not in checked:
            checked.append(value)
    if not checked and required:
        raise RegistryError(_("at least one deployment id is required"))
    return checked


def find_client(issuer: str, client_id: str) -> PlatformClient | None:
    return db.session.scalar(
        select(PlatformClient)
        .where(PlatformClient.issuer == issuer, PlatformClient.client_id == client_id)
        .options(selectinload(PlatformClient.platform))
    )


def client_by_pk(pk: int) -> PlatformClient | None:
    return db.session.get(PlatformClient, pk)


def deployment_by_pk(pk: int) -> Deployment | None:
    return db.session.get(Deployment, pk)


def clients_of_issuer(issuer: str) -> list[PlatformClient]:
    return list(
        db.session.scalars(
            select(PlatformClient).where(PlatformClient.issuer == issuer).order_by(PlatformClient.id)
        )
    )


def find_deployment(client: PlatformClient, deployment_id: str) -> Deployment | None:
    return db.session.scalar(
        select(Deployment).where(
            Deployment.client_pk == client.id, Deployment.deployment_id == deployment_id
        )
    )


def get_platform(ref: str | int) -> Platform:
    """A platform by numeric id or by issuer (when the issuer has a single platform)."""
    ref = str(ref).strip()
    if ref.isdigit():
        platform = db.session.get(Platform, int(ref))
        if platform is None:
            raise RegistryError(_("no platform with id %(ref)s", ref=ref))
        return platform
    matches = list(db.session.scalars(select(Platform).where(Platform.issuer == ref)))
    if not matches:
        raise RegistryError(_("no platform with issuer %(ref)s", ref=repr(ref)))
    if len(matches) > 1:
        ids = ", ".join(str(p.id) for p in matches)
        raise RegistryError(_(
            "issuer %(ref)s has several platforms (%(ids)s); give the numeric id",
            ref=repr(ref),
            ids=ids,
        ))
    return matches[0]


def list_platforms() -> list[Platform]:
    return list(
        db.session.scalars(
            select(Platform)
            .options(selectinload(Platform.clients).selectinload(PlatformClient.deployments))
            .order_by(Platform.id)
        )
    )


def remove_platform(platform: Platform) -> None:
    """Remove a platform and every row that belongs to it. The caller commits."""
    db.session.delete(platform)
    db.session.flush()


# --- Statuses, edits and approvals (admin area, dynamic registration, launches) --------------

PENDING = "pending"
ACTIVE = "active"
DISABLED = "disabled"
STATUSES = (PENDING, ACTIVE, DISABLED)


def check_status(value: str | None) -> str:
    if value not in STATUSES:
        raise RegistryError(_(
            "status must be one of %(STATUSES)s, not %(value)s",
            STATUSES=', '.join(STATUSES),
            value=repr(value),
        ))
    return value


@dataclass(frozen=True)
class PlatformUpdate:
    name: str
    issuer: str
    auth_url: str
    token_url: str
    jwks_url: str | None = None
    public_key: str | None = None


def update_platform(platform: Platform, data: PlatformUpdate) -> list[str]:
    """Change a platform's name, issuer and endpoints, checked like `add_platform`. Returns the
    names of the fields that changed. The caller commits."""
    issuer = check_issuer(data.issuer)
    auth_url = check_url("auth URL", data.auth_url)
    token_url = check_url("token URL", data.token_url)
    jwks_url = check_url("JWKS URL", data.jwks_url) if (data.jwks_url or "").strip() else None
    public_key = check_public_key(data.public_key) if (data.public_key or "").strip() else None
    if not jwks_url and not public_key:
        raise RegistryError(_("a JWKS URL (or a static public key) is required to verify launches"))
    name = (data.name or "").strip() or (urlsplit(issuer).hostname or issuer)
    if len(name) > 200:
        raise RegistryError(_("name is longer than 200 characters"))
    if issuer != platform.issuer:
        for client in platform.clients:
            other = find_client(issuer, client.client_id)
            if other is not None and other.id != client.id:
                raise RegistryError(_(
                    "issuer %(issuer)s already has client id %(client_id)s registered",
                    issuer=issuer,
                    client_id=repr(client.client_id),
                ))
    values = {
        "name": name,
        "issuer": issuer,
        "auth_url": auth_url,
        "token_url": token_url,
        "jwks_url": jwks_url,
        "public_key": public_key,
    }
    changed = [field for field, value in values.items() if getattr(platform, field) != value]
    for field in changed:
        setattr(platform, field, values[field])
    if "issuer" in changed:
        # The copy that keeps (issuer, client id) unique across platforms follows the platform.
        for client in platform.clients:
            client.issuer = issuer
    db.session.flush()
    return changed


def set_platform_status(platform: Platform, status: str) -> None:
    platform.status = check_status(status)
    db.session.flush()


def set_deployment_status(deployment: Deployment, status: str) -> None:
    deployment.status = check_status(status)
    db.session.flush()


def find_platform_by_endpoints(issuer: str, auth_url: str, token_url: str, jwks_url: str) -> Platform | None:
    """The platform with exactly these issuer and endpoints: one LMS installation (hosted Canvas
    tenants share the issuer and differ by token URL)."""
    return db.session.scalars(
        select(Platform)
        .where(
            Platform.issuer == issuer,
            Platform.auth_url == auth_url,
            Platform.token_url == token_url,
            Platform.jwks_url == jwks_url,
        )
        .order_by(Platform.id)
    ).first()


def record_pending_deployment(client: PlatformClient, deployment_id: str) -> Deployment:
    """Remember a deployment first seen in a signed launch, for an admin to approve. Commits in
    its own transaction, so it survives the rejection of the launch that revealed it; a second
    launch of the same deployment finds the row the first one wrote."""
    deployment_id = check_identifier("deployment id", deployment_id)
    existing = find_deployment(client, deployment_id)
    if existing is not None:
        return existing
    try:
        with db.session.begin_nested():
            deployment = Deployment(
                platform_id=client.platform_id,
                client_pk=client.id,
                deployment_id=deployment_id,
                status=PENDING,
            )
            db.session.add(deployment)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        deployment = find_deployment(client, deployment_id)
        if deployment is None:
            raise
    return deployment
