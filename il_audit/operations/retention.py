"""Run the retention deletes now, on the embedded DuckDB file or on BigQuery.

The policy and its statements are :mod:`il_audit.schemas.retention` (pure); this
module runs them (``il-audit retention apply``), or counts what they would delete
(``--dry-run``). The DuckDB sink runs the same deletes when it opens its file, and
on BigQuery the Terraform module schedules them daily (``docs/retention.md``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from il_audit.schemas.retention import (
    DEAD_LETTERS_FAMILY,
    Deletion,
    RetentionPolicy,
    bigquery_cutoff_literal,
    cutoff,
)
from il_audit.schemas.tables import DEAD_LETTERS, EVENTS

DELETE_REFUSED_HINT = (
    "BigQuery refuses DELETE on rows still in the streaming buffer (insertAll, up to 90 "
    "minutes): run it again later"
)


@dataclass(frozen=True, slots=True)
class FamilyResult:
    """One family's delete: how many rows it removed (or would), or why it could not."""

    family: str
    table: str
    days: int
    keeps_from: date
    """The first UTC day kept."""
    rows: int | None
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        """Stable snake_case keys."""
        return {
            "family": self.family,
            "table": self.table,
            "days": self.days,
            "keeps_from": self.keeps_from.isoformat(),
            "rows": self.rows,
            "error": self.error,
        }


@dataclass(slots=True)
class RetentionRun:
    """What ``retention apply`` did, engine by engine."""

    engine: str
    target: str
    dry_run: bool
    policy: RetentionPolicy
    families: list[FamilyResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every delete ran (or was counted)."""
        return all(result.error is None for result in self.families)

    def as_json(self) -> dict[str, Any]:
        """The run as one JSON document (stable snake_case keys)."""
        return {
            "engine": self.engine,
            "target": self.target,
            "dry_run": self.dry_run,
            "ok": self.ok,
            "partition_expiration_days": self.policy.partition_days,
            "families": [result.as_json() for result in self.families],
        }


Runner = Callable[[Deletion, datetime, bool], int]
"""Runs one deletion (or counts its rows when the flag says dry run); returns the rows."""


def _run(
    run: RetentionRun, runner: Runner, now: datetime, refused: tuple[type[Exception], ...]
) -> None:
    for deletion in run.policy.deletions():
        keeps_from = cutoff(deletion.days, now).date()
        try:
            rows: int | None = runner(deletion, now, run.dry_run)
            error = None
        except refused as exc:  # one family refused (BigQuery's streaming buffer): go on
            rows, error = None, f"{exc}: {DELETE_REFUSED_HINT}"
        run.families.append(
            FamilyResult(deletion.family, deletion.table, deletion.days, keeps_from, rows, error)
        )


def apply_duckdb(
    path: Path, policy: RetentionPolicy, now: datetime, *, dry_run: bool, timeout: float
) -> RetentionRun:
    """Run (or count) the deletes on the embedded file, waiting up to ``timeout`` for a writer."""
    from il_audit.subscriber_fn.sinks.duckdb_file import DuckDBFile

    run = RetentionRun("duckdb", str(path), dry_run, policy)
    database = DuckDBFile(path, lock_timeout=timeout)
    opened = database.connect(read_only=True) if dry_run else database.writer()
    with opened as connection:

        def runner(deletion: Deletion, now: datetime, dry_run: bool) -> int:
            where = deletion.where("?")
            sql = (
                f"SELECT COUNT(*) FROM {deletion.table} WHERE {where}"  # noqa: S608 - ours
                if dry_run
                else deletion.statement(deletion.table, "?")
            )
            row = connection.execute(sql, [cutoff(deletion.days, now)]).fetchone()
            return int(row[0]) if row else 0

        _run(run, runner, now, ())  # no DuckDB error passes by waiting: each stops the run
    return run


def apply_bigquery(
    client: Any,
    project: str,
    dataset: str,
    policy: RetentionPolicy,
    now: datetime,
    *,
    dry_run: bool,
    timeout: float,
) -> RetentionRun:
    """Run (or count, with a query) the deletes on BigQuery, each within ``timeout`` seconds.

    A delete BigQuery refuses with 400 (rows in the streaming buffer) is reported for
    its family and the others still run; anything else (no answer, no permission) stops
    the run and reaches the CLI's error handler.
    """
    from google.api_core.exceptions import BadRequest

    run = RetentionRun("bigquery", f"{project}.{dataset}", dry_run, policy)

    def runner(deletion: Deletion, now: datetime, dry_run: bool) -> int:
        table = f"`{project}.{dataset}.{deletion.table}`"
        limit = bigquery_cutoff_literal(deletion.days, now)
        if dry_run:
            sql = f"SELECT COUNT(*) FROM {table} WHERE {deletion.where(limit)}"  # noqa: S608
        else:
            sql = deletion.statement(table, limit)
        job = client.query(sql, timeout=timeout)
        rows = list(job.result(timeout=timeout))
        if dry_run:
            return int(rows[0][0]) if rows else 0
        return int(job.num_dml_affected_rows or 0)

    _run(run, runner, now, (BadRequest,))
    return run


def effective_rows(policy: RetentionPolicy) -> list[tuple[str, str, int | None]]:
    """(family, table, days) of every family, for ``retention show`` and ``doctor``."""
    return [
        (family, DEAD_LETTERS.name if family == DEAD_LETTERS_FAMILY else EVENTS.name, days)
        for family, days in policy.effective().items()
    ]
