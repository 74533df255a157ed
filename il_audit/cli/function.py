"""``il-audit function bundle``: the subscriber function's deployable source directory."""

from __future__ import annotations

import json
from pathlib import Path

import click

from il_audit.cli._options import format_option


@click.group()
def function() -> None:
    """The subscriber Cloud Function: build what gets deployed."""


@function.command("bundle")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    envvar="IL_AUDIT_BUNDLE_OUT",
    help="Directory to write: new, empty, or an earlier bundle (env IL_AUDIT_BUNDLE_OUT).",
)
@click.option(
    "--wheel",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    envvar="IL_AUDIT_BUNDLE_WHEEL",
    help="Vendor this il_audit-*.whl instead of building one (env IL_AUDIT_BUNDLE_WHEEL).",
)
@click.option(
    "--source",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    envvar="IL_AUDIT_SOURCE_DIR",
    help="Build the wheel from this checkout; default the one il-audit runs from "
    "(env IL_AUDIT_SOURCE_DIR).",
)
@format_option("IL_AUDIT_BUNDLE_FORMAT")
def bundle(out: Path, wheel: Path | None, source: Path | None, fmt: str) -> None:
    """Write main.py (entry point handle_pubsub), requirements.txt and il-audit's own wheel.

    Cloud Functions installs requirements.txt inside the directory: the vendored
    wheel with the subscriber extra, whose dependencies come from the package
    index, so no private index is needed. infra/terraform zips and uploads it.
    `--format json`: directory, files, version and size_bytes (progress on stderr).

    \b
    Examples:
      il-audit function bundle --out build/function-bundle      # or: make bundle
      il-audit function bundle --out build/function-bundle --wheel dist/il_audit-*.whl
      terraform -chdir=infra/terraform apply
    """
    from il_audit.operations.errors import BundleError
    from il_audit.operations.function_bundle import build_bundle

    if wheel is not None and source is not None:
        raise click.UsageError("--wheel and --source exclude each other")

    def progress(line: str) -> None:
        click.echo(line, err=fmt == "json")  # stdout carries only the JSON

    try:
        built = build_bundle(out, wheel=wheel, source=source, progress=progress)
    except BundleError as exc:
        raise click.ClickException(str(exc)) from exc
    if fmt == "json":
        document = {
            "directory": str(built.directory),
            "files": [path.name for path in built.files],
            "version": built.version,
            "size_bytes": built.size_bytes,
        }
        click.echo(json.dumps(document, indent=2))
        return
    names = ", ".join(path.name for path in built.files)
    click.echo(
        f"bundle {built.directory}: {names} (il-audit {built.version}, "
        f"{built.size_bytes / 1024:.0f} KiB)"
    )
