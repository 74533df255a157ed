"""Cost estimates on the caller's thread, from the bundled seed catalog: never the price of record.

The subscriber prices every usage item when it is ingested, from the catalog
it is configured with (the bundled seed, or the ``cost_rates`` table), and the
warehouse keeps that price. The functions here give a figure before the
warehouse has one (1.0.35's tracker ``api_cost_usd`` and ``cost_calculator``):
the bundled seed catalog's rate in force today at the call's tier (a tier
without a rate falls back to ``standard``, as the subscriber does), rounded to
8 places as 1.0.35 rounded. They differ from the warehouse's price when
``cost_rates`` overrides the seed, or when the rate changes between the call
and its ingestion. Nothing here raises for an unknown model: it costs 0.0.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

from il_audit.schemas.cost_specs import WriteQueueItem
from il_audit.schemas.envelope import STANDARD_TIER
from il_audit.subscriber_fn.pricing import Rate, seed_catalog

_MILLION: Final = Decimal(1_000_000)
_PLACES: Final = 8


def estimate_cost_usd(
    *,
    service: str,
    model_id: str,
    input_tokens: int = 0,
    output_tokens: int = 0,
    quantity: float | None = None,
    pricing_tier: str | None = STANDARD_TIER,
    at: datetime | None = None,
    cached_input_tokens: int = 0,
    cache_write_input_tokens: int = 0,
) -> float:
    """An estimate of one call's cost in USD (tokens, and ``quantity`` for unit-priced rates).

    Cached and cache-write tokens (not part of ``input_tokens``) are priced at the
    rate's cached / cache-write price, or at its input price where it has none.
    """
    rate = seed_catalog().rate_at(service, model_id, at or datetime.now(UTC), pricing_tier)
    if rate is None:
        return 0.0
    cost = Decimal(0)
    if rate.prices_tokens:
        cost += (
            max(0, input_tokens) * (rate.input_price_per_1m_tokens or 0)
            + max(0, output_tokens) * (rate.output_price_per_1m_tokens or 0)
            + max(0, cached_input_tokens) * _or_input(rate.cached_input_price_per_1m_tokens, rate)
            + max(0, cache_write_input_tokens)
            * _or_input(rate.cache_write_price_per_1m_tokens, rate)
        ) / _MILLION
    if quantity is not None and rate.unit_price is not None:
        cost += Decimal(repr(max(0.0, float(quantity)))) * rate.unit_price
    return round(float(cost), _PLACES)


def _or_input(price: Decimal | None, rate: Rate) -> Decimal:
    """``price``, or the rate's input price where the catalog has none (as the subscriber does)."""
    return price if price is not None else (rate.input_price_per_1m_tokens or Decimal(0))


def estimate_token_bucket_api_cost_usd(
    *,
    service: str,
    model_id: str,
    bucket: Mapping[str, Any],
    default_pricing_tier: str = STANDARD_TIER,
) -> float:
    """An estimate of a bucket of token counts (1.0.35's ``cost_calculator`` function).

    With ``bucket["tokens_by_pricing_tier"] = {tier: {"prompt_tokens": n, "output_tokens": m}}``
    each tier is priced at its own rate and the costs are summed; otherwise
    ``prompt_tokens`` / ``output_tokens`` are priced at ``default_pricing_tier``.
    A bucket without tokens costs 0.0.
    """
    by_tier = bucket.get("tokens_by_pricing_tier")
    parts = (
        list(by_tier.items())
        if isinstance(by_tier, Mapping) and by_tier
        else [(default_pricing_tier, bucket)]
    )
    total = 0.0
    for tier, tokens in parts:
        if not isinstance(tokens, Mapping):
            continue
        total += estimate_cost_usd(
            service=service,
            model_id=model_id,
            input_tokens=int(tokens.get("prompt_tokens") or 0),
            output_tokens=int(tokens.get("output_tokens") or 0),
            pricing_tier=str(tier or "").strip().lower() or STANDARD_TIER,
        )
    return round(total, _PLACES)


def estimate_api_cost_usd(
    *,
    service: str,
    model_id: str,
    input_tokens: int = 0,
    output_tokens: int = 0,
    pricing_tier: str = STANDARD_TIER,
) -> tuple[float, str, str]:
    """1.0.35's ``cost_calculator`` function: ``(cost, pricing_version, pricing_source)``
    of tokens, estimated as above (0.0 with the catalog's version for an unknown model)."""
    cost = estimate_cost_usd(
        service=service,
        model_id=model_id,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        pricing_tier=pricing_tier,
    )
    return (cost, *_provenance(service, model_id, pricing_tier))


def estimate_unit_cost_usd(
    *, service: str, model_id: str, quantity: float, pricing_tier: str = STANDARD_TIER
) -> tuple[float, str, str]:
    """1.0.35's ``cost_calculator`` function: ``(cost, pricing_version, pricing_source)`` of a
    unit-priced quantity (e.g. CPU seconds), estimated as above."""
    cost = estimate_cost_usd(
        service=service, model_id=model_id, quantity=quantity, pricing_tier=pricing_tier
    )
    return (cost, *_provenance(service, model_id, pricing_tier))


def _provenance(service: str, model_id: str, pricing_tier: str | None) -> tuple[str, str]:
    """The version and source 1.0.35 stamped: the rate's, else the catalog's."""
    catalog = seed_catalog()
    rate = catalog.rate_at(service, model_id, datetime.now(UTC), pricing_tier)
    version = (rate.rate_version if rate is not None else None) or catalog.version or ""
    return version, catalog.source


def finalize_write_item(item: WriteQueueItem) -> tuple[str, dict[str, Any]]:
    """1.0.35's ``il_audit.writer`` function: ``(table_id, row)``, the row with
    ``estimated_cost_usd``, ``pricing_version`` and ``pricing_source`` filled from its cost
    spec, estimated as above (unit costs at the standard tier, as 1.0.35 did); a row
    without a spec is returned as it is (a copy)."""
    row = dict(item.row)
    priced: tuple[float, str, str] | None = None
    if item.api_cost is not None:
        spec = item.api_cost
        priced = estimate_api_cost_usd(
            service=spec.service,
            model_id=spec.model_id,
            input_tokens=spec.input_tokens,
            output_tokens=spec.output_tokens,
            pricing_tier=spec.pricing_tier or STANDARD_TIER,
        )
    elif item.unit_cost is not None:
        unit = item.unit_cost
        priced = estimate_unit_cost_usd(
            service=unit.service, model_id=unit.model_id, quantity=unit.quantity
        )
    if priced is not None:
        row["estimated_cost_usd"], row["pricing_version"], row["pricing_source"] = priced
    return item.table_id, row
