"""``il-audit schema``: the BigQuery JSON schemas of every table, and the settings reference."""

from __future__ import annotations

import json
from pathlib import Path

import click

from il_audit.cli._options import format_option


@click.group()
def schema() -> None:
    """Table schemas and the settings reference, derived from the code (never written by hand)."""


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
@click.option("--write", is_flag=True, help="Write DOCS and the README's settings tables.")
@click.option("--check", is_flag=True, help="Exit 1 when DOCS or the README's tables are stale.")
@click.option(
    "--readme",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("README.md"),
    envvar="IL_AUDIT_SCHEMA_README",
    help="README holding the settings markers (with --write or --check; "
    "env IL_AUDIT_SCHEMA_README).",
)
@click.option(
    "--docs",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("docs/settings.md"),
    envvar="IL_AUDIT_SCHEMA_DOCS",
    help="The generated reference (with --write or --check; env IL_AUDIT_SCHEMA_DOCS).",
)
def settings_reference(fmt: str, write: bool, check: bool, readme: Path, docs: Path) -> None:
    """Every setting: its variables, default, accepted values and the component reading it,
    generated from the settings' sections (never written by hand).

    \b
    Exit code 0, 1 when --check finds a stale file, 2 on bad usage.
    Examples:
      il-audit schema settings --format json
      il-audit schema settings --write      # docs/settings.md and the README's tables
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
            readme: reference.updated_readme(readme.read_text("utf-8")),
            docs: reference.markdown_reference(FIXED_LIMITS),
        }
    except (OSError, ValueError) as exc:
        raise click.BadParameter(str(exc), param_hint="--readme") from exc
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
