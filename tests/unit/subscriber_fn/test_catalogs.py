"""Where prices come from: the cost_rates table (read through the BigQuery sink), the seed, the TTL.

The table lives in :mod:`tests.support.fake_bigquery`, a fake that speaks
BigQuery's REST protocol, read by the real client through
``BigQuerySink.read_cost_rates``. Time is an injected clock, never a sleep.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from il_audit.subscriber_fn.catalogs import (
    CatalogProvider,
    SeedCatalogProvider,
    TableCatalogProvider,
    catalog_provider,
)
from il_audit.subscriber_fn.core import MessageMeta, process_message
from il_audit.subscriber_fn.sinks.bigquery import BigQuerySink
from tests.support.factories import envelope_line, make_settings, seed_token_cost
from tests.support.fake_bigquery import FakeBigQuery

NOW = datetime(2026, 11, 27, 13, 0, tzinfo=UTC)
DATASET = "audit"
TTL = 3600.0
USAGE = {
    "service": "vertex_gemini",
    "model_id": "gemini-2.0-flash",
    "input_tokens": 1234,
    "output_tokens": 567,
}
SEED_COST = seed_token_cost("gemini-2.0-flash", 1234, 567)
"""1234 input and 567 output tokens at the bundled catalog's prices."""


def rate(
    input_price: str | None = "1.00", output_price: str | None = "2.00", **overrides: Any
) -> dict[str, Any]:
    """A cost_rates row for gemini-2.0-flash as the table holds it."""
    row = {
        "service": "vertex_gemini",
        "model_id": "gemini-2.0-flash",
        "effective_from": "2026-07-01",
        "input_price_per_1m_tokens": input_price,
        "output_price_per_1m_tokens": output_price,
        "unit": "tokens",
        "rate_version": "table-2026-08",
    }
    row.update(overrides)
    return {key: value for key, value in row.items() if value is not None}


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def fake() -> Iterator[FakeBigQuery]:
    with FakeBigQuery() as server:
        yield server


@pytest.fixture
def sink(fake: FakeBigQuery) -> Iterator[BigQuerySink]:
    created = BigQuerySink(fake.client(), DATASET, retry_deadline=0.5, timeout=5)
    created.ensure_tables()
    yield created
    created.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def fill(fake: FakeBigQuery, rows: Sequence[Mapping[str, Any]]) -> None:
    fake.clear_rows(DATASET, "cost_rates")
    fake.add_rows(DATASET, "cost_rates", rows)


def priced(provider: CatalogProvider) -> dict[str, Any]:
    """The events row for one Gemini call priced with the provider's current catalog."""
    line = envelope_line(event_type="chat.turn.succeeded", usage=[USAGE])
    result = process_message(line, MessageMeta("m-1"), provider.current(), NOW)
    (row,) = result.rows
    return row


def table_reads(fake: FakeBigQuery) -> int:
    return len(fake.requests_of("tabledata.list"))


# ------------------------------------------------------------------- table or fallback


def test_table_rates_price_events(fake: FakeBigQuery, sink: BigQuerySink, clock: Clock) -> None:
    """Rates in cost_rates price the events, labelled bigquery_catalog with the table's version."""
    fill(fake, [rate("1.00", "2.00")])
    row = priced(TableCatalogProvider(sink.read_cost_rates, TTL, clock=clock))
    assert row["cost_usd"] == Decimal("0.002368000")
    assert row["pricing_source"] == "bigquery_catalog"
    assert row["rate_version"] == "table-2026-08"
    assert row["pricing_status"] == "priced"


def test_an_empty_table_falls_back_to_the_seed(
    fake: FakeBigQuery, sink: BigQuerySink, clock: Clock
) -> None:
    """With cost_rates empty, the seed prices and the rows say seed_catalog_fallback."""
    row = priced(TableCatalogProvider(sink.read_cost_rates, TTL, clock=clock))
    assert table_reads(fake) == 1
    assert row["cost_usd"] == SEED_COST
    assert row["pricing_source"] == "seed_catalog_fallback"


def test_an_unreachable_server_falls_back_to_the_seed(
    fake: FakeBigQuery, sink: BigQuerySink, clock: Clock
) -> None:
    """When BigQuery cannot be reached, the seed prices and the rows say seed_catalog_fallback."""
    fill(fake, [rate()])
    fake.stop()
    row = priced(TableCatalogProvider(sink.read_cost_rates, TTL, clock=clock))
    assert row["cost_usd"] == SEED_COST
    assert row["pricing_source"] == "seed_catalog_fallback"


@pytest.mark.parametrize(
    "rows",
    [
        pytest.param([rate(None, None)], id="no-price"),
        pytest.param([rate("-1.00", "2.00")], id="negative-price"),
        pytest.param([rate(), rate("3.00", "4.00")], id="two-rates-on-one-day"),
        pytest.param([rate(), {**rate(), "model_id": " "}], id="blank-model-id"),
    ],
)
def test_malformed_rows_fall_back_to_the_seed(
    fake: FakeBigQuery, sink: BigQuerySink, clock: Clock, rows: list[dict[str, Any]]
) -> None:
    """Rows the catalog cannot use make the seed price, labelled seed_catalog_fallback."""
    fill(fake, rows)
    row = priced(TableCatalogProvider(sink.read_cost_rates, TTL, clock=clock))
    assert table_reads(fake) == 1
    assert len(sink.read_cost_rates()) == len(rows), "the table itself reads fine"
    assert row["cost_usd"] == SEED_COST
    assert row["pricing_source"] == "seed_catalog_fallback"


