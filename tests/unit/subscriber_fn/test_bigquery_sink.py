"""The BigQuery sink with the real client against a fake BigQuery: tables, insertIds, error paths.

The server is :mod:`tests.support.fake_bigquery`, a fake that speaks BigQuery's
REST protocol: no local stand-in reproduces per-row insertErrors, whole-request
refusals, throttling or a table dropped under the writer. Every test asserts
on what the fake stored and on the requests the client really sent.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from google.cloud import bigquery

from il_audit.schemas.tables import COST_RATES, DEAD_LETTERS, EVENTS, ColumnSpec
from il_audit.subscriber_fn.core import MessageMeta, dead_letter_row, process_message
from il_audit.subscriber_fn.errors import SinkUnavailableError
from il_audit.subscriber_fn.pricing import seed_catalog
from il_audit.subscriber_fn.sinks.bigquery import MAX_ROWS_PER_REQUEST, BigQuerySink
from tests.support.factories import envelope_line, seed_token_cost
from tests.support.fake_bigquery import (
    MAX_REQUEST_BYTES,
    STOPPED,
    FakeBigQuery,
    Reply,
    Request,
    RowError,
)

NOW = datetime(2026, 11, 27, 13, 0, tzinfo=UTC)
PUBLISHED = datetime(2026, 11, 27, 12, 59, 59, 500000, tzinfo=UTC)
DATASET = "audit"
GEMINI_USAGE = {
    "service": "vertex_gemini",
    "model_id": "gemini-2.0-flash",
    "input_tokens": 1234,
    "output_tokens": 567,
    "latency_ms": 12.5,
}


@pytest.fixture
def fake() -> Iterator[FakeBigQuery]:
    with FakeBigQuery() as server:
        yield server


@pytest.fixture
def client(fake: FakeBigQuery) -> Iterator[bigquery.Client]:
    created = fake.client()
    yield created
    created.close()  # type: ignore[no-untyped-call]


@pytest.fixture
def sink(client: bigquery.Client) -> BigQuerySink:
    return BigQuerySink(client, DATASET, retry_deadline=0.5, timeout=5)


def event_rows(*event_ids: str, **overrides: Any) -> list[dict[str, Any]]:
    """Event rows as the core produces them, one per event_id."""
    data = b"\n".join(envelope_line(event_id=event_id, **overrides) for event_id in event_ids)
    meta = MessageMeta("m-1", publish_time=PUBLISHED, delivery_attempt=1)
    result = process_message(data, meta, seed_catalog(), NOW)
    assert not result.rejects
    return result.rows


def dead_letters(*lines: bytes, message_id: str = "m-9") -> list[dict[str, Any]]:
    """Dead-letter rows for lines the core rejects."""
    meta = MessageMeta(message_id)
    result = process_message(b"\n".join(lines), meta, seed_catalog(), NOW)
    return [dead_letter_row(reject, {"app": "ingest"}, meta, NOW) for reject in result.rejects]


def stored_ids(fake: FakeBigQuery, table: str = "events", key: str = "event_id") -> list[str]:
    return sorted(str(row[key]) for row in fake.rows(DATASET, table))


def inserts(fake: FakeBigQuery) -> list[Request]:
    return fake.requests_of("tabledata.insertAll")


def shape(fields: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Name, type, mode and nested fields of a schema, ignoring descriptions."""
    return [
        (f["name"], f["type"], f.get("mode", "NULLABLE"), shape(f.get("fields", [])))
        for f in fields
    ]


def spec_shape(columns: Sequence[ColumnSpec]) -> list[tuple[Any, ...]]:
    return shape([column.to_json() for column in columns])


# ------------------------------------------------------------------------------ tables


def test_first_write_creates_the_dataset_and_tables_from_the_specs(
    fake: FakeBigQuery, sink: BigQuerySink
) -> None:
    """The first write creates the dataset and the three tables with the specs' schema."""
    sink.write_events(event_rows("e-1"))
    assert fake.dataset(DATASET) is not None
    for spec in (EVENTS, DEAD_LETTERS, COST_RATES):
        table = fake.table(DATASET, spec.name)
        assert table is not None, spec.name
        assert shape(table.schema) == spec_shape(spec.columns)
        assert table.resource["description"] == spec.description


