"""Converting il-audit 0.1.3's ``cost_rates`` rows into ours, for ``migrate from-0.1``.

0.1.3 kept FLOAT64 prices, an optional ``effective_from`` and a
``rate_version`` per row; ours keeps exact NUMERIC money (9 decimal places),
required effective dates, and refuses two rates for one key taking effect the
same day. :func:`convert_seed_rates` says how each 0.1.3 row is carried over,
and why one is not.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from il_audit.schemas.seed_tables import standard_type

_MONEY_PLACES: Final = 9
RateRowKey = tuple[str, str, str, date]
"""``(service, model_id, pricing_tier, effective_from)``: the cost_rates key."""


def row_tier(row: Mapping[str, Any]) -> str:
    """A cost_rates row's tier: ``standard`` when the row has none (0.1.3) or a blank one."""
    tier = row.get("pricing_tier")
    return str(tier).strip().lower() if tier and str(tier).strip() else "standard"


@dataclass
class RatesMerge:
    """What merging the 0.1.3 rates into ``cost_rates`` does."""

    new: list[dict[str, Any]] = field(default_factory=list)
    """Rows to insert (as :meth:`~il_audit.subscriber_fn.pricing.Rate.to_row` gives them)."""
    present: int = 0
    """0.1.3 rates whose key cost_rates already has (left as they are)."""
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """(rate, reason) of 0.1.3 rows that are not merged."""


def _decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    # repr of a float is its shortest round-tripping decimal: 0.075 stays 0.075.
    text = repr(value) if isinstance(value, float) else str(value)
    return Decimal(text)


def _places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def convert_seed_rates(
    rows: Iterable[Mapping[str, Any]], existing_keys: Iterable[RateRowKey]
) -> RatesMerge:
    """Turn 0.1.3 ``cost_rates`` rows into rows of our ``cost_rates``.

    - FLOAT64 prices become NUMERIC through their shortest decimal form
      (``0.075`` stays ``0.075``); a price with more than 9 decimal places
      (e.g. 0.1.3's gcs ``storage_byte`` at 2e-11 USD per byte) does not fit
      NUMERIC and the row is skipped, with that reason.
    - A missing token price is 0, as 0.1.3's loader read it; a missing
      ``unit_price`` stays missing; a missing ``unit`` is ``tokens``.
    - Effective dates: our catalog prices each event with the rate in force on
      its day, as 0.1.3 did at emit time. A row without ``effective_from`` was
      never used by 0.1.3 (it only read rows with ``effective_from <=
      CURRENT_DATE()``) and is skipped. Of two rows for the same service,
      model and day, the higher ``rate_version`` wins, as in 0.1.3.
    - Tiers: 0.1.3 rates have none and are ``standard``; a table that already
      has ``pricing_tier`` (1.0's) keeps each row's tier (blank: ``standard``).
    - A key cost_rates already has is left as it is (counted as present).
    """
    merge = RatesMerge()
    existing = set(existing_keys)
    for key, row in _highest_version_per_day(rows, merge).items():
        if key in existing:
            merge.present += 1
            continue
        converted = _our_rate_row(key[3], row)
        if isinstance(converted, str):
            merge.skipped.append((_label(row), converted))
        else:
            merge.new.append(converted)
    return merge


_PRICES: Final = ("input_price_per_1m_tokens", "output_price_per_1m_tokens", "unit_price")
_SAME_DAY: Final = "a higher rate_version takes effect the same day"


def _highest_version_per_day(
    rows: Iterable[Mapping[str, Any]], merge: RatesMerge
) -> dict[RateRowKey, Mapping[str, Any]]:
    best: dict[RateRowKey, Mapping[str, Any]] = {}
    for row in rows:
        effective = row.get("effective_from")
        if isinstance(effective, datetime):
            effective = effective.date()
        if not isinstance(effective, date):
            merge.skipped.append(
                (
                    _label(row),
                    "no effective_from: 0.1.3 never priced with it (it read rows in force)",
                )
            )
            continue
        key = (str(row.get("service")), str(row.get("model_id")), row_tier(row), effective)
        held = best.get(key)
        if held is None or str(row.get("rate_version") or "") > str(held.get("rate_version") or ""):
            if held is not None:
                merge.skipped.append((_label(held), _SAME_DAY))
            best[key] = row
        else:
            merge.skipped.append((_label(row), _SAME_DAY))
    return best


def _our_rate_row(effective: date, row: Mapping[str, Any]) -> dict[str, Any] | str:
    """The cost_rates row for a 0.1.3 rate, or why there is none."""
    from il_audit.subscriber_fn.errors import CatalogError
    from il_audit.subscriber_fn.pricing import Rate

    try:
        prices = {name: _decimal(row.get(name)) for name in _PRICES}
    except (InvalidOperation, ValueError):
        return "a price is not a number"
    too_fine = [
        f"{name} {row.get(name)!r}"
        for name, price in prices.items()
        if price is not None and _places(price) > _MONEY_PLACES
    ]
    if too_fine:
        return f"{', '.join(too_fine)} has more than 9 decimal places (NUMERIC)"
    for name in ("input_price_per_1m_tokens", "output_price_per_1m_tokens"):
        if prices[name] is None:
            prices[name] = Decimal(0)  # 0.1.3's loader read a missing price as 0.0
    try:
        rate = Rate.from_mapping(
            {
                "service": row.get("service"),
                "model_id": row.get("model_id"),
                "pricing_tier": row_tier(row),
                "effective_from": effective,
                **prices,
                "unit": row.get("unit") or "tokens",
                "rate_version": row.get("rate_version"),
                "source_url": row.get("source_url"),
            }
        )
    except CatalogError as exc:
        return str(exc)
    return rate.to_row()


def _label(row: Mapping[str, Any]) -> str:
    return f"{row.get('service')}/{row.get('model_id')}@{row.get('rate_version')}"


def is_seed_cost_rates(table: Any) -> bool:
    """Whether ``cost_rates`` is still the 0.1.3 table (FLOAT64 prices, no loaded_at)."""
    types = {item.name: standard_type(item.field_type) for item in table.schema}
    return types.get("input_price_per_1m_tokens") == "FLOAT64" or "loaded_at" not in types
