"""Numbers as people read them: counts with separators, dollars, durations, shares."""

from __future__ import annotations

from decimal import Decimal

from il_audit.report._model import Number, Unit

_MINUTE = 60.0
_HOUR = 3600.0
_DAY = 86400.0


def machine(value: Number | None) -> str:
    """The exact value for ``data-value`` attributes: ``str`` of the int or Decimal, ``repr``
    of the float, empty for a missing value."""
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _trim(text: str, keep: int = 2) -> str:
    """``1.230000`` -> ``1.23``: trailing zeros go, but ``keep`` decimals stay."""
    if "." not in text:
        return text
    whole, decimals = text.split(".")
    decimals = decimals.rstrip("0").ljust(keep, "0")
    return f"{whole}.{decimals}" if decimals else whole


def usd(value: Number) -> str:
    """Dollars to the micro-dollar for small amounts, to the cent from $100."""
    amount = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    if amount >= 100:
        return f"{sign}${amount:,.2f}"
    return f"{sign}${_trim(f'{amount:,.6f}')}"


def seconds(value: float) -> str:
    """A duration in the largest unit that keeps it above one (s, min, h, d)."""
    magnitude = abs(value)
    if magnitude < _MINUTE:
        return f"{_trim(f'{value:.2f}', 0)} s"
    if magnitude < _HOUR:
        return f"{value / _MINUTE:.1f} min"
    if magnitude < _DAY:
        return f"{value / _HOUR:.1f} h"
    return f"{value / _DAY:.1f} d"


def milliseconds(value: float) -> str:
    """Milliseconds under a second, else seconds."""
    if abs(value) < 1000:
        return f"{value:,.0f} ms"
    return seconds(value / 1000)


def human(value: Number | None, unit: Unit) -> str:
    """``value`` for people, in ``unit``; a dash when missing."""
    if value is None:
        return "—"
    if unit is Unit.USD:
        return usd(value)
    number = float(value)
    if unit is Unit.SECONDS:
        return seconds(number)
    if unit is Unit.MILLISECONDS:
        return milliseconds(number)
    if unit is Unit.SHARE:
        return f"{_trim(f'{number * 100:.1f}', 0)} %"
    if isinstance(value, int) or number.is_integer():
        return f"{int(number):,}"
    return f"{number:,.2f}"