def test_tables_are_partitioned_and_clustered_as_specified(
    fake: FakeBigQuery, sink: BigQuerySink
) -> None:
    """events and dead_letters are day-partitioned on their time column; all are clustered."""
    sink.ensure_tables()
    for spec in (EVENTS, DEAD_LETTERS, COST_RATES):
        table = fake.table(DATASET, spec.name)
        assert table is not None
        expected = {"type": "DAY", "field": spec.partition_field} if spec.partition_field else None
        assert table.resource.get("timePartitioning") == expected
        assert table.resource["clustering"] == {"fields": list(spec.clustering)}
    assert EVENTS.partition_field == "occurred_at"


def test_the_dataset_is_created_in_the_configured_location(
    fake: FakeBigQuery, client: bigquery.Client
) -> None:
    """A location given to the sink is the dataset's location."""
    BigQuerySink(client, DATASET, location="EU", retry_deadline=0.5).ensure_tables()
    dataset = fake.dataset(DATASET)
    assert dataset is not None
    assert dataset["location"] == "EU"


def test_tables_are_created_only_on_first_use(fake: FakeBigQuery, sink: BigQuerySink) -> None:
    """Later writes and reads do not create the dataset or tables again."""
    sink.write_events(event_rows("e-1"))
    sink.write_events(event_rows("e-2"))
    sink.write_dead_letters(dead_letters(b"{bad"))
    sink.read_cost_rates()
    assert len(fake.requests_of("datasets.insert")) == 1
    created = [
        request.body["tableReference"]["tableId"] for request in fake.requests_of("tables.insert")
    ]
    assert created == ["events", "dead_letters", "cost_rates"]


def test_existing_tables_are_used_as_they_are(fake: FakeBigQuery, client: bigquery.Client) -> None:
    """A second sink (a new function instance) finds the tables and keeps their rows."""
    BigQuerySink(client, DATASET, retry_deadline=0.5).write_events(event_rows("e-1"))
    BigQuerySink(client, DATASET, retry_deadline=0.5).write_events(event_rows("e-2"))
    assert [r.status for r in fake.requests_of("tables.insert")] == [200] * 3 + [409] * 3
    assert stored_ids(fake) == ["e-1", "e-2"]


def test_nothing_is_sent_for_no_rows(fake: FakeBigQuery, sink: BigQuerySink) -> None:
    """Writing no rows makes no request at all."""
    assert sink.write_events([]) == {}
    sink.write_dead_letters([])
    assert fake.requests == []


# ---------------------------------------------------------------------- rows on the wire


def test_insert_ids_are_the_event_ids(fake: FakeBigQuery, sink: BigQuerySink) -> None:
    """Each row's insertId is its event_id."""
    sink.write_events(event_rows("e-1", "e-2", "e-3"))
    (request,) = inserts(fake)
    assert request.insert_ids == ["e-1", "e-2", "e-3"]


def test_a_redelivered_batch_is_stored_once(fake: FakeBigQuery, sink: BigQuerySink) -> None:
    """Writing the same events again (a redelivery) adds no row: insertIds deduplicate."""
    rows = event_rows("e-1", "e-2")
    sink.write_events(rows)
    sink.write_events(rows)
    assert len(inserts(fake)) == 2
    assert stored_ids(fake) == ["e-1", "e-2"]
    table = fake.table(DATASET, "events")
    assert table is not None
    assert table.duplicates_dropped == 2


def test_dead_letters_are_keyed_by_dead_letter_id(fake: FakeBigQuery, sink: BigQuerySink) -> None:
    """Dead letters carry dead_letter_id as insertId, so recording them twice keeps one row each."""
    rows = dead_letters(b"{bad", b"[]")
    sink.write_dead_letters(rows)
    sink.write_dead_letters(rows)
    assert inserts(fake)[0].insert_ids == ["m-9:0", "m-9:1"]
    assert stored_ids(fake, "dead_letters", "dead_letter_id") == ["m-9:0", "m-9:1"]
    stored = fake.rows(DATASET, "dead_letters")[0]
    assert stored["error_class"] == "invalid_json"
    assert json.loads(stored["attributes"]) == {"app": "ingest"}


