"""Retention in the embedded warehouse: expired days are deleted when the sink opens the file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from il_audit.subscriber_fn.core import MessageMeta, dead_letter_row, process_message
from il_audit.subscriber_fn.pipeline import build_pipeline
from il_audit.subscriber_fn.pricing import seed_catalog
from il_audit.subscriber_fn.sinks.duckdb import DuckDBSink, apply_retention, delete_expired
from tests.support import retention_scenario as scenario
from tests.support.duck import read
from tests.support.factories import envelope_line, make_settings

NOW = datetime(2026, 11, 27, 13, 0, tzinfo=UTC)


def occurred(at: datetime) -> bytes:
    return envelope_line(occurred_at=at.isoformat().replace("+00:00", "Z"))


def fill(path: Path, *times: datetime) -> None:
    """One event per time, and one dead letter received at each time."""
    sink = DuckDBSink(path, hold_seconds=0)
    result = process_message(
        b"\n".join(occurred(at) for at in times), MessageMeta("m-1"), seed_catalog(), NOW
    )
    assert sink.write_events(result.rows) == {}
    for index, at in enumerate(times):
        reject = process_message(b"{", MessageMeta(f"d-{index}"), seed_catalog(), at).rejects
        sink.write_dead_letters([dead_letter_row(reject[0], {}, MessageMeta(f"d-{index}"), at)])
    sink.close()


def days_left(path: Path) -> tuple[list[str], list[str]]:
    events = read(path, "SELECT CAST(occurred_at AS DATE)::VARCHAR FROM events ORDER BY 1")
    dead = read(path, "SELECT CAST(received_at AS DATE)::VARCHAR FROM dead_letters ORDER BY 1")
    return [row[0] for row in events], [row[0] for row in dead]


def test_delete_expired_follows_bigquery_partition_expiration(tmp_path: Path) -> None:
    """With 3 days, a day's rows go once its start is 3 days old: 11-24 goes at 11-27 00:00."""
    path = tmp_path / "audit.duckdb"
    fill(
        path,
        datetime(2026, 11, 23, 23, 59, tzinfo=UTC),
        datetime(2026, 11, 24, 0, 0, tzinfo=UTC),
        datetime(2026, 11, 24, 23, 0, tzinfo=UTC),
        datetime(2026, 11, 25, 0, 0, tzinfo=UTC),
    )
    sink = DuckDBSink(path, hold_seconds=0)

    with sink.file.connect() as connection:
        deleted = delete_expired(connection, 3, NOW)

    assert deleted == {"events": 3, "dead_letters": 3}
    assert days_left(path) == (["2026-11-25"], ["2026-11-25"])


def test_sink_with_retention_deletes_expired_rows_on_open(tmp_path: Path) -> None:
    """A sink with retention_days deletes expired events and dead letters in ensure_tables."""
    path = tmp_path / "audit.duckdb"
    now = datetime.now(UTC)
    fill(path, now - timedelta(days=40), now - timedelta(days=2), now)

    sink = DuckDBSink(path, hold_seconds=0, retention_days=30)
    sink.ensure_tables()
    sink.close()

    events, dead = days_left(path)
    assert len(events) == len(dead) == 2
    assert min(events) == (now - timedelta(days=2)).date().isoformat()


def test_sink_without_retention_keeps_everything(tmp_path: Path) -> None:
    """No retention (the default) deletes nothing, however old."""
    path = tmp_path / "audit.duckdb"
    fill(path, datetime(2020, 1, 1, tzinfo=UTC), NOW)

    sink = DuckDBSink(path, hold_seconds=0)
    sink.ensure_tables()
    sink.close()

    assert days_left(path) == (["2020-01-01", "2026-11-27"], ["2020-01-01", "2026-11-27"])


def test_retention_setting_reaches_the_embedded_sink(tmp_path: Path) -> None:
    """IL_AUDIT_RETENTION_DAYS becomes the embedded sink's retention."""
    path = tmp_path / "audit.duckdb"
    fill(path, datetime.now(UTC) - timedelta(days=10), datetime.now(UTC))
    settings = make_settings(sink="duckdb", duckdb_path=str(path), retention_days=7)

    pipeline = build_pipeline(settings, with_topic=False)
    pipeline.sink.close()

    assert len(days_left(path)[0]) == 1


def filled_family_file(path: Path) -> DuckDBSink:
    """The family scenario (tests/support/retention_scenario.py) in a DuckDB file."""
    sink = DuckDBSink(path, hold_seconds=0)
    assert sink.write_events(scenario.event_rows()) == {}
    sink.write_dead_letters(scenario.dead_letter_rows())
    return sink


def kept_rows(path: Path) -> tuple[set[tuple[str, int]], list[int]]:
    events = read(path, "SELECT event_type, occurred_at FROM events")
    dead = read(path, "SELECT received_at FROM dead_letters")
    return (
        {(kind, scenario.age_of(at)) for kind, at in events},
        sorted(scenario.age_of(row[0]) for row in dead),
    )


def test_each_family_keeps_its_own_days(tmp_path: Path) -> None:
    """Real deletes by family: each row goes by its most specific family's days (the
    default for the rest, dead letters by theirs), and nothing else goes."""
    path = tmp_path / "audit.duckdb"
    sink = filled_family_file(path)

    with sink.file.writer() as connection:
        deleted = apply_retention(connection, scenario.POLICY, scenario.NOW)
    sink.close()

    assert deleted == scenario.DELETED
    assert kept_rows(path) == (scenario.KEPT, [5])


def test_family_settings_reach_the_embedded_sink(tmp_path: Path) -> None:
    """IL_AUDIT_RETENTION_DAYS_BY_FAMILY becomes the sink's policy, applied when it opens."""
    path = tmp_path / "audit.duckdb"
    old = datetime.now(UTC) - timedelta(days=40)
    sink = DuckDBSink(path, hold_seconds=0)
    lines = [
        envelope_line(event_type=kind, occurred_at=old.isoformat().replace("+00:00", "Z"))
        for kind in ("chat.model_call.text", "chat.turn.succeeded")
    ]
    result = process_message(b"\n".join(lines), MessageMeta("m-2"), seed_catalog(), NOW)
    assert sink.write_events(result.rows) == {}
    sink.close()
    settings = make_settings(
        sink="duckdb", duckdb_path=str(path), retention_days_by_family={"chat.model_call": 30}
    )

    pipeline = build_pipeline(settings, with_topic=False)
    pipeline.sink.close()

    assert read(path, "SELECT event_type FROM events") == [("chat.turn.succeeded",)]
