"""Flask CLI for background work: `flask worker`, `flask scheduler`, `flask jobs ...`."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from lti_tool import jobs, schedule
from lti_tool.db import utcnow
from lti_tool.worker import parse_queues, run_scheduler, run_worker

jobs_cli = AppGroup("jobs", help="Inspect queues and run periodic jobs by hand.")


@click.command("worker")
@click.argument("queues", nargs=-1)
@click.option("--burst", is_flag=True, help="Quit once the queues are empty.")
@click.option("--fork/--no-fork", default=None, help="Fork a child per job (default: WORKER_FORK).")
@click.option(
    "--periodic/--no-periodic", default=None, help="Also run the periodic jobs (default: on; off with --burst)."
)
@click.option("--max-jobs", type=click.IntRange(1), help="Quit after this many jobs.")
@with_appcontext
def worker_command(queues, burst, fork, periodic, max_jobs):
    """Run jobs from QUEUES (default: all of grades, notifications, analytics, default)."""
    try:
        parse_queues(queues)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="QUEUES") from None
    app = current_app._get_current_object()
    run_worker(app, queues, burst=burst, fork=fork, periodic=periodic, max_jobs=max_jobs)


@click.command("scheduler")
@with_appcontext
def scheduler_command():
    """Run only the periodic scheduler (safe to run beside workers that run it too)."""
    run_scheduler(current_app._get_current_object())


@jobs_cli.command("schedule")
def schedule_command():
    """The periodic jobs, when each last ran and runs next."""
    now = utcnow()
    for entry in schedule.SCHEDULE:
        last = schedule.last_run(entry)
        click.echo(
            f"{entry.key}\n    queue {entry.queue}, every {entry.every}"
            + (f" (+{entry.offset})" if entry.offset else "")
            + (", sweeper" if entry.sweeper else "")
            + f"\n    last {last['claimed_at'] if last else 'never'}; next {entry.next_run(now).isoformat()}"
        )


@jobs_cli.command("run")
@click.argument("names", nargs=-1, required=True)
def run_command(names):
    """Run periodic jobs now, in this process (names as in `flask jobs schedule`)."""
    try:
        entries = [schedule.find(name) for name in names]
    except LookupError as error:
        raise click.BadParameter(str(error), param_hint="NAMES") from None
    _run(entries)


@jobs_cli.command("sweep")
def sweep_command():
    """Run every sweeper once now: re-enqueue what a lost queue or a dead worker dropped."""
    _run([entry for entry in schedule.SCHEDULE if entry.sweeper])


def _run(entries):
    failed = []
    for entry in entries:
        ok = jobs.run_job(entry.func)
        click.echo(f"{entry.key}: {'done' if ok else 'FAILED (see the log)'}")
        if not ok:
            failed.append(entry.key)
    if failed:
        raise click.ClickException(f"{len(failed)} job(s) failed: {', '.join(failed)}")


@jobs_cli.command("status")
def status_command():
    """Jobs queued, running, waiting to retry and failed, per queue."""
    counts = jobs.stats()
    if not counts:
        click.echo("No REDIS_URL: jobs run inside the web process after each commit; there are no queues.")
        return
    click.echo(f"{'queue':<15}{'queued':>8}{'running':>9}{'retrying':>10}{'failed':>8}")
    for name, row in counts.items():
        click.echo(f"{name:<15}{row['queued']:>8}{row['started']:>9}{row['scheduled']:>10}{row['failed']:>8}")


@jobs_cli.command("requeue-failed")
@click.argument("queues", nargs=-1)
def requeue_failed_command(queues):
    """Put failed jobs of QUEUES (default: all) back on their queue."""
    try:
        names = parse_queues(queues)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="QUEUES") from None
    for name in names:
        click.echo(f"{name}: {jobs.requeue_failed(name)} job(s) requeued")


def init_app(app) -> None:
    app.cli.add_command(worker_command)
    app.cli.add_command(scheduler_command)
    app.cli.add_command(jobs_cli)
