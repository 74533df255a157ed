"""Rate files for ``il-audit rates load``: parse, validate, and diff against the table.

A file is JSON (the seed catalog's shape, ``{"rate_version": ..., "rates":
[...]}``, or a bare list) or CSV with a header naming the same fields:
service, model_id, pricing_tier, effective_from, input_price_per_1m_tokens,
output_price_per_1m_tokens, unit_price, unit, rate_version, source_url,
cached_input_price_per_1m_tokens, cache_write_price_per_1m_tokens
(``pricing_tier`` may be left out or blank: ``standard``; the two cache prices
may be left out or blank: such tokens are then priced as input). Every problem is
reported with its row number (a price NUMERIC cannot hold, more than 9 decimal
places, is one: the table would round it); two entries for the same (service, model_id,
pricing_tier, effective_from) are refused as overlapping.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN
from pathlib import Path
from typing import Any, Final

from il_audit.subscriber_fn.errors import CatalogError
from il_audit.subscriber_fn.pricing import MONEY_QUANTUM, Rate

_NUMERIC_QUANTUM: Final = MONEY_QUANTUM

RateKey = tuple[str, str, str, str]
FIELDS = (
    "service",
    "model_id",
    "pricing_tier",
    "effective_from",
    "input_price_per_1m_tokens",
    "output_price_per_1m_tokens",
    "unit_price",
    "unit",
    "rate_version",
    "source_url",
    "cached_input_price_per_1m_tokens",
    "cache_write_price_per_1m_tokens",
)

_PRICES: Final = tuple(name for name in FIELDS if "price" in name)


def rate_key(rate: Rate) -> RateKey:
    """(service, model_id, pricing_tier, effective_from) as text: the table's key."""
    return rate.service, rate.model_id, rate.pricing_tier, rate.effective_from.isoformat()


def _entries(path: Path) -> tuple[list[Any], str | None]:
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(text.splitlines())
        unknown = set(reader.fieldnames or ()) - set(FIELDS)
        if unknown:
            raise CatalogError(f"{path}: unknown column(s) {sorted(unknown)}; expected {FIELDS}")
        return [dict(row) for row in reader], None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise CatalogError(f"{path}: not JSON ({exc}); use .csv for CSV files") from exc
    if isinstance(data, dict):
        rates = data.get("rates")
        version = data.get("rate_version")
        if not isinstance(rates, list):
            raise CatalogError(f'{path}: expected {{"rates": [...]}} or a list of rates')
        return rates, version if isinstance(version, str) else None
    if isinstance(data, list):
        return data, None
    raise CatalogError(f"{path}: expected a JSON object or list")


def read_rate_file(path: Path) -> list[Rate]:
    """Every rate in ``path``; raises :class:`CatalogError` listing all the problems."""
    entries, version = _entries(path)
    rates: list[Rate] = []
    # The entry number (as in the file) of each rate: an overlap after an invalid entry
    # names the entries the operator sees, not positions among the valid ones.
    numbers: list[int] = []
    problems: list[str] = []
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            problems.append(f"entry {number}: not an object")
            continue
        unknown = set(entry) - set(FIELDS)
        if unknown:
            problems.append(f"entry {number}: unknown field(s) {sorted(unknown)}")
            continue
        try:
            rate = Rate.from_mapping(entry, default_version=version)
        except CatalogError as exc:
            problems.append(f"entry {number}: {exc}")
            continue
        too_fine = _too_fine_for_numeric(rate)
        if too_fine:
            problems.append(
                f"entry {number}: {rate.label} {too_fine} has more than 9 decimal places, which "
                "cost_rates (NUMERIC) cannot hold; price a larger unit, or leave the rate to "
                "the bundled catalog, which holds it exactly"
            )
            continue
        rates.append(rate)
        numbers.append(number)
    seen: dict[RateKey, int] = {}
    for number, rate in zip(numbers, rates, strict=True):
        key = rate_key(rate)
        if key in seen:
            problems.append(
                f"entries {seen[key]} and {number} overlap: both set {rate.label} from {key[3]}"
            )
        seen.setdefault(key, number)
    if problems:
        raise CatalogError(f"{path}: " + "; ".join(problems))
    if not rates:
        raise CatalogError(f"{path}: no rates")
    return rates


def _too_fine_for_numeric(rate: Rate) -> str | None:
    """``name value`` of the first price NUMERIC would round, if any."""
    for name in _PRICES:
        price = getattr(rate, name)
        if price is not None and price != price.quantize(_NUMERIC_QUANTUM, rounding=ROUND_DOWN):
            return f"{name} {price}"
    return None


@dataclass
class RatesDiff:
    """What loading a file would change in the table."""

    added: list[Rate] = field(default_factory=list)
    changed: list[tuple[Rate, Rate]] = field(default_factory=list)
    unchanged: list[Rate] = field(default_factory=list)

    @property
    def to_write(self) -> list[Rate]:
        """Rates that are new or different."""
        return self.added + [new for _, new in self.changed]

    def lines(self) -> list[str]:
        """Human-readable diff: ``+`` new, ``~`` changed (old -> new), ``=`` unchanged."""
        out = [f"+ {_describe(rate)}" for rate in self.added]
        for old, new in self.changed:
            out.append(f"~ {_describe(old)}\n    -> {_prices(new)}")
        out.extend(f"= {_describe(rate)}" for rate in self.unchanged)
        return out


def _prices(rate: Rate) -> str:
    parts = []
    for name in ("input_price_per_1m_tokens", "output_price_per_1m_tokens", "unit_price", "unit",
                 "rate_version"):  # fmt: skip
        value = getattr(rate, name)
        if value is not None:
            parts.append(f"{name}={value}")
    return ", ".join(parts)


def _describe(rate: Rate) -> str:
    return f"{rate.label} from {rate.effective_from}: {_prices(rate)}"


def diff_rates(existing: Iterable[Rate], incoming: Sequence[Rate]) -> RatesDiff:
    """Compare incoming rates with the table's, by key."""
    current = {rate_key(rate): rate for rate in existing}
    result = RatesDiff()
    for rate in incoming:
        old = current.get(rate_key(rate))
        if old is None:
            result.added.append(rate)
        elif _comparable(old) != _comparable(rate):
            result.changed.append((old, rate))
        else:
            result.unchanged.append(rate)
    return result


def _comparable(rate: Rate) -> tuple[Any, ...]:
    def norm(value: Any) -> Any:
        return value.normalize() if hasattr(value, "normalize") else value

    return tuple(norm(getattr(rate, name)) for name in FIELDS)
