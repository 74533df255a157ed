"""``il-audit rates``: show the active pricing catalog, load rates into cost_rates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from il_audit.cli._options import format_option, from_settings, shown_default
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


@rates.command()
@TARGET_OPTION
@DATABASE_OPTION
@format_option("IL_AUDIT_RATES_FORMAT")
def show(target: str, database: Path, fmt: str) -> None:
    """Print the catalog the subscriber prices with now: source, version and every rate.

    ``--format json`` prints one object: ``source``, ``version`` and ``rates`` (a list of
    objects with the table's columns as keys).
    """
    from il_audit.config.settings import CostRatesSource, get_audit_settings
    from il_audit.subscriber_fn.catalogs import TableCatalogProvider
    from il_audit.subscriber_fn.pricing import seed_catalog

    settings = get_audit_settings(strict=True)
    if settings.cost_rates_source is CostRatesSource.SEED:
        catalog = seed_catalog()
    else:
        sink = _sink(target, database)
        catalog = TableCatalogProvider(sink.read_cost_rates, ttl_seconds=0).current()
    columns = ["service", "model_id", "tier", "effective_from", "input_per_1m", "output_per_1m",
               "unit_price", "unit", "rate_version", "cached_input_per_1m",
               "cache_write_per_1m"]  # fmt: skip
    rows = [
        (r.service, r.model_id, r.pricing_tier, r.effective_from, r.input_price_per_1m_tokens,
         r.output_price_per_1m_tokens, r.unit_price, r.unit, r.rate_version,
         r.cached_input_price_per_1m_tokens, r.cache_write_price_per_1m_tokens)
        for r in catalog.rates
    ]  # fmt: skip
    if fmt == "json":
        rates_json = json.loads(render(columns, rows, "json"))
        document = {"source": catalog.source, "version": catalog.version, "rates": rates_json}
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
        return
    click.echo(f"source: {catalog.source}   version: {catalog.version}   rates: {len(catalog)}")
    click.echo(render(columns, rows, "table"))


@rates.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@TARGET_OPTION
@DATABASE_OPTION
@click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")
def load(file: Path, target: str, database: Path, dry_run: bool) -> None:
    """Validate FILE (JSON or CSV) and upsert its rates into cost_rates.

    Malformed entries and two entries for the same (service, model_id,
    pricing_tier, effective_from) are refused, with their entry numbers, and nothing is
    written. Existing rows with the same key are replaced. A pricing_tier
    column or field is optional; blank means standard.
    """
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
    for line in difference.lines():
        click.echo(line)
    summary = (
        f"{len(difference.added)} new, {len(difference.changed)} changed, "
        f"{len(difference.unchanged)} unchanged"
    )
    if dry_run:
        click.echo(f"dry run: {summary}; nothing written")
        return
    if difference.to_write:
        sink.upsert_cost_rates([rate.to_row() for rate in difference.to_write])
    click.echo(f"{summary} -> {sink.name} cost_rates")
