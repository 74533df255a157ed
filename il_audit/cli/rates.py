"""``il-audit rates``: show the active pricing catalog, load rates into cost_rates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from il_audit.cli._options import dry_run_option, format_option, from_settings, shown_default
from il_audit.cli._output import render
from il_audit.cli.errors import needs_project

TARGETS = ("auto", "embedded", "bigquery")

TARGET_OPTION = click.option(
    "--target",
    type=click.Choice(TARGETS),
    default="auto",
    envvar="IL_AUDIT_RATES_TARGET",
    help="Which cost_rates table: the embedded file or BigQuery; auto is BigQuery when a "
    "project is set (env IL_AUDIT_RATES_TARGET).",
)
DATABASE_OPTION = click.option(
    "--database",
    type=click.Path(dir_okay=False, path_type=Path),
    default=from_settings("duckdb_path"),
    show_default=shown_default("duckdb_path"),
    envvar="IL_AUDIT_DUCKDB_PATH",
    help="Embedded warehouse file (env IL_AUDIT_DUCKDB_PATH).",
)


def _sink(target: str, database: Path) -> Any:
    from il_audit.config.settings import get_audit_settings

    settings = get_audit_settings(strict=True)
    if target == "auto":
        target = "bigquery" if settings.project or settings.bq_api_endpoint else "embedded"
    if target == "embedded":
        from il_audit.subscriber_fn.sinks.duckdb import DuckDBSink

        return DuckDBSink(database)
    from il_audit.subscriber_fn.sinks.bigquery import BigQuerySink

    if not settings.project and not settings.bq_api_endpoint:
        raise needs_project("BigQuery")
    return BigQuerySink.from_settings(settings)


@click.group()
def rates() -> None:
    """The cost catalog: effective-dated prices keyed by (service, model_id, pricing_tier).

    \b
    Examples:
      il-audit rates show
      il-audit rates load new_prices.csv --dry-run
      il-audit rates load new_prices.json
    """


def _source_note(source: str) -> str:
    """Which catalog ``rates show`` (and the subscriber) use, and the setting that decides."""
    if source == "seed":
        return (
            "IL_COST_RATES_SOURCE=seed: the bundled seed catalog is shown and priced with; "
            "the cost_rates table is used only with IL_COST_RATES_SOURCE=bigquery"
        )
    return "IL_COST_RATES_SOURCE=bigquery: the cost_rates table is shown and priced with"


@rates.command()
@TARGET_OPTION
@DATABASE_OPTION
@format_option("IL_AUDIT_RATES_FORMAT", ("table", "json", "csv"))
def show(target: str, database: Path, fmt: str) -> None:
    """Print the catalog the subscriber prices with now: source, version and every rate.

    IL_COST_RATES_SOURCE decides which: the bundled seed catalog (seed, the default) or
    the cost_rates table (bigquery). The columns are the ones `rates load` accepts, so
    `--format csv` (rates only) and `--format json` (one object: source, version,
    cost_rates_source and rates) can be loaded back. The table and csv formats say which
    catalog is shown (csv on stderr).
    """
    from il_audit.config.settings import CostRatesSource, get_audit_settings
    from il_audit.subscriber_fn.catalogs import TableCatalogProvider
    from il_audit.subscriber_fn.pricing import seed_catalog
    from il_audit.subscriber_fn.rate_files import FIELDS

    settings = get_audit_settings(strict=True)
    if settings.cost_rates_source is CostRatesSource.SEED:
        catalog = seed_catalog()
    else:
        sink = _sink(target, database)
        catalog = TableCatalogProvider(sink.read_cost_rates, ttl_seconds=0).current()
    rows = [tuple(getattr(rate, name) for name in FIELDS) for rate in catalog.rates]
    source = settings.cost_rates_source.value
    if fmt == "json":
        rates_json = json.loads(render(FIELDS, rows, "json"))
        document = {
            "source": catalog.source,
            "version": catalog.version,
            "cost_rates_source": source,
            "rates": rates_json,
        }
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
        return
    if fmt == "csv":
        click.echo(_source_note(source), err=True)
        click.echo(render(FIELDS, rows, "csv"))
        return
    click.echo(f"source: {catalog.source}   version: {catalog.version}   rates: {len(catalog)}")
    click.echo(_source_note(source))
    click.echo(render(FIELDS, rows, "table"))


@rates.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@TARGET_OPTION
@DATABASE_OPTION
@dry_run_option("Show what would change; write nothing")
@format_option("IL_AUDIT_RATES_LOAD_FORMAT")
def load(file: Path, target: str, database: Path, dry_run: bool, fmt: str) -> None:
    """Validate FILE (JSON or CSV) and upsert its rates into cost_rates.

    Malformed entries and two entries for the same (service, model_id,
    pricing_tier, effective_from) are refused, with their entry numbers as in the file,
    and nothing is written. Existing rows with the same key are replaced. A pricing_tier
    column or field is optional; blank means standard. The columns are those of
    `rates show` (docs/operations.md lists them). The subscriber prices with the table
    only when IL_COST_RATES_SOURCE=bigquery; the output says which catalog is in use.

    `--format json`: dry_run, added, changed, unchanged, written, table,
    cost_rates_source and note.
    """
    from il_audit.config.settings import get_audit_settings
    from il_audit.subscriber_fn.errors import CatalogError
    from il_audit.subscriber_fn.pricing import Rate
    from il_audit.subscriber_fn.rate_files import diff_rates, read_rate_file

    try:
        incoming = read_rate_file(file)
    except CatalogError as exc:
        raise click.ClickException(str(exc)) from exc
    sink = _sink(target, database)
    existing = [Rate.from_mapping(row) for row in sink.read_cost_rates()]
    difference = diff_rates(existing, incoming)
    if not dry_run and difference.to_write:
        sink.upsert_cost_rates([rate.to_row() for rate in difference.to_write])
    source = get_audit_settings(strict=True).cost_rates_source.value
    if fmt == "json":
        document = {
            "dry_run": dry_run,
            "added": len(difference.added),
            "changed": len(difference.changed),
            "unchanged": len(difference.unchanged),
            "written": 0 if dry_run else len(difference.to_write),
            "table": f"{sink.name} cost_rates",
            "cost_rates_source": source,
            "note": _source_note(source),
        }
        click.echo(json.dumps(document, indent=2))
        return
    for line in difference.lines():
        click.echo(line)
    summary = (
        f"{len(difference.added)} new, {len(difference.changed)} changed, "
        f"{len(difference.unchanged)} unchanged"
    )
    if dry_run:
        click.echo(f"dry run: {summary}; nothing written")
        return
    click.echo(f"{summary} -> {sink.name} cost_rates")
    click.echo(f"{_source_note(source)} (`il-audit rates show` shows the same catalog)")
