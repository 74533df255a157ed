"""The cost catalog and pricing: exact money from effective-dated rates.

A :class:`PricingCatalog` holds rates keyed by ``(service, model_id,
pricing_tier)``, each in force from its ``effective_from`` day (UTC) until the
next one. Pricing a usage item uses the rate of its tier in force at the
event's ``occurred_at``; when its tier has none (a ``batch`` call of a model
the catalog prices only at ``standard``), the ``standard`` rate prices it and
the item's ``rate_tier`` says so:

- tokens: ``(input_tokens * input_price_per_1m + output_tokens * output_price_per_1m) / 1e6``,
  plus ``cached_input_tokens`` at ``cached_input_price_per_1m_tokens`` and
  ``cache_write_input_tokens`` at ``cache_write_price_per_1m_tokens``; where the
  rate has no such price they are priced at the input price and the item's
  ``cache_priced_as_input`` says so. Input as recorded excludes both, so
  nothing is counted twice; ``reasoning_tokens`` are part of the output and
  never priced again.
- units: ``quantity * unit_price``

Money is ``Decimal`` rounded half-even to 9 decimal places (BigQuery NUMERIC).
An item without a matching rate is left unpriced; it never drops the event.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation
from importlib import resources
from typing import Any, Final

from il_audit.schemas.envelope import STANDARD_TIER, UsageItem
from il_audit.schemas.rows import PricingSource, PricingStatus
from il_audit.subscriber_fn.errors import CatalogError

MONEY_QUANTUM: Final = Decimal("0.000000001")
_MONEY_CONTEXT: Final = Context(prec=38)
"""NUMERIC's 38 digits: the default context's 28 cannot quantize a cost of 10^20 or more
to 9 places (InvalidOperation), though NUMERIC holds it."""
MAX_MONEY: Final = Decimal("99999999999999999999999999999.999999999")
"""The largest BigQuery NUMERIC; a cost above it cannot be stored and stays unpriced."""
_MILLION: Final = Decimal(1_000_000)
_TIER_PATTERN: Final = re.compile(r"[a-z][a-z0-9_]{0,31}")
_ZERO: Final = Decimal(0)

SEED_FALLBACK: Final = "seed_catalog_fallback"
"""``pricing_source`` when the cost_rates table was asked for but could not be used."""


@dataclass(frozen=True, slots=True)
class Rate:
    """One price, in force for ``(service, model_id, pricing_tier)`` from ``effective_from``."""

    service: str
    model_id: str
    effective_from: date
    input_price_per_1m_tokens: Decimal | None = None
    output_price_per_1m_tokens: Decimal | None = None
    unit_price: Decimal | None = None
    unit: str | None = None
    rate_version: str | None = None
    source_url: str | None = None
    pricing_tier: str = STANDARD_TIER
    cached_input_price_per_1m_tokens: Decimal | None = None
    cache_write_price_per_1m_tokens: Decimal | None = None

    @property
    def prices_tokens(self) -> bool:
        """Whether this rate has a token price."""
        return self.input_price_per_1m_tokens is not None or (
            self.output_price_per_1m_tokens is not None
        )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, default_version: str | None = None) -> Rate:
        """Build a rate from a JSON/CSV/table row, validating every field."""
        try:
            service = _required_text(data, "service")
            model_id = _required_text(data, "model_id")
            effective = data.get("effective_from")
            if isinstance(effective, datetime):
                effective = effective.date()
            elif isinstance(effective, str):
                effective = date.fromisoformat(effective.strip())
            if not isinstance(effective, date):
                raise CatalogError("effective_from is required (YYYY-MM-DD)")
            rate = cls(
                service=service,
                model_id=model_id,
                effective_from=effective,
                input_price_per_1m_tokens=_price(data, "input_price_per_1m_tokens"),
                output_price_per_1m_tokens=_price(data, "output_price_per_1m_tokens"),
                unit_price=_price(data, "unit_price"),
                unit=_optional_text(data, "unit"),
                rate_version=_optional_text(data, "rate_version") or default_version,
                source_url=_optional_text(data, "source_url"),
                pricing_tier=_tier(data),
                cached_input_price_per_1m_tokens=_price(data, "cached_input_price_per_1m_tokens"),
                cache_write_price_per_1m_tokens=_price(data, "cache_write_price_per_1m_tokens"),
            )
        except (ValueError, TypeError) as exc:
            if isinstance(exc, CatalogError):
                raise
            raise CatalogError(str(exc)) from exc
        if not rate.prices_tokens and rate.unit_price is None:
            raise CatalogError(
                f"rate {rate.label} from {rate.effective_from} has no price "
                "(give input/output_price_per_1m_tokens or unit_price)"
            )
        return rate

    @property
    def label(self) -> str:
        """``service/model_id``, with ``[tier]`` appended for a tier other than standard."""
        tier = "" if self.pricing_tier == STANDARD_TIER else f" [{self.pricing_tier}]"
        return f"{self.service}/{self.model_id}{tier}"

    def to_row(self) -> dict[str, Any]:
        """The rate as a ``cost_rates`` row."""
        return {
            "service": self.service,
            "model_id": self.model_id,
            "pricing_tier": self.pricing_tier,
            "effective_from": self.effective_from,
            "input_price_per_1m_tokens": self.input_price_per_1m_tokens,
            "output_price_per_1m_tokens": self.output_price_per_1m_tokens,
            "unit_price": self.unit_price,
            "unit": self.unit,
            "rate_version": self.rate_version,
            "source_url": self.source_url,
            "cached_input_price_per_1m_tokens": self.cached_input_price_per_1m_tokens,
            "cache_write_price_per_1m_tokens": self.cache_write_price_per_1m_tokens,
        }


def _required_text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise CatalogError(f"{key} is required")
    return value.strip()


def _optional_text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return str(value).strip()


def _tier(data: Mapping[str, Any]) -> str:
    """The row's pricing tier, lowercase; blank or missing (0.1.3 rows) is ``standard``."""
    tier = (_optional_text(data, "pricing_tier") or STANDARD_TIER).lower()
    if not _TIER_PATTERN.fullmatch(tier):
        raise CatalogError(f"pricing_tier {tier!r} is not a lowercase token (e.g. standard, batch)")
    return tier


