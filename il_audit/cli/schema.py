"""``il-audit schema export``: the BigQuery JSON schemas of every table."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def schema() -> None:
    """Table schemas, derived from the row models (never written by hand)."""


@schema.command("export")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    envvar="IL_AUDIT_SCHEMA_OUT",
    help="Directory to write into (env IL_AUDIT_SCHEMA_OUT).",
)
def export(out: Path) -> None:
    """Write TABLE.json (the `bq mk --schema` / Terraform `schema` form) and TABLE.table.json
    (schema plus partitioning and clustering) for events, dead_letters and cost_rates.

    \b
    Example:
      il-audit schema export --out infra/schemas
      bq mk --table --schema infra/schemas/events.json \\
         --time_partitioning_field occurred_at --clustering_fields app,event_type \\
         PROJECT:intelligence_layer_logs.events
    """
    from il_audit.operations.terraform import schema_files
    from il_audit.schemas.tables import TABLES

    out.mkdir(parents=True, exist_ok=True)
    files = schema_files()
    for spec in TABLES:
        for name in (f"{spec.name}.json", f"{spec.name}.table.json"):
            (out / name).write_text(files[name], "utf-8")
        click.echo(f"wrote {out / spec.name}.json, {spec.name}.table.json")
