"""``il-audit subscriber pull``: the subscriber as a batched streaming-pull worker;
``subscriber seek``: redeliver what a bad subscriber deploy acknowledged."""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from typing import Any

import click

from il_audit.cli._options import dry_run_option, format_option


def _default_health_host() -> str:
    from il_audit.subscriber_fn.health import default_host

    return default_host(os.environ)


@click.group()
def subscriber() -> None:
    """The subscriber outside Cloud Functions (a streaming-pull worker), and redelivery."""


@subscriber.command("pull")
@click.option(
    "--subscription",
    required=True,
    envvar="IL_AUDIT_SUBSCRIPTION",
    help="Pull subscription on the events topic: an id (project from GOOGLE_CLOUD_PROJECT / "
    "IL_BQ_LOGS_PROJECT) or projects/P/subscriptions/S (env IL_AUDIT_SUBSCRIPTION).",
)
@click.option(
    "--max-batch-rows",
    type=click.IntRange(1, 100_000),
    default=5000,
    envvar="IL_AUDIT_PULL_MAX_BATCH_ROWS",
    help="A batch is written once it holds this many events (env IL_AUDIT_PULL_MAX_BATCH_ROWS).",
)
@click.option(
    "--max-batch-seconds",
    type=click.FloatRange(0, 600),
    default=0.5,
    envvar="IL_AUDIT_PULL_MAX_BATCH_SECONDS",
    help="... or this long after its first message (env IL_AUDIT_PULL_MAX_BATCH_SECONDS).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    envvar="IL_AUDIT_PULL_WORKERS",
    help="Worker processes, each with its own streaming pull (env IL_AUDIT_PULL_WORKERS).",
)
@click.option(
    "--lease-seconds",
    type=click.IntRange(10, 600),
    default=60,
    envvar="IL_AUDIT_PULL_LEASE_SECONDS",
    help="Longest lease extension: a dead worker's messages return after at most this "
    "(env IL_AUDIT_PULL_LEASE_SECONDS).",
)
@click.option(
    "--health-port",
    type=click.IntRange(0, 65535),
    default=8080,
    envvar="PORT",
    help="Port of /livez and /readyz; 0 picks a free one, printed at start (env PORT).",
)
@click.option(
    "--health-host",
    default=_default_health_host,
    show_default="0.0.0.0 when K_SERVICE is set, else 127.0.0.1",
    envvar="IL_AUDIT_HEALTH_HOST",
    help="Address of the health endpoint (env IL_AUDIT_HEALTH_HOST).",
)
@click.option("--no-health", is_flag=True, hidden=True, help="No health endpoint (child workers).")
def pull(
    subscription: str,
    max_batch_rows: int,
    max_batch_seconds: float,
    workers: int,
    lease_seconds: int,
    health_port: int,
    health_host: str,
    no_health: bool,
) -> None:
    """Validate, price and store events pulled from SUBSCRIPTION, in batched writes.

    Messages are acked once their rows are written (or dead-lettered), and nacked
    for redelivery when the warehouse fails for now. SIGTERM or SIGINT stops
    gracefully: the open batch is written and acked first. The sink is the
    subscriber's (IL_AUDIT_SINK: BigQuery, or DuckDB at IL_AUDIT_DUCKDB_PATH).

    \b
    Examples:
      il-audit subscriber pull --subscription il-audit-events-pull
      il-audit subscriber pull --subscription il-audit-events-pull --workers 2 --health-port 0
    """
    from il_audit.config.settings import get_audit_settings
    from il_audit.subscriber_fn.errors import PullConfigError, SubscriberError
    from il_audit.subscriber_fn.pull_runner import run_worker, run_workers
    from il_audit.subscriber_fn.pull_worker import PullSettings, subscription_path

    settings = get_audit_settings(strict=True)
    echo = _echo
    port = None if no_health else health_port
    try:
        path = subscription_path(subscription, settings.project)
        _check_subscription(path)
        if workers > 1:
            child_args = [
                "--subscription", path,
                "--max-batch-rows", str(max_batch_rows),
                "--max-batch-seconds", str(max_batch_seconds),
                "--lease-seconds", str(lease_seconds),
                "--no-health",
            ]  # fmt: skip
            code = run_workers(
                workers, child_args, health_host=health_host, health_port=port, echo=echo
            )
        else:
            pull_settings = PullSettings(
                path,
                max_batch_rows=max_batch_rows,
                max_batch_seconds=max_batch_seconds,
                lease_seconds=lease_seconds,
            )
            code = run_worker(
                settings, pull_settings, health_host=health_host, health_port=port, echo=echo
            )
    except PullConfigError as exc:
        raise click.UsageError(str(exc)) from exc
    except SubscriberError as exc:
        raise click.ClickException(str(exc)) from exc
    raise SystemExit(code)


def _check_subscription(path: str) -> None:
    """Before starting: the subscription answers within a deadline (the streaming pull
    itself retries an unreachable address forever, silently)."""
    from google.api_core import exceptions as core_exceptions

    from il_audit.subscriber_fn.pull_client import subscriber_client

    client = subscriber_client()
    try:
        client.get_subscription(subscription=path, timeout=10, retry=None)
    except core_exceptions.PermissionDenied:
        pass  # roles/pubsub.subscriber may consume but not get: the pull itself will tell
    except core_exceptions.NotFound as exc:
        raise click.ClickException(
            f"no subscription {path}: create it with `il-audit infra apply`"
        ) from exc
    finally:
        client.close()


