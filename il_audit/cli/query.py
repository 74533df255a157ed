"""``il-audit query``: BigQuery-dialect SQL against the embedded DuckDB file."""

from __future__ import annotations

from pathlib import Path

import click

from il_audit.cli._database import require_database
from il_audit.cli._options import format_option, from_settings, shown_default
from il_audit.cli._output import FORMATS, render


def run_query(sql: str, database: Path, *, timeout: float = 30.0) -> tuple[list[str], list[tuple]]:  # type: ignore[type-arg]
    """Transpile ``sql`` (BigQuery) to DuckDB and run it read-only; returns columns and rows.

    Waits up to ``timeout`` seconds while a writer holds the file.
    """
    from il_audit.sql import for_duckdb
    from il_audit.subscriber_fn.sinks.duckdb_file import DuckDBFile

    statement = for_duckdb(sql)
    with DuckDBFile(database, lock_timeout=timeout).connect(read_only=True) as connection:
        cursor = connection.execute(statement)
        columns = [description[0] for description in cursor.description or []]
        return columns, cursor.fetchall()


@click.command()
@click.argument("sql")
@click.option(
    "--database",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="IL_AUDIT_DUCKDB_PATH",
    default=from_settings("duckdb_path"),
    show_default=shown_default("duckdb_path"),
    help="Embedded warehouse file (env IL_AUDIT_DUCKDB_PATH).",
)
@format_option(
    "IL_AUDIT_QUERY_FORMAT",
    FORMATS,
    what="Output: aligned table, JSON array of row objects, or CSV",
)
@click.option(
    "--timeout",
    type=float,
    default=30.0,
    envvar="IL_AUDIT_QUERY_TIMEOUT",
    help="Seconds to wait while an app is writing the file (env IL_AUDIT_QUERY_TIMEOUT).",
)
def query(sql: str, database: Path, fmt: str, timeout: float) -> None:
    """Run BigQuery-dialect SQL (the views' dialect) against the embedded file.

    Tables: events, dead_letters, cost_rates; views: events_deduped,
    events_by_type_daily, active_users_daily, cost_by_app_daily,
    cost_by_model_daily, dead_letters_by_reason, costs_repriced,
    auth_failures, ui_interactions, pipeline_health, and the il-audit 0.1.3
    tables (auth_events, api_usage_events, ...). `project.dataset.` prefixes
    are ignored, so queries written for BigQuery run unchanged.

    \b
    Examples:
      il-audit query "SELECT app, SUM(cost_usd) AS usd FROM cost_by_app_daily GROUP BY app"
      il-audit query "SELECT * FROM dead_letters_by_reason" --format json
    """
    import duckdb
    import sqlglot

    from il_audit.subscriber_fn.errors import SinkUnavailableError

    require_database(
        database,
        "run `il-audit demo`, or emit with IL_AUDIT_TRANSPORT=local "
        "(see --database / IL_AUDIT_DUCKDB_PATH)",
    )
    try:
        columns, rows = run_query(sql, database, timeout=timeout)
    except sqlglot.errors.ParseError as exc:
        raise click.ClickException(f"cannot parse the SQL as BigQuery: {exc}") from exc
    except SinkUnavailableError as exc:
        raise click.ClickException(str(exc)) from exc
    except duckdb.Error as exc:
        raise click.ClickException(f"query failed: {exc}") from exc
    click.echo(render(columns, rows, fmt))
