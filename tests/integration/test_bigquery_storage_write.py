"""The BigQuery sink's Storage Write API path against the local stand-in (bqemulator).

Rows go through ``AppendRows`` on each table's ``_default`` stream (the stand-in's gRPC
port, plaintext, anonymous) and are read back over REST; each test compares them with
what the legacy insertAll path stores for the same rows, in another dataset. Per-row
errors and transient failures are in ``tests/unit/subscriber_fn/test_bigquery_storage_write.py``
against a fake AppendRows server: the stand-in never reports bad rows one by one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from google.cloud import bigquery

from il_audit.config.settings import BigQueryWriteMethod
from il_audit.sql import for_bigquery, view
from il_audit.subscriber_fn.core import dead_letter_row, process_message
from il_audit.subscriber_fn.pipeline import build_pipeline
from il_audit.subscriber_fn.pricing import seed_catalog
from il_audit.subscriber_fn.sinks.bigquery import BigQuerySink
from tests.support import bigquery_standin
from tests.support.factories import envelope_line, make_settings
from tests.support.integrity_rows import GEMINI, META, NOW

CPU = {"service": "cloud_run", "model_id": "cpu_second", "quantity": 12.5, "unit": "vCPU_second"}


def settings_for(
    standin: bigquery_standin.BigQueryStandIn, dataset: str, method: BigQueryWriteMethod
) -> Any:
    return make_settings(
        sink="bigquery",
        project=standin.project,
        dataset=dataset,
        bq_api_endpoint=standin.url,
        bq_storage_api_endpoint=standin.grpc_address,
        bq_write_method=method,
    )


def open_sink(
    standin: bigquery_standin.BigQueryStandIn, method: BigQueryWriteMethod
) -> BigQuerySink:
    sink = BigQuerySink.from_settings(
        settings_for(standin, f"il_audit_{uuid.uuid4().hex[:12]}", method)
    )
    sink.timeout = 10.0
    return sink


def drop(sink: BigQuerySink) -> None:
    sink.client.delete_dataset(
        f"{sink.client.project}.{sink.dataset}", delete_contents=True, not_found_ok=True
    )
    sink.close()


@pytest.fixture
def sinks(standin: bigquery_standin.BigQueryStandIn) -> Iterator[tuple[BigQuerySink, BigQuerySink]]:
    """A storage_write sink and an insert_all sink, each on a fresh dataset."""
    storage = open_sink(standin, BigQueryWriteMethod.STORAGE_WRITE)
    legacy = open_sink(standin, BigQueryWriteMethod.INSERT_ALL)
    yield storage, legacy
    drop(storage)
    drop(legacy)


def select_all(sink: BigQuerySink, table: str, key: str) -> list[dict[str, Any]]:
    sql = f"SELECT * FROM `{sink.client.project}.{sink.dataset}.{table}` ORDER BY {key}"
    return [dict(row.items()) for row in sink.client.query(sql).result(timeout=30)]


def rich_rows() -> list[dict[str, Any]]:
    """Event rows with usage items, NUMERIC costs, JSON objects and timestamps."""
    data = b"\n".join(
        [
            envelope_line(
                event_type="chat.turn.succeeded",
                occurred_at="2026-11-27T13:30:15.123456+01:00",
                actor_email="ana@example.com",
                before={"title": "old", "tags": []},
                after={"title": "Grüße ✓", "tags": ["a", "b"], "n": None},
                metadata={"nested": {"deep": [1, 2.5, {"x": True}]}, "empty": {}},
                payload={"question_sha256": "ab" * 32, "sources": 3},
                usage=[GEMINI, CPU],
            ),
            envelope_line(event_type="ui.tab.viewed", source="beacon", payload={}, usage=[CPU]),
            envelope_line(event_type="auth.logout", actor_uid=None, status=None, extra_field=7),
        ]
    )
    result = process_message(data, META, seed_catalog(), NOW)
    assert not result.rejects
    return list(result.rows)


def test_default_write_method_is_storage_write(
    standin: bigquery_standin.BigQueryStandIn,
) -> None:
    """Settings with no variable set write through the Storage Write API."""
    sink = BigQuerySink.from_settings(make_settings(project="p", bq_api_endpoint=standin.url))
    try:
        assert sink.write_method is BigQueryWriteMethod.STORAGE_WRITE
    finally:
        sink.close()


def test_storage_write_events_read_back_as_insert_all_stores_them(
    sinks: tuple[BigQuerySink, BigQuerySink],
) -> None:
    """Events appended to the default stream come back identical to insertAll's rows."""
    storage, legacy = sinks
    rows = rich_rows()

    assert storage.write_events(rows) == {}
    assert legacy.write_events(rows) == {}

    stored = select_all(storage, "events", "event_id")
    assert stored == select_all(legacy, "events", "event_id")
    assert stored == sorted(rows, key=lambda row: row["event_id"])
    first = next(row for row in stored if row["event_type"] == "chat.turn.succeeded")
    assert first["occurred_at"] == datetime(2026, 11, 27, 12, 30, 15, 123456, tzinfo=UTC)
    assert [item["cost_usd"] for item in first["usage"]] == [
        item["cost_usd"] for item in rows[0]["usage"]
    ]
    assert first["after"] == {"title": "Grüße ✓", "tags": ["a", "b"], "n": None}


