"""``il-audit migrate from-0.1`` / ``from-1.0``: turn a dataset an older il-audit wrote into one
that reads as a whole."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import click

from il_audit.cli._options import dry_run_option, format_option
from il_audit.operations.bigquery_resources import DEFAULT_TIMEOUT
from il_audit.operations.migrate import DEFAULT_ACTIVE_MINUTES, ERAS

F = TypeVar("F", bound=Callable[..., Any])


@click.group()
def migrate() -> None:
    """Migrate a dataset written by an older il-audit (0.1.3 or 1.0)."""


def _options(release: str) -> Callable[[F], F]:
    """The options both migrations take, worded for ``release``."""
    options = [
        dry_run_option("Print what would happen; change nothing"),
        click.option(
            "--force",
            is_flag=True,
            help=f"Go on although an il-audit {release} writer looks active (a confirmation: "
            "never read from the environment).",
        ),
        click.option(
            "--active-minutes",
            type=click.IntRange(0, 60 * 24 * 30),
            default=DEFAULT_ACTIVE_MINUTES,
            envvar="IL_AUDIT_MIGRATE_ACTIVE_MINUTES",
            help=f"An il-audit {release} table with a row newer than this many minutes has "
            "an active writer (env IL_AUDIT_MIGRATE_ACTIVE_MINUTES).",
        ),
        click.option(
            "--dataset",
            default=None,
            envvar="IL_BQ_AUDIT_DATASET",
            help=f"The {release} dataset; default intelligence_layer_logs, as in {release} "
            "(env IL_BQ_AUDIT_DATASET).",
        ),
        click.option(
            "--timeout",
            type=click.FloatRange(1, 3600),
            default=DEFAULT_TIMEOUT,
            envvar="IL_AUDIT_MIGRATE_TIMEOUT",
            help="Seconds each BigQuery request may take, its retries included "
            "(env IL_AUDIT_MIGRATE_TIMEOUT).",
        ),
        format_option("IL_AUDIT_MIGRATE_FORMAT"),
    ]

    def decorate(function: F) -> F:
        for option in reversed(options):
            function = option(function)
        return function

    return decorate


def _run(era: str, *, dataset: str | None, fmt: str, timeout: float, **options: Any) -> None:
    """Run the migration from ``era``; print progress and a summary (table) or one JSON
    document; exit 1 when it is refused or leaves something to fix."""
    from il_audit.cli.errors import bigquery_errors, needs_project
    from il_audit.config.settings import get_audit_settings
    from il_audit.operations.migrate import migrate_dataset

    settings = get_audit_settings(strict=True)
    if dataset:
        settings = settings.model_copy(update={"dataset": dataset})
    if not settings.project:
        raise needs_project("migrate")
    table = fmt == "table"
    if table:
        click.echo(
            f"{'dry run: ' if options['dry_run'] else ''}migrating "
            f"{settings.project}.{settings.dataset} from il-audit {ERAS[era].release}"
        )
    with bigquery_errors(settings.bq_api_endpoint or "bigquery.googleapis.com", timeout):
        report = migrate_dataset(
            settings,
            ERAS[era],
            timeout=timeout,
            progress=(lambda item: click.echo(item.line())) if table else None,
            **options,
        )
    if table:
        click.echo(f"\n{report.summary()}")
    else:
        click.echo(json.dumps(report.as_json(), indent=2, ensure_ascii=False))
    if not report.ok:
        raise SystemExit(1)


_EXIT_CODES = "Exit codes: 0 done (or nothing to do), 1 refused, failed or something left to " \
    "fix, 2 bad usage or configuration."  # fmt: skip


@migrate.command("from-0.1", epilog=_EXIT_CODES)
@_options("0.1.3")
def from_0_1(**options: Any) -> None:
    """Keep a 0.1.3 dataset's history readable under its old table names.

    Renames each 0.1.3 table to legacy_<name> (copy, then drop: BigQuery cannot
    turn a table into a view), creates the tables and views of `infra apply`,
    each seed-compatible view reading the legacy rows and the new ones as one,
    and merges the 0.1.3 cost_rates rows into cost_rates. Refuses while a 0.1.3
    app still writes (a row newer than --active-minutes) unless --force.
    Idempotent: run it again to finish an interrupted migration. A dataset
    il-audit 1.0 wrote is left alone: use `migrate from-1.0`.

    \b
    Examples:
      il-audit migrate from-0.1 --dry-run
      il-audit migrate from-0.1 --active-minutes 120
    """
    _run("0.1", **options)


@migrate.command("from-1.0", epilog=_EXIT_CODES)
@_options("1.0")
def from_1_0(**options: Any) -> None:
    """Keep a 1.0 dataset's history readable under its old table names.

    As `from-0.1`, for the 23 tables il-audit 1.0.35 wrote (0.1.3's twelve among
    them, with 1.0's columns; model_call_text, retrieval_*, out_of_scope_queries,
    chat_visit_sessions, chat_feedback, ...): each table a view stands in for
    becomes legacy_<name>, read by the view next to the new rows (its columns
    matched by name, NULL where it lacks one); a table no view stands in for yet
    is kept and reported. 1.0's cost_rates rows are merged with their
    pricing_tier. Refuses while a 1.0 app still writes (logged_at, sent_at,
    last_activity_at... newer than --active-minutes) unless --force.

    \b
    Examples:
      il-audit migrate from-1.0 --dry-run
      il-audit migrate from-1.0 --format json
    """
    _run("1.0", **options)
