"""Pricing: exact money, effective dates, unknown rates never drop an event."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from il_audit.schemas import UsageItem
from il_audit.subscriber_fn.pricing import (
    CatalogError,
    PricingCatalog,
    Rate,
    catalog_from_rows,
    item_cost,
    price_usage,
    seed_catalog,
)

WHEN = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
"""In the bundled catalog's second period: the 1.0 library's prices (rate_version 2026-08-31)."""
WHEN_0_1 = datetime(2026, 7, 2, 12, 0, tzinfo=UTC)
"""In its first period, 2026-07-01 to 07-04: the 0.1 library's prices (rate_version 2026-07-01)."""


def usage(**fields: object) -> UsageItem:
    return UsageItem.model_validate({"service": "vertex_gemini", **fields})


@pytest.mark.parametrize(
    ("service", "model_id", "tokens_in", "tokens_out", "expected"),
    [
        ("vertex_gemini", "gemini-2.5-flash-lite", 1_000_000, 1_000_000, "0.375000000"),
        ("vertex_gemini", "gemini-2.0-flash", 1_000_000, 1_000_000, "0.500000000"),
        ("vertex_gemini", "gemini-3.1-flash-lite", 2_000_000, 500_000, "0.400000000"),
        ("vertex_embedding", "gemini-embedding-001", 4_000_000, 0, "0.100000000"),
        ("vertex_gemini", "gemini-2.5-flash-lite", 1234, 567, "0.000262650"),
    ],
)
def test_seed_token_prices(
    service: str, model_id: str, tokens_in: int, tokens_out: int, expected: str
) -> None:
    """Token cost = (in x price_in + out x price_out) / 1e6, at the 0.1 library's rates."""
    item = usage(
        service=service, model_id=model_id, input_tokens=tokens_in, output_tokens=tokens_out
    )
    priced = price_usage([item], WHEN_0_1, seed_catalog())
    assert priced.cost_usd == Decimal(expected)
    assert priced.usage[0]["cost_usd"] == Decimal(expected)
    assert priced.pricing_status == "priced"
    assert priced.rate_version == "2026-07-01"
    assert priced.pricing_source == "seed_catalog"


def test_unit_prices_are_exact() -> None:
    """Cloud Run vCPU-seconds and GCS bytes: quantity x unit_price, no float error."""
    cpu = usage(service="cloud_run", model_id="cpu_second", quantity=0.1)
    storage = usage(service="gcs", model_id="storage_byte", quantity=3_000_000_000)
    priced = price_usage([cpu, storage], WHEN, seed_catalog())
    assert [item["cost_usd"] for item in priced.usage] == [
        Decimal("0.000002400"),
        Decimal("0.060000000"),
    ]
    assert priced.cost_usd == Decimal("0.060002400")


def test_money_rounds_half_even_to_nine_places() -> None:
    """Costs are NUMERIC: 9 decimal places, banker's rounding."""
    catalog = PricingCatalog(
        [Rate("s", "m", date(2026, 1, 1), unit_price=Decimal("0.0000000005"))], source="x"
    )
    assert item_cost(usage(service="s", model_id="m", quantity=1), catalog.rates[0]) == Decimal(
        "0E-9"
    )
    assert item_cost(usage(service="s", model_id="m", quantity=3), catalog.rates[0]) == Decimal(
        "0.000000002"
    )


def test_unknown_rate_leaves_the_item_unpriced() -> None:
    """An item without a rate keeps cost_usd null; the event is partially priced, not dropped."""
    known = usage(model_id="gemini-2.0-flash", input_tokens=1_000_000)
    unknown = usage(model_id="gemini-9", input_tokens=10)
    priced = price_usage([known, unknown], WHEN_0_1, seed_catalog())
    assert [item["cost_usd"] for item in priced.usage] == [Decimal("0.100000000"), None]
    assert priced.pricing_status == "partially_priced"
    assert priced.cost_usd == Decimal("0.100000000")


def test_nothing_priced_is_unpriced_with_null_total() -> None:
    """No item priced: status unpriced and a null total (not zero)."""
    priced = price_usage([usage(model_id="gemini-9", input_tokens=10)], WHEN, seed_catalog())
    assert (priced.pricing_status, priced.cost_usd, priced.rate_version) == ("unpriced", None, None)


