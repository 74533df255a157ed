"""The canonical row form: the hash the writer stores is the hash of what DuckDB returns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from il_audit.schemas.integrity import canonical_row, row_hash, stamp_rows
from il_audit.subscriber_fn.sinks.duckdb import DuckDBSink
from tests.support.integrity_rows import rich_dead_letter_rows, rich_event_rows


def read_back(path: Path, table: str, key: str) -> list[dict[str, Any]]:
    with duckdb.connect(str(path), read_only=True) as connection:
        connection.execute("SET TimeZone = 'UTC'")
        cursor = connection.execute(f"SELECT * FROM {table} ORDER BY {key}")
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def test_duckdb_rows_read_back_hash_to_the_stored_row_hash(tmp_path: Path) -> None:
    """Events and dead letters written by the DuckDB sink hash, as read back, to their row_hash."""
    sink = DuckDBSink(tmp_path / "audit.duckdb")
    events, dead = rich_event_rows(), rich_dead_letter_rows()
    assert sink.write_events(events) == {}
    sink.write_dead_letters(dead)
    sink.close()

    for table, key, written in (
        ("events", "event_id", events),
        ("dead_letters", "dead_letter_id", dead),
    ):
        stored = read_back(tmp_path / "audit.duckdb", table, key)
        assert len(stored) == len(written)
        for row in stored:
            assert len(row["row_salt"]) == 32
            assert row["erased_by"] is None
            assert row_hash(table, row) == row["row_hash"]
        assert {row["row_hash"] for row in stored} == {row["row_hash"] for row in written}


def test_read_back_shapes_canonicalise_alike() -> None:
    """JSON text, integral floats, unnormalised decimals, offsets and NULLs change nothing."""
    written = {
        "event_id": "e1",
        "occurred_at": datetime(2026, 1, 1, 13, 0, tzinfo=timezone(timedelta(hours=1))),
        "payload": {"b": 1.0, "a": [2.0, "x"]},
        "cost_usd": Decimal("1.500000000"),
        "usage": [{"quantity": 3, "cost_usd": Decimal("0E-9")}],
        "unknown_fields": [],
        "row_salt": "0" * 32,
    }
    read = {
        "event_id": "e1",
        "occurred_at": datetime(2026, 1, 1, 12, 0, tzinfo=UTC),
        "payload": '{"a": [2, "x"], "b": 1}',
        "cost_usd": Decimal("1.5"),
        "usage": [{"quantity": 3.0, "cost_usd": Decimal("0"), "rate_tier": None}],
        "unknown_fields": None,
        "row_salt": "0" * 32,
        "row_hash": "f" * 64,
        "erased_by": "erasure-1",
        "message_id": None,
    }
    assert canonical_row("events", written) == canonical_row("events", read)


def test_the_salt_and_every_value_change_the_hash() -> None:
    """A different salt, or any changed value, gives another hash."""
    (row,) = stamp_rows("events", [rich_event_rows()[1]])
    before = row["row_hash"]
    assert row_hash("events", {**row, "row_salt": "1" * 32}) != before
    assert row_hash("events", {**row, "app": "other"}) != before
    assert row_hash("events", {**row, "payload": {"x": 1}}) != before
    assert row_hash("events", {**row, "row_salt": None}) != before
    assert row_hash("events", dict(row)) == before


def test_a_lone_surrogate_or_a_huge_int_still_hashes() -> None:
    """Values orjson refuses (a lone surrogate, an int over 64 bits) take the json path and
    hash deterministically."""
    row = {"event_id": "e1", "payload": {"text": "\ud800", "big": 2**70}, "row_salt": "0" * 32}
    assert row_hash("events", row) == row_hash("events", dict(row))
    assert b'"big":1180591620717411303424' in canonical_row("events", row)
