"""The BigQuery sink's happy path with the real client against the local stand-in (bqemulator).

One bqemulator process serves the session (``tests/support/bigquery_standin.py``); each
test gets its own dataset. Rows come from the real core (``process_message``,
``dead_letter_row``) and are read back through the client with SQL or ``tabledata.list``,
so every assertion is on what the stand-in stored. Error paths (per-row insertErrors,
refused requests, throttling) are in ``tests/unit/subscriber_fn/test_bigquery_sink.py``
against a fake: bqemulator ignores ``insertId`` and answers a bad row with HTTP 500.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from il_audit.schemas.tables import COST_RATES, TABLES, ColumnSpec
from il_audit.subscriber_fn.catalogs import TableCatalogProvider
from il_audit.subscriber_fn.core import (
    ErrorClass,
    MessageMeta,
    ProcessResult,
    dead_letter_row,
    process_message,
)
from il_audit.subscriber_fn.pricing import (
    SEED_FALLBACK,
    PricingCatalog,
    Rate,
    catalog_from_rows,
    seed_catalog,
)
from il_audit.subscriber_fn.sinks.bigquery import BigQuerySink, to_insert_row
from tests.support import bigquery_standin
from tests.support.factories import envelope_line, make_settings, seed_token_cost

NOW = datetime(2026, 11, 27, 12, 31, 2, 654321, tzinfo=UTC)
META = MessageMeta(
    message_id="16000000000001",
    publish_time=datetime(2026, 11, 27, 12, 31, 1, 250000, tzinfo=UTC),
    delivery_attempt=2,
    subscription="projects/il-audit-test/subscriptions/il-audit-events-push",
)
GEMINI = {
    "service": "vertex_gemini",
    "operation": "generate_content",
    "model_id": "gemini-2.0-flash",
    "category": "chat",
    "input_tokens": 1200,
    "output_tokens": 300,
    "tokens_estimated": True,
    "latency_ms": 812.25,
}
CPU = {
    "service": "cloud_run",
    "model_id": "cpu_second",
    "quantity": 12.5,
    "unit": "vCPU_second",
}
GEMINI_USD = seed_token_cost("gemini-2.0-flash", 1200, 300)
"""What GEMINI costs at the bundled catalog's prices (envelope_line's time)."""
CPU_USD = Decimal("0.0003")
"""12.5 vCPU-seconds at 0.000024 USD."""
# The REST API may answer with the legacy names of the types it was given.
_LEGACY_TYPES = {"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL", "STRUCT": "RECORD"}
_TIMESTAMP_COLUMNS = ("occurred_at", "ingested_at", "publish_time", "received_at", "loaded_at")


def make_client(standin: bigquery_standin.BigQueryStandIn) -> bigquery.Client:
    return bigquery.Client(
        project=standin.project,
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options={"api_endpoint": standin.url},
    )


@pytest.fixture
def dataset() -> str:
    """A dataset name no other test uses."""
    return f"il_audit_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def sink(standin: bigquery_standin.BigQueryStandIn, dataset: str) -> Iterator[BigQuerySink]:
    """A sink on a fresh dataset; the dataset is dropped afterwards to keep the stand-in small."""
    created = BigQuerySink(make_client(standin), dataset, retry_deadline=5.0, timeout=10.0)
    yield created
    created.client.delete_dataset(
        f"{standin.project}.{dataset}", delete_contents=True, not_found_ok=True
    )
    created.close()


def query(sink: BigQuerySink, sql: str) -> list[dict[str, Any]]:
    """Rows of a query job, as dicts."""
    return [dict(row.items()) for row in sink.client.query(sql).result(timeout=30)]


def select_all(sink: BigQuerySink, table: str, key: str) -> list[dict[str, Any]]:
    return query(
        sink, f"SELECT * FROM `{sink.client.project}.{sink.dataset}.{table}` ORDER BY {key}"
    )


def columns_of(fields: Sequence[bigquery.SchemaField]) -> list[tuple[Any, ...]]:
    """(name, type, mode, description, nested) of BigQuery fields, types in standard SQL."""
    return [
        (
            field.name,
            _LEGACY_TYPES.get(field.field_type, field.field_type),
            field.mode,
            field.description or "",
            columns_of(field.fields),
        )
        for field in fields
    ]


def spec_columns(columns: Sequence[ColumnSpec]) -> list[tuple[Any, ...]]:
    return [
        (column.name, column.type, column.mode, column.description, spec_columns(column.fields))
        for column in columns
    ]


def assert_utc(rows: Sequence[dict[str, Any]]) -> None:
    for row in rows:
        for column in _TIMESTAMP_COLUMNS:
            value = row.get(column)
            if value is not None:
                assert value.utcoffset() == timedelta(0), (column, value)


def message(*lines: bytes) -> bytes:
    return b"\n".join(lines)


def process(data: bytes, catalog: PricingCatalog) -> ProcessResult:
    return process_message(data, META, catalog, NOW)


def table_rates() -> list[dict[str, Any]]:
    """cost_rates rows: gemini-2.0-flash changes price on 2026-12-01; CPU has one price."""
    loaded = datetime(2026, 11, 1, 8, 0, 0, 125000, tzinfo=UTC)
    rates = [
        Rate(
            service="vertex_gemini",
            model_id="gemini-2.0-flash",
            effective_from=date(2026, 1, 1),
            input_price_per_1m_tokens=Decimal("0.5"),
            output_price_per_1m_tokens=Decimal("2.000000001"),
            unit="tokens",
            rate_version="table-2026-01",
            source_url="https://example.invalid/prices",
        ),
        Rate(
            service="vertex_gemini",
            model_id="gemini-2.0-flash",
            effective_from=date(2026, 12, 1),
            input_price_per_1m_tokens=Decimal("9"),
            output_price_per_1m_tokens=Decimal("9"),
            rate_version="table-2026-12",
        ),
        Rate(
            service="cloud_run",
            model_id="cpu_second",
            effective_from=date(2026, 1, 1),
            unit_price=Decimal("0.00005"),
            unit="vCPU_second",
            rate_version="table-2026-01",
        ),
    ]
    return [
        {**rate.to_row(), "loaded_at": loaded if index == 0 else None}
        for index, rate in enumerate(rates)
    ]


def insert_cost_rates(sink: BigQuerySink, rows: Sequence[dict[str, Any]]) -> None:
    sink.ensure_tables()
    errors = sink.client.insert_rows_json(
        sink.table_id(COST_RATES), [to_insert_row(row, frozenset()) for row in rows]
    )
    assert errors == []


# ---------------------------------------------------------------------------- tables


def test_ensure_tables_creates_the_three_tables_with_the_spec_columns(sink: BigQuerySink) -> None:
    """ensure_tables creates the dataset and events, dead_letters and cost_rates as specified."""
    sink.ensure_tables()

    assert sink.client.get_dataset(f"{sink.client.project}.{sink.dataset}").dataset_id == (
        sink.dataset
    )
    listed = {table.table_id for table in sink.client.list_tables(sink.dataset)}
    assert listed == {"events", "dead_letters", "cost_rates"}
    for spec in TABLES:
        table = sink.client.get_table(sink.table_id(spec))
        assert columns_of(table.schema) == spec_columns(spec.columns), spec.name
        assert table.description == spec.description


def test_ensure_tables_sets_partitioning_and_clustering(sink: BigQuerySink) -> None:
    """Tables are day-partitioned and clustered as their specs say."""
    sink.ensure_tables()

    for spec in TABLES:
        table = sink.client.get_table(sink.table_id(spec))
        if spec.partition_field:
            assert table.time_partitioning is not None, spec.name
            assert table.time_partitioning.type_ == "DAY"
            assert table.time_partitioning.field == spec.partition_field
        else:
            assert table.time_partitioning is None, spec.name
        assert table.clustering_fields == list(spec.clustering), spec.name


def test_ensure_tables_again_keeps_tables_and_rows(
    standin: bigquery_standin.BigQueryStandIn, sink: BigQuerySink
) -> None:
    """A second sink calling ensure_tables (twice) on the same dataset changes nothing."""
    result = process(envelope_line(), seed_catalog())
    assert sink.write_events(result.rows) == {}

    again = BigQuerySink(make_client(standin), sink.dataset, retry_deadline=5.0)
    try:
        again.ensure_tables()
        again.ensure_tables()
        for spec in TABLES:
            table = again.client.get_table(again.table_id(spec))
            assert columns_of(table.schema) == spec_columns(spec.columns), spec.name
        stored = select_all(again, "events", "event_id")
    finally:
        again.close()
    assert [row["event_id"] for row in stored] == [result.rows[0]["event_id"]]


def test_from_settings_with_an_api_endpoint_talks_to_the_standin(
    standin: bigquery_standin.BigQueryStandIn, dataset: str
) -> None:
    """BigQuerySink.from_settings with bq_api_endpoint creates its tables on the stand-in."""
    settings = make_settings(project=standin.project, dataset=dataset, bq_api_endpoint=standin.url)
    sink = BigQuerySink.from_settings(settings)
    try:
        sink.ensure_tables()
        tables = {table.table_id for table in sink.client.list_tables(dataset)}
        sink.client.delete_dataset(dataset, delete_contents=True)
    finally:
        sink.close()
    assert sink.client.project == standin.project
    assert tables == {"events", "dead_letters", "cost_rates"}


# ---------------------------------------------------------------------------- events


def test_event_rows_from_the_core_read_back_intact(sink: BigQuerySink) -> None:
    """Events written with write_events come back from a query with every field as written."""
    data = message(
        envelope_line(
            event_type="chat.turn.succeeded",
            occurred_at="2026-11-27T13:30:15.123456+01:00",
            environment="staging",
            module="chat",
            actor_email="ana@example.com",
            trace_id="trace-1",
            request_id="req-1",
            session_id="conv-1",
            batch_id="batch-1",
            correlation_id="doc-1",
            correlation_type="document",
            action="answer",
            resource_type="conversation",
            resource_id="conv-1/turn-3",
            before={"title": "old", "tags": []},
            after={"title": "Grüße ✓", "tags": ["a", "b"], "n": None},
            metadata={"nested": {"deep": [1, 2.5, {"x": True}]}, "empty": {}},
            payload={"question_sha256": "ab" * 32, "sources": 3},
            usage=[GEMINI, CPU],
        ),
        envelope_line(
            event_type="ui.tab.viewed",
            source="beacon",
            payload={},
            usage=[{**GEMINI, "model_id": "no-such-model"}, CPU],
        ),
        envelope_line(event_type="auth.logout", actor_uid=None, status=None),
    )
    result = process(data, seed_catalog())
    assert not result.rejects
    assert [row["pricing_status"] for row in result.rows] == ["priced", "partially_priced", None]

    assert sink.write_events(result.rows) == {}

    stored = select_all(sink, "events", "event_id")
    assert stored == sorted(result.rows, key=lambda row: row["event_id"])
    assert_utc(stored)
    first = next(row for row in stored if row["event_type"] == "chat.turn.succeeded")
    assert first["occurred_at"] == datetime(2026, 11, 27, 12, 30, 15, 123456, tzinfo=UTC)
    assert first["cost_usd"] == GEMINI_USD + CPU_USD
    assert [item["cost_usd"] for item in first["usage"]] == [GEMINI_USD, CPU_USD]
    assert isinstance(first["usage"][0]["cost_usd"], Decimal)
    assert first["after"] == {"title": "Grüße ✓", "tags": ["a", "b"], "n": None}


def test_event_json_and_money_are_usable_in_sql(sink: BigQuerySink) -> None:
    """JSON columns are stored as JSON and usage costs as NUMERIC that add up exactly."""
    data = message(
        envelope_line(metadata={"plan": {"tier": "pro"}}, usage=[GEMINI, CPU, CPU]),
        envelope_line(metadata={"plan": {"tier": "free"}}, usage=[CPU]),
    )
    result = process(data, seed_catalog())
    assert sink.write_events(result.rows) == {}

    table = f"`{sink.client.project}.{sink.dataset}.events`"
    stored = query(
        sink,
        f"SELECT JSON_VALUE(e.metadata, '$.plan.tier') AS tier, SUM(u.cost_usd) AS items_usd, "
        f"ANY_VALUE(e.cost_usd) AS event_usd FROM {table} AS e, UNNEST(e.usage) AS u "
        "GROUP BY tier ORDER BY tier",
    )

    assert stored == [
        {"tier": "free", "items_usd": CPU_USD, "event_usd": CPU_USD},
        {
            "tier": "pro",
            "items_usd": GEMINI_USD + 2 * CPU_USD,
            "event_usd": GEMINI_USD + 2 * CPU_USD,
        },
    ]
    assert all(isinstance(row["items_usd"], Decimal) for row in stored)


# ---------------------------------------------------------------------------- dead letters


def test_dead_letter_rows_read_back_intact(sink: BigQuerySink) -> None:
    """Dead-letter rows for every kind of reject come back from a query as written."""
    attributes = {"il_audit_schema": "1", "app": "ingest", "il_audit_count": "5"}
    data = message(
        envelope_line(),
        b'{"event_id": "broken',
        envelope_line(event_type="no.such.type", app="chat"),
        envelope_line(app=None, event_id="evt-missing-app"),
        b"\xff\xfe not utf-8",
        b"[1, 2]",
    )
    result = process_message(data, META, seed_catalog(), NOW)
    assert [reject.error_class for reject in result.rejects] == [
        ErrorClass.INVALID_JSON,
        ErrorClass.UNKNOWN_EVENT_TYPE,
        ErrorClass.SCHEMA_VIOLATION,
        ErrorClass.UNDECODABLE,
        ErrorClass.INVALID_JSON,
    ]
    empty = process_message(b"\n \n", MessageMeta(), seed_catalog(), NOW)
    rows = [dead_letter_row(reject, attributes, META, NOW) for reject in result.rejects] + [
        dead_letter_row(reject, {}, MessageMeta(), NOW) for reject in empty.rejects
    ]

    sink.write_dead_letters(rows)

    stored = select_all(sink, "dead_letters", "dead_letter_id")
    assert stored == sorted(rows, key=lambda row: row["dead_letter_id"])
    assert_utc(stored)
    undecodable = next(row for row in stored if row["error_class"] == "undecodable")
    assert undecodable["raw_line"] == "\\xff\\xfe not utf-8"
    assert undecodable["attributes"] == attributes
    whole_message = next(row for row in stored if row["error_class"] == "empty_message")
    assert whole_message["line_index"] is None
    assert whole_message["attributes"] is None


# ---------------------------------------------------------------------------- cost rates


def test_read_cost_rates_returns_the_inserted_rows(sink: BigQuerySink) -> None:
    """read_cost_rates lists every cost_rates row with dates, NUMERIC prices and timestamps."""
    rows = table_rates()
    insert_cost_rates(sink, rows)

    stored = sink.read_cost_rates()

    def key(row: dict[str, Any]) -> tuple[str, str, date]:
        return row["service"], row["model_id"], row["effective_from"]

    assert sorted(stored, key=key) == sorted(rows, key=key)
    assert_utc(stored)
    assert all(isinstance(row["effective_from"], date) for row in stored)
    gemini = next(
        row for row in stored if row["rate_version"] == "table-2026-01" and row["unit"] == "tokens"
    )
    assert gemini["output_price_per_1m_tokens"] == Decimal("2.000000001")
    assert isinstance(gemini["output_price_per_1m_tokens"], Decimal)


def test_table_catalog_prices_from_the_cost_rates_rows(sink: BigQuerySink) -> None:
    """TableCatalogProvider over read_cost_rates prices with the table's rate in force."""
    insert_cost_rates(sink, table_rates())
    provider = TableCatalogProvider(sink.read_cost_rates, ttl_seconds=60)

    catalog = provider.current()
    result = process(envelope_line(usage=[GEMINI, CPU]), catalog)
    assert sink.write_events(result.rows) == {}

    assert catalog.source == "bigquery_catalog"
    assert catalog.rates == catalog_from_rows(table_rates()).rates
    (stored,) = query(
        sink,
        "SELECT cost_usd, pricing_source, rate_version, pricing_status, usage "
        f"FROM `{sink.client.project}.{sink.dataset}.events`",
    )
    # 1200 * 0.5 / 1e6 + 300 * 2.000000001 / 1e6 = 0.0012000000003 -> 0.001200000 (9 places)
    assert [item["cost_usd"] for item in stored["usage"]] == [
        Decimal("0.001200000"),
        Decimal("0.000625000"),
    ]
    assert stored["cost_usd"] == Decimal("0.001825000")
    assert stored["pricing_source"] == "bigquery_catalog"
    assert stored["rate_version"] == "table-2026-01"
    assert stored["pricing_status"] == "priced"
    assert provider.current() is catalog  # cached within the TTL


def test_table_catalog_falls_back_to_the_seed_when_cost_rates_is_empty(
    sink: BigQuerySink,
) -> None:
    """With an empty cost_rates table the provider prices from the seed, labelled as fallback."""
    sink.ensure_tables()
    provider = TableCatalogProvider(sink.read_cost_rates, ttl_seconds=60)

    catalog = provider.current()
    result = process(envelope_line(usage=[GEMINI]), catalog)
    assert sink.write_events(result.rows) == {}

    assert catalog.source == SEED_FALLBACK
    assert catalog.rates == seed_catalog().rates
    (stored,) = query(
        sink,
        "SELECT cost_usd, pricing_source, rate_version "
        f"FROM `{sink.client.project}.{sink.dataset}.events`",
    )
    assert stored == {
        "cost_usd": GEMINI_USD,
        "pricing_source": SEED_FALLBACK,
        "rate_version": seed_catalog().version,
    }
