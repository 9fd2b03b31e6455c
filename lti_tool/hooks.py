"""Launch hooks: feature packages act on a recorded launch without `lti_tool` importing them.

A package registers a function from the factory (`hooks.on_launch(app, fn)`, kept per application
like the landing handlers); `identity.record_launch` calls every registered function after the
launch is committed and cached, with the launch as a `CurrentLaunch`. A hook commits its own work.
A hook that raises is logged and skipped: a side task (remembering service endpoints, syncing a
roster) must never turn a valid launch into an error page.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Callable

from flask import Flask, current_app

if TYPE_CHECKING:
    from lti_tool.identity import CurrentLaunch

log = logging.getLogger(__name__)

LaunchHook = Callable[["CurrentLaunch"], None]
EXTENSION = "lti_launch_hooks"


def on_launch(app: Flask, fn: LaunchHook) -> LaunchHook:
    """Run `fn(launch)` after each accepted launch on `app`; registering twice is harmless."""
    registered = app.extensions.setdefault(EXTENSION, [])
    if fn not in registered:
        registered.append(fn)
    return fn


def run_launch_hooks(launch: CurrentLaunch) -> None:
    from lti_tool.db import db

    for fn in list(current_app.extensions.get(EXTENSION, ())):
        try:
            fn(launch)
        except Exception:
            db.session.rollback()
            log.exception(
                "launch hook %s failed; the launch itself went through", getattr(fn, "__qualname__", fn)
            )
