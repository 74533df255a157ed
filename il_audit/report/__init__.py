"""``il-audit report``: one self-contained HTML page of charts from the analytics views.

The sections (events per day, active users, cost with its unpriced share, auth
failures, dead-letter reasons, chat latency, chat feedback, pipeline delay) each run BigQuery
SQL on the views (``_sections``), against the embedded DuckDB file or BigQuery
(``_warehouse``); the charts are SVG drawn in Python (``_charts``) and the page
(``_page``) has no script and makes no request.

    from il_audit.report import DuckDBWarehouse, Period, build_report, write_report

    report = build_report(DuckDBWarehouse(Path("il_audit.duckdb")), Period.ending(date.today()))
    write_report(report, Path("report.html"))
"""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from il_audit.report._model import (
    Chart,
    Column,
    Figure,
    Period,
    Report,
    RetentionWindow,
    Section,
    Series,
    Table,
    Unit,
)
from il_audit.report._page import render
from il_audit.report._sections import collect
from il_audit.report._warehouse import BigQueryWarehouse, DuckDBWarehouse, Warehouse
from il_audit.report.errors import QueryFailedError, ReportError, WarehouseUnavailableError
from il_audit.schemas.retention import RetentionPolicy

__all__ = [
    "BigQueryWarehouse",
    "Chart",
    "Column",
    "DuckDBWarehouse",
    "Figure",
    "Period",
    "QueryFailedError",
    "Report",
    "ReportError",
    "RetentionWindow",
    "Section",
    "Series",
    "Table",
    "Unit",
    "Warehouse",
    "WarehouseUnavailableError",
    "build_report",
    "render",
    "write_report",
]


def build_report(
    warehouse: Warehouse,
    period: Period,
    *,
    generated_at: datetime | None = None,
    retention: RetentionPolicy | None = None,
) -> Report:
    """Read every section for ``period``; a section whose query fails carries its error.

    With ``retention`` (the settings' policy) the page says from which day it is
    complete: the shortest retention of any family. Raises
    :class:`WarehouseUnavailableError` when the warehouse cannot be read at all.
    """
    now = generated_at or datetime.now(UTC)
    return Report(
        period=period,
        source=warehouse.description,
        generated_at=now,
        sections=tuple(collect(warehouse, period)),
        retention=RetentionWindow.of(retention, now) if retention is not None else None,
    )


def write_report(report: Report, path: Path) -> Path:
    """Write the page to ``path`` atomically (a reader never sees half a page); returns it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(render(report))
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
