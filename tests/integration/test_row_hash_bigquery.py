"""Row hashes on the BigQuery stand-in: what a query returns hashes to the stored row_hash,
through insertAll and through the Storage Write API (written first, then read)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from il_audit.config.settings import BigQueryWriteMethod
from il_audit.schemas.integrity import row_hash
from il_audit.subscriber_fn.sinks.bigquery import BigQuerySink
from tests.support import bigquery_standin
from tests.support.factories import make_settings
from tests.support.integrity_rows import rich_dead_letter_rows, rich_event_rows


def select_all(sink: BigQuerySink, table: str) -> list[dict[str, Any]]:
    sql = f"SELECT * FROM `{sink.client.project}.{sink.dataset}.{table}`"
    return [dict(row.items()) for row in sink.client.query(sql).result(timeout=30)]


@pytest.mark.parametrize(
    "method", [BigQueryWriteMethod.INSERT_ALL, BigQueryWriteMethod.STORAGE_WRITE]
)
def test_bigquery_rows_read_back_hash_to_the_stored_row_hash(
    standin: bigquery_standin.BigQueryStandIn, method: BigQueryWriteMethod
) -> None:
    """Events and dead letters read back from the stand-in hash to the row_hash written."""
    settings = make_settings(
        sink="bigquery",
        project=standin.project,
        dataset=f"il_audit_{uuid.uuid4().hex[:12]}",
        bq_api_endpoint=standin.url,
        bq_storage_api_endpoint=standin.grpc_address,
        bq_write_method=method,
    )
    sink = BigQuerySink.from_settings(settings)
    sink.timeout = 10.0
    events, dead = rich_event_rows(), rich_dead_letter_rows()
    try:
        assert sink.write_events(events) == {}
        sink.write_dead_letters(dead)
        stored = {
            "events": select_all(sink, "events"),
            "dead_letters": select_all(sink, "dead_letters"),
        }
    finally:
        sink.client.delete_dataset(
            f"{sink.client.project}.{sink.dataset}", delete_contents=True, not_found_ok=True
        )
        sink.close()
    for table, written in (("events", events), ("dead_letters", dead)):
        rows = stored[table]
        assert len(rows) == len(written)
        assert sorted(row["row_hash"] for row in rows) == sorted(row["row_hash"] for row in written)
        for row in rows:
            assert row_hash(table, row) == row["row_hash"], (table, row)
