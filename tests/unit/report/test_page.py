"""The page: self-contained, escaped, with "no data" and error sections instead of crashes."""

from __future__ import annotations

import base64
import hashlib
import html as html_module
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from il_audit.report import (
    Chart,
    Column,
    Figure,
    Period,
    Report,
    Section,
    Series,
    Table,
    Unit,
    render,
    write_report,
)
from il_audit.report._markup import Markup, element, escape
from tests.support.report_page import parse

HOSTILE = "<script>alert('x')</script>"
PERIOD = Period(date(2026, 11, 23), date(2026, 11, 25))


def make_report(*sections: Section) -> Report:
    """A report of ``sections`` (one full section when none is given)."""
    if not sections:
        chart = Chart("events_per_day", "Events per day", "bars", Unit.COUNT, "day",
                      ("2026-11-23",), (Series("ingest", (4,)),))  # fmt: skip
        table = Table("auth_actors", "Actors", (Column("email"), Column("failed", Unit.COUNT)),
                      ((HOSTILE, 3),))  # fmt: skip
        sections = (
            Section("events", "Events per day", "How many?", figures=(
                Figure("Events", 4, key="events_total"),
                Figure("Cost", Decimal("0.015200000"), Unit.USD, "cost_total"),
            ), charts=(chart,), tables=(table,)),
        )  # fmt: skip
    return Report(PERIOD, "DuckDB file x.duckdb", datetime(2026, 12, 1, tzinfo=UTC), sections)


def test_escape_turns_html_into_text() -> None:
    """Markup characters and both quotes are escaped."""
    assert escape('<a href="x">\'</a>&') == "&lt;a href=&quot;x&quot;&gt;&#x27;&lt;/a&gt;&amp;"


def test_markup_is_not_escaped_twice() -> None:
    """Markup passes through, so elements nest without double escaping."""
    inner = element("b", None, "<x>")
    assert element("p", {"title": "<t>"}, inner) == '<p title="&lt;t&gt;"><b>&lt;x&gt;</b></p>'
    assert isinstance(inner, Markup)


def test_the_page_has_no_script_and_loads_nothing() -> None:
    """No <script>, no external URL; the only URL is the SVG namespace, and links are anchors."""
    html = render(make_report())
    page = parse(html)
    assert "script" not in page.tags
    assert all(url.startswith("#") for url in page.urls)
    assert set(re.findall(r"\w+://[^\s\"'<>]+", html)) == {"http://www.w3.org/2000/svg"}


def test_the_content_security_policy_allows_only_the_page_stylesheet() -> None:
    """default-src 'none', and the style hash is that of the <style> element's text."""
    html = render(make_report())
    style = re.search(r"<style>(.*?)</style>", html, re.S)
    assert style is not None
    digest = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode()
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
    assert policy is not None
    content = html_module.unescape(policy.group(1))
    assert "default-src 'none'" in content
    assert f"style-src 'sha256-{digest}'" in content
    assert " style=" not in html


def test_table_cells_from_the_data_are_escaped() -> None:
    """A table cell holding HTML reads back as that text and adds no element."""
    html = render(make_report())
    assert HOSTILE not in html
    assert parse(html).tables["auth_actors"][1] == [HOSTILE, "3"]


def test_figures_carry_their_exact_values() -> None:
    """Headline figures have data-figure and data-value, money to the last digit."""
    page = parse(render(make_report()))
    assert page.figures == {"events_total": "4", "cost_total": "0.015200000"}


def test_an_empty_section_says_so() -> None:
    """A section without data shows its note, no chart, and data-state="empty"."""
    empty = Section("chat_latency", "Chat latency", "How long?", empty_note="No chat turns.")
    page = parse(render(make_report(empty)))
    assert page.sections == {"chat_latency": "empty"}
    assert "No chat turns." in page.section_text["chat_latency"]
    assert page.marks == {}


def test_an_empty_chart_shows_its_note_instead_of_an_svg() -> None:
    """A chart whose values are all zero or missing is replaced by its empty note."""
    chart = Chart("cost_by_app", "Cost", "bars", Unit.USD, "day", ("2026-11-23",),
                  (Series("ingest", (Decimal(0),)),), "No priced usage.")  # fmt: skip
    html = render(make_report(Section("cost", "Cost", "What?", charts=(chart,))))
    assert "No priced usage." in html
    assert "<svg" not in html.split("<main>")[1].split("</main>")[0]


def test_a_failed_section_shows_its_error_as_text() -> None:
    """The error of a section is shown (escaped) with role=alert, and the others still render."""
    failed = Section("pipeline", "Pipeline delay", "", error=f"no view {HOSTILE}")
    html = render(make_report(failed, *make_report().sections))
    page = parse(html)
    assert page.sections == {"pipeline": "error", "events": "ok"}
    assert f"Could not be read: no view {HOSTILE}" in page.section_text["pipeline"]
    assert 'role="alert"' in html


def test_the_header_names_the_period_and_the_source() -> None:
    """The period, its data-since / data-until, and where the numbers come from."""
    html = render(make_report())
    assert 'data-since="2026-11-23" data-until="2026-11-25"' in html
    assert "from DuckDB file x.duckdb" in html


def test_write_report_replaces_the_file_whole(tmp_path: Path) -> None:
    """The page is written through a temporary file; no temporary is left behind."""
    out = tmp_path / "deep" / "report.html"
    out.parent.mkdir()
    out.write_text("old")
    assert write_report(make_report(), out) == out
    assert out.read_text("utf-8").startswith("<!DOCTYPE html>")
    assert [path.name for path in out.parent.iterdir()] == ["report.html"]


def test_a_period_cannot_end_before_it_starts() -> None:
    """Period refuses since > until."""
    with pytest.raises(ValueError, match="after it ends"):
        Period(date(2026, 11, 25), date(2026, 11, 23))


def test_the_default_period_is_thirty_days() -> None:
    """Period.ending(day) covers the 30 days up to and including that day."""
    period = Period.ending(date(2026, 12, 1))
    assert (period.since, period.until, period.days) == (date(2026, 11, 2), date(2026, 12, 1), 30)
