"""Charts drawn on the server as inline SVG: no script, nothing to download, readable by screen
readers (role="img" with a title, a description and an aria-label), and always shown next to a
table with the same numbers.

Colours come from classes styled in tool.css, so the charts follow the page's palette and contrast.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from markupsafe import Markup, escape

WIDTH = 720
LEFT = 48  # room for the value axis labels
BOTTOM = 44  # room for the category labels
TOP = 12


@dataclass(frozen=True)
class Point:
    label: str
    value: float
    # Shown in the bar's tooltip; defaults to the formatted value.
    note: str | None = None


def _nice_max(value: float, integer: bool = False) -> float:
    """A round axis maximum at or above `value` (1, 2, 2.5 or 5 times a power of ten).

    For counts (`integer`), a maximum whose quarters are whole numbers, so ticks read 0, 3, 6...
    """
    if integer:
        power = 1
        while True:
            for step in (1, 2, 2.5, 5):
                quarter = step * power
                if quarter == int(quarter) and 4 * quarter >= value:
                    return float(4 * quarter)
            power *= 10
    if value <= 0:
        return 1.0
    power = 1.0
    while power * 10 <= value:
        power *= 10
    while power > value:
        power /= 10
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power


def _frame(chart_id: str, title: str, desc: str, height: int, body: list[str]) -> Markup:
    label = f"{title}. {desc}"
    return Markup(
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {height}" width="100%" '
        f'preserveAspectRatio="xMinYMin meet" aria-label="{escape(label)}" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>' + "".join(body) + "</svg>"
    )


def column_chart(
    chart_id: str,
    title: str,
    desc: str,
    points: Sequence[Point],
    *,
    fmt: Callable[[float], str] = lambda v: f"{v:g}",
    max_value: float | None = None,
    height: int = 240,
    label_every: int = 1,
    integer: bool = True,
) -> Markup:
    """Vertical bars, one per point, with a value axis (0 to a round maximum)."""
    top = (
        max_value if max_value is not None else _nice_max(max((p.value for p in points), default=0), integer)
    )
    plot_w = WIDTH - LEFT - 8
    plot_h = height - TOP - BOTTOM
    body = ['<g class="chart-axis">']
    for step in range(5):
        value = top * step / 4
        y = TOP + plot_h - plot_h * step / 4
        body.append(f'<line class="chart-grid" x1="{LEFT}" x2="{WIDTH - 8}" y1="{y:.1f}" y2="{y:.1f}"/>')
        body.append(
            f'<text class="chart-tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(fmt(value))}</text>"
        )
    body.append("</g>")
    count = max(len(points), 1)
    slot = plot_w / count
    bar_w = max(slot * 0.7, 1.0)
    for index, point in enumerate(points):
        value = min(max(point.value, 0.0), top)
        bar_h = plot_h * value / top if top else 0
        x = LEFT + index * slot + (slot - bar_w) / 2
        y = TOP + plot_h - bar_h
        tip = point.note or f"{point.label}: {fmt(point.value)}"
        body.append(
            f'<rect class="chart-bar" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{bar_h:.1f}">'
            f"<title>{escape(tip)}</title></rect>"
        )
        if index % label_every == 0:
            cx = x + bar_w / 2
            body.append(
                f'<text class="chart-label" x="{cx:.1f}" y="{TOP + plot_h + 16}" text-anchor="middle">'
                f"{escape(point.label)}</text>"
            )
    body.append(
        f'<line class="chart-baseline" x1="{LEFT}" x2="{WIDTH - 8}" y1="{TOP + plot_h}" y2="{TOP + plot_h}"/>'
    )
    return _frame(chart_id, title, desc, height, body)


def bar_chart(
    chart_id: str,
    title: str,
    desc: str,
    points: Sequence[Point],
    *,
    fmt: Callable[[float], str] = lambda v: f"{v:.0%}",
    max_value: float = 1.0,
) -> Markup:
    """Horizontal bars, one row per point, labelled on the left and valued on the right."""
    row_h = 28
    label_w = 260
    value_w = 64
    height = TOP * 2 + row_h * max(len(points), 1)
    plot_w = WIDTH - label_w - value_w
    body = []
    for index, point in enumerate(points):
        y = TOP + index * row_h
        value = min(max(point.value, 0.0), max_value)
        bar_w = plot_w * value / max_value if max_value else 0
        label = point.label if len(point.label) <= 38 else point.label[:37] + "…"
        tip = point.note or f"{point.label}: {fmt(point.value)}"
        body.append(
            f'<text class="chart-label" x="{label_w - 8}" y="{y + row_h / 2 + 4:.1f}" text-anchor="end">'
            f"{escape(label)}</text>"
        )
        body.append(
            f'<rect class="chart-track" x="{label_w}" y="{y + 5}" width="{plot_w}" height="{row_h - 10}"/>'
        )
        body.append(
            f'<rect class="chart-bar" x="{label_w}" y="{y + 5}" width="{bar_w:.1f}" height="{row_h - 10}">'
            f"<title>{escape(tip)}</title></rect>"
        )
        body.append(
            f'<text class="chart-value" x="{label_w + plot_w + 6}" y="{y + row_h / 2 + 4:.1f}">'
            f"{escape(fmt(point.value))}</text>"
        )
    return _frame(chart_id, title, desc, height, body)
