"""Turning the 0.1.3 cost_rates rows into ours: NUMERIC prices, effective dates, versions."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from il_audit.operations.migrate import convert_seed_rates

JULY = date(2026, 7, 1)


def seed_row(**overrides: Any) -> dict[str, Any]:
    """A 0.1.3 cost_rates row as BigQuery returns it (FLOAT64 prices)."""
    row: dict[str, Any] = {
        "rate_version": "2026-07-01",
        "service": "vertex_gemini",
        "model_id": "gemini-2.0-flash",
        "input_price_per_1m_tokens": 0.1,
        "output_price_per_1m_tokens": 0.4,
        "unit_price": None,
        "unit": "tokens",
        "effective_from": JULY,
        "source_url": "https://cloud.google.com/vertex-ai/generative-ai/pricing",
    }
    row.update(overrides)
    return row


def test_float_prices_become_their_shortest_decimal() -> None:
    """0.075 and 0.000024 read back as those decimals, not their binary expansions."""
    merge = convert_seed_rates(
        [
            seed_row(model_id="gemini-2.5-flash-lite", input_price_per_1m_tokens=0.075),
            seed_row(service="cloud_run", model_id="cpu_second", unit_price=0.000024,
                     unit="vCPU_second", input_price_per_1m_tokens=0.0,
                     output_price_per_1m_tokens=0.0),
        ],
        [],
    )  # fmt: skip

    assert not merge.skipped
    prices = {row["model_id"]: row for row in merge.new}
    assert prices["gemini-2.5-flash-lite"]["input_price_per_1m_tokens"] == Decimal("0.075")
    assert prices["cpu_second"]["unit_price"] == Decimal("0.000024")
    assert prices["gemini-2.5-flash-lite"]["effective_from"] == JULY
    assert prices["gemini-2.5-flash-lite"]["rate_version"] == "2026-07-01"


def test_a_price_finer_than_numeric_is_skipped_with_the_reason() -> None:
    """gcs storage_byte at 2e-11 USD cannot be a NUMERIC (9 places): skipped, not rounded to 0."""
    merge = convert_seed_rates(
        [seed_row(service="gcs", model_id="storage_byte", unit_price=2e-11, unit="byte")], []
    )

    assert merge.new == []
    ((label, reason),) = merge.skipped
    assert label == "gcs/storage_byte@2026-07-01"
    assert "more than 9 decimal places" in reason


def test_a_row_without_effective_from_is_skipped() -> None:
    """0.1.3 only priced with rows in force (effective_from <= today), so a NULL date never was."""
    merge = convert_seed_rates([seed_row(effective_from=None)], [])

    assert merge.new == []
    assert "no effective_from" in merge.skipped[0][1]


def test_missing_token_prices_are_zero_and_unit_defaults_to_tokens() -> None:
    """As 0.1.3's loader read them: a missing token price is 0, a missing unit is tokens."""
    merge = convert_seed_rates(
        [seed_row(input_price_per_1m_tokens=None, output_price_per_1m_tokens=0.4, unit=None)], []
    )

    (row,) = merge.new
    assert row["input_price_per_1m_tokens"] == Decimal(0)
    assert row["unit"] == "tokens"
    assert row["unit_price"] is None


def test_the_highest_rate_version_wins_on_the_same_day() -> None:
    """Two rows for one model and day: the higher rate_version is kept, as 0.1.3 chose."""
    merge = convert_seed_rates(
        [
            seed_row(rate_version="2026-07-02", input_price_per_1m_tokens=0.2),
            seed_row(rate_version="2026-07-01", input_price_per_1m_tokens=0.1),
        ],
        [],
    )

    (row,) = merge.new
    assert row["rate_version"] == "2026-07-02"
    assert row["input_price_per_1m_tokens"] == Decimal("0.2")
    assert [label for label, _ in merge.skipped] == ["vertex_gemini/gemini-2.0-flash@2026-07-01"]


def test_keys_cost_rates_already_has_are_left_alone() -> None:
    """A (service, model_id, tier, effective_from) already in cost_rates is counted, not
    merged; 0.1.3 rows have no tier and are standard."""
    merge = convert_seed_rates(
        [seed_row(), seed_row(model_id="gemini-3.1-flash-lite")],
        [("vertex_gemini", "gemini-2.0-flash", "standard", JULY)],
    )

    assert merge.present == 1
    assert [row["model_id"] for row in merge.new] == ["gemini-3.1-flash-lite"]
