"""What grades keeps from each launch: the LMS's service endpoints and the scopes it granted.

Scores are sent and rosters read by jobs, long after the launch that made them possible, so the
AGS and NRPS claims are stored per context (and the line item per resource link) on every launch.
An instructor's launch also refreshes a stale roster, as a job.
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from grades.models import ContextService, ResourceLinkService
from lti_tool import hooks, jobs
from lti_tool.db import db, utcnow
from lti_tool.identity import CurrentLaunch
from lti_tool.launch import RESOURCE_LINK_REQUEST

AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
URL_MAX = 1000


def init_app(app) -> None:
    hooks.on_launch(app, remember_services)


def _url(value) -> str | None:
    if isinstance(value, str) and value.startswith(("https://", "http://")) and len(value) <= URL_MAX:
        return value
    return None


def _strings(value, limit: int = 20, size: int = 300) -> list[str]:
    if not isinstance(value, list):
        return []
    return [v[:size] for v in value if isinstance(v, str)][:limit]


def _get_or_create(model, lookup: dict, values: dict):
    stmt = select(model).filter_by(**lookup)
    row = db.session.scalar(stmt)
    if row is None:
        try:
            with db.session.begin_nested():
                row = model(**lookup, **values)
                db.session.add(row)
        except IntegrityError:  # a concurrent first launch in the same course
            row = db.session.scalar(stmt)
            if row is None:
                raise
    return row


def remember_services(launch: CurrentLaunch) -> None:
    """Store the context's AGS/NRPS endpoints and scopes; queue a roster sync for instructors."""
    if launch.context_pk is None:
        return
    claims = launch.claims
    ags = claims.get(AGS_CLAIM)
    nrps = claims.get(NRPS_CLAIM)
    ags = ags if isinstance(ags, dict) else None
    nrps = nrps if isinstance(nrps, dict) else None
    services = _get_or_create(
        ContextService,
        {"platform_id": launch.platform_id, "context_pk": launch.context_pk},
        {"client_pk": launch.client_pk, "deployment_pk": launch.deployment_pk},
    )
    services.client_pk, services.deployment_pk = launch.client_pk, launch.deployment_pk
    # A resource link launch without a claim means the LMS no longer grants the service; other
    # messages (deep linking) may simply leave it out, so they only ever add.
    authoritative = launch.message_type == RESOURCE_LINK_REQUEST
    if ags is not None or authoritative:
        services.lineitems_url = _url(ags.get("lineitems")) if ags else None
        services.ags_scopes = _strings(ags.get("scope")) if ags else []
    if nrps is not None or authoritative:
        services.memberships_url = _url(nrps.get("context_memberships_url")) if nrps else None
        services.nrps_versions = _strings(nrps.get("service_versions"), 5, 20) if nrps else []
    if launch.resource_link_pk is not None and authoritative:
        link = _get_or_create(
            ResourceLinkService,
            {"resource_link_pk": launch.resource_link_pk},
            {"platform_id": launch.platform_id, "context_pk": launch.context_pk},
        )
        link.lineitem_url = _url(ags.get("lineitem")) if ags else None
    # Decided before the commit, which expires the row: reading it after cost one more SELECT.
    interval = timedelta(seconds=current_app.config["SETTINGS"].ROSTER_SYNC_INTERVAL_SECONDS)
    stale = services.roster_synced_at is None or services.roster_synced_at < utcnow() - interval
    sync = launch.is_instructor and services.memberships_url and stale
    db.session.commit()

    if sync:
        request_roster_sync(launch.context_pk)


def request_roster_sync(context_pk: int) -> None:
    """Queue a roster sync of the context (one at a time: a queued sync absorbs the next request)."""
    jobs.enqueue("default", "grades.jobs.sync_roster", context_pk, job_id=f"roster-{context_pk}")
    db.session.commit()
