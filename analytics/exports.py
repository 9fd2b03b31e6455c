"""CSV downloads of the dashboard's tables (the same numbers the charts and tables show)."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any, Callable, Iterable

from analytics.models import SCORE_BINS
from analytics.service import Dashboard

# A cell starting with one of these is a formula to a spreadsheet: a learner named "=HYPERLINK(...)"
# must stay text when a teacher opens the file.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _csv(header: list[str], rows: Iterable[Iterable[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(value) for value in row])
    return out.getvalue()


def score_range(k: int) -> str:
    """The label of score bin k: "20-30%" holds scores from 20 % up to, not including, 30 %."""
    return f"{100 * k // SCORE_BINS}-{100 * (k + 1) // SCORE_BINS}%"


def engagement_csv(board: Dashboard) -> str:
    return _csv(
        ["Day", "Active learners", "Launches", "Item views", "Quiz submissions", "Minutes on task"],
        (
            [d.day.isoformat(), d.learners, d.launches, d.views, d.submissions, d.minutes]
            for d in board.engagement
        ),
    )


def modules_csv(board: Dashboard) -> str:
    return _csv(
        [
            "Module",
            "Items",
            "Learners who completed every item",
            "Share of the class",
            "Mean item completion",
        ],
        (
            [m.title, m.items, m.learners_completed, m.completion_rate, m.mean_item_completion]
            for m in board.modules
        ),
    )


def items_csv(board: Dashboard) -> str:
    return _csv(
        [
            "Module",
            "Item",
            "Kind",
            "Learners",
            "Learners who opened it",
            "Views",
            "Learners who completed it",
            "Completion rate",
            "Median share watched",
            "Quiz attempts",
            "Learners who submitted",
            "Mean best score",
            "Minutes on task",
        ],
        (
            [
                i.module_title,
                i.title,
                i.kind,
                i.learners,
                i.viewers,
                i.views,
                i.completions,
                i.completion_rate,
                i.median_progress,
                i.attempts,
                i.submitters,
                i.avg_scaled,
                i.minutes,
            ]
            for i in board.items
        ),
    )


def scores_csv(board: Dashboard) -> str:
    return _csv(
        ["Quiz", "Best score", "Learners"],
        (
            [quiz.title, score_range(k), count]
            for quiz in board.quizzes
            for k, count in enumerate(quiz.score_bins)
        ),
    )


def learners_csv(board: Dashboard) -> str:
    return _csv(
        [
            "Learner",
            "Last active",
            "Days since last activity",
            "Items completed",
            "Quiz attempts",
            "Mean quiz score",
            "Minutes on task",
            "At risk",
            "Why",
        ],
        (
            [
                learner.name,
                learner.last_active,
                learner.days_inactive,
                learner.items_completed,
                learner.attempts,
                learner.avg_scaled,
                learner.minutes,
                "yes" if learner.at_risk else "no",
                "; ".join(learner.reasons),
            ]
            for learner in board.learners
        ),
    )


TABLES: dict[str, Callable[[Dashboard], str]] = {
    "engagement": engagement_csv,
    "modules": modules_csv,
    "items": items_csv,
    "scores": scores_csv,
    "learners": learners_csv,
}