def test_no_usage_means_no_pricing_fields() -> None:
    """Events without usage carry no pricing status at all."""
    priced = price_usage([], WHEN, seed_catalog())
    assert (priced.cost_usd, priced.pricing_status, priced.pricing_source) == (None, None, None)


def test_the_rate_in_force_at_occurred_at_wins() -> None:
    """Effective-dated rates: the latest one starting on or before the event's UTC day."""
    catalog = catalog_from_rows(
        [
            {
                "service": "s",
                "model_id": "m",
                "effective_from": "2026-01-01",
                "unit_price": "1",
                "rate_version": "v1",
            },
            {
                "service": "s",
                "model_id": "m",
                "effective_from": "2026-06-01",
                "unit_price": "2",
                "rate_version": "v2",
            },
        ]
    )
    item = usage(service="s", model_id="m", quantity=1)
    before = price_usage([item], datetime(2025, 12, 31, 23, 59, tzinfo=UTC), catalog)
    january = price_usage([item], datetime(2026, 5, 31, 23, 59, 59, tzinfo=UTC), catalog)
    june = price_usage([item], datetime(2026, 6, 1, 0, 0, tzinfo=UTC), catalog)
    assert before.pricing_status == "unpriced"
    assert (january.cost_usd, january.rate_version) == (Decimal("1.000000000"), "v1")
    assert (june.cost_usd, june.rate_version) == (Decimal("2.000000000"), "v2")
    assert june.pricing_source == "bigquery_catalog"


def test_tokens_against_a_unit_rate_are_unpriced() -> None:
    """A rate cannot price what it has no price for."""
    item = usage(service="cloud_run", model_id="cpu_second", input_tokens=100)
    assert price_usage([item], WHEN, seed_catalog()).pricing_status == "unpriced"


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"model_id": "m", "effective_from": "2026-01-01", "unit_price": "1"}, "service"),
        ({"service": "s", "model_id": "m", "unit_price": "1"}, "effective_from"),
        ({"service": "s", "model_id": "m", "effective_from": "2026-01-01"}, "no price"),
        (
            {"service": "s", "model_id": "m", "effective_from": "2026-01-01", "unit_price": "-1"},
            "non-negative",
        ),
        (
            {"service": "s", "model_id": "m", "effective_from": "2026-13-01", "unit_price": "1"},
            "month",
        ),
        (
            {"service": "s", "model_id": "m", "effective_from": "2026-01-01", "unit_price": "abc"},
            "not a number",
        ),
    ],
)
def test_malformed_rates_are_refused(row: dict[str, str], message: str) -> None:
    """A rate without its key, date or price, or with a bad number, is a CatalogError."""
    with pytest.raises(CatalogError, match=message):
        catalog_from_rows([row])


def test_two_rates_on_the_same_day_overlap() -> None:
    """Two prices for one key taking effect the same day are refused."""
    row = {"service": "s", "model_id": "m", "effective_from": "2026-01-01", "unit_price": "1"}
    with pytest.raises(CatalogError, match="take effect"):
        catalog_from_rows([row, {**row, "unit_price": "2"}])


def test_seed_catalog_has_both_periods() -> None:
    """The bundled catalog: the 0.1 library's six rates from 2026-07-01, then the 1.0
    library's fourteen (standard and batch tiers, gemini-3.5 from 2026-08-31)."""
    catalog = seed_catalog()
    assert catalog.version == "2026-08-31"
    assert len(catalog) == 6 + 14
    old = [rate for rate in catalog.rates if rate.rate_version == "2026-07-01"]
    assert {rate.effective_from for rate in old} == {date(2026, 7, 1)}
    assert {rate.pricing_tier for rate in old} == {"standard"}
    new = [rate for rate in catalog.rates if rate.rate_version == "2026-08-31"]
    assert {rate.effective_from for rate in new} == {date(2026, 7, 5), date(2026, 8, 31)}
    assert sum(rate.pricing_tier == "batch" for rate in new) == 5
    cpu = catalog.rate_at("cloud_run", "cpu_second", WHEN)
    assert cpu is not None
    assert cpu.unit_price == Decimal("0.000024")
    assert (
        catalog.rate_at("vertex_gemini", "gemini-3.5-flash", datetime(2026, 8, 30, tzinfo=UTC))
        is None
    )


