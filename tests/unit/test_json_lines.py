"""The sinks' JSON line writer reads the same as the reference ``dumps``."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

from il_audit._json import dumps, dumps_line


def test_rows_read_back_the_same_through_both_writers() -> None:
    row = {
        "occurred_at": datetime(2026, 12, 1, 17, 5, 3, 120_000, tzinfo=UTC),
        "whole_second": datetime(2026, 12, 1, 17, 5, 3, tzinfo=UTC),
        "day": date(2026, 12, 1),
        "cost_usd": Decimal("0.000000125"),
        "tiny": Decimal("1E-9"),
        "name": "Zoë ✓",
        "nested": [{"tokens": 3, "ok": True, "none": None}],
    }
    fast = json.loads(dumps_line(row))
    assert fast == json.loads(dumps(row))
    assert fast["occurred_at"] == "2026-12-01T17:05:03.120000Z"
    assert fast["tiny"] == "0.000000001"


def test_an_offset_timestamp_keeps_its_instant() -> None:
    local = datetime(2026, 12, 1, 18, 0, tzinfo=timezone(timedelta(hours=1)))
    assert datetime.fromisoformat(json.loads(dumps_line({"t": local}))["t"]) == local


def test_a_lone_surrogate_falls_back_to_escaped_ascii() -> None:
    line = dumps_line({"text": "bad \ud800 half"})
    line.decode("utf-8")  # still valid UTF-8
    assert json.loads(line) == {"text": "bad \ud800 half"}


def test_integers_beyond_64_bits_fall_back_too() -> None:
    assert json.loads(dumps_line({"n": 2**70})) == {"n": 2**70}


def test_nan_and_infinities_are_null_in_both_writers() -> None:
    """What BigQuery's JSON columns get (``dumps``) matches what DuckDB gets
    (``dumps_line``): ``null``, never ``NaN`` text, at any depth."""
    value = {"a": float("nan"), "b": [1.5, float("inf"), {"c": -float("inf")}], "d": "NaN"}
    expected = {"a": None, "b": [1.5, None, {"c": None}], "d": "NaN"}
    assert json.loads(dumps(value)) == expected
    assert json.loads(dumps_line(value)) == expected
    assert "NaN" not in dumps(value).replace('"NaN"', "")