def _price(data: Mapping[str, Any], key: str) -> Decimal | None:
    value = data.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        # str() first: a float becomes its shortest repr, not its binary expansion.
        price = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except InvalidOperation as exc:
        raise CatalogError(f"{key} is not a number: {value!r}") from exc
    if not price.is_finite() or price < 0:
        raise CatalogError(f"{key} must be a finite, non-negative number")
    return price


RateKey = tuple[str, str, str]
"""``(service, model_id, pricing_tier)``."""


class PricingCatalog:
    """Rates indexed for lookup by ``(service, model_id, pricing_tier)`` and time."""

    def __init__(self, rates: Iterable[Rate], *, source: str, version: str | None = None) -> None:
        self.source = source
        self.version = version
        grouped: dict[RateKey, list[Rate]] = {}
        for rate in rates:
            grouped.setdefault((rate.service, rate.model_id, rate.pricing_tier), []).append(rate)
        self._index: dict[RateKey, tuple[list[date], list[Rate]]] = {}
        for key, group in grouped.items():
            group.sort(key=lambda rate: rate.effective_from)
            days = [rate.effective_from for rate in group]
            for earlier, later in itertools.pairwise(days):
                if earlier == later:
                    raise CatalogError(
                        f"two rates for {group[0].label} take effect on {later.isoformat()}"
                    )
            self._index[key] = (days, group)

    @property
    def rates(self) -> list[Rate]:
        """Every rate, grouped by key and ordered by effective_from."""
        return [rate for _, group in self._index.values() for rate in group]

    def __len__(self) -> int:
        return sum(len(group) for _, group in self._index.values())

    def rate_at(
        self,
        service: str,
        model_id: str | None,
        at: datetime,
        pricing_tier: str | None = None,
    ) -> Rate | None:
        """The rate in force for ``(service, model_id)`` at ``pricing_tier`` on ``at``'s UTC day.

        A tier with no rate in force falls back to the ``standard`` rate; the
        returned rate's ``pricing_tier`` tells which one priced it.
        """
        tier = pricing_tier or STANDARD_TIER
        rate = self._in_force((service, model_id or "", tier), at)
        if rate is None and tier != STANDARD_TIER:
            rate = self._in_force((service, model_id or "", STANDARD_TIER), at)
        return rate

    def _in_force(self, key: RateKey, at: datetime) -> Rate | None:
        entry = self._index.get(key)
        if entry is None:
            return None
        days, group = entry
        position = bisect.bisect_right(days, at.date()) - 1
        return group[position] if position >= 0 else None


@dataclass(frozen=True, slots=True)
class PricedEvent:
    """Pricing of one event: items with ``cost_usd``, and the event-level summary."""

    usage: list[dict[str, Any]]
    cost_usd: Decimal | None
    pricing_source: str | None
    rate_version: str | None
    pricing_status: str | None


_NOT_PRICED: Final = PricedEvent([], None, None, None, None)


