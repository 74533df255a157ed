"""The warehouse a command works on: the embedded file (when it is missing, name the one
that exists) or BigQuery, chosen by the same three options everywhere."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click
from click.core import ParameterSource

from il_audit.cli._options import F, from_settings, shown_default
from il_audit.cli.errors import BadSettingsError

DEMO_DATABASE = "il_audit_demo.duckdb"


def require_database(database: Path, fix: str) -> None:
    """Raise a configuration error (exit 2) when ``database`` does not exist.

    When another ``.duckdb`` file sits in the same directory (``il-audit demo`` writes
    ``il_audit_demo.duckdb``), the message names it and the ``--database`` that reads it;
    otherwise it says ``fix``.
    """
    if database.exists():
        return
    directory = database.parent
    found = sorted(
        (p for p in directory.glob("*.duckdb") if p.is_file() and p.name != database.name),
        key=lambda p: (p.name != DEMO_DATABASE, p.name),
    )
    if not found:
        raise BadSettingsError(f"no embedded database at {database}: {fix}")
    here = directory.resolve() == Path.cwd().resolve()
    where = "here" if here else f"in {directory}"
    shown = found[0].name if here else str(found[0])
    raise BadSettingsError(
        f"no {database.name} {where}; found {found[0].name}: add `--database {shown}`"
    )


def warehouse_options(
    *, action: str, bigquery_env: str, timeout: float, timeout_env: str, timeout_help: str
) -> Callable[[F], F]:
    """``--database``, ``--bigquery`` and ``--timeout``: the warehouse a command works on.

    ``action`` starts the ``--bigquery`` help ("Erase in", "Read"); the file comes from the
    settings (``IL_AUDIT_DUCKDB_PATH``). Pair with :func:`one_warehouse`.
    """
    options = [
        click.option(
            "--database",
            type=click.Path(dir_okay=False, path_type=Path),
            default=from_settings("duckdb_path"),
            show_default=shown_default("duckdb_path"),
            envvar="IL_AUDIT_DUCKDB_PATH",
            help="Embedded warehouse file (env IL_AUDIT_DUCKDB_PATH).",
        ),
        click.option(
            "--bigquery",
            is_flag=True,
            envvar=bigquery_env,
            help=f"{action} BigQuery instead: the dataset IL_BQ_AUDIT_DATASET of the project "
            "IL_BQ_LOGS_PROJECT / GOOGLE_CLOUD_PROJECT; IL_BQ_API_ENDPOINT for a local "
            f"stand-in (env {bigquery_env}).",
        ),
        click.option(
            "--timeout",
            type=click.FloatRange(min=0.1),
            default=timeout,
            envvar=timeout_env,
            help=f"{timeout_help} (env {timeout_env}).",
        ),
    ]

    def decorate(function: F) -> F:
        for option in reversed(options):
            function = option(function)
        return function

    return decorate


def one_warehouse(ctx: click.Context, bigquery: bool) -> None:
    """Refuse ``--database`` given on the command line together with ``--bigquery`` (exit 2);
    the settings' file, the default, is simply not used then."""
    if bigquery and ctx.get_parameter_source("database") is ParameterSource.COMMANDLINE:
        raise click.UsageError("--database and --bigquery exclude each other: pick one")
