"""``il-audit infra apply``: create or update topics, subscriptions, dataset, tables and views."""

from __future__ import annotations

import json
from pathlib import Path

import click

from il_audit.cli._options import dry_run_option, format_option
from il_audit.operations.pubsub_resources import DEFAULT_TIMEOUT, pubsub_address

_APPLY_EPILOG = (
    "Exit codes: 0 applied (or nothing to do), 1 refused (a delivery change without "
    "--allow-delivery-change) or failed (a service refused or did not answer), 2 bad usage "
    "or configuration (no project, a bad setting)."
)


@click.group()
def infra() -> None:
    """Provision the pipeline's Pub/Sub and BigQuery resources (idempotent)."""


@infra.command("apply", epilog=_APPLY_EPILOG)
@dry_run_option("Print the plan; change nothing")
@click.option(
    "--allow-delivery-change",
    is_flag=True,
    help="Apply a change of delivery too: a push endpoint removed (push becomes pull), "
    "added or moved. Without it apply refuses such a plan and changes nothing. Never read "
    "from the environment.",
)
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
@click.option(
    "--timeout",
    type=click.FloatRange(1, 3600),
    default=DEFAULT_TIMEOUT,
    envvar="IL_AUDIT_INFRA_TIMEOUT",
    help="Seconds each Pub/Sub or BigQuery request may take, its retries included "
    "(env IL_AUDIT_INFRA_TIMEOUT).",
)
@format_option("IL_AUDIT_INFRA_FORMAT")
def apply_command(
    dry_run: bool,
    allow_delivery_change: bool,
    pubsub: bool,
    bigquery: bool,
    subscription: str | None,
    push_endpoint: str | None,
    max_delivery_attempts: int | None,
    min_backoff: int | None,
    max_backoff: int | None,
    timeout: float,
    fmt: str,
) -> None:
    """Create what is missing and update what differs; a second run changes nothing.

    An update shows each changed field, before and after
    (`push_endpoint: http://127.0.0.1:8080/ → none (pull)`). A plan that changes
    delivery (a push endpoint removed, added or moved: events would stop reaching
    the function or the pull workers) is refused unless --allow-delivery-change;
    the dry run warns about it. Pass --push-endpoint to keep a push subscription
    pushing; against a `dev up` stack (which provisioned Pub/Sub) use --no-pubsub.

    Project, topics and dataset come from the usual settings (GOOGLE_CLOUD_PROJECT,
    IL_AUDIT_TOPIC, IL_AUDIT_DLQ_TOPIC, IL_BQ_AUDIT_DATASET...). Against the
    emulators set PUBSUB_EMULATOR_HOST and IL_BQ_API_ENDPOINT (`il-audit dev env`).

    \b
    Examples:
      il-audit infra apply --dry-run
      il-audit infra apply --push-endpoint https://REGION-PROJECT.cloudfunctions.net/il-audit
      il-audit infra apply --no-bigquery --format json
    """
    from il_audit.cli.errors import BadSettingsError, JobFailedError, bigquery_errors, pubsub_errors
    from il_audit.config.settings import get_audit_settings
    from il_audit.operations.infra import (
        Change,
        DeliveryChangeRefusedError,
        Plan,
        SubscriptionPolicy,
        apply,
    )

    settings = get_audit_settings(strict=True)
    policy = SubscriptionPolicy.from_settings(
        settings,
        max_delivery_attempts=max_delivery_attempts,
        min_backoff_seconds=min_backoff,
        max_backoff_seconds=max_backoff,
        push_endpoint=push_endpoint,
    )
    if policy.min_backoff_seconds > policy.max_backoff_seconds:
        raise click.BadParameter("--min-backoff must not exceed --max-backoff")
    if not settings.project:
        raise BadSettingsError(
            "infra apply needs a project: set GOOGLE_CLOUD_PROJECT or IL_BQ_LOGS_PROJECT"
        )
    table = fmt == "table"
    pubsub_at = pubsub_address()
    bigquery_at = settings.bq_api_endpoint or "bigquery.googleapis.com"
    plan = Plan()

    def record(change: Change) -> None:
        plan.changes.append(change)
        if table:
            click.echo(change.line())

    # One service at a time, so that a failure names the one that failed.
    steps = [(True, False, pubsub_errors(pubsub_at, timeout))] if pubsub else []
    if bigquery:
        steps.append((False, True, bigquery_errors(bigquery_at, timeout)))
    try:
        for with_pubsub, with_bigquery, errors in steps:
            with errors:
                apply(
                    settings,
                    dry_run=dry_run,
                    pubsub=with_pubsub,
                    bigquery=with_bigquery,
                    subscription=subscription,
                    policy=policy,
                    progress=record,
                    allow_delivery_change=allow_delivery_change,
                    timeout=timeout,
                )
    except DeliveryChangeRefusedError as exc:
        raise JobFailedError(str(exc)) from exc
    warnings = [
        f"{change.delivery_change}: "
        + ("allowed by --allow-delivery-change" if allow_delivery_change else
           "apply refuses this without --allow-delivery-change")
        for change in plan.delivery_changes
    ]  # fmt: skip
    if not table:
        document = {"dry_run": dry_run, **plan.as_json(), "warnings": warnings}
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
        return
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
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
@format_option("IL_AUDIT_INFRA_FORMAT")
def terraform_command(module: Path, check: bool, fmt: str) -> None:
    """Write the module's generated files: table schemas, tables.tf, views' SQL, views.tf.

    They are derived from the row models (il_audit.schemas) and the views
    (il_audit/sql), and committed; run this after changing either. `--format json`:
    module, check, and drifted (with --check) or written: paths relative to the module.

    \b
    Examples:
      il-audit infra terraform                  # or: make generate
      il-audit infra terraform --check          # CI: fail when the module drifted
    """
    from il_audit.operations import terraform

    if check:
        drifted = terraform.drift(module)
        if fmt == "json":
            document = {"module": str(module), "check": True, "drifted": list(map(str, drifted))}
            click.echo(json.dumps(document, indent=2))
            if drifted:
                raise SystemExit(1)
            return
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
    if fmt == "json":
        document = {"module": str(module), "check": False, "written": list(map(str, changed))}
        click.echo(json.dumps(document, indent=2))
        return
    for relative in changed:
        click.echo(f"~ {module / relative}")
    click.echo(
        f"{module}: {len(changed)} generated file(s) written"
        if changed
        else f"{module}: generated files up to date (no changes)"
    )
