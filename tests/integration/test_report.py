"""`il-audit report` on the embedded file and on the BigQuery stand-in, against known numbers.

The workload of ``tests/support/report_workload.py`` goes through the real
pipeline into DuckDB and into the stand-in; the command renders each, and every
chart's marks and headline figures are compared with what the workload says,
computed without the report's code. Both engines run the same BigQuery SQL.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from il_audit.cli import cli
from tests.support import report_workload as fixture
from tests.support.bigquery_standin import BigQueryStandIn
from tests.support.report_page import Page, close, parse
from tests.support.report_workload import Expected, nonzero
from tests.support.scenario import Workload
from tests.support.warehouses import load_bigquery, load_duckdb

PERIOD_ARGS = ("--since", fixture.SINCE.isoformat(), "--until", fixture.UNTIL.isoformat())


@pytest.fixture(scope="module")
def workload() -> Workload:
    """The report workload, emitted with no il-audit variable set."""
    return fixture.build()


@pytest.fixture(scope="module")
def expected(workload: Workload) -> Expected:
    """What the page must show."""
    return fixture.expected(workload)


def _run(args: list[str], env: dict[str, str | None]) -> tuple[int, str]:
    clean: dict[str, str | None] = {name: None for name in os.environ if name.startswith("IL_")}
    result = CliRunner().invoke(cli, ["report", *args], env={**clean, **env})
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def duckdb_page(workload: Workload, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The report of the workload in an embedded file, as HTML."""
    folder = tmp_path_factory.mktemp("report-duckdb")
    database = load_duckdb(folder / "events.duckdb", workload)
    out = folder / "report.html"
    code, output = _run(["--database", str(database), "--out", str(out), *PERIOD_ARGS], {})
    assert code == 0, output
    assert f"-> {out.resolve()}" in output
    return out.read_text("utf-8")


