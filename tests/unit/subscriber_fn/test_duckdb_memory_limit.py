"""DuckDB's memory_limit: set from IL_AUDIT_DUCKDB_MEMORY_LIMIT, and too low fails loudly.

The primary-key index (ART) lives in DuckDB's buffer manager, so it counts
against ``memory_limit``: random keys make it grow, and past the limit an
insert fails. The worker must then nack (the message comes back) and say
which setting to raise, never ack rows it did not store.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any

import pytest

from il_audit.subscriber_fn.catalogs import SeedCatalogProvider
from il_audit.subscriber_fn.pipeline import Pipeline
from il_audit.subscriber_fn.pull_worker import PullSettings, PullWorker, message_meta
from il_audit.subscriber_fn.sinks import create_sink
from il_audit.subscriber_fn.sinks.duckdb import DuckDBSink
from tests.support.factories import envelope_line, make_settings
from tests.unit.subscriber_fn.test_pipeline import make_pipeline
from tests.unit.subscriber_fn.test_pull_worker import FakeMessage, FakeStream, settle

KEYS_ALREADY_STORED = 150_000
"""Random keys stored before the worker starts: a few more batches outgrow 64MB."""


def _limit(sink: DuckDBSink) -> str:
    with sink.file.writer() as connection:
        row = connection.execute("SELECT current_setting('memory_limit')").fetchone()
    assert row is not None
    return str(row[0])


def test_the_sink_runs_under_the_configured_memory_limit(tmp_path: Path) -> None:
    """The sink's connections get IL_AUDIT_DUCKDB_MEMORY_LIMIT, not DuckDB's 80 % of RAM."""
    settings = make_settings(
        sink="duckdb", duckdb_path=str(tmp_path / "a.duckdb"), duckdb_memory_limit="300MiB"
    )
    sink = create_sink(settings)
    assert isinstance(sink, DuckDBSink)
    sink.ensure_tables()
    try:
        assert _limit(sink) == "300.0 MiB"
    finally:
        sink.close()


def _fill_with_random_keys(path: Path, rows: int) -> None:
    """``rows`` events with random (uuid4) ids, written under a roomy limit."""
    roomy = DuckDBSink(path, memory_limit="1GB")
    roomy.ensure_tables()
    with roomy.file.writer() as connection:
        connection.execute(
            "INSERT INTO events BY NAME SELECT 1 AS schema_version, uuid()::VARCHAR AS event_id, "
            "'auth.logout' AS event_type, now() AS occurred_at, 'ingest' AS app, "
            f"'api' AS source, now() AS ingested_at FROM range({rows})"
        )
    roomy.close()


def test_an_index_outgrowing_the_memory_limit_nacks_and_names_the_setting(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Past the limit the batch is nacked with an error naming it; nothing acked is missing,
    and with the limit raised the nacked message goes through."""
    database = tmp_path / "audit.duckdb"  # the file make_pipeline opens
    _fill_with_random_keys(database, KEYS_ALREADY_STORED)

    class Tight(DuckDBSink):
        def __init__(self, path: Path, **options: Any) -> None:
            super().__init__(path, memory_limit="64MB", **options)

    pipeline, _ = make_pipeline(tmp_path, Tight)
    stream = FakeStream()
    worker = PullWorker(
        pipeline,
        PullSettings("projects/p/subscriptions/s", max_batch_rows=1, max_batch_seconds=0),
        subscribe=lambda *_args, **_kwargs: stream,
        retry_pause=0.01,
    )
    worker.start()
    acked: list[FakeMessage] = []
    nacked: FakeMessage | None = None
    try:
        with caplog.at_level(logging.WARNING):
            for index in range(10):
                lines = [envelope_line(event_id=str(uuid.uuid4())) for _ in range(2000)]
                message = FakeMessage(b"\n".join(lines), f"m-{index}")
                worker.on_message(message)
                if settle(message) == ["nack"]:
                    nacked = message
                    break
                acked.append(message)
            else:
                pytest.fail("10 batches of random keys never reached a 64MB memory_limit")
    finally:
        worker.stop(timeout=10)
        pipeline.sink.close()
    assert (worker.counters.acked, worker.counters.nacked) == (len(acked), 1)
    assert "memory_limit of 64MB (IL_AUDIT_DUCKDB_MEMORY_LIMIT)" in caplog.text
    roomy = DuckDBSink(database, memory_limit="1GB")
    assert count_rows(roomy) == KEYS_ALREADY_STORED + 2000 * len(acked)
    assert nacked is not None
    redelivered = Pipeline(roomy, SeedCatalogProvider()).handle(
        nacked.data, {}, message_meta(nacked, "projects/p/subscriptions/s")
    )
    roomy.close()
    assert redelivered.accepted == 2000


def count_rows(sink: DuckDBSink) -> int:
    with sink.file.connect(read_only=True) as connection:
        row = connection.execute("SELECT count(*) FROM events").fetchone()
    assert row is not None
    return int(row[0])
