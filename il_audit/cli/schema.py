"""``il-audit schema``: the BigQuery JSON schemas of every table, the settings reference and
the personal-data inventory."""

from __future__ import annotations

import json
from pathlib import Path

import click

from il_audit.cli._options import format_option


@click.group()
def schema() -> None:
    """Table schemas, the settings reference and the personal-data inventory, derived from the
    code (never written by hand)."""


@schema.command("export")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    envvar="IL_AUDIT_SCHEMA_OUT",
    help="Directory to write into (env IL_AUDIT_SCHEMA_OUT).",
)
@format_option("IL_AUDIT_SCHEMA_FORMAT", what="Output format of the listing")
def export(out: Path, fmt: str) -> None:
    """Write TABLE.json (the `bq mk --schema` / Terraform `schema` form) and TABLE.table.json
    (schema plus partitioning and clustering) for events, dead_letters and cost_rates.
    `--format json`: out and written (the files).

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
    written = []
    for spec in TABLES:
        for name in (f"{spec.name}.json", f"{spec.name}.table.json"):
            (out / name).write_text(files[name], "utf-8")
            written.append(str(out / name))
        if fmt == "table":
            click.echo(f"wrote {out / spec.name}.json, {spec.name}.table.json")
    if fmt == "json":
        click.echo(json.dumps({"out": str(out), "written": written}, indent=2))


@schema.command("settings")
@format_option("IL_AUDIT_SCHEMA_FORMAT", what="Output format of the listing")
@click.option("--write", is_flag=True, help="Write DOCS and the TABLES page's settings table.")
@click.option("--check", is_flag=True, help="Exit 1 when DOCS or the TABLES page are stale.")
@click.option(
    "--tables",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("docs/ui-beacon-convention.md"),
    show_default=True,
    envvar="IL_AUDIT_SCHEMA_TABLES",
    help="Page holding the settings-beacon markers (with --write or --check; "
    "env IL_AUDIT_SCHEMA_TABLES).",
)
@click.option(
    "--docs",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("docs/settings.md"),
    envvar="IL_AUDIT_SCHEMA_DOCS",
    help="The generated reference (with --write or --check; env IL_AUDIT_SCHEMA_DOCS).",
)
def settings_reference(fmt: str, write: bool, check: bool, tables: Path, docs: Path) -> None:
    """Every setting: its variables, default, accepted values and the component reading it,
    generated from the settings' sections (never written by hand).

    \b
    Exit code 0, 1 when --check finds a stale file, 2 on bad usage.
    Examples:
      il-audit schema settings --format json
      il-audit schema settings --write      # docs/settings.md and the beacon's table
      il-audit schema settings --check      # in CI: fails when either drifted
    """
    import json

    from il_audit.cli._output import render
    from il_audit.config import reference
    from il_audit.publisher.fixed_limits import FIXED_LIMITS

    if write and check:
        raise click.UsageError("pass --write or --check, not both")
    if not (write or check):
        rows = reference.settings()
        if fmt == "json":
            listing = {
                "settings": [row._asdict() for row in rows],
                "fixed_limits": [constant._asdict() for constant in FIXED_LIMITS],
            }
            click.echo(json.dumps(listing, indent=2, default=str))
        else:
            columns = ["setting", "variables", "default", "accepts", "read_by"]
            click.echo(
                render(
                    columns,
                    [
                        (row.path, " ".join(row.variables), row.default, row.accepts, row.read_by)
                        for row in rows
                    ],
                    "table",
                )
            )
        return
    try:
        wanted = {
            tables: reference.updated_tables(tables.read_text("utf-8")),
            docs: reference.markdown_reference(FIXED_LIMITS),
        }
    except (OSError, ValueError) as exc:
        raise click.BadParameter(str(exc), param_hint="--tables") from exc
    stale = [path for path, text in wanted.items() if _read(path) != text]
    if check:
        if stale:
            names = ", ".join(map(str, stale))
            click.echo(f"out of date: {names}; run il-audit schema settings --write", err=True)
            raise SystemExit(1)
        click.echo("the settings reference is up to date")
        return
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(wanted[path], "utf-8")
        click.echo(f"wrote {path}")
    if not stale:
        click.echo("the settings reference is up to date")


def _read(path: Path) -> str | None:
    try:
        return path.read_text("utf-8")
    except FileNotFoundError:
        return None


@schema.command("privacy")
@format_option("IL_AUDIT_SCHEMA_FORMAT", what="Output format of the listing")
@click.option("--write", is_flag=True, help="Regenerate DOCS's generated blocks.")
@click.option("--check", is_flag=True, help="Exit 1 when DOCS's generated blocks are stale.")
@click.option(
    "--docs",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("docs/privacy.md"),
    envvar="IL_AUDIT_SCHEMA_PRIVACY_DOCS",
    help="The privacy document holding the privacy-inventory markers "
    "(env IL_AUDIT_SCHEMA_PRIVACY_DOCS).",
)
def privacy_reference(fmt: str, write: bool, check: bool, docs: Path) -> None:
    """Every column that can hold personal data: its category, how it is stored, under
    which setting, what erasure does, and its tables and views (from the inventory in
    il_audit/schemas/personal_data.py).

    \b
    Exit code 0, 1 when --check finds DOCS stale, 2 on bad usage.
    Examples:
      il-audit schema privacy --format json
      il-audit schema privacy --write      # the generated tables of docs/privacy.md
      il-audit schema privacy --check      # in CI: fails when they drifted
    """
    import json

    from il_audit.cli._output import render
    from il_audit.operations import privacy_reference as reference
    from il_audit.operations.privacy_inventory import inventory

    if write and check:
        raise click.UsageError("pass --write or --check, not both")
    if not (write or check):
        rows = inventory()
        listing = [
            {
                "column": row.column,
                "category": row.tag.category.value,
                "stored": row.tag.stored.value,
                "setting": row.tag.setting,
                "on_erase": row.tag.on_erase.value,
                "tables": list(row.tables),
                "views": list(row.views),
            }
            for row in rows
        ]
        if fmt == "json":
            click.echo(json.dumps({"personal_columns": listing}, indent=2))
        else:
            columns = ["column", "category", "stored", "setting", "on_erase", "tables"]
            table = [
                (
                    row.column,
                    row.tag.category.value,
                    row.tag.stored.value,
                    row.tag.setting,
                    row.tag.on_erase.value,
                    " ".join(row.tables),
                )
                for row in rows
            ]
            click.echo(render(columns, table, "table"))
        return
    try:
        wanted = reference.updated_doc(docs.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise click.BadParameter(str(exc), param_hint="--docs") from exc
    if _read(docs) == wanted:
        click.echo("the privacy inventory is up to date")
        return
    if check:
        click.echo(f"out of date: {docs}; run il-audit schema privacy --write", err=True)
        raise SystemExit(1)
    docs.write_text(wanted, "utf-8")
    click.echo(f"wrote {docs}")
