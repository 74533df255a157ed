"""``il-audit subscriber pull``: the subscriber as a batched streaming-pull worker."""

from __future__ import annotations

import os
import sys

import click


def _default_health_host() -> str:
    from il_audit.subscriber_fn.health import default_host

    return default_host(os.environ)


@click.group()
def subscriber() -> None:
    """The subscriber outside Cloud Functions: a streaming-pull worker."""


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
