"""Charts as inline SVG, drawn in Python: stacked bars, lines and horizontal bars.

Each mark (bar, point) carries its numbers twice: in a ``<title>`` (the tooltip,
read by screen readers) and in ``data-series`` / ``data-category`` /
``data-value`` attributes (exact values, for tests and scripts). Labels come
from the warehouse and are escaped like everything else (``_markup``). Colours
are presentation attributes, not ``style``, so the page's Content Security
Policy can forbid inline styles.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from il_audit.report._format import human, machine
from il_audit.report._markup import Markup, element, join, void
from il_audit.report._model import Chart, Number, Series, Unit

WIDTH: Final = 960
HEIGHT: Final = 260
MARGIN_LEFT: Final = 72
MARGIN_RIGHT: Final = 16
MARGIN_TOP: Final = 14
MARGIN_BOTTOM: Final = 40
HBAR_LABEL_WIDTH: Final = 210
HBAR_ROW: Final = 26
MAX_X_LABELS: Final = 12
LABEL_CHARS: Final = 30
CHAR_WIDTH: Final = 6.5
"""Width of one character of an 11 px axis label, roughly, for spacing labels."""

PALETTE: Final = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#e15759",
    "#76b7b2",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#2f4b7c",
)
OTHER: Final = "(other)"

_DAY = re.compile(r"^\d{4}-(\d{2}-\d{2})$")
_HOUR = re.compile(r"^\d{4}-(\d{2}-\d{2}) (\d{2}:\d{2})$")


FIXED_COLOURS: Final[Mapping[str, str]] = {
    OTHER: "#9e9e9e",
    "all apps": "#1f2933",
    "succeeded": "#2e7d32",
    "failed": "#c62828",
    "unpriced": "#c62828",
    "partially priced": "#f9a825",
    "p50": "#1565c0",
    "p99": "#ef6c00",
}
"""Series whose names mean the same in every chart keep one colour, outside the palette's
rotation."""


class Palette:
    """Colours by series name, handed out in order of first use, so that one app (or model)
    keeps its colour in every chart of a page; :data:`FIXED_COLOURS` never change."""

    def __init__(self, fixed: Mapping[str, str] = FIXED_COLOURS) -> None:
        self._assigned: dict[str, str] = {}
        self._fixed = fixed

    def __call__(self, name: str) -> str:
        """The colour of the series called ``name``."""
        if name in self._fixed:
            return self._fixed[name]
        if name not in self._assigned:
            self._assigned[name] = PALETTE[len(self._assigned) % len(PALETTE)]
        return self._assigned[name]


def short(label: str, limit: int = LABEL_CHARS) -> str:
    """A label that fits an axis: ``MM-DD`` for days, ``MM-DD HH:MM`` for hours, else cut."""
    if match := _DAY.match(label):
        return match.group(1)
    if match := _HOUR.match(label):
        return f"{match.group(1)} {match.group(2)}"
    return label if len(label) <= limit else label[: limit - 1] + "…"


def nice_scale(largest: float, ticks: int = 4, *, whole: bool = False) -> tuple[float, float]:
    """(top, step): a round axis maximum at or above ``largest`` and its tick step; ``whole``
    keeps the step a whole number (for counts)."""
    if largest <= 0 or not math.isfinite(largest):
        return (float(ticks), 1.0) if whole else (1.0, 0.25)
    rough = largest / ticks
    magnitude = 10 ** math.floor(math.log10(rough))
    multiples = (1, 2, 5, 10) if whole else (1, 2, 2.5, 5, 10)
    step = next(m * magnitude for m in multiples if m * magnitude >= rough)
    if whole:
        step = max(step, 1.0)
    return step * math.ceil(largest / step - 1e-9), step


_TIME_UNITS: Final = ((86400.0, "d"), (3600.0, "h"), (60.0, "min"), (1.0, "s"), (0.001, "ms"))
"""(seconds, name) of the units a time axis may count in: the largest that fits twice."""


@dataclass(frozen=True)
class Axis:
    """A y axis: its round maximum, its tick step, and how its ticks read."""

    top: float
    step: float
    unit: Unit
    divisor: float = 1.0
    suffix: str = ""
    """Set for time axes: ticks read as ``value / divisor`` followed by this unit name."""

    def ticks(self) -> list[float]:
        """0, step, 2 step ... top."""
        return [index * self.step for index in range(round(self.top / self.step) + 1)]

    def label(self, tick: float) -> str:
        """A tick as text, in the axis's unit (``2 h``, ``$0.25``, ``1,000``)."""
        if self.suffix:
            return f"{tick / self.divisor:g} {self.suffix}"
        if self.unit is Unit.COUNT:
            return human(round(tick), self.unit)
        return human(tick, self.unit)