def item_cost(item: UsageItem, rate: Rate) -> Decimal | None:
    """Cost of one item under ``rate``, or None when the rate cannot price it."""
    cost: Decimal | None = None
    has_tokens = any(
        count is not None
        for count in (item.input_tokens, item.output_tokens, item.cached_input_tokens,
                      item.cache_write_input_tokens)
    )  # fmt: skip
    if has_tokens and rate.prices_tokens:
        input_price = rate.input_price_per_1m_tokens or _ZERO
        cached = rate.cached_input_price_per_1m_tokens
        write = rate.cache_write_price_per_1m_tokens
        tokens = (
            (item.input_tokens or 0) * input_price
            + (item.output_tokens or 0) * (rate.output_price_per_1m_tokens or _ZERO)
            + (item.cached_input_tokens or 0) * (input_price if cached is None else cached)
            + (item.cache_write_input_tokens or 0) * (input_price if write is None else write)
        )
        cost = tokens / _MILLION
    if item.quantity is not None and rate.unit_price is not None:
        # repr() of a float is its shortest round-tripping decimal: 0.1 stays 0.1.
        cost = (cost or _ZERO) + Decimal(repr(item.quantity)) * rate.unit_price
    if cost is None or not cost.is_finite() or cost > MAX_MONEY:
        # quantize() would raise InvalidOperation; a cost NUMERIC cannot hold is not a price.
        return None
    return cost.quantize(MONEY_QUANTUM, rounding=ROUND_HALF_EVEN, context=_MONEY_CONTEXT)


def cache_priced_as_input(item: UsageItem, rate: Rate) -> bool | None:
    """True when ``item`` has cached or cache-write tokens that ``rate`` priced at its input
    price (it has no price of their own); None when the item has no such tokens."""
    flags = [
        price is None
        for count, price in ((item.cached_input_tokens, rate.cached_input_price_per_1m_tokens),
                             (item.cache_write_input_tokens, rate.cache_write_price_per_1m_tokens))
        if count
    ]  # fmt: skip
    return any(flags) if flags else None


def price_usage(
    usage: Sequence[UsageItem], occurred_at: datetime, catalog: PricingCatalog
) -> PricedEvent:
    """Price every item; an item without a rate keeps ``cost_usd`` null."""
    if not usage:
        return _NOT_PRICED
    items: list[dict[str, Any]] = []
    total = _ZERO
    priced = 0
    versions: set[str] = set()
    for item in usage:
        row = dict(item.__dict__)  # the validated fields; model_dump costs more and adds nothing
        rate = catalog.rate_at(item.service, item.model_id, occurred_at, item.pricing_tier)
        cost = item_cost(item, rate) if rate is not None else None
        row["cost_usd"] = cost
        row["rate_tier"] = rate.pricing_tier if cost is not None and rate is not None else None
        row["cache_priced_as_input"] = (
            cache_priced_as_input(item, rate) if cost is not None and rate is not None else None
        )
        if cost is not None and rate is not None:
            priced += 1
            total += cost
            versions.add(rate.rate_version or rate.effective_from.isoformat())
        items.append(row)
    if priced == len(items):
        status = PricingStatus.PRICED.value
    elif priced:
        status = PricingStatus.PARTIALLY_PRICED.value
    else:
        status = PricingStatus.UNPRICED.value
    return PricedEvent(
        usage=items,
        cost_usd=total if priced else None,
        pricing_source=catalog.source,
        rate_version=",".join(sorted(versions)) or None,
        pricing_status=status,
    )


@functools.cache
def seed_catalog() -> PricingCatalog:
    """The catalog bundled with the package (``cost_rates_seed.json``), parsed once."""
    text = (
        resources.files("il_audit.subscriber_fn")
        .joinpath("cost_rates_seed.json")
        .read_text("utf-8")
    )
    data = json.loads(text)
    version = data.get("rate_version")
    rates = [Rate.from_mapping(entry, default_version=version) for entry in data["rates"]]
    return PricingCatalog(rates, source=PricingSource.SEED_CATALOG.value, version=version)


def catalog_from_rows(
    rows: Iterable[Mapping[str, Any]], *, source: str = PricingSource.BIGQUERY_CATALOG.value
) -> PricingCatalog:
    """A catalog from ``cost_rates`` rows (raises :class:`CatalogError` on bad rows)."""
    # The same rate loaded twice is one rate; only conflicting prices are an error.
    rates = list(dict.fromkeys(Rate.from_mapping(row) for row in rows))
    versions = {rate.rate_version for rate in rates if rate.rate_version}
    version = max(versions) if versions else None
    return PricingCatalog(rates, source=source, version=version)
