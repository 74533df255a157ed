"""The SVG charts: numbers on every mark, escaping, axes, colours."""

from __future__ import annotations

from decimal import Decimal

from il_audit.report import Chart, Series, Unit
from il_audit.report._charts import (
    Palette,
    axis_for,
    legend,
    nice_scale,
    numbers_table,
    render_chart,
)
from tests.support.report_page import parse


def bars(**overrides: object) -> Chart:
    """A two-day, two-app stacked bar chart; keyword arguments replace fields."""
    fields: dict[str, object] = {
        "key": "events_per_day",
        "title": "Events per day",
        "kind": "bars",
        "unit": Unit.COUNT,
        "category_label": "day",
        "categories": ("2026-11-23", "2026-11-24"),
        "series": (Series("ingest", (5, 0)), Series("chat", (2, 7))),
    }
    fields.update(overrides)
    return Chart(**fields)  # type: ignore[arg-type]


def test_every_non_zero_bar_carries_its_series_category_and_value() -> None:
    """Each bar has data-series, data-category and data-value; a zero draws no bar."""
    svg = render_chart(bars(), Palette())
    assert parse(svg).marks["events_per_day"] == {
        ("ingest", "2026-11-23"): "5",
        ("chat", "2026-11-23"): "2",
        ("chat", "2026-11-24"): "7",
    }


def test_every_bar_has_a_tooltip_with_its_number() -> None:
    """The <title> of a bar names the category, the series and the value."""
    svg = render_chart(bars(), Palette())
    assert "<title>2026-11-24 · chat: 7</title>" in svg


def test_money_keeps_every_digit_in_data_value() -> None:
    """A NUMERIC cost is written exactly (nine decimals), not as a rounded float."""
    chart = bars(unit=Unit.USD, series=(Series("ingest", (Decimal("0.000000001"), None)),))
    assert parse(render_chart(chart, Palette())).marks["events_per_day"] == {
        ("ingest", "2026-11-23"): "1E-9"
    }


def test_labels_from_the_data_are_escaped() -> None:
    """Series and category names that are HTML end up as text, in attributes and in titles."""
    hostile = "<script>alert(1)</script>"
    quote = '"><img src=x onerror=alert(1)>'
    chart = bars(categories=(quote, "2026-11-24"), series=(Series(hostile, (1, 2)),))
    svg = render_chart(chart, Palette()) + legend(chart, Palette()) + numbers_table(chart)
    assert "<script" not in svg
    assert "<img" not in svg
    page = parse(svg)
    assert (hostile, quote) in page.marks["events_per_day"]
    assert page.tables["events_per_day"][1][0] == quote
    assert page.tags <= {"svg", "title", "desc", "g", "line", "text", "rect", "ul", "li",
                         "table", "caption", "thead", "tbody", "tr", "th", "td"}  # fmt: skip


def test_lines_draw_zero_points_and_skip_missing_values() -> None:
    """A zero is a point on the line; None (no value that hour) is no point."""
    chart = bars(kind="lines", unit=Unit.SECONDS, series=(Series("p50", (0.0, None)),))
    svg = render_chart(chart, Palette())
    assert parse(svg).marks["events_per_day"] == {("p50", "2026-11-23"): "0.0"}
    assert svg.count("<circle") == 1


def test_a_line_of_two_points_is_a_polyline() -> None:
    """Two points or more are joined by one polyline per series."""
    chart = bars(kind="lines", series=(Series("all apps", (3, 4)),))
    assert render_chart(chart, Palette()).count("<polyline") == 1


def test_horizontal_bars_label_each_category_with_its_value() -> None:
    """One bar per reason, its value written after it."""
    chart = bars(
        kind="hbars",
        key="dead_letter_reasons",
        categories=("unknown_event_type", "invalid_json"),
        series=(Series("dead letters", (9, 4)),),
    )
    svg = render_chart(chart, Palette())
    assert parse(svg).marks["dead_letter_reasons"] == {
        ("dead letters", "unknown_event_type"): "9",
        ("dead letters", "invalid_json"): "4",
    }
    assert 'class="value">9</text>' in svg


def test_the_numbers_table_has_a_row_per_category_and_a_column_per_series() -> None:
    """The accessible table holds every value of the chart, zeros included."""
    table = parse(numbers_table(bars())).tables["events_per_day"]
    assert table == [
        ["day", "ingest", "chat"],
        ["2026-11-23", "5", "2"],
        ["2026-11-24", "0", "7"],
    ]


def test_the_svg_is_labelled_for_screen_readers() -> None:
    """role=img, and aria-labelledby pointing at its <title> and <desc>."""
    svg = render_chart(bars(), Palette())
    assert 'role="img"' in svg
    assert 'aria-labelledby="chart-events_per_day-title chart-events_per_day-desc"' in svg
    assert '<title id="chart-events_per_day-title">Events per day</title>' in svg


def test_a_series_keeps_its_colour_across_charts() -> None:
    """One palette per page: the second chart gives "chat" the colour the first one did."""
    palette = Palette()
    first = palette("ingest"), palette("chat")
    assert (palette("chat"), palette("ingest")) == (first[1], first[0])
    assert palette("succeeded") != palette("failed")


def test_counts_get_whole_ticks() -> None:
    """An axis of counts up to 3 steps by 1, never 0.75."""
    axis = axis_for(3, Unit.COUNT)
    assert axis.ticks() == [0, 1, 2, 3]
    assert [axis.label(tick) for tick in axis.ticks()] == ["0", "1", "2", "3"]


def test_a_time_axis_counts_in_the_unit_it_reads_in() -> None:
    """Three days of delay read in hours or days, on round values."""
    axis = axis_for(3 * 86400, Unit.SECONDS)
    assert [axis.label(tick) for tick in axis.ticks()] == ["0 d", "1 d", "2 d", "3 d"]
    assert axis_for(1800, Unit.MILLISECONDS).label(500) == "500 ms"


def test_nice_scale_rounds_the_top_up() -> None:
    """The axis top is a round number at or above the largest value."""
    assert nice_scale(742) == (800, 200)
    assert nice_scale(0) == (1.0, 0.25)
