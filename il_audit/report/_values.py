"""Turning query values into report values: days, hours, exact money, shares, pivots, text.

Both engines return slightly different Python types (dates or timestamps,
Decimal or float); these helpers make the page the same either way.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from il_audit.report._charts import OTHER
from il_audit.report._model import Number, Section, Series
from il_audit.report._section_common import MAX_SERIES

DETAIL_CHARS: Final = 240
"""Longest free text (an error detail) shown in a table cell."""


def as_day(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def as_hour(value: Any) -> str:
    if isinstance(value, datetime):
        return utc(value).strftime("%Y-%m-%d %H:%M")
    return str(value)[:16].replace("T", " ")


def as_int(value: Any) -> int:
    return int(value) if value is not None else 0


def as_money(value: Any) -> Decimal:
    if value is None:
        return Decimal(0)
    return value if isinstance(value, Decimal) else Decimal(str(value))


def as_float(value: Any) -> float | None:
    return float(value) if value is not None else None


def share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def day_range(days: Iterable[date]) -> tuple[str, ...]:
    """Every day from the first to the last given (gaps filled), as ISO strings."""
    present = sorted(set(days))
    if not present:
        return ()
    count = (present[-1] - present[0]).days + 1
    return tuple((present[0] + timedelta(days=offset)).isoformat() for offset in range(count))


def pivot(
    cells: Mapping[tuple[str, str], Number],
    categories: Sequence[str],
    *,
    zero: Number = 0,
    limit: int = MAX_SERIES,
    order: Sequence[str] | None = None,
) -> tuple[Series, ...]:
    """Series from ``(category, series) -> value``; the largest ``limit - 1`` series by total
    keep their names when there are more than ``limit``, the rest add up to ``(other)``."""
    totals: dict[str, Any] = defaultdict(lambda: zero)
    for (_, name), value in cells.items():
        totals[name] += value
    names = list(order) if order is not None else sorted(totals, key=lambda n: (-totals[n], n))
    kept, folded = (names, []) if len(names) <= limit else (names[: limit - 1], names[limit - 1 :])
    series = [
        Series(name, tuple(cells.get((category, name), zero) for category in categories))
        for name in kept
    ]
    if folded:
        series.append(
            Series(
                OTHER,
                tuple(
                    sum((cells.get((category, name), zero) for name in folded), zero)
                    for category in categories
                ),
            )
        )
    return tuple(series)


def empty(section: Section, note: str) -> Section:
    return replace_section(section, empty_note=note)


def replace_section(section: Section, **changes: Any) -> Section:
    return replace(section, **changes)


def utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def timestamp_text(value: Any) -> str:
    if isinstance(value, datetime):
        return utc(value).strftime("%Y-%m-%d %H:%M:%S UTC")
    return "—" if value is None else str(value)


def cut(text: Any) -> str:
    if text is None:
        return "—"
    value = str(text)
    return value if len(value) <= DETAIL_CHARS else value[: DETAIL_CHARS - 1] + "…"