def test_json_columns_are_sent_as_json_text(fake: FakeBigQuery, sink: BigQuerySink) -> None:
    """JSON columns travel as JSON strings that parse back to the original objects."""
    metadata = {"pages": 3, "tags": ["a", "b"], "nested": {"ok": True}}
    sink.write_events(event_rows("e-1", metadata=metadata, payload={"q": "ünïcode"}))
    (row,) = inserts(fake)[0].rows
    assert isinstance(row["metadata"], str)
    assert json.loads(row["metadata"]) == metadata
    assert json.loads(row["payload"]) == {"q": "ünïcode"}


def test_numeric_and_timestamp_values_are_sent_as_strings(
    fake: FakeBigQuery, sink: BigQuerySink
) -> None:
    """Money is an exact decimal string and times are UTC ISO strings, nested ones included."""
    sink.write_events(event_rows("e-1", usage=[GEMINI_USAGE]))
    (row,) = inserts(fake)[0].rows
    cost = str(seed_token_cost("gemini-2.0-flash", 1234, 567))
    assert row["cost_usd"] == cost
    assert row["usage"][0]["cost_usd"] == cost
    assert row["usage"][0]["input_tokens"] == 1234
    assert row["occurred_at"] == "2026-11-27T12:30:15.123456Z"
    assert row["ingested_at"] == "2026-11-27T13:00:00Z"
    assert row["publish_time"] == "2026-11-27T12:59:59.500000Z"


def test_null_columns_are_left_out(fake: FakeBigQuery, sink: BigQuerySink) -> None:
    """Columns without a value are not sent (BigQuery stores them as NULL)."""
    sink.write_events(event_rows("e-1"))
    (row,) = inserts(fake)[0].rows
    assert "cost_usd" not in row
    assert "trace_id" not in row
    assert None not in row.values()


# ------------------------------------------------------------------------ row errors


def test_invalid_rows_are_refused_and_their_neighbours_stored(
    fake: FakeBigQuery, sink: BigQuerySink
) -> None:
    """A row answered `invalid` is returned with its reason; its `stopped` neighbours are stored."""
    fake.refuse_rows(
        lambda row: row["event_id"] == "bad",
        location="metadata",
        message="JSON parsing error in row starting at position 0",
    )
    refused = sink.write_events(event_rows("e-1", "bad", "e-3"))
    assert refused == {
        1: "BigQuery refused the row: metadata: JSON parsing error in row starting at position 0"
    }
    assert stored_ids(fake) == ["e-1", "e-3"]
    assert [request.insert_ids for request in inserts(fake)] == [
        ["e-1", "bad", "e-3"],
        ["e-1", "e-3"],
    ]


def test_refusal_reasons_never_carry_the_offending_value(
    fake: FakeBigQuery, sink: BigQuerySink
) -> None:
    """Quoted values in BigQuery's messages are redacted before they reach dead_letters."""
    fake.refuse_rows(
        lambda row: row["event_id"] == "bad",
        location="actor_uid",
        message="Cannot convert value 'jane@example.com' to INT64",
    )
    refused = sink.write_events(event_rows("bad"))
    assert refused == {
        0: "BigQuery refused the row: actor_uid: Cannot convert value '<value>' to INT64"
    }


def test_a_row_that_does_not_fit_the_table_is_refused(
    fake: FakeBigQuery, sink: BigQuerySink
) -> None:
    """A column the table does not have makes BigQuery refuse that row, naming the column."""
    good, odd = event_rows("e-1", "e-2")
    refused = sink.write_events([good, {**odd, "not_a_column": 1}])
    assert refused == {1: "BigQuery refused the row: not_a_column: no such field: not_a_column."}
    assert stored_ids(fake) == ["e-1"]


def test_stopped_rows_are_sent_again_and_stored(fake: FakeBigQuery, sink: BigQuerySink) -> None:
    """Rows answered `stopped` are re-sent in the next request and stored."""
    fake.on(
        "tabledata.insertAll",
        lambda request: Reply.insert_errors({i: [STOPPED] for i in range(request.row_count)}),
        times=1,
    )
    assert sink.write_events(event_rows("e-1", "e-2")) == {}
    assert [request.row_count for request in inserts(fake)] == [2, 2]
    assert stored_ids(fake) == ["e-1", "e-2"]