def axis_for(largest: float, unit: Unit) -> Axis:
    """An axis from 0 to at least ``largest``, on round values of the unit it reads in."""
    if unit is Unit.COUNT:
        return Axis(*nice_scale(largest, whole=True), unit)
    if unit in (Unit.SECONDS, Unit.MILLISECONDS):
        per_second = 1000.0 if unit is Unit.MILLISECONDS else 1.0
        seconds = largest / per_second
        size, name = next(((s, n) for s, n in _TIME_UNITS if seconds >= 2 * s), _TIME_UNITS[-1])
        top, step = nice_scale(seconds / size)
        scale = size * per_second
        return Axis(top * scale, step * scale, unit, divisor=scale, suffix=name)
    return Axis(*nice_scale(largest), unit)


def _value(value: Number | None) -> float:
    return max(float(value), 0.0) if value is not None else 0.0


def _tooltip(category: str, series: Series | None, value: Number | None, unit: Unit) -> str:
    name = f" · {series.name}" if series is not None else ""
    return f"{category}{name}: {human(value, unit)}"


def _mark(
    name: str,
    geometry: dict[str, str | float],
    chart: Chart,
    series: Series,
    category: str,
    value: Number | None,
    fill: str,
) -> Markup:
    """A bar or point with its tooltip and its exact numbers."""
    attrs: dict[str, str | float | None] = {
        **{key: _px(item) for key, item in geometry.items()},
        "fill": fill,
        "class": "mark",
        "data-series": series.name,
        "data-category": category,
        "data-value": machine(value),
    }
    return element(
        name, attrs, element("title", None, _tooltip(category, series, value, chart.unit))
    )


def _px(value: str | float) -> str:
    return value if isinstance(value, str) else f"{value:.2f}".rstrip("0").rstrip(".")


def _y_axis(axis: Axis, plot_height: float, left: float) -> Markup:
    parts = []
    for tick in axis.ticks():
        y = MARGIN_TOP + plot_height - tick / axis.top * plot_height
        parts.append(
            void(
                "line",
                {
                    "x1": _px(left),
                    "x2": _px(WIDTH - MARGIN_RIGHT),
                    "y1": _px(y),
                    "y2": _px(y),
                    "class": "grid",
                },
            )
        )
        parts.append(
            element(
                "text",
                {"x": _px(left - 6), "y": _px(y + 4), "text-anchor": "end", "class": "tick"},
                axis.label(tick),
            )
        )
    return element("g", {"class": "axis-y"}, *parts)


