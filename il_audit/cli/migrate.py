"""``il-audit migrate from-0.1``: turn an il-audit 0.1.3 dataset into one that reads as a whole."""

from __future__ import annotations

import click

from il_audit.operations.migrate import DEFAULT_ACTIVE_MINUTES


@click.group()
def migrate() -> None:
    """Migrate a dataset written by an older il-audit."""


@migrate.command("from-0.1")
@click.option("--dry-run", is_flag=True, help="Print what would happen; change nothing.")
@click.option(
    "--force",
    is_flag=True,
    envvar="IL_AUDIT_MIGRATE_FORCE",
    help="Go on although a 0.1.3 writer looks active (env IL_AUDIT_MIGRATE_FORCE).",
)
@click.option(
    "--active-minutes",
    type=click.IntRange(0, 60 * 24 * 30),
    default=DEFAULT_ACTIVE_MINUTES,
    envvar="IL_AUDIT_MIGRATE_ACTIVE_MINUTES",
    help="A 0.1.3 table with a row newer than this many minutes has an active writer "
    "(env IL_AUDIT_MIGRATE_ACTIVE_MINUTES).",
)
@click.option(
    "--dataset",
    default=None,
    envvar="IL_BQ_AUDIT_DATASET",
    help="The 0.1.3 dataset; default intelligence_layer_logs, as in 0.1.3 "
    "(env IL_BQ_AUDIT_DATASET).",
)
def from_0_1(dry_run: bool, force: bool, active_minutes: int, dataset: str | None) -> None:
    """Keep a 0.1.3 dataset's history readable under its old table names.

    Renames each 0.1.3 table to legacy_<name> (copy, then drop: BigQuery cannot
    turn a table into a view), creates the tables and views of `infra apply`,
    each seed-compatible view reading the legacy rows and the new ones as one,
    and merges the 0.1.3 cost_rates rows into cost_rates. Refuses while a 0.1.3
    app still writes (a row newer than --active-minutes) unless --force.
    Idempotent: run it again to finish an interrupted migration.

    Exit codes: 0 done, 1 refused or something left to fix, 2 bad usage.

    \b
    Examples:
      il-audit migrate from-0.1 --dry-run
      il-audit migrate from-0.1 --active-minutes 120
    """
    from il_audit.config.settings import get_audit_settings
    from il_audit.operations.migrate import migrate_from_0_1

    settings = get_audit_settings(strict=True)
    if dataset:
        settings = settings.model_copy(update={"dataset": dataset})
    if not settings.project:
        raise click.UsageError(
            "migrate needs a project: set GOOGLE_CLOUD_PROJECT or IL_BQ_LOGS_PROJECT"
        )
    click.echo(
        f"{'dry run: ' if dry_run else ''}migrating {settings.project}.{settings.dataset} "
        "from il-audit 0.1.3"
    )
    report = migrate_from_0_1(
        settings,
        dry_run=dry_run,
        force=force,
        active_minutes=active_minutes,
        progress=lambda item: click.echo(item.line()),
    )
    click.echo(f"\n{report.summary()}")
    if not report.ok:
        raise SystemExit(1)
