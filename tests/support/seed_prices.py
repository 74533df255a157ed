"""The prices of the bundled catalog (``cost_rates_seed.json``) the workloads' expectations use.

Tests compute what the views and the report must say from these numbers, never
from a warehouse: if the bundled catalog changes, these change with it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

Prices = tuple[Decimal | None, Decimal | None, Decimal | None]
"""(input $/1M tokens, output $/1M tokens, unit price)."""

SEED_RATES: dict[tuple[str, str], Prices] = {
    # (service, model_id): the bundled catalog's standard prices in force on the workloads'
    # days (its second period, from 2026-07-05).
    ("vertex_gemini", "gemini-2.0-flash"): (Decimal("0.15"), Decimal("0.6"), None),
    ("vertex_gemini", "gemini-2.5-flash-lite"): (Decimal("0.1"), Decimal("0.4"), None),
    ("cloud_run", "cpu_second"): (None, None, Decimal("0.000024")),
    ("vertex_embedding", "gemini-embedding-001"): (Decimal("0.025"), Decimal("0"), None),
    ("vertex_rerank", "semantic-ranker-default"): (Decimal("0"), Decimal("0"), Decimal("0.001")),
}
"""The prices the subscriber stores (``cost_rates_seed.json``); other models are unpriced."""
SEED_BATCH_RATES: dict[tuple[str, str], Prices] = {
    # (service, model_id): the batch-tier prices of the same catalog; a batch item of any
    # other model is priced at its standard rate (the fallback).
    ("vertex_gemini", "gemini-2.0-flash"): (Decimal("0.075"), Decimal("0.3"), None),
    ("vertex_gemini", "gemini-2.5-flash-lite"): (Decimal("0.05"), Decimal("0.2"), None),
}
SEED_RATE_VERSION = "2026-08-31"
"""The ``rate_version`` of those prices."""


def seed_rate(item: Any) -> tuple[Prices, str] | None:
    """The seed prices that price ``item`` at its tier, and that rate's tier (None: unpriced).

    A tier without a rate falls back to the standard rate, as the subscriber does.
    """
    key = (item.service, item.model_id)
    if (item.pricing_tier or "standard") == "batch" and key in SEED_BATCH_RATES:
        return SEED_BATCH_RATES[key], "batch"
    if key in SEED_RATES:
        return SEED_RATES[key], "standard"
    return None