@pytest.mark.parametrize(
    ("item", "tier", "expected", "rate_tier"),
    [
        # The 1.0 library's published test vectors for its catalog.
        ({"model_id": "gemini-2.0-flash", "input_tokens": 1_000_000, "output_tokens": 200_000},
         "standard", "0.27", "standard"),
        ({"model_id": "gemini-2.0-flash", "input_tokens": 1_000_000, "output_tokens": 200_000},
         "batch", "0.135", "batch"),
        ({"model_id": "gemini-2.5-flash-lite", "input_tokens": 1234, "output_tokens": 567},
         None, "0.0003502", "standard"),
        ({"service": "vertex_embedding", "model_id": "gemini-embedding-001",
          "input_tokens": 1_000_000}, "batch", "0.025", "standard"),
        ({"service": "vertex_rerank", "model_id": "semantic-ranker-default", "quantity": 3},
         None, "0.003", "standard"),
        ({"service": "cloud_run", "model_id": "cpu_second", "quantity": 142.5},
         None, "0.00342", "standard"),
        ({"service": "gcs", "model_id": "storage_byte", "quantity": 1e9},
         None, "0.02", "standard"),
    ],
)  # fmt: skip
def test_seed_prices_by_tier(
    item: dict[str, object], tier: str | None, expected: str, rate_tier: str
) -> None:
    """Each item is priced at its tier's rate; a tier the catalog lacks (embeddings have
    no batch price) falls back to standard, and rate_tier says so."""
    priced = price_usage([usage(**item, pricing_tier=tier)], WHEN, seed_catalog())
    assert priced.cost_usd == Decimal(expected)
    assert priced.usage[0]["rate_tier"] == rate_tier
    assert priced.usage[0]["pricing_tier"] == tier
    assert priced.rate_version == "2026-08-31"


def test_a_tier_falls_back_only_to_standard() -> None:
    """Without a rate at its tier or at standard, an item stays unpriced (no other tier)."""
    catalog = catalog_from_rows(
        [{"service": "s", "model_id": "m", "pricing_tier": "batch", "effective_from":
          "2026-01-01", "unit_price": "1"}]
    )  # fmt: skip
    flex = usage(service="s", model_id="m", quantity=1, pricing_tier="flex")
    standard = usage(service="s", model_id="m", quantity=1)
    batch = usage(service="s", model_id="m", quantity=1, pricing_tier="batch")
    assert price_usage([flex, standard], WHEN, catalog).pricing_status == "unpriced"
    assert price_usage([batch], WHEN, catalog).usage[0]["rate_tier"] == "batch"


def test_the_same_day_at_two_tiers_is_not_an_overlap() -> None:
    """The overlap rule is per tier: standard and batch may both start on one day."""
    row = {"service": "s", "model_id": "m", "effective_from": "2026-01-01", "unit_price": "1"}
    catalog = catalog_from_rows([row, {**row, "pricing_tier": "batch", "unit_price": "0.5"}])
    assert len(catalog) == 2
    with pytest.raises(CatalogError, match=r"s/m \[batch\] take effect"):
        catalog_from_rows(
            [{**row, "pricing_tier": "batch"}, {**row, "pricing_tier": "BATCH", "unit_price": "2"}]
        )


def test_a_cost_numeric_holds_is_priced_exactly_however_large() -> None:
    """Costs from 10^20 up to NUMERIC's largest keep their 9 places (the default decimal
    context's 28 digits raised InvalidOperation there, and the line was dead-lettered as
    an internal error); past NUMERIC the item stays unpriced."""
    large = usage(service="cloud_run", model_id="cpu_second", quantity=1e25)
    assert price_usage([large], WHEN, seed_catalog()).cost_usd == Decimal(
        "240000000000000000000.000000000"
    )
    huge = usage(service="cloud_run", model_id="cpu_second", quantity=1e40)
    assert price_usage([huge], WHEN, seed_catalog()).pricing_status == "unpriced"
