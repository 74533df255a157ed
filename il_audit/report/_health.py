"""Sections about the pipeline's health: dead letters, chat latency, delay."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from il_audit.report._model import (
    Chart,
    Column,
    Figure,
    Number,
    Period,
    Section,
    Series,
    Table,
    Unit,
)
from il_audit.report._queries import (
    CHAT_LATENCY_HISTOGRAM,
    CHAT_LATENCY_SUMMARY,
    DEAD_LETTERS,
    PIPELINE_DELAY,
    latency_buckets,
)
from il_audit.report._section_common import TOP_ROWS, period_params
from il_audit.report._values import (
    as_float,
    as_hour,
    as_int,
    cut,
    empty,
    pivot,
    replace_section,
    timestamp_text,
)
from il_audit.report._warehouse import Warehouse


def dead_letters_section(warehouse: Warehouse, period: Period, base: Section) -> Section:
    """The most frequent dead-letter reasons, with the apps and a sample detail."""
    rows = warehouse.query(DEAD_LETTERS, period_params(period))
    if not rows:
        return empty(base, "Nothing was dead-lettered in this period.")
    reasons: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = reasons.setdefault(
            row["error_class"], {"count": 0, "apps": set(), "last": None, "sample": None}
        )
        entry["count"] += as_int(row["dead_letters"])
        entry["apps"].add(row["app"] or "(unknown)")
        if row["last_seen"] is not None and (
            entry["last"] is None or row["last_seen"] > entry["last"]
        ):
            entry["last"] = row["last_seen"]
            entry["sample"] = row["sample_detail"]
        elif entry["sample"] is None:
            entry["sample"] = row["sample_detail"]
    top = sorted(reasons.items(), key=lambda item: (-item[1]["count"], item[0]))[:TOP_ROWS]
    categories = tuple(name for name, _ in top)
    return replace_section(
        base,
        figures=(
            Figure("Dead letters", sum(e["count"] for e in reasons.values()), key="dead_letters"),
            Figure("Reasons", len(reasons), key="reasons"),
        ),
        charts=(
            Chart(
                "dead_letter_reasons",
                f"Dead letters by reason (top {TOP_ROWS})",
                "hbars",
                Unit.COUNT,
                "reason",
                categories,
                (Series("dead letters", tuple(e["count"] for _, e in top)),),
            ),
        ),
        tables=(
            Table(
                "dead_letter_samples",
                "Reasons, apps and a sample detail",
                (
                    Column("reason"),
                    Column("dead letters", Unit.COUNT),
                    Column("apps"),
                    Column("last seen"),
                    Column("sample detail"),
                ),
                tuple(
                    (
                        name,
                        e["count"],
                        ", ".join(sorted(e["apps"])),
                        timestamp_text(e["last"]),
                        cut(e["sample"]),
                    )
                    for name, e in top
                ),
            ),
        ),
    )


def chat_latency_section(warehouse: Warehouse, period: Period, base: Section) -> Section:
    """The distribution of chat turn latency, by outcome, with its quantiles."""
    params = period_params(period)
    summary = warehouse.query(CHAT_LATENCY_SUMMARY, params)
    numbers = summary[0] if summary else {}
    turns = as_int(numbers.get("turns"))
    without = as_int(numbers.get("without_latency"))
    if turns - without <= 0:
        note = "No chat turns with a latency in this period."
        if turns:
            note += f" {turns:,} chat turn(s) carried no latency_ms_total or latency_ms."
        return empty(base, note)
    histogram = warehouse.query(CHAT_LATENCY_HISTOGRAM, params)
    labels = latency_buckets()
    cells: dict[tuple[str, str], Number] = defaultdict(int)
    for row in histogram:
        outcome = "failed" if row["status"] == "failed" else "succeeded"
        cells[(labels[as_int(row["bucket"])], outcome)] += as_int(row["turns"])
    return replace_section(
        base,
        figures=(
            Figure("Turns with a latency", turns - without, key="chat_turns"),
            Figure("p50", as_float(numbers.get("p50_ms")), Unit.MILLISECONDS, "chat_p50_ms"),
            Figure("p90", as_float(numbers.get("p90_ms")), Unit.MILLISECONDS, "chat_p90_ms"),
            Figure("p99", as_float(numbers.get("p99_ms")), Unit.MILLISECONDS, "chat_p99_ms"),
            Figure("Turns without a latency", without, key="chat_turns_without_latency"),
        ),
        charts=(
            Chart(
                "chat_latency",
                "Chat turns by latency",
                "bars",
                Unit.COUNT,
                "latency",
                labels,
                pivot(cells, labels, order=("succeeded", "failed")),
            ),
        ),
    )


def pipeline_section(warehouse: Warehouse, period: Period, base: Section) -> Section:
    """p50 and p99 delay from occurred_at to ingested_at, per hour of processing."""
    rows = warehouse.query(PIPELINE_DELAY, period_params(period))
    if not rows:
        return empty(base, "Nothing was processed in this period.")
    ordered = sorted(rows, key=lambda row: as_hour(row["hour"]))
    categories = tuple(as_hour(row["hour"]) for row in ordered)
    p50 = tuple(as_float(row["p50_delay_seconds"]) for row in ordered)
    p99 = tuple(as_float(row["p99_delay_seconds"]) for row in ordered)
    return replace_section(
        base,
        figures=(
            Figure(
                "Events accepted",
                sum(as_int(r["accepted_events"]) for r in rows),
                key="accepted_events",
            ),
            Figure(
                "Lines dead-lettered",
                sum(as_int(r["dead_lettered"]) for r in rows),
                key="dead_lettered",
            ),
            Figure(
                "Highest hourly p50",
                max((v for v in p50 if v is not None), default=None),
                Unit.SECONDS,
                "max_p50_seconds",
            ),
            Figure(
                "Highest hourly p99",
                max((v for v in p99 if v is not None), default=None),
                Unit.SECONDS,
                "max_p99_seconds",
            ),
        ),
        charts=(
            Chart(
                "pipeline_delay",
                "Delay per hour of processing",
                "lines",
                Unit.SECONDS,
                "hour (UTC)",
                categories,
                (Series("p50", p50), Series("p99", p99)),
                "No accepted events in this period (only dead letters).",
            ),
        ),
    )
