"""What the roll-ups must say about a seeded history, worked out in plain Python from the events
as published (independently of the code under test, following the documented rules)."""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

SESSION_GAP = 1800
THRESHOLD = 0.9
BINS = 10


def bin_of(scaled: float) -> int:
    return min(int(scaled * BINS + 1e-9), BINS - 1)


@dataclass
class Expected:
    item_days: dict[tuple[int, date], dict[str, Any]] = field(default_factory=dict)
    context_days: dict[date, dict[str, Any]] = field(default_factory=dict)
    learner_items: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    learners: dict[int, dict[str, Any]] = field(default_factory=dict)
    items: dict[int, dict[str, Any]] = field(default_factory=dict)


def work_out(published, learner_pks, rules: dict[int, str]) -> Expected:
    """`rules`: item id -> "watch", "submit" or "open"."""
    learners = set(learner_pks)
    rows = []
    furthest: dict[tuple[int, int], float] = {}
    for event in sorted(published, key=lambda e: e.id):
        if event.user_pk not in learners:
            continue
        row = {
            "id": event.id,
            "kind": event.kind,
            "user": event.user_pk,
            "item": event.item_id,
            "ts": event.at.timestamp(),
            "day": event.at.date(),
            "at": event.at,
            "progress": None,
            "scaled": None,
        }
        if event.kind == "media_progress":
            duration = event.data["duration"]
            position = min(max(event.data["position"], 0.0), duration)
            key = (event.user_pk, event.item_id)
            furthest[key] = max(furthest.get(key, 0.0), position / duration)
            row["progress"] = furthest[key]
        if event.kind in ("quiz_submitted", "grade_delivered"):
            row["scaled"] = (
                min(max(event.data["score"], 0.0), event.data["max_score"]) / event.data["max_score"]
            )
        rows.append(row)
    # Time on task: the pause after each event, within the learner's day, up to the session gap.
    by_user_day = defaultdict(list)
    for row in rows:
        by_user_day[(row["user"], row["day"])].append(row)
    for group in by_user_day.values():
        group.sort(key=lambda r: (r["ts"], r["id"]))
        for this, following in zip(group, group[1:] + [None]):
            pause = following["ts"] - this["ts"] if following else None
            this["spent"] = pause if pause is not None and pause <= SESSION_GAP else 0.0

    out = Expected()
    for row in rows:
        day = out.context_days.setdefault(row["day"], defaultdict(float, users=set()))
        day["users"].add(row["user"])
        day["events"] += 1
        day[row["kind"]] += 1
        day["time"] += row["spent"]
        if row["item"] is None:
            continue
        item_day = out.item_days.setdefault(
            (row["item"], row["day"]), defaultdict(float, users=set(), viewers=set(), submitters=set())
        )
        item_day["users"].add(row["user"])
        item_day[row["kind"]] += 1
        item_day["time"] += row["spent"]
        if row["kind"] == "item_viewed":
            item_day["viewers"].add(row["user"])
        if row["kind"] == "quiz_submitted":
            item_day["submitters"].add(row["user"])
            item_day["scaled_sum"] += row["scaled"]
        mine = out.learner_items.setdefault(
            (row["user"], row["item"]),
            {"views": 0, "progress": None, "attempts": 0, "best": None, "time": 0.0, "events": 0},
        )
        mine["events"] += 1
        mine["time"] += row["spent"]
        if row["kind"] == "item_viewed":
            mine["views"] += 1
        if row["kind"] == "media_progress":
            mine["progress"] = max(mine["progress"] or 0.0, row["progress"])
        if row["kind"] == "quiz_submitted":
            mine["attempts"] += 1
            mine["best"] = row["scaled"] if mine["best"] is None else max(mine["best"], row["scaled"])
    for (_user, item), mine in out.learner_items.items():
        rule = rules[item]
        mine["completed"] = (
            (mine["progress"] or 0.0) >= THRESHOLD
            if rule == "watch"
            else mine["attempts"] > 0
            if rule == "submit"
            else mine["views"] > 0
        )
    for user in {row["user"] for row in rows}:
        own = [row for row in rows if row["user"] == user]
        items = [mine for (u, _), mine in out.learner_items.items() if u == user]
        bests = [mine["best"] for mine in items if mine["best"] is not None]
        out.learners[user] = {
            "events": len(own),
            "active_days": len({row["day"] for row in own}),
            "time": sum(row["spent"] for row in own),
            "items_viewed": sum(1 for mine in items if mine["views"] > 0),
            "items_completed": sum(1 for mine in items if mine["completed"]),
            "attempts": sum(mine["attempts"] for mine in items),
            "quizzes_attempted": sum(1 for mine in items if mine["attempts"] > 0),
            "avg_scaled": sum(bests) / len(bests) if bests else None,
            "last_at": max(row["at"] for row in own),
        }
    for item in {item for (_, item) in out.learner_items}:
        mine = [m for (_, i), m in out.learner_items.items() if i == item]
        progress = [m["progress"] for m in mine if m["progress"] is not None]
        bests = [m["best"] for m in mine if m["best"] is not None]
        bins = [0] * BINS
        for best in bests:
            bins[bin_of(best)] += 1
        out.items[item] = {
            "learners": len(mine),
            "viewers": sum(1 for m in mine if m["views"] > 0),
            "views": sum(m["views"] for m in mine),
            "completions": sum(1 for m in mine if m["completed"]),
            "watchers": len(progress),
            "median_progress": statistics.median(progress) if progress else None,
            "attempts": sum(m["attempts"] for m in mine),
            "submitters": sum(1 for m in mine if m["attempts"] > 0),
            "avg_scaled": sum(bests) / len(bests) if bests else None,
            "bins": bins,
            "time": sum(m["time"] for m in mine),
        }
    return out