@pytest.fixture(scope="module")
def bigquery_page(
    workload: Workload, standin: BigQueryStandIn, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The report of the workload in a dataset of the BigQuery stand-in, as HTML."""
    dataset = load_bigquery(standin.url, standin.project, workload, standin.grpc_address)
    try:
        out = tmp_path_factory.mktemp("report-bigquery") / "report.html"
        env: dict[str, str | None] = {
            "IL_BQ_LOGS_PROJECT": standin.project,
            "IL_BQ_AUDIT_DATASET": dataset.dataset,
            "IL_BQ_API_ENDPOINT": standin.url,
        }
        code, output = _run(["--bigquery", "--out", str(out), *PERIOD_ARGS], env)
        assert code == 0, output
        assert f"from BigQuery {standin.project}.{dataset.dataset}" in output
        yield out.read_text("utf-8")
    finally:
        dataset.close()


@pytest.fixture(params=["duckdb", "bigquery"])
def page(request: pytest.FixtureRequest) -> Page:
    """Each engine's page in turn, parsed."""
    html: str = request.getfixturevalue(f"{request.param}_page")
    return parse(html)


def test_every_section_has_data(page: Page) -> None:
    """The workload fills all nine sections; none is empty or failed."""
    sections = ("events", "users", "cost", "auth", "dead_letters", "chat_latency",
                "chat_feedback", "pipeline", "completeness")  # fmt: skip
    assert page.sections == dict.fromkeys(sections, "ok")


def test_completeness_matches_the_workload(page: Page, expected: Expected) -> None:
    """Per numbered instance: a number reported dropped is no gap, a dead-lettered one is
    accounted for, and the one nothing explains is the gap (pipeline_completeness)."""
    keys = ("publisher_instances", "expected", "stored", "completeness_dead_lettered",
            "dropped_reported", "gap")  # fmt: skip
    assert {key: Decimal(page.figures[key]) for key in keys} == {
        key: expected.figures[key] for key in keys
    }
    header, first, second = page.tables["completeness_instances"]
    assert header[0] == "instance"
    assert (first[0], first[-2], second[0], second[-2]) == ("b" * 32, "1", "a" * 32, "0")


def test_events_per_day_match_the_workload(page: Page, expected: Expected) -> None:
    """Events per day and app, the day before the period left out and the empty day kept."""
    assert nonzero(page.numbers("events_per_day")) == expected.marks["events_per_day"]
    assert Decimal(page.figures["events_total"]) == expected.figures["events_total"]
    days = [row[0] for row in page.tables["events_per_day"][1:]]
    assert days == ["2026-11-23", "2026-11-24", "2026-11-25"]


def test_active_users_match_the_workload(page: Page, expected: Expected) -> None:
    """Distinct actors per day and app, across apps, and in the whole period."""
    assert nonzero(page.numbers("active_users")) == expected.marks["active_users"]
    assert Decimal(page.figures["users_total"]) == expected.figures["users_total"]


def test_cost_by_app_and_model_match_the_seed_prices(page: Page, expected: Expected) -> None:
    """Cost per day by app and by model equals the seed prices of the usage items, exactly."""
    assert page.numbers("cost_by_app") == expected.marks["cost_by_app"]
    assert page.numbers("cost_by_model") == expected.marks["cost_by_model"]
    assert Decimal(page.figures["cost_total"]) == expected.figures["cost_total"]


def test_unpriced_share_matches_the_workload(page: Page, expected: Expected) -> None:
    """The unpriced and partially priced shares of events with usage, per day and overall."""
    assert close(nonzero(page.numbers("unpriced_share")), expected.marks["unpriced_share"])
    for key in ("events_with_usage", "unpriced_items"):
        assert Decimal(page.figures[key]) == expected.figures[key], key
    for key in ("unpriced_event_share", "unpriced_item_share"):
        assert float(page.figures[key]) == pytest.approx(expected.figures[key]), key


def test_auth_failures_match_the_workload(page: Page, expected: Expected) -> None:
    """Failed logins per day and app, and the actor who failed most first."""
    assert nonzero(page.numbers("auth_failures")) == expected.marks["auth_failures"]
    assert Decimal(page.figures["failed_logins"]) == expected.figures["failed_logins"]
    header, first, *_ = page.tables["auth_actors"]
    assert header[:4] == ["app", "actor email", "actor uid", "failed"]
    assert first[:4] == ["admin", "carl@example.com", "u-carl", "3"]


def test_dead_letter_reasons_match_the_workload(page: Page, expected: Expected) -> None:
    """Dead letters per reason in the period, most frequent first."""
    assert page.numbers("dead_letter_reasons") == expected.marks["dead_letter_reasons"]
    assert Decimal(page.figures["dead_letters"]) == expected.figures["dead_letters"]
    reasons = [row[0] for row in page.tables["dead_letter_samples"][1:]]
    assert reasons == ["unknown_event_type", "invalid_json", "schema_violation"]


def test_chat_latency_distribution_matches_the_workload(page: Page, expected: Expected) -> None:
    """Turns per latency bucket and outcome, and p50 / p90 / p99 as PERCENTILE_CONT gives them."""
    assert nonzero(page.numbers("chat_latency")) == expected.marks["chat_latency"]
    assert Decimal(page.figures["chat_turns"]) == expected.figures["chat_turns"]
    assert Decimal(page.figures["chat_turns_without_latency"]) == 1
    for key in ("chat_p50_ms", "chat_p90_ms", "chat_p99_ms"):
        assert float(page.figures[key]) == pytest.approx(expected.figures[key]), key


def test_chat_feedback_rate_and_negative_share_match_the_workload(
    page: Page, expected: Expected
) -> None:
    """Per day, the share of turns rated and of negative verdicts (over those with a
    polarity), and the whole period's; next to chat latency on the page."""
    assert close(nonzero(page.numbers("chat_feedback")), nonzero(expected.marks["chat_feedback"]))
    assert Decimal(page.figures["feedback_verdicts"]) == expected.figures["feedback_verdicts"]
    for key in ("feedback_rate", "feedback_negative"):
        assert float(page.figures[key]) == pytest.approx(expected.figures[key]), key
    assert (
        list(page.sections).index("chat_feedback") == list(page.sections).index("chat_latency") + 1
    )


def test_pipeline_delay_matches_the_ingestion_times(page: Page, expected: Expected) -> None:
    """p50 and p99 delay per hour of processing, from occurred_at to the pipeline's clock."""
    assert close(page.numbers("pipeline_delay"), expected.marks["pipeline_delay"], 1e-3)
    assert Decimal(page.figures["accepted_events"]) == expected.figures["accepted_events"]


def test_values_from_events_are_shown_as_text(page: Page) -> None:
    """An HTML actor email and an HTML app name read back as the text they were, in charts
    and tables alike, and add no element or URL to the page."""
    actors = {(row[0], row[1]) for row in page.tables["auth_actors"][1:]}
    assert (fixture.HOSTILE_APP, fixture.HOSTILE_EMAIL) in actors
    apps = {row[0]: row[2] for row in page.tables["dead_letter_samples"][1:]}
    assert fixture.HOSTILE_APP in apps["schema_violation"]
    assert (fixture.HOSTILE_APP, "2026-11-23") in page.marks["auth_failures"]
    assert page.tags <= _PAGE_TAGS
    assert all(url.startswith("#") for url in page.urls)


_PAGE_TAGS = {
    "html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "p", "nav", "ul",
    "li", "a", "main", "section", "dl", "div", "dt", "dd", "figure", "figcaption", "svg",
    "desc", "g", "line", "text", "rect", "circle", "polyline", "details", "summary", "table",
    "caption", "thead", "tbody", "tr", "th", "td", "footer",
}  # fmt: skip
"""Every element the report writes; a tag from the data (``img``, ``script``) is not one."""


def test_both_engines_draw_the_same_charts(duckdb_page: str, bigquery_page: str) -> None:
    """DuckDB and BigQuery give every chart the same marks (same SQL, same numbers)."""
    on_duckdb, on_bigquery = parse(duckdb_page), parse(bigquery_page)
    assert on_duckdb.marks.keys() == on_bigquery.marks.keys()
    for chart in on_duckdb.marks:
        assert close(on_duckdb.numbers(chart), on_bigquery.numbers(chart), 1e-9), chart
    assert on_duckdb.figures == on_bigquery.figures


def test_a_period_without_data_gives_empty_sections(tmp_path: Path, workload: Workload) -> None:
    """Days without events give nine "no data" sections and exit code 0."""
    database = load_duckdb(tmp_path / "events.duckdb", workload)
    out = tmp_path / "report.html"
    code, output = _run(
        ["--database", str(database), "--out", str(out), "--since", "2025-01-01",
         "--until", "2025-01-31"], {}
    )  # fmt: skip
    assert code == 0, output
    assert "9 without data" in output
    page = parse(out.read_text("utf-8"))
    assert set(page.sections.values()) == {"empty"}
    assert page.marks == {}


def test_a_missing_view_fails_its_section_only(tmp_path: Path, workload: Workload) -> None:
    """Without pipeline_health the page is still written, that section says why, exit 1."""
    import duckdb

    database = load_duckdb(tmp_path / "events.duckdb", workload)
    with duckdb.connect(str(database)) as connection:
        connection.execute("DROP VIEW pipeline_health")
    out = tmp_path / "report.html"
    code, output = _run(["--database", str(database), "--out", str(out), *PERIOD_ARGS], {})
    assert code == 1
    assert "error: Pipeline delay:" in output
    page = parse(out.read_text("utf-8"))
    assert page.sections["pipeline"] == "error"
    assert "pipeline_health" in page.section_text["pipeline"]
    assert page.sections["events"] == "ok"
