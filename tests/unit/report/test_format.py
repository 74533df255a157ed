"""Numbers as the page prints them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from il_audit.report import Unit
from il_audit.report._format import human, machine


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (1234567, Unit.COUNT, "1,234,567"),
        (Decimal("0.015200000"), Unit.USD, "$0.0152"),
        (Decimal("0.000000400"), Unit.USD, "$0.00"),
        (Decimal("1234.5"), Unit.USD, "$1,234.50"),
        (0.125, Unit.SHARE, "12.5 %"),
        (1.0, Unit.SHARE, "100 %"),
        (1.5, Unit.SECONDS, "1.5 s"),
        (5400.0, Unit.SECONDS, "1.5 h"),
        (129600.0, Unit.SECONDS, "1.5 d"),
        (812.4, Unit.MILLISECONDS, "812 ms"),
        (1850.0, Unit.MILLISECONDS, "1.85 s"),
        (None, Unit.COUNT, "—"),
    ],
)
def test_human_formats_each_unit(value: object, unit: Unit, text: str) -> None:
    """Counts with separators, dollars, shares in percent, durations in a fitting unit."""
    assert human(value, unit) == text  # type: ignore[arg-type]


def test_machine_keeps_the_exact_value() -> None:
    """data-value holds str() of ints and Decimals, repr() of floats, empty for None."""
    assert [machine(v) for v in (3, Decimal("0.1"), 0.1, None)] == ["3", "0.1", "0.1", ""]
