"""The platform's key set is fetched once per process when many launches miss the cache together."""

from __future__ import annotations

import threading
import time

from lti_tool import platform_keys
from tests.support.tokens import ScriptedPlatform

URL = "https://lms.example.edu/jwks"


def test_concurrent_misses_fetch_once(app, monkeypatch):
    platform = ScriptedPlatform("https://lms.example.edu")
    fetched = []

    def slow_fetch(url):
        fetched.append(url)
        time.sleep(0.2)  # the LMS takes its time: every other launch arrives meanwhile
        return platform.jwks()

    monkeypatch.setattr(platform_keys, "fetch_key_set", slow_fetch)
    results, errors = [], []

    def launch():
        try:
            with app.app_context():
                results.append(platform_keys._key_set(URL))
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=launch) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert fetched == [URL]
    assert all(result == platform.jwks() for result in results) and len(results) == 8


def test_a_forced_refetch_still_fetches(app, monkeypatch):
    platform = ScriptedPlatform("https://lms.example.edu")
    fetched = []
    monkeypatch.setattr(platform_keys, "fetch_key_set", lambda url: fetched.append(url) or platform.jwks())
    with app.app_context():
        platform_keys._key_set(URL)
        platform_keys._key_set(URL)
        assert fetched == [URL]
        platform_keys._key_set(URL, fresh=True)
        assert fetched == [URL, URL]
