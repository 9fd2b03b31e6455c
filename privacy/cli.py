"""`flask privacy ...`: export or erase one learner's data, and apply retention now."""

from __future__ import annotations

import json

import click
from flask import Flask
from flask.cli import AppGroup

from lti_tool.db import db
from privacy import service

privacy_cli = AppGroup("privacy", help="Export or erase a learner's data; apply the retention settings.")


def init_app(app: Flask) -> None:
    app.cli.add_command(privacy_cli)


def _learner(issuer: str, client_id: str | None, sub: str):
    try:
        platform = service.find_platform(issuer, client_id)
    except service.PrivacyError as error:
        raise click.ClickException(str(error)) from None
    return platform, service.find_user(platform, sub)


@privacy_cli.command("export")
@click.option("--issuer", required=True, help="The LMS's issuer (as in `flask platform list`).")
@click.option("--client-id", help="Needed when several platforms share the issuer (hosted Canvas).")
@click.option("--user", "sub", required=True, help="The learner's LMS user id (the launch's `sub`).")
@click.option("-o", "--output", type=click.File("w", encoding="utf-8"), default="-",
              help="Write the JSON to this file (default: standard output).")
def export_command(issuer, client_id, sub, output):
    """Export everything the tool holds about one learner, as JSON."""
    platform, user = _learner(issuer, client_id, sub)
    if user is None:
        raise click.ClickException(f"platform {platform.id} has no user with LMS user id {sub!r}")
    document = service.export(platform, user)
    service.audit_export(platform, user, requested_by="cli")
    db.session.commit()
    json.dump(document, output, ensure_ascii=False, indent=2)
    output.write("\n")


@privacy_cli.command("erase")
@click.option("--issuer", required=True, help="The LMS's issuer (as in `flask platform list`).")
@click.option("--client-id", help="Needed when several platforms share the issuer (hosted Canvas).")
@click.option("--user", "sub", required=True, help="The learner's LMS user id (the launch's `sub`).")
@click.option("--reason", required=True, help="Why (a ticket number); no names or emails.")
@click.option("--cancel-pending", is_flag=True, help="Drop scores not yet delivered to the LMS instead of waiting.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def erase_command(issuer, client_id, sub, reason, cancel_pending, yes):
    """Erase a learner's personal data (analytics stay, under a pseudonym)."""
    platform, user = _learner(issuer, client_id, sub)
    if user is None:
        # Running twice is harmless: the second run finds nobody (the sub was replaced).
        click.echo(f"Nothing to erase: platform {platform.id} has no user with LMS user id {sub!r} "
                   "(already erased, or never launched the tool).")
        return
    if service.is_erased(user):
        record = service.erasure_of(user)
        click.echo(f"Nothing to erase: user {user.id} was already erased"
                   + (f" (erasure record {record.id})." if record else "."))
        return
    if not yes:
        click.confirm(f"Erase the personal data of user {user.id} ({sub}) on platform {platform.id}?", abort=True)
    try:
        record = service.erase(platform, user, requested_by="cli", reason=reason, cancel_pending=cancel_pending)
        db.session.commit()
    except service.PrivacyError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    changed = ", ".join(f"{key} {value}" for key, value in sorted(record.counts.items()))
    click.echo(f"Erased user {user.id}: now pseudonym {record.pseudonym} (erasure record {record.id}). {changed}")


@privacy_cli.command("purge")
def purge_command():
    """Delete launch-log rows and raw events past their retention now (the scheduler does it hourly)."""
    report = service.purge_expired(max_batches=10**6)
    click.echo(f"Deleted {report.launch_logs} launch-log rows and {report.events} events.")
    if report.events_waiting:
        click.echo(f"{report.events_waiting} events past retention wait for analytics or dispatch "
                   "(see `flask analytics status`).")
