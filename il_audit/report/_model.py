"""What a report holds: sections of headline figures, charts and tables, and the period.

Plain frozen data, built from query rows by ``_sections`` and turned into HTML by
``_page``; tests build it by hand to check the rendering.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from il_audit.schemas.retention import RetentionPolicy, cutoff

Number = int | float | Decimal
"""A chart or table value: counts are int, money Decimal (exact), times and shares float."""


class Unit(StrEnum):
    """How a value reads: it picks the number format of axes, tooltips and tables."""

    COUNT = "count"
    USD = "usd"
    SECONDS = "seconds"
    MILLISECONDS = "ms"
    SHARE = "share"


@dataclass(frozen=True)
class Period:
    """The UTC days a report covers, both ends included."""

    since: date
    until: date

    DEFAULT_DAYS = 30

    def __post_init__(self) -> None:
        if self.since > self.until:
            raise ValueError(f"the period starts ({self.since}) after it ends ({self.until})")

    @classmethod
    def ending(cls, until: date, days: int = DEFAULT_DAYS) -> Period:
        """The ``days`` days up to and including ``until``."""
        return cls(until - timedelta(days=days - 1), until)

    @property
    def days(self) -> int:
        """How many days the period covers."""
        return (self.until - self.since).days + 1

    def __str__(self) -> str:
        return f"{self.since.isoformat()} to {self.until.isoformat()}"


@dataclass(frozen=True)
class Series:
    """One named line or bar colour; ``values`` aligns with the chart's categories."""

    name: str
    values: tuple[Number | None, ...]


@dataclass(frozen=True)
class Chart:
    """A chart and the numbers it draws (the page also prints them as a table).

    ``bars`` stacks the series in each category; ``lines`` draws one line per
    series; ``hbars`` draws one horizontal bar per category (first series only).
    """

    key: str
    """Stable id: ``data-chart`` on the SVG, ``data-table`` on its table."""
    title: str
    kind: Literal["bars", "lines", "hbars"]
    unit: Unit
    category_label: str
    categories: tuple[str, ...]
    series: tuple[Series, ...]
    empty_note: str = "No data in this period."

    def __post_init__(self) -> None:
        for series in self.series:
            if len(series.values) != len(self.categories):
                raise ValueError(
                    f"chart {self.key}: series {series.name!r} has {len(series.values)} values "
                    f"for {len(self.categories)} categories"
                )

    @property
    def is_empty(self) -> bool:
        """No category holds a value other than zero."""
        return not any(value for series in self.series for value in series.values)


@dataclass(frozen=True)
class Figure:
    """A headline number of a section."""

    label: str
    value: Number | None
    unit: Unit = Unit.COUNT
    key: str = ""
    """``data-figure`` on the page (tests read it)."""


@dataclass(frozen=True)
class Column:
    """A table column: its heading and how its cells read."""

    heading: str
    unit: Unit | None = None
    """None: text, as it is; otherwise a number in this unit."""


@dataclass(frozen=True)
class Table:
    """Rows of a section beyond its charts (top actors, dead-letter samples...)."""

    key: str
    caption: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[object, ...], ...]


@dataclass(frozen=True)
class Section:
    """One question the report answers."""

    key: str
    title: str
    question: str
    figures: tuple[Figure, ...] = ()
    charts: tuple[Chart, ...] = ()
    tables: tuple[Table, ...] = ()
    empty_note: str | None = None
    """Set when the period holds no data for this section: the page shows it instead."""
    error: str | None = None
    """Set when the section could not be read (a missing view, a query error)."""


@dataclass(frozen=True)
class RetentionWindow:
    """Where the shortest retention starts: before ``complete_from`` some rows may be gone."""

    complete_from: date
    family: str
    """The family with the shortest retention (``*``: events no family names)."""
    days: int

    def note(self, period: Period) -> str:
        """One sentence for the page."""
        who = "events no family names" if self.family == "*" else self.family
        text = (
            f"Complete from {self.complete_from.isoformat()}: the shortest retention is "
            f"{self.days} days ({who}); older rows of it are deleted"
        )
        if period.since < self.complete_from:
            return text + ", so this period's earlier days may lack them."
        return text + "."

    @classmethod
    def of(cls, policy: RetentionPolicy, now: datetime) -> RetentionWindow | None:
        """The window of ``policy`` at ``now`` (None when every family is kept forever)."""
        kept = [(days, family) for family, days in policy.effective().items() if days]
        if not kept:
            return None
        days, family = min(kept)
        return cls(cutoff(days, now).date(), family, days)


@dataclass(frozen=True)
class Report:
    """Every section, for one period, from one warehouse."""

    period: Period
    source: str
    """Where the numbers come from, for people (``DuckDB file x``, ``BigQuery p.d``)."""
    generated_at: datetime
    sections: tuple[Section, ...] = field(default_factory=tuple)
    retention: RetentionWindow | None = None
    """The window retention lets the page show in full (None: nothing is ever deleted)."""

    @property
    def failed(self) -> tuple[Section, ...]:
        """Sections that could not be read."""
        return tuple(section for section in self.sections if section.error)

    @property
    def empty(self) -> tuple[Section, ...]:
        """Sections without data in the period."""
        return tuple(
            section for section in self.sections if section.empty_note and not section.error
        )
