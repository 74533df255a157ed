"""The completeness section: was anything lost before ingestion (``pipeline_completeness``)."""

from __future__ import annotations

from il_audit.report._model import Column, Figure, Period, Section, Table, Unit
from il_audit.report._queries import PIPELINE_COMPLETENESS
from il_audit.report._section_common import TOP_ROWS, period_params
from il_audit.report._values import as_int, empty, replace_section
from il_audit.report._warehouse import Warehouse

_TOTALS = ("expected", "stored", "dead_lettered", "dropped_reported", "failed_reported", "gap")


def completeness_section(warehouse: Warehouse, period: Period, base: Section) -> Section:
    """Per publisher instance: numbers expected, stored, dead-lettered, reported lost, the gap."""
    rows = warehouse.query(PIPELINE_COMPLETENESS, period_params(period))
    if not rows:
        return empty(base, "No numbered events (il-audit publishers number them) in this period.")
    totals = {name: sum(as_int(row[name]) for row in rows) for name in _TOTALS}
    # Instances with a gap first, then the largest; the id decides ties (both engines alike).
    ordered = sorted(
        rows,
        key=lambda r: (-as_int(r["gap"]), -as_int(r["expected"]), r["publisher_instance_id"]),
    )
    return replace_section(
        base,
        figures=(
            Figure("Publisher instances", len(rows), key="publisher_instances"),
            Figure("Events expected", totals["expected"], key="expected"),
            Figure("Stored", totals["stored"], key="stored"),
            Figure("Dead-lettered", totals["dead_lettered"], key="completeness_dead_lettered"),
            Figure("Reported dropped", totals["dropped_reported"], key="dropped_reported"),
            Figure("Reported failed", totals["failed_reported"], key="failed_reported"),
            Figure("Gap (unexplained)", totals["gap"], key="gap"),
        ),
        tables=(
            Table(
                "completeness_instances",
                f"Publisher instances, those with a gap first (top {TOP_ROWS})",
                (
                    Column("instance"),
                    Column("app"),
                    Column("expected", Unit.COUNT),
                    Column("stored", Unit.COUNT),
                    Column("dead-lettered", Unit.COUNT),
                    Column("dropped", Unit.COUNT),
                    Column("failed", Unit.COUNT),
                    Column("gap", Unit.COUNT),
                    Column("final heartbeat"),
                ),
                tuple(
                    (
                        row["publisher_instance_id"],
                        row["app"] or "(unknown)",
                        as_int(row["expected"]),
                        as_int(row["stored"]),
                        as_int(row["dead_lettered"]),
                        as_int(row["dropped_reported"]),
                        as_int(row["failed_reported"]),
                        as_int(row["gap"]),
                        "yes" if row["heartbeat_final"] else "no",
                    )
                    for row in ordered[:TOP_ROWS]
                ),
            ),
        ),
    )
