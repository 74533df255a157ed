"""``il-audit retention show|apply``: how long each event family is kept, and the deletes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from il_audit.cli._database import one_warehouse, require_database, warehouse_options
from il_audit.cli._options import dry_run_option, format_option
from il_audit.cli._output import render

_EXIT_CODES = (
    "Exit codes: 0 done (or nothing to delete), 1 a delete failed or was refused (the others "
    "still ran; run it again), 2 bad usage or configuration."
)


def _policy() -> Any:
    from il_audit.config.settings import get_audit_settings

    return get_audit_settings(strict=True).retention


def _days(days: int | None) -> str:
    return "forever" if days is None else str(days)


@click.group()
def retention() -> None:
    """Retention per event family: IL_AUDIT_RETENTION_DAYS is the default and
    IL_AUDIT_RETENTION_DAYS_BY_FAMILY ("chat.model_call=30,auth=400,dead_letters=30")
    overrides it per event-type prefix (the most specific wins) or for dead letters.

    \b
    Examples:
      il-audit retention show
      il-audit retention apply --dry-run
      il-audit retention apply --bigquery --format json
    """


@retention.command(epilog=_EXIT_CODES)
@format_option("IL_AUDIT_RETENTION_FORMAT")
def show(fmt: str) -> None:
    """The effective retention of each family, and the partition expiry (the longest).

    Family `*` is every event no family names. The JSON keys: partition_expiration_days,
    families (family, table, days; null days: kept forever).
    """
    from il_audit.operations.retention import effective_rows

    policy = _policy()
    rows = effective_rows(policy)
    if fmt == "json":
        document = {
            "partition_expiration_days": policy.partition_days,
            "families": [{"family": f, "table": t, "days": d} for f, t, d in rows],
        }
        click.echo(json.dumps(document, indent=2))
        return
    click.echo(render(["family", "table", "days"], [(f, t, _days(d)) for f, t, d in rows], fmt))
    click.echo(f"partition expiry (the outer bound): {_days(policy.partition_days)}")


_engine_options = warehouse_options(
    action="Delete in",
    bigquery_env="IL_AUDIT_RETENTION_BIGQUERY",
    timeout=60.0,
    timeout_env="IL_AUDIT_RETENTION_TIMEOUT",
    timeout_help="Seconds each delete may take, or to wait while an app writes the embedded file",
)


@retention.command(epilog=_EXIT_CODES)
@dry_run_option("Count the rows each delete would remove")
@_engine_options
@format_option("IL_AUDIT_RETENTION_FORMAT")
@click.pass_context
def apply(
    ctx: click.Context, dry_run: bool, database: Path, bigquery: bool, timeout: float, fmt: str
) -> None:
    """Delete the rows each family keeps no longer (the sink does it when it opens the
    embedded file; on BigQuery the Terraform module schedules it daily).

    A UTC day's rows go once the start of that day is the family's days old, the rule
    of BigQuery's partition expiry. The JSON keys: engine, target, dry_run, ok,
    partition_expiration_days, families (family, table, days, keeps_from, rows, error).
    """
    from il_audit.operations.retention import apply_bigquery, apply_duckdb

    policy = _policy()
    now = datetime.now(UTC)
    if bigquery:
        one_warehouse(ctx, bigquery)
        from il_audit.cli.errors import bigquery_errors, needs_project
        from il_audit.config.settings import get_audit_settings
        from il_audit.operations.bigquery_resources import bigquery_client

        settings = get_audit_settings(strict=True)
        if not settings.project and not settings.bq_api_endpoint:
            raise needs_project("retention apply --bigquery")
        with bigquery_errors(settings.bq_api_endpoint or "bigquery.googleapis.com", timeout):
            client = bigquery_client(settings)
            project = settings.project or client.project
            run = apply_bigquery(
                client, project, settings.dataset, policy, now, dry_run=dry_run, timeout=timeout
            )
    else:
        require_database(database, "nothing to delete: no embedded database (see --database)")
        run = apply_duckdb(database, policy, now, dry_run=dry_run, timeout=timeout)
    if fmt == "json":
        click.echo(json.dumps(run.as_json(), indent=2))
    else:
        verb = "would delete" if dry_run else "deleted"
        rows = [
            (r.family, r.table, r.days, r.keeps_from.isoformat(), r.rows, r.error or "")
            for r in run.families
        ]
        click.echo(render(["family", "table", "days", "keeps_from", "rows", "error"], rows, fmt))
        total = sum(r.rows or 0 for r in run.families)
        click.echo(f"{run.engine} {run.target}: {verb} {total} rows")
    if not run.ok:
        for result in run.families:
            if result.error:
                click.echo(f"error: {result.family}: {result.error}", err=True)
        raise SystemExit(1)
