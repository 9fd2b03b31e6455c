"""`flask keys ...`: inspect, create and rotate the tool's signing keys."""

from __future__ import annotations

from datetime import datetime

import click
from flask import Flask
from flask.cli import AppGroup

from keys import service
from lti_tool.admin.service import audit
from lti_tool.db import db

keys_cli = AppGroup("keys", help="The tool's RSA signing keys (served at /.well-known/jwks.json).")


def init_app(app: Flask) -> None:
    app.cli.add_command(keys_cli)


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "-"


@keys_cli.command("list")
def list_command() -> None:
    """List every key with its state and dates."""
    keys = service.list_keys()
    if not keys:
        click.echo("No keys yet. Create them with: flask keys ensure")
        return
    rows = [("KID", "STATE", "CREATED", "ACTIVATED", "RETIRED")]
    rows += [
        (key.kid, key.state, _when(key.created_at), _when(key.activated_at), _when(key.retired_at))
        for key in keys
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


@keys_cli.command("ensure")
def ensure_command() -> None:
    """Create the active and next keys if they are missing (safe to run on every deploy)."""
    created = service.ensure_keys()
    for key in created:
        click.echo(f"Created {key.state} key {key.kid}")
    if not created:
        click.echo("Keys already present; nothing to do.")
    active = service.active_key()
    try:
        # Run on deploy, this catches a changed KEY_ENCRYPTION_KEY before the first launch does.
        service.private_pem(active)
    except service.KeyEncryptionError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Active key: {active.kid}")


@keys_cli.command("rotate")
def rotate_command() -> None:
    """Make the next key active, retire the active one, and publish a new next key."""
    try:
        rotation = service.rotate()
    except service.RotationConflict as exc:
        raise click.ClickException(str(exc)) from None
    # The rotation committed on its own (keys must exist before they sign); the entry follows it.
    audit(actor="cli", action="keys.rotated", target_type="key", target_id=rotation.active.kid,
          detail={"active": rotation.active.kid, "next": rotation.next.kid, "retired": rotation.retired.kid,
                  "deleted": rotation.deleted_kids})
    db.session.commit()
    click.echo(f"New active key: {rotation.active.kid}")
    click.echo(f"New next key:   {rotation.next.kid}")
    click.echo(f"Retired key:    {rotation.retired.kid}")
    for kid in rotation.deleted_kids:
        click.echo(f"Deleted key past its grace period: {kid}")
