"""``il-audit report``: one self-contained HTML page of charts from the analytics views."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from il_audit.cli._database import one_warehouse, require_database, warehouse_options
from il_audit.cli._options import format_option

if TYPE_CHECKING:
    from il_audit.report import BigQueryWarehouse
    from il_audit.schemas.retention import RetentionPolicy

DEFAULT_OUT = "./il_audit_report.html"


def _day(value: datetime | None) -> date | None:
    return value.date() if value is not None else None


@click.command()
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=DEFAULT_OUT,
    envvar="IL_AUDIT_REPORT_OUT",
    help="The HTML file to write, replaced if it exists (env IL_AUDIT_REPORT_OUT).",
)
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    metavar="YYYY-MM-DD",
    envvar="IL_AUDIT_REPORT_SINCE",
    help="First UTC day; default: the 30 days up to --until (env IL_AUDIT_REPORT_SINCE).",
)
@click.option(
    "--until",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    metavar="YYYY-MM-DD",
    envvar="IL_AUDIT_REPORT_UNTIL",
    help="Last UTC day, included; default: today (env IL_AUDIT_REPORT_UNTIL).",
)
@warehouse_options(
    action="Read",
    bigquery_env="IL_AUDIT_REPORT_BIGQUERY",
    timeout=30.0,
    timeout_env="IL_AUDIT_QUERY_TIMEOUT",
    timeout_help="Seconds to wait while an app is writing the embedded file, or to retry "
    "while BigQuery does not answer",
)
@format_option("IL_AUDIT_REPORT_FORMAT", what="Output format of the summary")
@click.pass_context
def report(
    ctx: click.Context,
    out: Path,
    since: datetime | None,
    until: datetime | None,
    database: Path,
    bigquery: bool,
    timeout: float,
    fmt: str,
) -> None:
    """Write one self-contained HTML page of charts from the analytics views.

    Events per day by app, active users, cost per day by app and by model
    with the unpriced share, auth failures, the top dead-letter reasons, chat
    latency and pipeline delay, for the UTC days --since to --until. The page
    has no script and loads nothing: open it anywhere, mail it, archive it.
    Every chart's numbers are in a table beside it.

    Exit codes: 0 written; 1 not written, or written with a section that
    could not be read (it says why); 2 bad usage. `--format json` prints one object: out,
    since, until, source, sections, empty and failed (title and error of each).

    \b
    Examples:
      il-audit report --out report.html
      il-audit report --since 2026-11-01 --until 2026-11-30 --database il_audit_demo.duckdb
      il-audit report --bigquery --out /tmp/report.html
    """
    from il_audit.report import (
        DuckDBWarehouse,
        Period,
        Warehouse,
        WarehouseUnavailableError,
        build_report,
        write_report,
    )

    last = _day(until) or datetime.now(UTC).date()
    first = _day(since)
    try:
        period = Period(first, last) if first is not None else Period.ending(last)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since/--until") from exc
    warehouse: Warehouse
    if bigquery:
        one_warehouse(ctx, bigquery)
        warehouse = _bigquery_warehouse(timeout)
    else:
        require_database(
            database, "run `il-audit demo`, emit with IL_AUDIT_TRANSPORT=local, or pass --bigquery"
        )
        warehouse = DuckDBWarehouse(database, timeout=timeout)
    try:
        page = build_report(warehouse, period, retention=_retention())
    except WarehouseUnavailableError as exc:
        raise click.ClickException(str(exc)) from exc
    except ImportError as exc:
        raise click.ClickException(
            f"{exc}: the report needs il-audit's embedded extra (DuckDB, sqlglot), or the "
            "subscriber extra for --bigquery: pip install 'il-audit[embedded]'"
        ) from exc
    path = write_report(page, out).resolve()
    for section in page.failed:
        click.echo(f"error: {section.title}: {section.error}", err=True)
    if fmt == "json":
        document = {
            "out": str(path),
            "since": period.since.isoformat(),
            "until": period.until.isoformat(),
            "source": warehouse.description,
            "sections": len(page.sections),
            "empty": len(page.empty),
            "failed": [{"title": s.title, "error": s.error} for s in page.failed],
        }
        click.echo(json.dumps(document, indent=2))
    else:
        without = f", {len(page.empty)} without data" if page.empty else ""
        failed = f", {len(page.failed)} could not be read" if page.failed else ""
        click.echo(
            f"report: {len(page.sections)} sections{without}{failed}, {period}, "
            f"from {warehouse.description} -> {path}"
        )
    if page.failed:
        raise SystemExit(1)


def _retention() -> RetentionPolicy:
    """The settings' retention: the page says from which day it is complete."""
    from il_audit.config.settings import get_audit_settings

    return get_audit_settings(strict=True).retention


def _bigquery_warehouse(retry_deadline: float) -> BigQueryWarehouse:
    """The BigQuery warehouse of the settings (project, dataset, endpoint override)."""
    from il_audit.config.settings import get_audit_settings
    from il_audit.report import BigQueryWarehouse

    settings = get_audit_settings(strict=True)
    if not settings.project and not settings.bq_api_endpoint:
        raise click.UsageError(
            "--bigquery needs a project: set IL_BQ_LOGS_PROJECT or GOOGLE_CLOUD_PROJECT"
        )
    try:
        from google.auth.exceptions import DefaultCredentialsError

        from il_audit.operations.infra import bigquery_client
    except ImportError as exc:
        raise click.ClickException(
            f"{exc}: --bigquery needs google-cloud-bigquery: pip install 'il-audit[subscriber]'"
        ) from exc
    try:
        client = bigquery_client(settings)
    except DefaultCredentialsError as exc:
        raise click.ClickException(f"no credentials for BigQuery: {exc}") from exc
    return BigQueryWarehouse(client, settings.dataset, retry_deadline=retry_deadline)