def _x_axis(categories: Sequence[str], band: float, plot_bottom: float) -> Markup:
    """Category labels under the plot, thinned out so that they never overlap."""
    labels = [short(category, 16) for category in categories]
    room = max((len(label) for label in labels), default=1) * CHAR_WIDTH + 14
    fits = max(1, int((WIDTH - MARGIN_LEFT - MARGIN_RIGHT) // room))
    every = max(1, math.ceil(len(labels) / min(fits, MAX_X_LABELS)))
    parts = []
    for index, label in enumerate(labels):
        if index % every:
            continue
        x = MARGIN_LEFT + (index + 0.5) * band
        parts.append(
            element(
                "text",
                {"x": _px(x), "y": _px(plot_bottom + 16), "text-anchor": "middle", "class": "tick"},
                label,
            )
        )
    return element("g", {"class": "axis-x"}, *parts)


def _svg(chart: Chart, height: float, *body: Markup) -> Markup:
    total = sum(1 for series in chart.series for value in series.values if value)
    description = (
        f"{chart.kind} chart of {len(chart.categories)} {chart.category_label} value(s)"
        f" in {len(chart.series)} series, {total} non-zero"
    )
    return element(
        "svg",
        {
            "xmlns": "http://www.w3.org/2000/svg",
            "viewBox": f"0 0 {WIDTH} {_px(height)}",
            "width": WIDTH,
            "height": _px(height),
            "role": "img",
            "aria-labelledby": f"chart-{chart.key}-title chart-{chart.key}-desc",
            "data-chart": chart.key,
            "data-kind": chart.kind,
            "data-unit": chart.unit.value,
        },
        element("title", {"id": f"chart-{chart.key}-title"}, chart.title),
        element("desc", {"id": f"chart-{chart.key}-desc"}, description),
        *body,
    )


def stacked_bars(chart: Chart, palette: Palette) -> Markup:
    """Bars per category, the series stacked in order (zero and missing values draw nothing)."""
    plot_height = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    plot_bottom = MARGIN_TOP + plot_height
    band = (WIDTH - MARGIN_LEFT - MARGIN_RIGHT) / max(len(chart.categories), 1)
    bar = max(band * 0.72, 1.0)
    largest = max(
        (sum(_value(s.values[i]) for s in chart.series) for i in range(len(chart.categories))),
        default=0.0,
    )
    axis = axis_for(largest, chart.unit)
    marks = []
    for index, category in enumerate(chart.categories):
        base = float(plot_bottom)
        x = MARGIN_LEFT + index * band + (band - bar) / 2
        for series in chart.series:
            value = series.values[index]
            height = _value(value) / axis.top * plot_height
            if height <= 0:
                continue
            base -= height
            marks.append(
                _mark(
                    "rect",
                    {"x": x, "y": base, "width": bar, "height": height},
                    chart,
                    series,
                    category,
                    value,
                    palette(series.name),
                )
            )
    return _svg(
        chart,
        HEIGHT,
        _y_axis(axis, plot_height, MARGIN_LEFT),
        element("g", {"class": "marks"}, *marks),
        _x_axis(chart.categories, band, plot_bottom),
    )


def lines(chart: Chart, palette: Palette) -> Markup:
    """One line per series through its points; a missing value breaks nothing, it is skipped."""
    plot_height = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    plot_bottom = MARGIN_TOP + plot_height
    band = (WIDTH - MARGIN_LEFT - MARGIN_RIGHT) / max(len(chart.categories), 1)
    largest = max((_value(v) for s in chart.series for v in s.values), default=0.0)
    axis = axis_for(largest, chart.unit)
    groups = []
    for series in chart.series:
        fill = palette(series.name)
        points = []
        marks = []
        for index, (category, value) in enumerate(
            zip(chart.categories, series.values, strict=True)
        ):
            if value is None:
                continue
            x = MARGIN_LEFT + (index + 0.5) * band
            y = plot_bottom - _value(value) / axis.top * plot_height
            points.append(f"{_px(x)},{_px(y)}")
            marks.append(
                _mark("circle", {"cx": x, "cy": y, "r": 3.5}, chart, series, category, value, fill)
            )
        line = (
            void(
                "polyline",
                {
                    "points": " ".join(points),
                    "fill": "none",
                    "stroke": fill,
                    "stroke-width": 2,
                    "class": "line",
                },
            )
            if len(points) > 1
            else Markup("")
        )
        groups.append(element("g", {"class": "series", "data-series": series.name}, line, *marks))
    return _svg(
        chart,
        HEIGHT,
        _y_axis(axis, plot_height, MARGIN_LEFT),
        element("g", {"class": "marks"}, *groups),
        _x_axis(chart.categories, band, plot_bottom),
    )


def horizontal_bars(chart: Chart, palette: Palette) -> Markup:
    """One bar per category (the first series), labelled on the left, value on the right."""
    series = chart.series[0]
    height = MARGIN_TOP + HBAR_ROW * len(chart.categories) + 8
    left = HBAR_LABEL_WIDTH
    value_room = 90
    width = WIDTH - left - value_room
    largest = max((_value(v) for v in series.values), default=0.0) or 1.0
    rows = []
    for index, (category, value) in enumerate(zip(chart.categories, series.values, strict=True)):
        y = MARGIN_TOP + index * HBAR_ROW
        length = max(_value(value) / largest * width, 1.0)
        rows.append(
            join(
                [
                    element(
                        "text",
                        {"x": left - 8, "y": _px(y + 16), "text-anchor": "end", "class": "label"},
                        short(category),
                    ),
                    _mark(
                        "rect",
                        {"x": left, "y": y + 3, "width": length, "height": HBAR_ROW - 8},
                        chart,
                        series,
                        category,
                        value,
                        palette(series.name),
                    ),
                    element(
                        "text",
                        {"x": _px(left + length + 6), "y": _px(y + 16), "class": "value"},
                        human(value, chart.unit),
                    ),
                ]
            )
        )
    return _svg(chart, height, element("g", {"class": "marks"}, *rows))


def render_chart(chart: Chart, palette: Palette) -> Markup:
    """The chart's SVG (the caller shows ``empty_note`` instead when the chart is empty)."""
    if chart.kind == "bars":
        return stacked_bars(chart, palette)
    if chart.kind == "lines":
        return lines(chart, palette)
    return horizontal_bars(chart, palette)


def legend(chart: Chart, palette: Palette) -> Markup:
    """The series names with their colours (none for a single-series or horizontal chart)."""
    if chart.kind == "hbars" or len(chart.series) < 2:
        return Markup("")
    items = [
        element(
            "li",
            None,
            element(
                "svg",
                {"width": 12, "height": 12, "aria-hidden": "true"},
                void("rect", {"width": 12, "height": 12, "fill": palette(s.name)}),
            ),
            s.name,
        )
        for s in chart.series
    ]
    return element("ul", {"class": "legend"}, *items)


def numbers_table(chart: Chart) -> Markup:
    """The chart's numbers as a table: a row per category, a column per series."""
    head = element(
        "tr",
        None,
        element("th", {"scope": "col"}, chart.category_label),
        *(element("th", {"scope": "col"}, series.name) for series in chart.series),
    )
    rows = []
    for index, category in enumerate(chart.categories):
        cells = [
            element(
                "td",
                {"data-value": machine(s.values[index]), "class": "number"},
                human(s.values[index], chart.unit),
            )
            for s in chart.series
        ]
        rows.append(element("tr", None, element("th", {"scope": "row"}, category), *cells))
    return element(
        "table",
        {"data-table": chart.key},
        element("caption", None, chart.title),
        element("thead", None, head),
        element("tbody", None, *rows),
    )
