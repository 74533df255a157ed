"""``il-audit ledger seal`` and ``il-audit verify``: seal hours of ingestion, check them."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, TypeVar

import click

from il_audit.cli._database import one_warehouse, require_database, warehouse_options
from il_audit.cli._options import dry_run_option, format_option
from il_audit.cli._output import render

F = TypeVar("F", bound=Callable[..., Any])

_SEAL_EXIT = (
    "Exit codes: 0 sealed (or nothing was closed yet), 1 the warehouse failed or refused, "
    "2 bad usage or configuration."
)
_VERIFY_EXIT = (
    "Exit codes: 0 every sealed row intact or explained, 1 something unexplained (missing, "
    "changed or added rows, or a changed ledger) or the warehouse failed, 2 bad usage or "
    "configuration."
)


def _instant(_ctx: click.Context, _param: click.Parameter, value: datetime | None) -> Any:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _time_option(name: str, envvar: str, text: str) -> Callable[[F], F]:
    return click.option(
        name,
        type=click.DateTime(["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d"]),
        callback=_instant,
        envvar=envvar,
        help=f"{text}, UTC, e.g. 2026-12-01T10:00 (env {envvar}).",
    )


def _engine_options(prefix: str) -> Callable[[F], F]:
    return warehouse_options(
        action="Use",
        bigquery_env=f"{prefix}_BIGQUERY",
        timeout=60.0,
        timeout_env=f"{prefix}_TIMEOUT",
        timeout_help="Seconds each query may take, or to wait while an app writes the "
        "embedded file",
    )


@contextmanager
def _store(
    ctx: click.Context, database: Path, bigquery: bool, timeout: float, *, read_only: bool
) -> Iterator[Any]:
    """The ledger store the options name, closed afterwards; errors as one line."""
    if bigquery:
        one_warehouse(ctx, bigquery)
        from il_audit.cli.errors import bigquery_errors, needs_project
        from il_audit.config.settings import get_audit_settings
        from il_audit.operations.bigquery_resources import bigquery_client
        from il_audit.operations.ledger_bigquery import BigQueryLedgerStore

        settings = get_audit_settings(strict=True)
        if not settings.project and not settings.bq_api_endpoint:
            raise needs_project(ctx.command_path.removeprefix("il-audit ") + " --bigquery")
        with bigquery_errors(settings.bq_api_endpoint or "bigquery.googleapis.com", timeout):
            store = BigQueryLedgerStore(
                bigquery_client(settings), settings.dataset, timeout=timeout
            )
            try:
                yield store
            finally:
                store.close()
        return
    from il_audit.operations.ledger_duckdb import DuckDBLedgerStore

    require_database(database, "point --database at the embedded warehouse file")
    embedded = DuckDBLedgerStore(database, timeout=timeout, read_only=read_only)
    try:
        yield embedded
    finally:
        embedded.close()


@click.group()
def ledger() -> None:
    """Seals: one entry per hour of ingestion and table, chained, in audit_ledger
    (docs/integrity.md). Schedule `ledger seal` hourly; check with `il-audit verify`.

    \b
    Examples:
      il-audit ledger seal --dry-run
      il-audit ledger seal --bigquery --format json
    """


@ledger.command(epilog=_SEAL_EXIT)
@_time_option("--until", "IL_AUDIT_LEDGER_UNTIL", "Seal no period ending after this")
@click.option(
    "--lateness-minutes",
    type=click.IntRange(min=0),
    default=30,
    envvar="IL_AUDIT_LEDGER_LATENESS_MINUTES",
    help="An hour is closed this long after it ends (env IL_AUDIT_LEDGER_LATENESS_MINUTES).",
)
@click.option(
    "--late-every-hours",
    type=click.Choice(["1", "2", "3", "4", "6", "8", "12", "24"]),
    default="1",
    envvar="IL_AUDIT_LEDGER_LATE_EVERY_HOURS",
    help="Look for late rows (rows that reached hours already sealed) only when sealing an "
    "hour that starts at a multiple of this, UTC: 24 reads about a quarter of the bytes "
    "(docs/costs.md) (env IL_AUDIT_LEDGER_LATE_EVERY_HOURS).",
)
@click.option(
    "--export",
    metavar="gs://BUCKET[/PREFIX]",
    envvar="IL_AUDIT_LEDGER_EXPORT",
    help="Also write each seal of the last 24 hours to Cloud Storage, one object per table "
    "and hour, never overwritten (a bucket with a locked retention policy in another "
    "project: docs/integrity-operations.md); a seal exported before is accepted only "
    "byte for byte (env IL_AUDIT_LEDGER_EXPORT).",
)
@dry_run_option("Say what would be sealed; write nothing")
@_engine_options("IL_AUDIT_LEDGER")
@format_option("IL_AUDIT_LEDGER_FORMAT")
@click.pass_context
def seal(
    ctx: click.Context,
    until: datetime | None,
    lateness_minutes: int,
    late_every_hours: str,
    export: str | None,
    dry_run: bool,
    database: Path,
    bigquery: bool,
    timeout: float,
    fmt: str,
) -> None:
    """Seal every closed hour of ingestion not sealed yet, in order: events by ingested_at,
    dead letters by received_at; rows that reached an hour already sealed go into this
    seal's late section.

    The JSON keys: target, dry_run, sealed_at, closed_before, previous_seal_hash,
    last_seal_hash, sealed_periods, rows, late_rows, bytes_processed (BigQuery; null on
    DuckDB), periods (period_start, table_name, row_count, late_count, seal_hash), entries
    (the audit_ledger rows, for an export).
    """
    from il_audit.operations.ledger import seal as run_seal

    now = datetime.now(UTC)
    with _store(ctx, database, bigquery, timeout, read_only=False) as store:
        result = run_seal(
            store,
            now=now,
            lateness=timedelta(minutes=lateness_minutes),
            until=until,
            dry_run=dry_run,
            late_every_hours=int(late_every_hours),
        )
        document = result.as_dict()
        if export and not dry_run:
            # Re-export the recent seals as read back, not only this run's: a run that
            # stopped between storing a seal and exporting it is made good by the next.
            recent = [e for e in store.entries() if _utc(e["period_start"]) >= now - EXPORT_WINDOW]
            document["exported"] = _export(recent, export, timeout)
    if fmt == "json":
        click.echo(json.dumps(document, indent=2))
        return
    rows = [
        (p["period_start"], p["table_name"], p["row_count"], p["late_count"], p["seal_hash"][:16])
        for p in document["periods"]
    ]
    click.echo(render(["period_start", "table", "rows", "late", "seal_hash"], rows, fmt))
    verb = "would seal" if dry_run else "sealed"
    click.echo(
        f"{verb} {document['sealed_periods']} hour(s) closed before "
        f"{document['closed_before']}: {document['rows']} rows, {document['late_rows']} late"
    )
    if "exported" in document:
        created = sum(1 for item in document["exported"] if item["created"])
        click.echo(
            f"exported to {export}: {created} new, "
            f"{len(document['exported']) - created} already there (same bytes)"
        )


EXPORT_WINDOW: Final = timedelta(hours=24)
"""How far back each run (re-)exports seals."""


def _utc(value: datetime) -> datetime:
    """A stored TIMESTAMP as an aware UTC datetime (a naive one is UTC already)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _export(
    entries: list[dict[str, Any]], destination: str, timeout: float
) -> list[dict[str, Any]]:
    """Write ``entries`` to ``destination``; ``[{uri, created}]``. A failure is one line and
    exit 1 (the seals themselves are stored)."""
    from il_audit.operations.ledger_export import SealExporter

    with SealExporter(destination, timeout=timeout) as exporter:
        results = [exporter.export(entry) for entry in entries]
    return [{"uri": item.uri, "created": item.created} for item in results]