def test_rows_stopped_every_time_raise_sink_unavailable(
    fake: FakeBigQuery, sink: BigQuerySink
) -> None:
    """Rows that keep being `stopped` end in SinkUnavailableError after a few rounds."""
    fake.on(
        "tabledata.insertAll",
        lambda request: Reply.insert_errors({i: [STOPPED] for i in range(request.row_count)}),
    )
    with pytest.raises(SinkUnavailableError, match="kept being stopped"):
        sink.write_events(event_rows("e-1"))
    assert len(inserts(fake)) == 3


def test_a_transient_row_error_raises_sink_unavailable(
    fake: FakeBigQuery, sink: BigQuerySink
) -> None:
    """A row error other than invalid/stopped (e.g. backendError) means retry the message."""
    fake.on(
        "tabledata.insertAll",
        lambda _request: Reply.insert_errors({0: [RowError("backendError", message="try later")]}),
        times=1,
    )
    with pytest.raises(SinkUnavailableError, match="backendError"):
        sink.write_events(event_rows("e-1", "e-2"))


def test_a_refused_dead_letter_is_logged_not_raised(
    fake: FakeBigQuery, sink: BigQuerySink, caplog: pytest.LogCaptureFixture
) -> None:
    """A dead letter BigQuery refuses is logged with its id; the others are stored."""
    fake.refuse_rows(lambda row: row.get("line_index") == 1, location="raw_line", message="bad")
    with caplog.at_level(logging.ERROR):
        sink.write_dead_letters(dead_letters(b"{bad", b"[]"))
    assert stored_ids(fake, "dead_letters", "dead_letter_id") == ["m-9:0"]
    assert "m-9:1" in caplog.text
    assert "raw_line: bad" in caplog.text


# ------------------------------------------------------------------- whole-request errors


def test_a_single_503_is_retried_by_the_client(fake: FakeBigQuery, client: bigquery.Client) -> None:
    """One 503 within the retry deadline is retried, and the rows are stored once."""
    sink = BigQuerySink(client, DATASET, retry_deadline=5, timeout=5)
    fake.fail("tabledata.insertAll", 503, times=1)
    assert sink.write_events(event_rows("e-1")) == {}
    assert [request.status for request in inserts(fake)] == [503, 200]
    assert stored_ids(fake) == ["e-1"]


@pytest.mark.parametrize(("status", "reason"), [(503, "backendError"), (429, "rateLimitExceeded")])
def test_server_errors_past_the_retry_deadline_raise_sink_unavailable(
    fake: FakeBigQuery, sink: BigQuerySink, status: int, reason: str
) -> None:
    """A 503 or 429 that lasts past the short retry deadline raises SinkUnavailableError."""
    sink.ensure_tables()
    fake.fail("tabledata.insertAll", status, reason=reason, times=None)
    error = _raised_by(lambda: sink.write_events(event_rows("e-1")))
    assert inserts(fake), "the insert was attempted"
    assert isinstance(error, SinkUnavailableError), f"raised {type(error).__name__}: {error}"
    assert stored_ids(fake) == []


def test_an_unreachable_server_raises_sink_unavailable(
    fake: FakeBigQuery, sink: BigQuerySink
) -> None:
    """With the server gone (connection refused), writing raises SinkUnavailableError."""
    sink.ensure_tables()
    fake.stop()
    error = _raised_by(lambda: sink.write_events(event_rows("e-1")))
    assert isinstance(error, SinkUnavailableError), f"raised {type(error).__name__}: {error}"


def test_quota_exceeded_raises_sink_unavailable(fake: FakeBigQuery, sink: BigQuerySink) -> None:
    """BigQuery's quota errors (403 quotaExceeded) mean retry later, not refuse the rows."""
    sink.ensure_tables()
    fake.fail("tabledata.insertAll", 403, "Quota exceeded", reason="quotaExceeded", times=None)
    try:
        refused = sink.write_events(event_rows("e-1", "e-2"))
    except SinkUnavailableError:
        return
    raise AssertionError(f"rows refused permanently after {len(inserts(fake))} requests: {refused}")


