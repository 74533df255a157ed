"""The report as one self-contained HTML page: inline CSS and SVG, no script, no request.

A Content Security Policy in the page itself forbids every fetch (``default-src
'none'``) and allows only the page's own stylesheet (by its hash), so even a
value that slipped through unescaped could neither run nor load anything.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC
from typing import Final

from il_audit._version import __version__
from il_audit.report._charts import Palette, legend, numbers_table, render_chart
from il_audit.report._format import human, machine
from il_audit.report._markup import Markup, element, void
from il_audit.report._model import Chart, Figure, Report, Section, Table

STYLE: Final = """
:root { color-scheme: light; --ink: #1f2933; --muted: #5f6b7a; --line: #d9dee5;
  --card: #ffffff; --page: #f4f6f8; --accent: #4e79a7; --bad: #b42318; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--page); color: var(--ink);
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
header, main, footer { max-width: 1120px; margin: 0 auto; padding: 0 20px; }
header { padding-top: 24px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 0 0 4px; }
.meta, .question, footer { color: var(--muted); }
nav ul { list-style: none; display: flex; flex-wrap: wrap; gap: 6px 16px; padding: 0; }
nav a { color: var(--accent); text-decoration: none; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  padding: 18px 20px; margin: 18px 0; }
.figures { display: flex; flex-wrap: wrap; gap: 12px; margin: 12px 0; }
.figures div { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px;
  min-width: 150px; }
.figures dt { color: var(--muted); font-size: 13px; }
.figures dd { margin: 0; font-size: 20px; font-weight: 600; }
figure.chart { margin: 16px 0; }
figure.chart > svg { max-width: 100%; height: auto; display: block; }
figcaption { font-weight: 600; margin-bottom: 6px; }
svg .grid { stroke: #e6e9ee; stroke-width: 1; }
svg .tick, svg .label, svg .value { font-size: 11px; fill: var(--muted); }
svg .label { fill: var(--ink); }
.legend { list-style: none; display: flex; flex-wrap: wrap; gap: 4px 14px; padding: 0;
  margin: 6px 0; font-size: 13px; }
.legend svg { vertical-align: -1px; margin-right: 5px; }
details { margin-top: 6px; }
summary { cursor: pointer; color: var(--accent); font-size: 13px; }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px; }
caption { text-align: left; font-weight: 600; padding: 4px 0; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: left;
  vertical-align: top; }
td.number { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.text { max-width: 520px; overflow-wrap: break-word; }
.no-data { color: var(--muted); font-style: italic; }
.error { color: var(--bad); font-weight: 600; }
"""


def style_hash(style: str = STYLE) -> str:
    """The CSP source that allows exactly this stylesheet."""
    digest = hashlib.sha256(style.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def content_security_policy() -> str:
    """No fetch of any kind, no script, no form; only the page's own stylesheet."""
    return (
        f"default-src 'none'; style-src {style_hash()}; img-src 'none'; "
        "base-uri 'none'; form-action 'none'"
    )


def _figure(figure: Figure) -> Markup:
    return element(
        "div",
        {"data-figure": figure.key or None, "data-value": machine(figure.value)},
        element("dt", None, figure.label),
        element("dd", None, human(figure.value, figure.unit)),
    )


def _chart(chart: Chart, palette: Palette) -> Markup:
    caption = element("figcaption", None, chart.title)
    if chart.is_empty:
        return element(
            "figure",
            {"class": "chart", "data-chart-empty": chart.key},
            caption,
            element("p", {"class": "no-data"}, chart.empty_note),
        )
    return element(
        "figure",
        {"class": "chart"},
        caption,
        render_chart(chart, palette),
        legend(chart, palette),
        element("details", None, element("summary", None, "The numbers"), numbers_table(chart)),
    )


def _table(table: Table) -> Markup:
    head = element(
        "tr", None, *(element("th", {"scope": "col"}, column.heading) for column in table.columns)
    )
    rows = []
    for row in table.rows:
        cells = []
        for column, value in zip(table.columns, row, strict=True):
            if column.unit is None:
                cells.append(element("td", {"class": "text"}, value))
            else:
                cells.append(
                    element(
                        "td",
                        {"class": "number", "data-value": machine(value)},  # type: ignore[arg-type]
                        human(value, column.unit),  # type: ignore[arg-type]
                    )
                )
        rows.append(element("tr", None, *cells))
    return element(
        "table",
        {"data-table": table.key},
        element("caption", None, table.caption),
        element("thead", None, head),
        element("tbody", None, *rows),
    )


def _section(section: Section, palette: Palette) -> Markup:
    state = "error" if section.error else "empty" if section.empty_note else "ok"
    heading = element("h2", {"id": f"h-{section.key}"}, section.title)
    parts: list[Markup] = [heading]
    if section.question:
        parts.append(element("p", {"class": "question"}, section.question))
    if section.error:
        parts.append(
            element("p", {"class": "error", "role": "alert"}, f"Could not be read: {section.error}")
        )
    elif section.empty_note:
        parts.append(element("p", {"class": "no-data"}, section.empty_note))
    else:
        if section.figures:
            parts.append(element("dl", {"class": "figures"}, *map(_figure, section.figures)))
        parts.extend(_chart(chart, palette) for chart in section.charts)
        parts.extend(map(_table, section.tables))
    return element(
        "section",
        {
            "id": section.key,
            "data-section": section.key,
            "data-state": state,
            "aria-labelledby": f"h-{section.key}",
        },
        *parts,
    )


def _retention(report: Report) -> list[Markup]:
    """The line saying from which day the page is complete (none when nothing expires)."""
    window = report.retention
    if window is None:
        return []
    attributes = {"class": "retention", "data-complete-from": window.complete_from.isoformat()}
    return [element("p", attributes, window.note(report.period))]


def render(report: Report) -> str:
    """The whole page, as text (UTF-8 when written)."""
    generated = report.generated_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    title = f"il-audit report, {report.period}"
    palette = Palette()
    head = element(
        "head",
        None,
        void("meta", {"charset": "utf-8"}),
        void(
            "meta", {"http-equiv": "Content-Security-Policy", "content": content_security_policy()}
        ),
        void("meta", {"name": "referrer", "content": "no-referrer"}),
        void("meta", {"name": "viewport", "content": "width=device-width, initial-scale=1"}),
        void("meta", {"name": "generator", "content": f"il-audit {__version__}"}),
        element("title", None, title),
        element("style", None, Markup(STYLE)),
    )
    nav = element(
        "nav",
        {"aria-label": "Sections"},
        element(
            "ul",
            None,
            *(
                element("li", None, element("a", {"href": f"#{s.key}"}, s.title))
                for s in report.sections
            ),
        ),
    )
    header = element(
        "header",
        None,
        element("h1", None, "il-audit report"),
        element(
            "p",
            {
                "class": "meta",
                "data-since": report.period.since.isoformat(),
                "data-until": report.period.until.isoformat(),
            },
            f"{report.period} (UTC days, both included) · from {report.source} · "
            f"generated {generated}",
        ),
        *_retention(report),
        nav,
    )
    footer = element(
        "footer",
        None,
        element(
            "p",
            None,
            f"il-audit {__version__}. Read from the analytics views (BigQuery SQL in "
            "il_audit/sql); every event is counted once (events_deduped).",
        ),
    )
    body = element(
        "body",
        None,
        header,
        element("main", None, *(_section(s, palette) for s in report.sections)),
        footer,
    )
    return "<!DOCTYPE html>\n" + element("html", {"lang": "en"}, head, body) + "\n"
