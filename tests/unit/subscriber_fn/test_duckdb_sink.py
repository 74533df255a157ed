"""The DuckDB sink on a real file: same tables, exact types, dedupe, lock contention."""

from __future__ import annotations

import multiprocessing
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from il_audit.schemas import COST_RATES, DEAD_LETTERS, EVENTS
from il_audit.subscriber_fn.core import MessageMeta, dead_letter_row, process_message
from il_audit.subscriber_fn.errors import SinkUnavailableError
from il_audit.subscriber_fn.pricing import seed_catalog
from il_audit.subscriber_fn.sinks.duckdb import DuckDBSink, create_table_sql, duckdb_type
from tests.support.factories import envelope_line, seed_token_cost

NOW = datetime(2026, 11, 27, 13, 0, tzinfo=UTC)


def rows_for(*lines: bytes, message_id: str = "m-1"):  # type: ignore[no-untyped-def]
    return process_message(b"\n".join(lines), MessageMeta(message_id), seed_catalog(), NOW)


@pytest.fixture
def sink(tmp_path: Path) -> DuckDBSink:
    created = DuckDBSink(tmp_path / "audit.duckdb", lock_timeout=2)
    created.ensure_tables()
    return created


def test_tables_have_the_spec_columns_and_types(sink: DuckDBSink) -> None:
    """Columns and types follow the table specs (NUMERIC as DECIMAL(38,9), UTC timestamps)."""
    with sink.file.connect(read_only=True) as connection:
        for spec in (EVENTS, DEAD_LETTERS, COST_RATES):
            described = connection.execute(f"DESCRIBE {spec.name}").fetchall()
            assert [row[0] for row in described] == list(spec.column_names)
        types = dict(connection.execute("SELECT column_name, data_type FROM "
                                        "information_schema.columns WHERE table_name='events'")
                     .fetchall())  # fmt: skip
    assert types["cost_usd"] == "DECIMAL(38,9)"
    assert types["occurred_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["metadata"] == "JSON"
    assert types["usage"].startswith("STRUCT(")
    assert types["usage"].endswith("[]")


def test_rows_round_trip_exactly(sink: DuckDBSink) -> None:
    """What the core produced is what a query reads back: decimals, JSON, UTC times."""
    result = rows_for(
        envelope_line(
            event_id="e-1",
            metadata={"pages": 3, "tags": ["a", "b"]},
            usage=[{"service": "vertex_gemini", "model_id": "gemini-2.0-flash",
                    "input_tokens": 1234, "output_tokens": 567, "latency_ms": 12.5}],
        )
    )  # fmt: skip
    assert sink.write_events(result.rows) == {}
    with sink.file.connect(read_only=True) as connection:
        connection.execute("SET TimeZone='UTC'")
        row = connection.execute(
            "SELECT event_id, cost_usd, usage[1].cost_usd, usage[1].latency_ms, "
            "metadata->>'$.tags[1]', occurred_at, ingested_at FROM events"
        ).fetchone()
    assert row is not None
    cost = seed_token_cost("gemini-2.0-flash", 1234, 567)
    assert row[:5] == ("e-1", cost, cost, 12.5, "b")
    assert row[5] == datetime(2026, 11, 27, 12, 30, 15, 123456, tzinfo=UTC)
    assert row[6] == NOW


def test_redelivered_events_are_not_duplicated(sink: DuckDBSink) -> None:
    """Writing the same event_id twice keeps one row."""
    result = rows_for(envelope_line(event_id="dup"), envelope_line(event_id="other"))
    sink.write_events(result.rows)
    sink.write_events(result.rows)
    with sink.file.connect(read_only=True) as connection:
        assert connection.execute("SELECT count(*) FROM events").fetchone() == (2,)


def test_dead_letters_are_keyed_by_message_and_line(sink: DuckDBSink) -> None:
    """The same reject recorded twice (a redelivery) stays one row."""
    result = rows_for(b"{bad", b"[]")
    rows = [dead_letter_row(r, {"a": "1"}, MessageMeta("m-9"), NOW) for r in result.rejects]
    sink.write_dead_letters(rows)
    sink.write_dead_letters(rows)
    with sink.file.connect(read_only=True) as connection:
        stored = connection.execute(
            "SELECT dead_letter_id, error_class, attributes->>'$.a' FROM dead_letters ORDER BY 1"
        ).fetchall()
    assert stored == [("m-9:0", "invalid_json", "1"), ("m-9:1", "invalid_json", "1")]


def test_cost_rates_upsert_and_read(sink: DuckDBSink) -> None:
    """cost_rates rows are replaced by key and read back with exact prices."""
    rates = [rate.to_row() for rate in seed_catalog().rates]
    sink.upsert_cost_rates(rates)
    sink.upsert_cost_rates([{**rates[0], "input_price_per_1m_tokens": Decimal("0.5")}])
    stored = sink.read_cost_rates()
    assert len(stored) == len(rates)
    key = ("service", "model_id", "pricing_tier", "effective_from")
    first = next(r for r in stored if all(r[name] == rates[0][name] for name in key))
    assert first["input_price_per_1m_tokens"] == Decimal("0.5")
    assert first["effective_from"] == date(2026, 7, 1)
    batch = [r for r in stored if r["pricing_tier"] == "batch"]
    assert len(batch) == sum(rate["pricing_tier"] == "batch" for rate in rates) > 0


def test_types_of_nested_columns() -> None:
    """Repeated records become lists of structs."""
    assert duckdb_type(EVENTS.column("usage")).endswith("[]")
    assert "PRIMARY KEY (event_id)" in create_table_sql(EVENTS)


def _hold_write_lock(path: str, seconds: float, ready: multiprocessing.synchronize.Event) -> None:
    connection = duckdb.connect(path)
    ready.set()
    time.sleep(seconds)  # the behaviour under test: another process holds the file a while
    connection.close()


@pytest.mark.subprocess
def test_waits_for_another_process_holding_the_file(sink: DuckDBSink) -> None:
    """A write retries while another process holds the file, then succeeds."""
    ready = multiprocessing.get_context("spawn").Event()
    holder = multiprocessing.get_context("spawn").Process(
        target=_hold_write_lock, args=(str(sink.path), 0.8, ready)
    )
    holder.start()
    assert ready.wait(30)
    started = time.monotonic()
    assert sink.write_events(rows_for(envelope_line()).rows) == {}
    assert time.monotonic() - started > 0.2
    holder.join(10)


@pytest.mark.subprocess
def test_gives_up_as_transient_when_the_lock_is_held_too_long(sink: DuckDBSink) -> None:
    """Past its lock timeout the sink raises SinkUnavailableError (retry the message)."""
    ready = multiprocessing.get_context("spawn").Event()
    holder = multiprocessing.get_context("spawn").Process(
        target=_hold_write_lock,
        args=(str(sink.path), 60, ready),  # terminated below
    )
    holder.start()
    assert ready.wait(30)
    sink.file.lock_timeout = 0.5
    with pytest.raises(SinkUnavailableError):
        sink.write_events(rows_for(envelope_line()).rows)
    holder.terminate()
    holder.join(10)