def _echo(text: str) -> None:
    # stdout may be a pipe (a platform's log collector): say it now, not at exit.
    click.echo(text)
    sys.stdout.flush()


def _time(_ctx: click.Context, _param: click.Parameter, value: str) -> datetime:
    """ISO 8601 (``2026-12-06T14:30:00Z``, ``2026-12-06 14:30``, a date); UTC unless it says."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(
            f"{value!r} is not a time: give ISO 8601, e.g. 2026-12-06T14:30:00Z"
        ) from exc
    parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    if parsed > datetime.now(UTC):
        raise click.BadParameter(
            f"{value} is in the future: a seek there would acknowledge every message before it"
        )
    return parsed


@subscriber.command("seek", epilog="Exit codes: 0 done (or dry run), 1 Pub/Sub refused, failed "
                    "or did not answer, 2 bad usage or configuration.")  # fmt: skip
@click.option(
    "--to",
    "to",
    required=True,
    callback=_time,
    metavar="TIME",
    help="Redeliver what was published at or after this time (ISO 8601; UTC unless it says).",
)
@click.option(
    "--subscription",
    default=None,
    envvar="IL_AUDIT_SUBSCRIPTION",
    help="The subscription to seek (id or projects/P/subscriptions/S); default TOPIC-sub, the "
    "one feeding the function (env IL_AUDIT_SUBSCRIPTION).",
)
@dry_run_option("Print the subscription, time and retention; seek not")
@click.option(
    "--timeout",
    type=click.FloatRange(1, 600),
    default=30.0,
    show_default=True,
    envvar="IL_AUDIT_SEEK_TIMEOUT",
    help="Seconds each Pub/Sub request may take (env IL_AUDIT_SEEK_TIMEOUT).",
)
@format_option("IL_AUDIT_SEEK_FORMAT")
def seek(to: datetime, subscription: str | None, dry_run: bool, timeout: float, fmt: str) -> None:
    """Seek the subscription back to TIME: Pub/Sub redelivers every message published since.

    Use it after a bad subscriber deploy acknowledged events it did not store. It
    reaches back as far as the topic's message retention (Terraform sets 7 days:
    topic_message_retention_seconds). Pub/Sub cannot count what a seek redelivers;
    events already stored come again and are deduplicated by event_id.

    \b
    Examples:
      il-audit subscriber seek --to 2026-12-06T14:30:00Z --dry-run
      il-audit subscriber seek --to 2026-12-06T14:30:00Z --subscription il-audit-events-pull
    """
    from il_audit.cli.errors import pubsub_errors
    from il_audit.config.settings import get_audit_settings
    from il_audit.operations.pubsub_resources import pubsub_address
    from il_audit.operations.seek import plan_seek
    from il_audit.operations.seek import seek as run_seek
    from il_audit.schemas.wire import SUBSCRIPTION_SUFFIX
    from il_audit.subscriber_fn.errors import PullConfigError
    from il_audit.subscriber_fn.pull_worker import subscription_path

    settings = get_audit_settings(strict=True)
    try:
        path = subscription_path(
            subscription or f"{settings.topic}{SUBSCRIPTION_SUFFIX}", settings.project
        )
    except PullConfigError as exc:
        raise click.UsageError(str(exc)) from exc
    with pubsub_errors(pubsub_address(), timeout):
        from google.cloud import pubsub_v1  # type: ignore[attr-defined]

        from il_audit.subscriber_fn.pull_client import subscriber_client

        client = subscriber_client()
        try:
            plan = plan_seek(client, pubsub_v1.PublisherClient(), path, to, timeout)
            if not dry_run:
                run_seek(client, plan, timeout)
        finally:
            client.close()
    report: dict[str, Any] = {"dry_run": dry_run, "sought": not dry_run, **plan.as_json()}
    if fmt == "json":
        click.echo(json.dumps(report, indent=2))
        return
    retention = report["topic_message_retention_seconds"]
    click.echo(f"subscription     {plan.subscription}")
    click.echo(f"topic            {plan.topic}")
    click.echo(f"to               {report['to']}")
    click.echo(f"topic retention  {_span(retention) if retention else 'none'}")
    if plan.retains_acked:
        kept = _span(report["subscription_message_retention_seconds"])
        click.echo(f"subscription     keeps acknowledged messages for {kept}")
    for warning in plan.warnings():
        click.echo(f"warning: {warning}", err=True)
    click.echo(
        f"{'dry run: would redeliver' if dry_run else 'sought: Pub/Sub redelivers'} every "
        f"kept message published at or after {report['redelivered_after']} (it cannot count "
        "them); events already stored are deduplicated by event_id"
    )


def _span(seconds: int) -> str:
    days, rest = divmod(seconds, 86_400)
    return f"{days} day(s)" if days and not rest else f"{seconds} s"
