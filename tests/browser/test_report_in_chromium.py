"""The report page in headless Chromium: every chart drawn with the fixture's numbers, offline.

The page is the report of ``tests/support/report_workload.py`` written by
`il-audit report` from an embedded file, opened from a ``file://`` URL. A
full-page screenshot is kept under the test's tmp directory (its path is
printed); with ``IL_AUDIT_UPDATE_SCREENSHOT=1`` it also replaces
``docs/report-screenshot.png``, the picture in docs/analytics.md.
"""

from __future__ import annotations

import json
import os
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from selenium.webdriver.remote.webdriver import WebDriver

from il_audit.cli import cli
from tests.browser.support import ROOT
from tests.support import report_workload as fixture
from tests.support.report_page import close
from tests.support.report_workload import Expected, nonzero
from tests.support.warehouses import load_duckdb

CHARTS = (
    "events_per_day", "active_users", "cost_by_app", "cost_by_model", "unpriced_share",
    "auth_failures", "dead_letter_reasons", "chat_latency", "chat_feedback", "pipeline_delay",
)  # fmt: skip
EXACT = ("events_per_day", "active_users", "cost_by_app", "cost_by_model", "auth_failures",
         "dead_letter_reasons", "chat_latency")  # fmt: skip
"""Charts of counts and money, compared exactly (the others hold shares and delays)."""

READ_CHARTS = """
return Array.from(document.querySelectorAll('svg[data-chart]')).map(function (svg) {
  var box = svg.getBoundingClientRect();
  return {
    chart: svg.dataset.chart, kind: svg.dataset.kind, width: box.width, height: box.height,
    marks: Array.from(svg.querySelectorAll('.mark')).map(function (mark) {
      var r = mark.getBoundingClientRect();
      return {series: mark.dataset.series, category: mark.dataset.category,
              value: mark.dataset.value, width: r.width, height: r.height, top: r.top};
    })
  };
});
"""


@pytest.fixture(scope="module")
def report_page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Expected]:
    """The fixture's report as a file, and what it must show (written once: the tests only
    read it)."""
    tmp_path = tmp_path_factory.mktemp("report")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)  # the page names the file as given: events.duckdb
        workload = fixture.build()
        load_duckdb(tmp_path / "events.duckdb", workload)
        out = tmp_path / "report.html"
        result = CliRunner().invoke(
            cli,
            ["report", "--database", "events.duckdb", "--out", str(out),
             "--since", fixture.SINCE.isoformat(), "--until", fixture.UNTIL.isoformat()],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
    return out, fixture.expected(workload)


def _open(browser: WebDriver, page: Path) -> None:
    browser.set_window_size(1280, 900)
    browser.get(page.as_uri())
    assert browser.execute_script("return document.readyState") == "complete"


def _charts(browser: WebDriver) -> dict[str, dict[str, Any]]:
    return {chart["chart"]: chart for chart in browser.execute_script(READ_CHARTS)}


def test_every_chart_is_drawn_with_the_fixture_numbers(
    browser: WebDriver, report_page: tuple[Path, Expected], capsys: pytest.CaptureFixture[str]
) -> None:
    """Each chart has a visible SVG whose marks hold the workload's numbers, bar lengths in
    proportion to them; a full-page screenshot is kept."""
    page, expected = report_page
    _open(browser, page)
    charts = _charts(browser)
    assert set(charts) == set(CHARTS)
    for name, chart in charts.items():
        assert chart["width"] > 300, name
        assert chart["height"] > 50, name
        assert chart["marks"], name
        assert all(m["width"] > 0 and m["height"] > 0 for m in chart["marks"]), name
        drawn = {(m["series"], m["category"]): Decimal(m["value"]) for m in chart["marks"]}
        if name in EXACT:
            assert nonzero(drawn) == expected.marks[name], name
        else:
            assert close(nonzero(drawn), nonzero(expected.marks[name]), 1e-3), name
    for name in ("events_per_day", "auth_failures", "chat_latency", "cost_by_app"):
        per_unit = {round(m["height"] / float(m["value"]), 1) for m in charts[name]["marks"]}
        assert max(per_unit) - min(per_unit) <= 0.1 * max(per_unit), name  # height ∝ value
    reasons = charts["dead_letter_reasons"]["marks"]
    assert [m["category"] for m in reasons] == ["unknown_event_type", "invalid_json",
                                                "schema_violation"]  # fmt: skip
    assert reasons[0]["width"] > reasons[1]["width"]
    figures = browser.execute_script(
        "var out = {}; document.querySelectorAll('[data-figure]').forEach(function (f) {"
        " out[f.dataset.figure] = f.querySelector('dd').textContent; }); return out;"
    )
    assert figures["events_total"] == str(expected.figures["events_total"])
    assert figures["cost_total"] == f"${expected.figures['cost_total'].normalize()}"

    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1280, height)
    shot = page.with_name("report-screenshot.png")
    assert browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 20_000
    with capsys.disabled():
        print(f"\nreport screenshot: {shot}")
    if os.environ.get("IL_AUDIT_UPDATE_SCREENSHOT"):
        shutil.copyfile(shot, ROOT / "docs" / "report-screenshot.png")


def test_the_page_requests_nothing_and_logs_nothing(
    browser: WebDriver, report_page: tuple[Path, Expected]
) -> None:
    """Chromium sends no request but the page's own file:// load, and logs no error (a CSP
    violation would be one)."""
    page, _ = report_page
    browser.get("about:blank")
    browser.get_log("performance")  # what the browser's start page loaded, not ours
    _open(browser, page)
    requests = []
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            requests.append(message["params"]["request"]["url"])
    assert requests == [page.as_uri()]
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0
    assert [entry for entry in browser.get_log("browser") if entry["level"] != "INFO"] == []


def test_html_from_the_data_stays_text_in_the_browser(
    browser: WebDriver, report_page: tuple[Path, Expected]
) -> None:
    """The hostile app name and email are shown as text: no element, no dialog, no image."""
    page, _ = report_page
    _open(browser, page)
    assert browser.execute_script("return document.querySelectorAll('script, img').length") == 0
    text = browser.execute_script("return document.body.textContent")
    assert fixture.HOSTILE_APP in text
    assert fixture.HOSTILE_EMAIL in text
