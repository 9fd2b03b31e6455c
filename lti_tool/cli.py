"""Flask CLI: `flask platform ...` to register LMSs, `flask launches recent` to debug them."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

from lti_tool import presets, registry
from lti_tool.admin.service import audit
from lti_tool.db import db
from lti_tool.models import LaunchLog, Platform, PlatformClient

platform_cli = AppGroup("platform", help="Register and inspect the LMS platforms that launch this tool.")
launches_cli = AppGroup("launches", help="Read the launch log.")


def _fail(error: Exception) -> None:
    db.session.rollback()
    raise click.ClickException(str(error))


def _audit(action: str, target_type: str, target_id, *, platform_id: int | None = None, **detail) -> None:
    # Commands change the registry as the admin area does: the audit log records both alike.
    audit(actor="cli", action=action, target_type=target_type, target_id=str(target_id),
          platform_id=platform_id, detail=detail)


def _describe(platform: Platform) -> list[str]:
    lines = [
        f"Platform {platform.id}: {platform.name} ({platform.status})",
        f"  issuer     {platform.issuer}",
        f"  auth URL   {platform.auth_url}",
        f"  token URL  {platform.token_url}",
        f"  JWKS URL   {platform.jwks_url or '(static public key)'}",
    ]
    for client in platform.clients:
        deployments = ", ".join(d.deployment_id for d in client.deployments) or "(none)"
        lines.append(f"  client id  {client.client_id}  deployments: {deployments}")
    return lines


@platform_cli.command("add")
@click.option(
    "--preset",
    type=click.Choice(sorted(presets.PRESETS)),
    help="Fill in the issuer and endpoints from the LMS's site URL (then give --site-url).",
)
@click.option("--site-url", help="With --preset: the LMS's site URL (Canvas: your school's Canvas URL).")
@click.option("--issuer", help="The platform's issuer (Moodle: the site URL).")
@click.option("--client-id", required=True, help="The client id the platform gave this tool.")
@click.option("--auth-url", help="The platform's OIDC authentication URL.")
@click.option("--token-url", help="The platform's OAuth2 token URL.")
@click.option("--jwks-url", help="The platform's public key set URL.")
@click.option("--public-key-file", type=click.File("r"), help="A PEM public key, for platforms without a JWKS URL.")
@click.option("--deployment-id", "deployment_ids", multiple=True, required=True, help="Repeat for each deployment.")
@click.option("--name", help="A name for admins (default: the issuer's host).")
def add_command(preset, site_url, issuer, client_id, auth_url, token_url, jwks_url, public_key_file, deployment_ids, name):
    """Register an LMS platform with its client id and deployments.

    Either give the issuer and endpoints, or --preset and --site-url (explicit options still win)."""
    try:
        family = None
        if preset:
            if not site_url:
                raise registry.RegistryError("--preset needs --site-url (the LMS's address)")
            urls = presets.endpoints(presets.get_preset(preset), site_url, issuer=issuer)
            family = presets.get_preset(preset).product_family_code
            issuer, auth_url = urls.issuer, auth_url or urls.auth_url
            token_url, jwks_url = token_url or urls.token_url, jwks_url or urls.jwks_url
        else:
            missing = [flag for flag, value in (("--issuer", issuer), ("--auth-url", auth_url), ("--token-url", token_url)) if not value]
            if missing:
                raise registry.RegistryError(f"give {', '.join(missing)}, or --preset and --site-url")
        platform = registry.add_platform(
            registry.PlatformInput(
                issuer=issuer,
                client_id=client_id,
                auth_url=auth_url,
                token_url=token_url,
                jwks_url=jwks_url,
                public_key=public_key_file.read() if public_key_file else None,
                deployment_ids=tuple(deployment_ids),
                name=name,
                product_family_code=family,
            )
        )
        _audit("platform.added", "platform", platform.id, platform_id=platform.id, issuer=platform.issuer,
               preset=preset)
        db.session.commit()
    except registry.RegistryError as error:
        _fail(error)
    click.echo("Registered " + "\n".join(_describe(platform)))


@platform_cli.command("list")
def list_command():
    """List registered platforms."""
    platforms = registry.list_platforms()
    if not platforms:
        click.echo("No platforms registered. Add one with: flask --app wsgi platform add --help")
        return
    for platform in platforms:
        clients = ", ".join(c.client_id for c in platform.clients)
        click.echo(f"{platform.id}\t{platform.issuer}\t{platform.name}\tclient ids: {clients}")


@platform_cli.command("show")
@click.argument("platform_ref")
def show_command(platform_ref):
    """Show one platform (by id, or by issuer when it has a single platform)."""
    try:
        platform = registry.get_platform(platform_ref)
    except registry.RegistryError as error:
        _fail(error)
    click.echo("\n".join(_describe(platform)))


@platform_cli.command("remove")
@click.argument("platform_ref")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def remove_command(platform_ref, yes):
    """Remove a platform and everything the tool holds for it."""
    try:
        platform = registry.get_platform(platform_ref)
    except registry.RegistryError as error:
        _fail(error)
    if not yes:
        click.confirm(
            f"Remove platform {platform.id} ({platform.issuer}) and all its users, courses and data?",
            abort=True,
        )
    label = f"{platform.id} ({platform.issuer})"
    # No platform_id on the entry: the row it would point at goes in this transaction.
    _audit("platform.removed", "platform", platform.id, issuer=platform.issuer, name=platform.name)
    registry.remove_platform(platform)
    db.session.commit()
    click.echo(f"Removed platform {label}.")


def _client(platform_ref: str, client_id: str | None) -> PlatformClient:
    if client_id and not platform_ref.isdigit():
        # (issuer, client id) names one registration even where tenants share an issuer (Canvas).
        found = registry.find_client(platform_ref, client_id)
        if found is not None:
            return found
    platform = registry.get_platform(platform_ref)
    if client_id is None:
        if len(platform.clients) != 1:
            raise registry.RegistryError(
                f"platform {platform.id} has several client ids; say which with --client-id"
            )
        return platform.clients[0]
    for client in platform.clients:
        if client.client_id == client_id:
            return client
    raise registry.RegistryError(f"platform {platform.id} has no client id {client_id!r}")


@platform_cli.command("deployment-add")
@click.argument("platform_ref")
@click.option("--deployment-id", required=True)
@click.option("--client-id", help="Needed when the platform has several client ids.")
def deployment_add_command(platform_ref, deployment_id, client_id):
    """Add a deployment id to a registered platform."""
    try:
        client = _client(platform_ref, client_id)
        deployment = registry.add_deployment(client, deployment_id)
        _audit("deployment.added", "deployment", deployment.id, platform_id=client.platform_id,
               client_id=client.client_id, deployment_id=deployment.deployment_id)
        db.session.commit()
    except registry.RegistryError as error:
        _fail(error)
    click.echo(f"Added deployment {deployment_id!r} to client id {client.client_id!r} of {client.issuer}.")


@platform_cli.command("client-add")
@click.argument("platform_ref")
@click.option("--client-id", required=True)
@click.option("--deployment-id", "deployment_ids", multiple=True)
def client_add_command(platform_ref, client_id, deployment_ids):
    """Add another client id (another registration of the tool) to a platform."""
    try:
        platform = registry.get_platform(platform_ref)
        client = registry.add_client(platform, client_id)
        for deployment_id in deployment_ids:
            registry.add_deployment(client, deployment_id)
        _audit("client.added", "client", client.id, platform_id=platform.id, client_id=client.client_id)
        db.session.commit()
    except registry.RegistryError as error:
        _fail(error)
    click.echo(f"Added client id {client_id!r} to platform {platform.id} ({platform.issuer}).")


@launches_cli.command("recent")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.option("--rejected", is_flag=True, help="Only rejected launches.")
def recent_command(limit, rejected):
    """The latest launch attempts, newest first, with the reason of each rejection."""
    query = select(LaunchLog).order_by(LaunchLog.created_at.desc(), LaunchLog.id.desc()).limit(limit)
    if rejected:
        query = query.where(LaunchLog.outcome == "rejected")
    rows = list(db.session.scalars(query))
    if not rows:
        click.echo("No launches recorded yet.")
        return
    for row in rows:
        outcome = row.outcome if row.outcome == "accepted" else f"rejected ({row.reason})"
        click.echo(
            f"{row.created_at:%Y-%m-%d %H:%M:%S}Z  {row.stage:<6} {outcome:<32} "
            f"iss={row.issuer or '-'} client={row.client_id or '-'} deployment={row.deployment_id or '-'} "
            f"type={row.message_type or '-'} user={row.user_sub or '-'}"
        )
        if row.detail:
            click.echo(f"    {row.detail}")


def init_app(app: Flask) -> None:
    app.cli.add_command(platform_cli)
    app.cli.add_command(launches_cli)
    # `flask worker`, `flask scheduler`, `flask jobs ...`
    from lti_tool import jobs_cli

    jobs_cli.init_app(app)