def test_creating_tables_gives_up_at_the_retry_deadline(
    fake: FakeBigQuery, sink: BigQuerySink
) -> None:
    """A 503 on first use raises SinkUnavailableError within the sink's retry deadline."""
    fake.fail("datasets.insert", 503, times=None)
    outcome: list[BaseException | None] = []
    worker = threading.Thread(
        target=lambda: outcome.append(_raised_by(sink.ensure_tables)), daemon=True
    )
    worker.start()
    worker.join(timeout=1.5)
    finished = not worker.is_alive()
    if not finished:
        # Let the stuck client stop at its next attempt instead of retrying for minutes.
        fake.reset_scripts()
        fake.fail("datasets.insert", 400, "stop retrying", times=None)
        worker.join(timeout=10)
    assert finished, "ensure_tables() was still retrying after 1.5 s (deadline 0.5 s)"
    assert isinstance(outcome[0], SinkUnavailableError)


def test_a_request_refused_as_a_whole_is_bisected_to_the_offending_row(
    fake: FakeBigQuery, sink: BigQuerySink
) -> None:
    """A 400 for the whole request is split in halves until only the offending row is refused."""
    fake.refuse_requests(
        lambda request: any(row.get("actor_uid") == "poison" for row in request.rows),
        400,
        "Invalid value at 'rows[5]'",
    )
    rows = event_rows(*(f"e-{i}" for i in range(8)))
    rows[5] = event_rows("e-5", actor_uid="poison")[0]
    refused = sink.write_events(rows)
    assert list(refused) == [5]
    assert "Invalid value" in refused[5]
    assert stored_ids(fake) == sorted(f"e-{i}" for i in range(8) if i != 5)
    assert [request.row_count for request in inserts(fake)] == [8, 4, 4, 2, 1, 1, 2]


def test_a_table_deleted_after_first_use_is_recreated_once(
    fake: FakeBigQuery, sink: BigQuerySink
) -> None:
    """A 404 for a dropped table recreates it (schema included) and the rows are then stored."""
    sink.write_events(event_rows("e-1"))
    fake.delete_table(DATASET, "events")
    assert sink.write_events(event_rows("e-2")) == {}
    created = [
        request.body["tableReference"]["tableId"] for request in fake.requests_of("tables.insert")
    ]
    assert created.count("events") == 2
    assert stored_ids(fake) == ["e-2"]
    table = fake.table(DATASET, "events")
    assert table is not None
    assert shape(table.schema) == spec_shape(EVENTS.columns)


def test_a_table_that_stays_missing_raises_sink_unavailable(
    fake: FakeBigQuery, sink: BigQuerySink
) -> None:
    """When inserts still answer 404 after the table was recreated, the sink gives up for now."""
    sink.ensure_tables()
    fake.fail("tabledata.insertAll", 404, "Not found: Table il-audit-test:audit.events", times=None)
    with pytest.raises(SinkUnavailableError, match="missing"):
        sink.write_events(event_rows("e-1"))
    assert len(inserts(fake)) == 2


# ----------------------------------------------------------------------- request limits


def test_more_than_500_rows_are_split_into_requests_of_at_most_500(
    fake: FakeBigQuery, sink: BigQuerySink
) -> None:
    """1,201 rows go in three requests (500, 500, 201), and every row is stored once."""
    ids = [f"e-{i:04d}" for i in range(1201)]
    assert sink.write_events(event_rows(*ids)) == {}
    assert [request.row_count for request in inserts(fake)] == [500, 500, 201]
    assert max(request.row_count for request in inserts(fake)) <= MAX_ROWS_PER_REQUEST
    assert stored_ids(fake) == ids


