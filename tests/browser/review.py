"""What a person would check on each main page: how it looks on a phone and on a desktop
(screenshots kept in test-artifacts/screenshots/), and whether axe-core finds serious or critical
accessibility problems in it."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
# Kept by CI: screenshots of the main pages, and of the pages of failed tests.
ARTIFACTS = ROOT / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 800}
SIZES = {"phone": PHONE, "desktop": DESKTOP}
BLOCKING_IMPACTS = ("serious", "critical")


@lru_cache(maxsize=1)
def _axe_source() -> str:
    if not AXE.is_file():
        raise AssertionError(
            f"axe-core is not installed ({AXE.relative_to(ROOT)} is missing): run `npm ci --no-audit --no-fund` "
            "at the repository root."
        )
    return AXE.read_text()


def axe_violations(target: Any, *, skip_frames: bool = True) -> list[dict[str, Any]]:
    """Run axe-core in a page or frame; its serious and critical violations.

    The script is evaluated through the browser's debugging protocol, so a page's
    Content-Security-Policy cannot keep it out. Frames are checked on their own (`skip_frames`):
    the tool inside the LMS page is another site's document.
    """
    if not target.evaluate("() => typeof window.axe === 'object'"):
        target.evaluate(_axe_source() + "\n;undefined")
    result = target.evaluate(
        "async (options) => await window.axe.run(document, options)",
        {"iframes": not skip_frames, "resultTypes": ["violations"]},
    )
    return [v for v in result["violations"] if v.get("impact") in BLOCKING_IMPACTS]


def describe(violations: list[dict[str, Any]], where: str) -> str:
    lines = [f"{len(violations)} serious or critical accessibility problem(s) on {where}:"]
    for violation in violations:
        lines.append(f"- [{violation['impact']}] {violation['id']}: {violation['help']} ({violation['helpUrl']})")
        for node in violation["nodes"][:5]:
            target = " ".join(str(t) for t in node.get("target", []))
            summary = " ".join((node.get("failureSummary") or "").split())
            lines.append(f"    at {target}: {summary}")
            lines.append(f"       {node.get('html', '')[:200]}")
        if len(violation["nodes"]) > 5:
            lines.append(f"    ... and {len(violation['nodes']) - 5} more")
    return "\n".join(lines)


def _file(name: str, size: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / f"{re.sub(r'[^a-z0-9-]+', '-', name.lower())}-{size}.png"


def _screenshot_whole_page(page: Any, viewport: dict[str, int], path: Path) -> None:
    # Chromium's full-page capture leaves frames from other sites empty (it paints only what the
    # viewport holds), so the viewport is made as tall as the page instead.
    page.set_viewport_size(viewport)
    for _ in range(2):  # the page may reflow once at the new height (units relative to the viewport)
        height = page.evaluate("() => document.documentElement.scrollHeight")
        page.set_viewport_size({"width": viewport["width"], "height": max(viewport["height"], height)})
    page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
    page.screenshot(path=str(path))


def review_page(page: Any, name: str) -> None:
    """Screenshot a whole page at phone and desktop widths, and check it with axe at both."""
    problems = []
    try:
        for size, viewport in SIZES.items():
            _screenshot_whole_page(page, viewport, _file(name, size))
            page.set_viewport_size(viewport)
            found = axe_violations(page.main_frame)
            if found:
                problems.append(describe(found, f"{name} ({size}, {page.url})"))
    finally:
        page.set_viewport_size(DESKTOP)
    assert not problems, "\n\n".join(problems)


def review_frame(page: Any, frame_selector: str, name: str) -> None:
    """The tool as it shows inside the LMS page: the frame's own screenshot at phone and desktop
    widths of the page around it, and axe run inside the frame's document."""
    element = page.locator(frame_selector)
    problems = []
    try:
        for size, viewport in SIZES.items():
            page.set_viewport_size(viewport)
            element.scroll_into_view_if_needed()
            element.screenshot(path=str(_file(name, size)))
            frame = element.element_handle().content_frame()
            assert frame is not None, f"{frame_selector} shows no document"
            found = axe_violations(frame)
            if found:
                problems.append(describe(found, f"{name} ({size}, {frame.url})"))
    finally:
        page.set_viewport_size(DESKTOP)
    assert not problems, "\n\n".join(problems)
