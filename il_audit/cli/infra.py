"""``il-audit infra apply``: create or update topics, subscriptions, dataset, tables and views."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def infra() -> None:
    """Provision the pipeline's Pub/Sub and BigQuery resources (idempotent)."""


@infra.command("apply")
@click.option("--dry-run", is_flag=True, help="Print the plan; change nothing.")
@click.option(
    "--pubsub/--no-pubsub",
    default=True,
    envvar="IL_AUDIT_INFRA_PUBSUB",
    help="Provision Pub/Sub (env IL_AUDIT_INFRA_PUBSUB).",
)
@click.option(
    "--bigquery/--no-bigquery",
    default=True,
    envvar="IL_AUDIT_INFRA_BIGQUERY",
    help="Provision BigQuery (env IL_AUDIT_INFRA_BIGQUERY).",
)
@click.option(
    "--subscription",
    default=None,
    envvar="IL_AUDIT_SUBSCRIPTION",
    help="Events subscription id; default TOPIC-sub (env IL_AUDIT_SUBSCRIPTION).",
)
@click.option(
    "--push-endpoint",
    default=None,
    envvar="IL_AUDIT_PUSH_ENDPOINT",
    help="Push to this URL instead of pull (env IL_AUDIT_PUSH_ENDPOINT).",
)
@click.option(
    "--max-delivery-attempts",
    type=click.IntRange(5, 100),
    default=None,
    envvar="IL_AUDIT_MAX_DELIVERY_ATTEMPTS",
    help="Attempts before Pub/Sub dead-letters; default from the settings, 5 "
    "(env IL_AUDIT_MAX_DELIVERY_ATTEMPTS).",
)
@click.option(
    "--min-backoff",
    type=click.IntRange(0, 600),
    default=None,
    envvar="IL_AUDIT_MIN_BACKOFF_SECONDS",
    help="Retry backoff floor, seconds; default from the settings, 10 "
    "(env IL_AUDIT_MIN_BACKOFF_SECONDS).",
)
@click.option(
    "--max-backoff",
    type=click.IntRange(0, 600),
    default=None,
    envvar="IL_AUDIT_MAX_BACKOFF_SECONDS",
    help="Retry backoff ceiling, seconds; default from the settings, 600 "
    "(env IL_AUDIT_MAX_BACKOFF_SECONDS).",
)
def apply_command(
    dry_run: bool,
    pubsub: bool,
    bigquery: bool,
    subscription: str | None,
    push_endpoint: str | None,
    max_delivery_attempts: int | None,
    min_backoff: int | None,
    max_backoff: int | None,
) -> None:
    """Create what is missing and update what differs; a second run changes nothing.

    Project, topics and dataset come from the usual settings (GOOGLE_CLOUD_PROJECT,
    IL_AUDIT_TOPIC, IL_AUDIT_DLQ_TOPIC, IL_BQ_AUDIT_DATASET...). Against the
    emulators set PUBSUB_EMULATOR_HOST and IL_BQ_API_ENDPOINT (`il-audit dev env`).

    \b
    Examples:
      il-audit infra apply --dry-run
      il-audit infra apply --push-endpoint https://REGION-PROJECT.cloudfunctions.net/il-audit
    """
    from il_audit.cli.errors import needs_project
    from il_audit.config.settings import get_audit_settings
    from il_audit.operations.infra import SubscriptionPolicy, apply

    settings = get_audit_settings(strict=True)
    if not settings.project:
        raise needs_project("infra apply")
    policy = SubscriptionPolicy.from_settings(
        settings,
        max_delivery_attempts=max_delivery_attempts,
        min_backoff_seconds=min_backoff,
        max_backoff_seconds=max_backoff,
        push_endpoint=push_endpoint,
    )
    if policy.min_backoff_seconds > policy.max_backoff_seconds:
        raise click.BadParameter("--min-backoff must not exceed --max-backoff")
    try:
        plan = apply(
            settings,
            dry_run=dry_run,
            pubsub=pubsub,
            bigquery=bigquery,
            subscription=subscription,
            policy=policy,
            progress=lambda change: click.echo(change.line()),
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    prefix = "dry run: would apply " if dry_run and plan.changed else ""
    click.echo(f"\n{prefix}{plan.summary()}")


@infra.command("terraform")
@click.option(
    "--module",
    "module",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("infra/terraform"),
    envvar="IL_AUDIT_TERRAFORM_MODULE",
    help="The Terraform module directory (env IL_AUDIT_TERRAFORM_MODULE).",
)
@click.option(
    "--check",
    is_flag=True,
    help="Change nothing; exit 1 if a generated file is missing, differs or is stale.",
)
def terraform_command(module: Path, check: bool) -> None:
    """Write the module's generated files: table schemas, tables.tf, views' SQL, views.tf.

    They are derived from the row models (il_audit.schemas) and the views
    (il_audit/sql), and committed; run this after changing either.

    \b
    Examples:
      il-audit infra terraform                  # or: make generate
      il-audit infra terraform --check          # CI: fail when the module drifted
    """
    from il_audit.operations import terraform

    if check:
        drifted = terraform.drift(module)
        for relative in drifted:
            click.echo(f"! {module / relative}")
        if drifted:
            raise click.ClickException(
                f"{len(drifted)} generated file(s) out of date in {module}: "
                "run `il-audit infra terraform` (make generate)"
            )
        click.echo(f"{module}: generated files up to date")
        return
    changed = terraform.write(module)
    for relative in changed:
        click.echo(f"~ {module / relative}")
    click.echo(
        f"{module}: {len(changed)} generated file(s) written"
        if changed
        else f"{module}: generated files up to date (no changes)"
    )
