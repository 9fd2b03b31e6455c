"""Shared pieces for the hostile-input tests: row snapshots, hostile values and raw form bodies.

Form bodies are built by hand (not by the test client) so a test can send what a browser never
would: the same key several times, bytes that are not UTF-8, lone surrogates in their UTF-8-like
encoding, and NUL.
"""

from __future__ import annotations

from typing import Any, Iterable
from urllib.parse import quote_from_bytes

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from sqlalchemy import func, literal, select, union_all

from lti_tool.db import db

# Modest example counts keep the suite fast; no deadline because a first request warms templates.
HOSTILE = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def row_counts(app) -> dict[str, int]:
    """The number of rows in every table the application defines."""
    with app.app_context():
        # One round trip: hypothesis calls this twice per example.
        query = union_all(
            *(select(literal(table.name), func.count()).select_from(table) for table in db.metadata.sorted_tables)
        )
        counts = {name: count for name, count in db.session.execute(query)}
        db.session.remove()
    return counts


def changed(before: dict[str, int], after: dict[str, int]) -> dict[str, tuple[int, int]]:
    return {name: (before[name], after[name]) for name in before if before[name] != after[name]}


def assert_no_500(response) -> None:
    assert response.status_code < 500, response.get_data(as_text=True)[:800]


def assert_refused_or_fine(app, response, before: dict[str, int]) -> None:
    """Never a 500; a refusal (4xx) leaves every table as it was."""
    assert_no_500(response)
    if 400 <= response.status_code < 500:
        diff = changed(before, row_counts(app))
        assert not diff, f"{response.status_code} but rows changed: {diff}"


# --- hostile values -------------------------------------------------------------------------------

NASTY_STRINGS = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\u202egnp.exe",  # right-to-left override
    "\u200b\u200d\ufeff",
    "<script>alert(1)</script>",
    "<svg onload=alert(1)>",
    "javascript:alert(1)",
    "../../etc/passwd",
    "'; DROP TABLE courses; --",
    "%00",
    "{{7*7}}",
    "-1",
    "-0",
    "0",
    "1e309",
    "-1e309",
    "1e-400",
    "NaN",
    "nan",
    "Infinity",
    "-Infinity",
    "9" * 400,
    "99999999999999999999",
    "-99999999999999999999",
    "1,5",
    "0x10",
    "١٢٣",  # Arabic-Indic digits
    "²",
    "true",
    "null",
    "[]",
    "{}",
    "x" * 70_000,
    "é" * 6_000,
    "𝕏" * 3_000,
]

# Byte strings that are not valid UTF-8 (or encode what UTF-8 forbids).
NASTY_BYTES = [
    b"\xff\xfe",
    b"\xed\xa0\x80",  # a lone surrogate, as CESU-8 would write it
    b"\xc0\xaf",  # an overlong "/"
    b"abc\x80def",
    b"\xf4\x90\x80\x80",  # above U+10FFFF
]


def text_values() -> st.SearchStrategy[bytes]:
    """One field value as raw bytes."""
    return st.one_of(
        st.sampled_from(NASTY_STRINGS).map(lambda s: s.encode("utf-8")),
        st.sampled_from(NASTY_BYTES),
        st.text(max_size=60).map(lambda s: s.encode("utf-8", "surrogatepass")),
        st.integers().map(lambda n: str(n).encode()),
        st.floats().map(lambda f: repr(f).encode()),
    )


def field_values() -> st.SearchStrategy[list[bytes]]:
    """What a field carries: missing (no value), one value, or several (a list where one is expected)."""
    return st.lists(text_values(), min_size=0, max_size=3)


def hostile_fields(names: Iterable[str]) -> st.SearchStrategy[list[tuple[str, bytes]]]:
    """Pairs for a form with hostile values in `names`, plus now and then a field nobody asked for."""
    names = list(names)
    known = st.fixed_dictionaries({name: field_values() for name in names})
    extra = st.lists(st.tuples(st.text(max_size=20), text_values()), max_size=2)

    def flatten(parts) -> list[tuple[str, bytes]]:
        fields, extras = parts
        pairs = [(name, value) for name, values in fields.items() for value in values]
        return pairs + [(name, value) for name, value in extras if name not in ("launch_id", "csrf_token")]

    return st.tuples(known, extra).map(flatten)


def form_body(pairs: Iterable[tuple[str, Any]]) -> bytes:
    """An application/x-www-form-urlencoded body from (name, str-or-bytes) pairs, in order."""

    def enc(value: Any) -> str:
        raw = value if isinstance(value, bytes) else str(value).encode("utf-8", "surrogatepass")
        return quote_from_bytes(raw, safe="")

    return "&".join(f"{enc(name)}={enc(value)}" for name, value in pairs).encode("ascii")


FORM = "application/x-www-form-urlencoded"


def json_values() -> st.SearchStrategy[Any]:
    """Any JSON: wrong types where strings are expected, nesting, huge numbers."""
    return st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
        lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
        max_leaves=15,
    )
