"""Where an accepted launch lands: feature packages register the launches they handle.

After a launch is recorded, each registered handler is asked in turn (in registration order) for
the page the browser should go to; the first URL wins and the shell's home page is the fallback.
Handlers are kept per application and registered by the factory, so `lti_tool` never imports a
feature package.
"""

from __future__ import annotations

from typing import Callable

from flask import Flask, current_app

from lti_tool.identity import LaunchRecord
from lti_tool.launch import ValidatedLaunch

# (the recorded launch, the validated launch) -> a URL, or None to let the next handler decide.
LandingHandler = Callable[[LaunchRecord, ValidatedLaunch], "str | None"]

EXTENSION = "lti_landing_handlers"


def register(app: Flask, handler: LandingHandler) -> None:
    handlers = app.extensions.setdefault(EXTENSION, [])
    if handler not in handlers:
        handlers.append(handler)


def landing_url(record: LaunchRecord, launch: ValidatedLaunch) -> str | None:
    for handler in current_app.extensions.get(EXTENSION, ()):
        url = handler(record, launch)
        if url:
            return url
    return None
