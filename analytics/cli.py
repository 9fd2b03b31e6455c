"""`flask analytics ...`: ingest and roll up now, rebuild a context's roll-ups, see the backlog."""

from __future__ import annotations

import time

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import func, select

from analytics import service
from analytics.models import DirtyDay, IngestCursor
from lti_tool.db import db
from lti_tool.models import Context

group = AppGroup("analytics", help="Learning analytics: ingest, roll-ups, status.")


@group.command("refresh")
def refresh_command() -> None:
    """Ingest every pending event now and roll up what changed."""
    started = time.perf_counter()
    ingested = service.ingest_pending()
    rolled = service.rollup_pending()
    click.echo(
        f"{ingested.ingested} events ingested ({ingested.skipped} skipped) in {ingested.batches} batches; "
        f"{rolled.contexts} contexts rolled up in {time.perf_counter() - started:.1f} s"
    )


@group.command("rebuild")
@click.option("--context", "context_pk", type=int, help="Only this context (its id in the tool).")
def rebuild_command(context_pk: int | None) -> None:
    """Recompute roll-ups from the stored facts (after changing the analytics settings)."""
    stmt = select(Context.platform_id, Context.id)
    if context_pk is not None:
        stmt = stmt.where(Context.id == context_pk)
    contexts = db.session.execute(stmt.order_by(Context.id)).all()
    if context_pk is not None and not contexts:
        raise click.BadParameter(f"there is no context with id {context_pk}", param_hint="--context")
    for platform_id, pk in contexts:
        days, learners = service.rollup_context(platform_id, pk, full=True)
        if days or learners:
            click.echo(f"context {pk}: {days} days, {learners} learners")
    click.echo(f"{len(contexts)} context(s) rebuilt")


@group.command("status")
def status_command() -> None:
    """How far ingest has read, how many events wait, and how many contexts wait for a roll-up."""
    cursor = db.session.scalar(select(IngestCursor).where(IngestCursor.name == service.CURSOR))
    dirty = db.session.scalar(select(func.count(func.distinct(DirtyDay.context_pk)))) or 0
    if cursor is None:
        click.echo("ingest has not run yet")
    else:
        click.echo(
            f"ingested up to event {cursor.last_event_id} (at {cursor.updated_at:%Y-%m-%d %H:%M:%S} UTC)"
        )
        click.echo(f"id gaps being watched: {len(cursor.gaps or [])}")
    click.echo(f"events waiting: {service.backlog()}")
    click.echo(f"contexts waiting for a roll-up: {dirty}")


def init_app(app: Flask) -> None:
    app.cli.add_command(group)