def test_rows_over_9_mb_in_total_are_split_by_size(fake: FakeBigQuery, sink: BigQuerySink) -> None:
    """Twelve ~0.9 MB rows go in two requests, each within BigQuery's size limit, none refused."""
    ids = [f"big-{i:02d}" for i in range(12)]
    assert sink.write_events(event_rows(*ids, metadata={"blob": "x" * 900_000})) == {}
    requests = inserts(fake)
    assert len(requests) == 2
    assert all(request.status == 200 for request in requests)
    assert all(request.byte_size <= 9_100_000 for request in requests)
    assert sum(request.row_count for request in requests) == 12
    assert stored_ids(fake) == ids


def test_non_ascii_rows_are_split_by_their_size_on_the_wire(
    fake: FakeBigQuery, sink: BigQuerySink
) -> None:
    """Rows of non-ASCII text are sized as sent, so no request goes over 10 MB and is refused."""
    ids = [f"cjk-{i:02d}" for i in range(12)]
    rows = event_rows(*ids, metadata={"text": "監査" * 75_000})
    assert sink.write_events(rows) == {}
    assert stored_ids(fake) == ids
    sizes = [(request.status, request.byte_size) for request in inserts(fake)]
    assert all(size <= MAX_REQUEST_BYTES for _, size in sizes), sizes


# ---------------------------------------------------------------------------- cost_rates


def test_read_cost_rates_returns_the_table_rows(fake: FakeBigQuery, sink: BigQuerySink) -> None:
    """Every cost_rates row comes back with exact types (dates, decimals, UTC timestamps)."""
    sink.ensure_tables()
    fake.add_rows(
        DATASET,
        "cost_rates",
        [
            {
                "service": "vertex_gemini",
                "model_id": "gemini-2.0-flash",
                "effective_from": "2026-07-01",
                "input_price_per_1m_tokens": "0.125",
                "output_price_per_1m_tokens": "0.5",
                "unit": "tokens",
                "rate_version": "2026-08",
                "loaded_at": "2026-08-01T00:00:00Z",
            },
            {"service": "cloud_run", "model_id": "cpu_second", "effective_from": "2026-07-01",
             "unit_price": "0.000024"},
        ],
    )  # fmt: skip
    rates = sink.read_cost_rates()
    assert rates[0] == {
        "service": "vertex_gemini",
        "model_id": "gemini-2.0-flash",
        "pricing_tier": None,  # a row from before tiers: read as standard
        "effective_from": date(2026, 7, 1),
        "input_price_per_1m_tokens": Decimal("0.125"),
        "output_price_per_1m_tokens": Decimal("0.5"),
        "unit_price": None,
        "unit": "tokens",
        "rate_version": "2026-08",
        "source_url": None,
        "loaded_at": datetime(2026, 8, 1, tzinfo=UTC),
        "cached_input_price_per_1m_tokens": None,
        "cache_write_price_per_1m_tokens": None,
    }
    assert rates[1]["unit_price"] == Decimal("0.000024")
    assert len(rates) == 2


def test_read_cost_rates_follows_every_page() -> None:
    """A table longer than one tabledata.list page is read to the end."""
    with FakeBigQuery(list_page_size=2) as paged:
        sink = BigQuerySink(paged.client(), DATASET, retry_deadline=0.5)
        sink.ensure_tables()
        paged.add_rows(
            DATASET,
            "cost_rates",
            [
                {
                    "service": "svc",
                    "model_id": f"m{i}",
                    "effective_from": "2026-07-01",
                    "unit_price": "1",
                }
                for i in range(5)
            ],
        )
        rates = sink.read_cost_rates()
        sink.close()
        assert [rate["model_id"] for rate in rates] == ["m0", "m1", "m2", "m3", "m4"]
        assert len(paged.requests_of("tabledata.list")) == 3


def test_read_cost_rates_of_a_missing_table_raises_sink_unavailable(
    fake: FakeBigQuery, sink: BigQuerySink
) -> None:
    """A cost_rates table dropped after first use reads as unavailable, not as empty."""
    sink.ensure_tables()
    fake.delete_table(DATASET, "cost_rates")
    with pytest.raises(SinkUnavailableError, match="cost_rates"):
        sink.read_cost_rates()


def _raised_by(call: Any) -> BaseException | None:
    try:
        call()
    except Exception as exc:  # noqa: BLE001 - whatever the call raised is the result
        return exc
    return None
