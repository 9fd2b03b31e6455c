"""`flask admin ...`: admin accounts for the tool's admin area."""

from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import AppGroup

from lti_tool.admin import service
from lti_tool.db import db

admin_cli = AppGroup("admin", help="Accounts for the tool's admin area at /admin.")


def init_app(app: Flask) -> None:
    app.cli.add_command(admin_cli)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        # One line from standard input, for scripts: `printf '%s\n' "$PW" | flask admin create ...`
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt="Repeat the password")


@admin_cli.command("create")
@click.option("--email", prompt=True, help="The admin's email address (their sign-in name).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input instead of asking.")
def create_command(email: str, password_stdin: bool) -> None:
    """Create an admin account (the password is asked twice, or read from stdin)."""
    try:
        admin = service.create_admin(email, _password(password_stdin))
        service.audit(actor="cli", action="admin.created", target_type="admin", target_id=str(admin.id),
                      detail={"email": admin.email})
        db.session.commit()
    except service.AdminError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    click.echo(f"Created admin {admin.email}. Sign in at /admin/login.")


@admin_cli.command("set-password")
@click.option("--email", prompt=True, help="The admin whose password to change.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input instead of asking.")
def set_password_command(email: str, password_stdin: bool) -> None:
    """Change an admin's password."""
    try:
        admin = service.find_admin(service.normalize_email(email))
        if admin is None:
            raise service.AdminError(f"there is no admin account for {email.strip().lower()}")
        service.set_password(admin, _password(password_stdin))
        service.audit(actor="cli", action="admin.password_changed", target_type="admin", target_id=str(admin.id))
        db.session.commit()
    except service.AdminError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    click.echo(f"Changed the password of {admin.email}.")


@admin_cli.command("list")
def list_command() -> None:
    """List admin accounts."""
    admins = service.list_admins()
    if not admins:
        click.echo("No admin accounts yet. Create one with: flask --app wsgi admin create")
        return
    for admin in admins:
        last = admin.last_login_at.strftime("%Y-%m-%d %H:%M UTC") if admin.last_login_at else "never"
        state = "active" if admin.is_active else "disabled"
        click.echo(f"{admin.email}\t{state}\tlast sign-in: {last}")