# ----------------------------------------------------------------------------- the TTL


def test_the_table_is_read_at_most_once_per_ttl(
    fake: FakeBigQuery, sink: BigQuerySink, clock: Clock
) -> None:
    """Every call within the TTL uses the cached catalog: one tabledata.list in all."""
    fill(fake, [rate()])
    provider = TableCatalogProvider(sink.read_cost_rates, TTL, clock=clock)
    for elapsed in (0.0, 1.0, TTL / 2, TTL - 0.001):
        clock.now = 1000.0 + elapsed
        assert provider.current().source == "bigquery_catalog"
    assert table_reads(fake) == 1


def test_a_changed_price_takes_effect_after_the_ttl(
    fake: FakeBigQuery, sink: BigQuerySink, clock: Clock
) -> None:
    """A price changed in the table is used only once the TTL has passed, then re-read."""
    fill(fake, [rate("1.00", "2.00")])
    provider = TableCatalogProvider(sink.read_cost_rates, TTL, clock=clock)
    assert priced(provider)["cost_usd"] == Decimal("0.002368000")
    fill(fake, [rate("2.00", "4.00", rate_version="table-2026-09")])
    clock.now += TTL - 1
    assert priced(provider)["cost_usd"] == Decimal("0.002368000")
    clock.now += 1
    row = priced(provider)
    assert row["cost_usd"] == Decimal("0.004736000")
    assert row["rate_version"] == "table-2026-09"
    assert table_reads(fake) == 2


def test_a_failed_read_is_retried_after_fallback_retry_seconds(
    fake: FakeBigQuery, sink: BigQuerySink, clock: Clock
) -> None:
    """After a failed read the seed prices until fallback_retry_seconds pass, then the table."""
    fill(fake, [rate()])
    fake.fail("tabledata.list", 503, times=None)
    provider = TableCatalogProvider(
        sink.read_cost_rates, TTL, clock=clock, fallback_retry_seconds=60
    )
    assert provider.current().source == "seed_catalog_fallback"
    failed_reads = table_reads(fake)
    fake.reset_scripts()
    clock.now += 59.9
    assert provider.current().source == "seed_catalog_fallback"
    assert table_reads(fake) == failed_reads
    clock.now += 0.1
    assert provider.current().source == "bigquery_catalog"
    assert table_reads(fake) == failed_reads + 1


def test_a_fallback_is_retried_no_later_than_the_ttl(
    fake: FakeBigQuery, sink: BigQuerySink, clock: Clock
) -> None:
    """With a TTL shorter than fallback_retry_seconds, an empty table is re-read after the TTL."""
    provider = TableCatalogProvider(
        sink.read_cost_rates, 10, clock=clock, fallback_retry_seconds=60
    )
    assert provider.current().source == "seed_catalog_fallback"
    fill(fake, [rate()])
    clock.now += 10
    assert provider.current().source == "bigquery_catalog"
    assert table_reads(fake) == 2


# ------------------------------------------------------------------- choosing a provider


@pytest.mark.usefixtures("sink")
def test_the_seed_provider_always_gives_the_seed(fake: FakeBigQuery) -> None:
    """SeedCatalogProvider prices from the seed (seed_catalog) without reading the table."""
    fill(fake, [rate()])
    fake.reset_requests()
    row = priced(SeedCatalogProvider())
    assert row["cost_usd"] == SEED_COST
    assert row["pricing_source"] == "seed_catalog"
    assert fake.requests == []


def test_catalog_provider_reads_the_table_when_asked_for_bigquery(
    fake: FakeBigQuery, sink: BigQuerySink
) -> None:
    """cost_rates_source=bigquery gives a provider that prices from the table with its TTL."""
    fill(fake, [rate()])
    settings = make_settings(cost_rates_source="bigquery", cost_rates_cache_seconds=120)
    provider = catalog_provider(settings, sink.read_cost_rates)
    assert isinstance(provider, TableCatalogProvider)
    assert priced(provider)["pricing_source"] == "bigquery_catalog"
    assert priced(provider)["pricing_source"] == "bigquery_catalog"
    assert table_reads(fake) == 1


def test_catalog_provider_uses_the_seed_when_asked_for_seed() -> None:
    """cost_rates_source=seed (the default) gives the seed provider and never reads rows."""
    calls: list[int] = []

    def read_rows() -> list[dict[str, Any]]:
        calls.append(1)
        return [rate()]

    for settings in (make_settings(), make_settings(cost_rates_source="seed")):
        provider = catalog_provider(settings, read_rows)
        assert isinstance(provider, SeedCatalogProvider)
        assert priced(provider)["pricing_source"] == "seed_catalog"
    assert calls == []
