"""Reading a report page back: chart marks, figures, tables and sections, with the stdlib parser.

What a reader (or a script) can get out of the page without a browser: every
mark's ``data-series`` / ``data-category`` / ``data-value``, every figure's
``data-value``, and the text of every table cell (entities decoded).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any


@dataclass
class Page:
    """What the parser found."""

    marks: dict[str, dict[tuple[str, str], str]] = field(default_factory=dict)
    """chart key -> (series, category) -> data-value."""
    figures: dict[str, str] = field(default_factory=dict)
    """figure key -> data-value."""
    tables: dict[str, list[list[str]]] = field(default_factory=dict)
    """data-table key -> rows of cell texts (header row first)."""
    sections: dict[str, str] = field(default_factory=dict)
    """section key -> data-state (ok, empty, error)."""
    section_text: dict[str, str] = field(default_factory=dict)
    """section key -> its text."""
    tags: set[str] = field(default_factory=set)
    """Every tag name seen."""
    urls: list[str] = field(default_factory=list)
    """Values of href / src / xlink:href / action attributes."""

    def numbers(self, chart: str) -> dict[tuple[str, str], Decimal]:
        """A chart's marks as Decimals (exact for counts and money)."""
        return {key: Decimal(value) for key, value in self.marks.get(chart, {}).items()}


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self._chart: list[str] = []
        self._table: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._section: str | None = None
        self._stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        self.page.tags.add(tag)
        for name in ("href", "src", "xlink:href", "action"):
            if name in values:
                self.page.urls.append(values[name])
        if tag == "section":
            self._section = values.get("data-section")
            if self._section:
                self.page.sections[self._section] = values.get("data-state", "")
                self.page.section_text[self._section] = ""
        if tag == "svg" and "data-chart" in values:
            self._chart.append(values["data-chart"])
            self.page.marks.setdefault(values["data-chart"], {})
        if "data-series" in values and "data-value" in values and self._chart:
            key = (values["data-series"], values["data-category"])
            self.page.marks[self._chart[-1]][key] = values["data-value"]
        if "data-figure" in values:
            self.page.figures[values["data-figure"]] = values.get("data-value", "")
        if tag == "table":
            self._table = values.get("data-table")
            if self._table:
                self.page.tables[self._table] = []
        if tag == "tr" and self._table:
            self._row = []
        if tag in ("td", "th") and self._row is not None:
            self._cell = []
        self._stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._stack and self._stack[-1] == tag:
            self._stack.pop()
        if tag == "svg" and self._chart and "svg" not in self._stack:
            self._chart.pop()
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        if tag == "tr" and self._row is not None and self._table:
            self.page.tables[self._table].append(self._row)
            self._row = None
        if tag == "table":
            self._table = None
        if tag == "section":
            self._section = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._section:
            self.page.section_text[self._section] += data


def parse(html: str) -> Page:
    """Parse a report page."""
    parser = _Parser()
    parser.feed(html)
    parser.close()
    return parser.page


def close(actual: dict[Any, Any], expected: dict[Any, Any], tolerance: float = 1e-6) -> bool:
    """Same keys, and values equal within ``tolerance`` (for shares and delays)."""
    if actual.keys() != expected.keys():
        return False
    return all(abs(float(actual[key]) - float(expected[key])) <= tolerance for key in expected)