@click.command(epilog=_VERIFY_EXIT)
@_time_option("--since", "IL_AUDIT_VERIFY_SINCE", "First sealed hour to check")
@_time_option("--until", "IL_AUDIT_VERIFY_UNTIL", "Check sealed hours starting before this")
@_engine_options("IL_AUDIT_VERIFY")
@format_option("IL_AUDIT_VERIFY_FORMAT")
@click.pass_context
def verify(
    ctx: click.Context,
    since: datetime | None,
    until: datetime | None,
    database: Path,
    bigquery: bool,
    timeout: float,
    fmt: str,
) -> None:
    """Recompute the seals (the chain, each sealed set) and compare every row of the sealed
    hours with them: intact, missing, changed, or added after sealing. Erasures recorded
    by `il-audit erase` and rows retention removed are explained, never flagged.

    The JSON keys: target, ok, since, until, entries, ledger_intact, ledger_problems,
    periods (checked, intact, expired), rows (intact, late, missing, changed, added,
    explained), unexplained and explained (kind, table_name, period_start, row_key,
    sealed_hash, current_hash, explanation).
    """
    from il_audit.config.settings import get_audit_settings
    from il_audit.operations.verify import verify as run_verify

    policy = get_audit_settings(strict=True).retention
    with _store(ctx, database, bigquery, timeout, read_only=True) as store:
        report = run_verify(store, policy, now=datetime.now(UTC), since=since, until=until)
    document = report.as_dict()
    if fmt == "json":
        click.echo(json.dumps(document, indent=2))
    else:
        findings = [
            (f["kind"], f["table_name"], f["period_start"], f["row_key"], f["explanation"] or "")
            for f in document["unexplained"] + document["explained"]
        ]
        if findings:
            columns = ["finding", "table", "period_start", "row_key", "explained by"]
            click.echo(render(columns, findings, fmt))
        for problem in document["ledger_problems"]:
            click.echo(f"ledger changed: {problem}")
        counts = document["rows"]
        click.echo(
            f"{document['periods']['checked']} sealed hour(s) checked, "
            f"{document['periods']['intact']} intact; rows: {counts['intact']} intact, "
            f"{counts['missing']} missing, {counts['changed']} changed, {counts['added']} "
            f"added, {counts['explained']} explained"
        )
    if not report.ok:
        ctx.exit(1)
