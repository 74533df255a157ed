"""The Storage Write API path's error handling, against a fake AppendRows server.

:mod:`tests.support.fake_storage_write` fails an append holding a ``bad-`` row with
``row_errors`` listing it, as real BigQuery does (no stand-in reports per-row errors),
and can answer or abort with any status. Tables are created through the REST fake
(:mod:`tests.support.fake_bigquery`). The happy path against the stand-in is in
``tests/integration/test_bigquery_storage_write.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import grpc
import pytest

from il_audit.config.settings import BigQueryWriteMethod
from il_audit.errors import SettingsError
from il_audit.schemas.tables import DEAD_LETTERS, EVENTS
from il_audit.subscriber_fn.catalogs import SeedCatalogProvider
from il_audit.subscriber_fn.core import ErrorClass, MessageMeta, process_message
from il_audit.subscriber_fn.errors import SinkUnavailableError
from il_audit.subscriber_fn.pipeline import Pipeline
from il_audit.subscriber_fn.pricing import seed_catalog
from il_audit.subscriber_fn.sinks.bigquery import BigQuerySink
from il_audit.subscriber_fn.sinks.bigquery_storage_write import (
    StorageWriter,
    StorageWriteSchemaError,
    default_stream,
)
from tests.support.factories import envelope_line, make_settings
from tests.support.fake_bigquery import FakeBigQuery
from tests.support.fake_storage_write import FakeStorageWrite

NOW = datetime(2026, 11, 27, 13, 0, tzinfo=UTC)
DATASET = "audit"
META = MessageMeta("m-1", publish_time=NOW, delivery_attempt=1)
TRANSIENT = [
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
]


@pytest.fixture
def fake() -> Iterator[FakeStorageWrite]:
    with FakeStorageWrite() as server:
        yield server


@pytest.fixture
def writer(fake: FakeStorageWrite) -> Iterator[StorageWriter]:
    created = StorageWriter(fake.client(), timeout=5.0)
    yield created
    created.close()


@pytest.fixture
def rest() -> Iterator[FakeBigQuery]:
    with FakeBigQuery() as server:
        yield server


@pytest.fixture
def sink(rest: FakeBigQuery, fake: FakeStorageWrite) -> Iterator[BigQuerySink]:
    created = BigQuerySink(
        rest.client(),
        DATASET,
        retry_deadline=0.5,
        timeout=5,
        storage_writer=lambda: StorageWriter(fake.client(), timeout=5.0),
    )
    yield created
    created.close()


STREAM = default_stream("p", DATASET, "events")


def event_rows(*event_ids: str, **overrides: Any) -> list[dict[str, Any]]:
    data = b"\n".join(envelope_line(event_id=event_id, **overrides) for event_id in event_ids)
    result = process_message(data, META, seed_catalog(), NOW)
    assert not result.rejects
    return list(result.rows)


def landed(fake: FakeStorageWrite, stream: str = STREAM, key: str = "event_id") -> list[str]:
    return [row[key] for row in fake.rows(stream)]


def test_good_rows_of_a_failed_append_are_sent_again_and_land_once(
    fake: FakeStorageWrite, writer: StorageWriter
) -> None:
    """An append failed for one row: that row is refused, the others land exactly once."""
    rows = event_rows("e-1", "bad-2", "e-3", "bad-4")

    refused = writer.append(STREAM, EVENTS, rows)

    assert sorted(refused) == [1, 3]
    assert refused[1].startswith("BigQuery refused the row: FIELDS_ERROR: Field cost_usd")
    assert "'x'" not in refused[1]  # quoted values are redacted
    assert landed(fake) == ["e-1", "e-3"]
    assert [len(request.proto_rows.rows.serialized_rows) for request in fake.requests] == [4, 2]


def test_every_request_names_the_stream_and_carries_the_writer_schema(
    fake: FakeStorageWrite, writer: StorageWriter
) -> None:
    """write_stream and the schema are on every request; the routing header names the stream."""
    writer.max_request_bytes = 8_000
    writer.append(
        STREAM, EVENTS, event_rows(*(f"e-{i}" for i in range(12)), payload={"x": "y" * 900})
    )

    assert len(fake.requests) > 1
    assert {request.write_stream for request in fake.requests} == {STREAM}
    names = {request.proto_rows.writer_schema.proto_descriptor.name for request in fake.requests}
    assert names == {"events"}
    # (the generated client adds an empty x-goog-request-params of its own after ours)
    assert ("x-goog-request-params", f"write_stream={STREAM}") in fake.metadata[0]


def test_requests_stay_under_the_request_limit(
    fake: FakeStorageWrite, writer: StorageWriter
) -> None:
    """Rows are split into requests no larger than max_request_bytes; all of them land."""
    writer.max_request_bytes = 8_000
    ids = [f"e-{i:02d}" for i in range(20)]

    assert writer.append(STREAM, EVENTS, event_rows(*ids, payload={"x": "y" * 900})) == {}

    assert landed(fake) == ids
    assert len(fake.requests) > 2
    assert all(len(type(r).serialize(r)) <= 8_000 for r in fake.requests)


def test_a_row_over_the_request_limit_is_refused_alone(
    fake: FakeStorageWrite, writer: StorageWriter
) -> None:
    """A row bigger than a request is refused; its neighbours land."""
    writer.max_request_bytes = 8_000
    rows = event_rows("e-1") + event_rows("e-2", payload={"x": "y" * 9_000}) + event_rows("e-3")

    refused = writer.append(STREAM, EVENTS, rows)

    assert list(refused) == [1]
    assert "over the AppendRows request limit" in refused[1]
    assert landed(fake) == ["e-1", "e-3"]


def test_a_row_that_cannot_be_encoded_is_refused_alone(
    fake: FakeStorageWrite, writer: StorageWriter
) -> None:
    """A row with a column the table lacks is refused before anything is sent."""
    rows = event_rows("e-1", "e-2")
    rows[0] = {**rows[0], "no_such_column": 1}

    refused = writer.append(STREAM, EVENTS, rows)

    assert refused == {0: "BigQuery refused the row: no such field: no_such_column"}
    assert landed(fake) == ["e-2"]


@pytest.mark.parametrize("code", TRANSIENT, ids=lambda code: code.name)
def test_a_transient_append_error_raises_sink_unavailable(
    fake: FakeStorageWrite, writer: StorageWriter, code: grpc.StatusCode
) -> None:
    """UNAVAILABLE, INTERNAL, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED: retry the message."""
    fake.fail_next(code)

    with pytest.raises(SinkUnavailableError, match=code.name):
        writer.append(STREAM, EVENTS, event_rows("e-1"))


def test_an_aborted_call_raises_sink_unavailable(
    fake: FakeStorageWrite, writer: StorageWriter
) -> None:
    """A call ended with UNAVAILABLE (a reset connection) is transient."""
    fake.abort_next(grpc.StatusCode.UNAVAILABLE)

    with pytest.raises(SinkUnavailableError):
        writer.append(STREAM, EVENTS, event_rows("e-1"))


def test_an_unreachable_server_raises_sink_unavailable() -> None:
    """Nothing listening on the endpoint is transient too."""
    with FakeStorageWrite() as gone:
        client = gone.client()
    writer = StorageWriter(client, timeout=2.0)
    try:
        with pytest.raises(SinkUnavailableError):
            writer.append(STREAM, EVENTS, event_rows("e-1"))
    finally:
        writer.close()


def test_a_whole_request_refusal_without_row_errors_is_a_schema_error(
    fake: FakeStorageWrite, writer: StorageWriter
) -> None:
    """INVALID_ARGUMENT with no row errors (schema mismatch) is permanent, with the reason."""
    fake.fail_next(grpc.StatusCode.INVALID_ARGUMENT, "Input schema has more fields")

    with pytest.raises(StorageWriteSchemaError, match="Input schema has more fields"):
        writer.append(STREAM, EVENTS, event_rows("e-1"))


def test_a_missing_table_is_recreated_once(
    rest: FakeBigQuery, fake: FakeStorageWrite, sink: BigQuerySink
) -> None:
    """NOT_FOUND on the stream: the sink recreates its tables and appends again."""
    sink.ensure_tables()
    rest.delete_table(DATASET, "events")
    fake.fail_next(grpc.StatusCode.NOT_FOUND, "Table not found")

    assert sink.write_events(event_rows("e-1")) == {}

    assert rest.table(DATASET, "events") is not None
    assert landed(fake, default_stream(rest.project, DATASET, "events")) == ["e-1"]


def test_refused_rows_become_sink_rejected_dead_letters(
    rest: FakeBigQuery, fake: FakeStorageWrite, sink: BigQuerySink
) -> None:
    """Through the pipeline, a row BigQuery refused is a sink_rejected dead letter."""
    pipeline = Pipeline(sink, SeedCatalogProvider(), clock=lambda: NOW)
    data = b"\n".join(envelope_line(event_id=event_id) for event_id in ("e-1", "bad-2"))

    outcome = pipeline.handle(data, {}, META)

    assert (outcome.accepted, outcome.rejected) == (1, 1)
    assert landed(fake, default_stream(rest.project, DATASET, "events")) == ["e-1"]
    (dead,) = fake.rows(default_stream(rest.project, DATASET, DEAD_LETTERS.name))
    assert (dead["error_class"], dead["event_id"]) == (ErrorClass.SINK_REJECTED.value, "bad-2")
    assert "FIELDS_ERROR" in dead["error_detail"]


def test_insert_all_setting_streams_with_insert_all(rest: FakeBigQuery) -> None:
    """IL_AUDIT_BQ_WRITE_METHOD=insert_all writes through tabledata.insertAll as before."""
    settings = make_settings(project=rest.project, bq_api_endpoint=rest.url, dataset=DATASET,
                             bq_write_method=BigQueryWriteMethod.INSERT_ALL)  # fmt: skip
    sink = BigQuerySink.from_settings(settings)
    try:
        assert sink.write_method is BigQueryWriteMethod.INSERT_ALL
        assert sink.write_events(event_rows("e-1")) == {}
    finally:
        sink.close()
    assert [row["event_id"] for row in rest.rows(DATASET, "events")] == ["e-1"]
    assert rest.requests_of("tabledata.insertAll")


def test_storage_write_settings_reach_the_configured_endpoint(
    rest: FakeBigQuery, fake: FakeStorageWrite
) -> None:
    """from_settings with IL_BQ_STORAGE_API_ENDPOINT appends there, anonymously in plaintext."""
    settings = make_settings(project=rest.project, bq_api_endpoint=rest.url, dataset=DATASET,
                             bq_storage_api_endpoint=fake.address)  # fmt: skip
    sink = BigQuerySink.from_settings(settings)
    try:
        assert sink.write_events(event_rows("e-1")) == {}
    finally:
        sink.close()
    assert landed(fake, default_stream(rest.project, DATASET, "events")) == ["e-1"]
    assert not rest.requests_of("tabledata.insertAll")


def test_a_standin_endpoint_without_a_storage_endpoint_is_a_settings_error(
    rest: FakeBigQuery, caplog: pytest.LogCaptureFixture
) -> None:
    """IL_BQ_API_ENDPOINT alone would send rows to Google: the first write says what to set."""
    caplog.set_level(logging.ERROR)
    settings = make_settings(project=rest.project, bq_api_endpoint=rest.url, dataset=DATASET)
    sink = BigQuerySink.from_settings(settings)
    try:
        with pytest.raises(SettingsError, match="IL_BQ_STORAGE_API_ENDPOINT"):
            sink.write_events(event_rows("e-1"))
    finally:
        sink.close()