def test_storage_write_dead_letters_read_back_as_insert_all_stores_them(
    sinks: tuple[BigQuerySink, BigQuerySink],
) -> None:
    """Dead letters appended to the default stream come back identical to insertAll's rows."""
    storage, legacy = sinks
    data = b"\n".join([b'{"event_id": "broken', b"\xff\xfe not utf-8", b"[1, 2]"])
    result = process_message(data, META, seed_catalog(), NOW)
    attributes = {"il_audit_schema": "1", "app": "ingest"}
    rows = [dead_letter_row(reject, attributes, META, NOW) for reject in result.rejects]

    storage.write_dead_letters(rows)
    legacy.write_dead_letters(rows)

    stored = select_all(storage, "dead_letters", "dead_letter_id")
    assert stored == select_all(legacy, "dead_letters", "dead_letter_id")
    assert stored == sorted(rows, key=lambda row: row["dead_letter_id"])


def test_pipeline_redelivery_through_storage_write_is_counted_once_by_the_views(
    standin: bigquery_standin.BigQueryStandIn,
) -> None:
    """A message handled twice (a redelivery) stores its rows twice; events_deduped and
    dead_letters_by_reason count them once."""
    dataset = f"il_audit_{uuid.uuid4().hex[:12]}"
    pipeline = build_pipeline(
        settings_for(standin, dataset, BigQueryWriteMethod.STORAGE_WRITE), with_topic=False
    )
    sink = pipeline.sink
    assert isinstance(sink, BigQuerySink)
    data = b"\n".join([envelope_line(usage=[GEMINI]), envelope_line(), b"not json"])
    try:
        for _ in range(2):
            outcome = pipeline.handle(data, {}, META)
            assert (outcome.accepted, outcome.rejected) == (2, 1)
        for name in ("events_deduped", "dead_letters_by_reason"):
            created = bigquery.Table(f"{standin.project}.{dataset}.{name}")
            created.view_query = for_bigquery(view(name), standin.project, dataset)
            sink.client.create_table(created)

        events = select_all(sink, "events", "event_id")
        visible = select_all(sink, "events_deduped", "event_id")
        dead_letters = select_all(sink, "dead_letters", "dead_letter_id")
        by_reason = select_all(sink, "dead_letters_by_reason", "error_class")
    finally:
        drop(sink)
    assert len(events) == 4
    assert len(visible) == 2
    assert {row["event_id"] for row in visible} == {row["event_id"] for row in events}
    assert [row["error_class"] for row in dead_letters] == ["invalid_json", "invalid_json"]
    assert [(row["error_class"], row["dead_letters"]) for row in by_reason] == [("invalid_json", 1)]
