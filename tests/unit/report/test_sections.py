"""The sections' SQL and how rows become charts, with a warehouse that answers from a script."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlglot

from il_audit.report import Period, QueryFailedError, build_report
from il_audit.report import _queries as queries
from il_audit.report import _sections as sections
from il_audit.report._charts import OTHER
from il_audit.report._queries import latency_buckets
from il_audit.report._spend import cost_section
from il_audit.report._values import day_range, pivot
from il_audit.sql import View, for_bigquery, for_duckdb

PERIOD = Period(date(2026, 11, 23), date(2026, 11, 25))
QUERIES = {
    name: value
    for name, value in vars(queries).items()
    if name.isupper() and not name.startswith("_") and isinstance(value, str) and "SELECT" in value
}


class ScriptedWarehouse:
    """Answers each query constant with the rows given for it (none by default)."""

    description = "scripted"

    def __init__(self, answers: Mapping[str, list[dict[str, Any]] | Exception]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, dict[str, date]]] = []

    def query(self, sql: str, params: Mapping[str, date]) -> list[dict[str, Any]]:
        self.calls.append((sql, dict(params)))
        name = next(name for name, text in QUERIES.items() if text == sql)
        answer = self.answers.get(name, [])
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_every_query_translates_for_duckdb(name: str) -> None:
    """The BigQuery SQL of each section transpiles, parameters becoming $since / $until."""
    translated = for_duckdb(QUERIES[name])
    assert "$since" in translated
    assert "$until" in translated


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_every_query_reads_only_views_and_is_qualified_for_bigquery(name: str) -> None:
    """Each query reads il-audit views (never a base table), all qualified by for_bigquery."""
    sql = for_bigquery(View("report", QUERIES[name]), "proj-1", "audit")
    tree = sqlglot.parse_one(sql, read="bigquery")
    ctes = {cte.alias for cte in tree.find_all(sqlglot.exp.CTE)}
    tables = [t for t in tree.find_all(sqlglot.exp.Table) if t.name not in ctes]
    assert tables
    for table in tables:
        assert (table.catalog, table.db) == ("proj-1", "audit"), table.sql()
        assert table.name not in {"events", "dead_letters", "cost_rates"}


def test_every_query_gets_the_period_as_parameters() -> None:
    """since and until are passed as DATE parameters, never written into the SQL."""
    warehouse = ScriptedWarehouse({})
    build_report(warehouse, PERIOD)
    assert warehouse.calls
    for sql, params in warehouse.calls:
        assert params == {"since": PERIOD.since, "until": PERIOD.until}
        assert "2026-11" not in sql


def test_no_rows_give_nine_no_data_sections() -> None:
    """A warehouse without rows gives a note in every section and no chart."""
    report = build_report(ScriptedWarehouse({}), PERIOD)
    assert len(report.sections) == 9
    assert all(section.empty_note and not section.charts for section in report.sections)
    assert report.failed == ()


def test_a_failing_query_fails_only_its_section() -> None:
    """QueryFailedError in one section is kept on it; the others are built."""
    rows = [{"day": date(2026, 11, 23), "app": "ingest", "events": 3}]
    warehouse = ScriptedWarehouse(
        {"EVENTS_PER_DAY": rows, "PIPELINE_DELAY": QueryFailedError("no pipeline_health")}
    )
    report = build_report(warehouse, PERIOD)
    by_key = {section.key: section for section in report.sections}
    assert by_key["pipeline"].error == "no pipeline_health"
    assert by_key["pipeline"].title == "Pipeline delay"
    assert by_key["events"].charts[0].series[0].values == (3,)
    assert [section.key for section in report.failed] == ["pipeline"]


def test_events_per_day_keep_the_days_between() -> None:
    """Days without rows between two days with rows are categories with zeros."""
    rows = [
        {"day": date(2026, 11, 23), "app": "ingest", "events": 3},
        {"day": date(2026, 11, 25), "app": "chat", "events": 2},
    ]
    report = build_report(ScriptedWarehouse({"EVENTS_PER_DAY": rows}), PERIOD)
    chart = report.sections[0].charts[0]
    assert chart.categories == ("2026-11-23", "2026-11-24", "2026-11-25")
    assert {s.name: s.values for s in chart.series} == {"ingest": (3, 0, 0), "chat": (0, 0, 2)}


def test_cost_sums_decimals_exactly_and_counts_unpriced_events() -> None:
    """Cost stays Decimal; the unpriced share is unpriced events over events with usage."""
    day = date(2026, 11, 23)
    by_app = [
        {"day": day, "app": "ingest", "cost_usd": Decimal("0.1"), "events_with_usage": 3,
         "unpriced_events": 1, "partially_priced_events": 0},
        {"day": day, "app": "chat", "cost_usd": Decimal("0.2"), "events_with_usage": 1,
         "unpriced_events": 0, "partially_priced_events": 1},
    ]  # fmt: skip
    section = cost_section(
        ScriptedWarehouse({"COST_BY_APP": by_app}), PERIOD, sections.SECTIONS[2][0]
    )
    figures = {figure.key: figure.value for figure in section.figures}
    assert figures["cost_total"] == Decimal("0.3")
    assert figures["unpriced_event_share"] == 0.25
    share = {s.name: s.values for s in section.charts[2].series}
    assert share == {"unpriced": (0.25,), "partially priced": (0.25,)}


def test_chat_turns_without_latency_are_counted_not_charted() -> None:
    """Turns that carry no latency leave the section empty, and the note says how many."""
    summary = [{"turns": 4, "without_latency": 4, "p50_ms": None, "p90_ms": None, "p99_ms": None}]
    report = build_report(ScriptedWarehouse({"CHAT_LATENCY_SUMMARY": summary}), PERIOD)
    chat = next(section for section in report.sections if section.key == "chat_latency")
    assert chat.empty_note is not None
    assert "4 chat turn(s) carried no latency_ms_total or latency_ms" in chat.empty_note


def test_pipeline_hours_are_in_utc_order() -> None:
    """Hours are sorted and labelled in UTC, whatever time zone the driver returned."""
    from datetime import timedelta, timezone

    plus_two = timezone(timedelta(hours=2))
    rows = [
        {"hour": datetime(2026, 11, 23, 12, tzinfo=plus_two), "accepted_events": 1,
         "dead_lettered": 0, "p50_delay_seconds": 2.0, "p99_delay_seconds": 3.0},
        {"hour": datetime(2026, 11, 23, 8, tzinfo=UTC), "accepted_events": 1,
         "dead_lettered": 0, "p50_delay_seconds": 1.0, "p99_delay_seconds": 1.0},
    ]  # fmt: skip
    report = build_report(ScriptedWarehouse({"PIPELINE_DELAY": rows}), PERIOD)
    pipeline = next(section for section in report.sections if section.key == "pipeline")
    assert pipeline.charts[0].categories == ("2026-11-23 08:00", "2026-11-23 10:00")


def test_pivot_folds_the_smallest_series_into_other() -> None:
    """Beyond the limit the series with the smallest totals add up to "(other)"."""
    cells = {("d", f"app-{i}"): i for i in range(1, 6)}
    series = pivot(cells, ("d",), limit=3)
    assert [(s.name, s.values) for s in series] == [
        ("app-5", (5,)),
        ("app-4", (4,)),
        (OTHER, (6,)),
    ]


def test_day_range_fills_the_gaps() -> None:
    """Every day from the first to the last, once each."""
    days = [date(2026, 11, 25), date(2026, 11, 23), date(2026, 11, 25)]
    assert day_range(days) == ("2026-11-23", "2026-11-24", "2026-11-25")
    assert day_range([]) == ()


def test_latency_buckets_cover_every_edge() -> None:
    """One label per bucket: below the first edge, between edges, and the open last one."""
    labels = latency_buckets()
    assert len(labels) == len(queries.LATENCY_EDGES_MS) + 1
    assert labels[:4] == ("< 250 ms", "250-500 ms", "500 ms-1 s", "1-2 s")
    assert labels[-1] == ">= 32 s"
