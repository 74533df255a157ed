"""``il-audit erase``: erase one person's personal data from the warehouse, and record it."""

from __future__ import annotations

import contextlib
import getpass
import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from il_audit.cli._database import one_warehouse, require_database, warehouse_options
from il_audit.cli._options import dry_run_option, format_option
from il_audit.cli._output import render
from il_audit.cli.errors import BadSettingsError, JobFailedError, bigquery_errors

if TYPE_CHECKING:
    from il_audit.operations.erase import ErasureReport
    from il_audit.operations.erase_store import ErasureStore


def default_operator() -> str:
    """Who runs the command when ``--operator`` is not given: the local account name."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no USER/LOGNAME and no passwd entry (a bare container)
        return "unknown"


@click.command()
@click.option("--actor-uid", help="The person's actor_uid.")
@click.option("--actor-email", help="The person's e-mail address (case does not matter).")
@dry_run_option("Count the rows per table and view; change nothing")
@click.option("--reason", help="Why (a ticket, a request id); recorded in the erasure event.")
@click.option("--yes", is_flag=True, help="Confirm the real run (never read from the environment).")
@click.option(
    "--operator",
    envvar="IL_AUDIT_OPERATOR",
    default=default_operator,
    show_default="the login name",
    help="Who runs it, recorded in the erasure event (env IL_AUDIT_OPERATOR).",
)
@warehouse_options(
    action="Erase in",
    bigquery_env="IL_AUDIT_ERASE_BIGQUERY",
    timeout=30.0,
    timeout_env="IL_AUDIT_QUERY_TIMEOUT",
    timeout_help="Seconds to wait while an app holds the embedded file, or to retry while "
    "BigQuery does not answer",
)
@format_option("IL_AUDIT_ERASE_FORMAT")
@click.pass_context
def erase(
    ctx: click.Context,
    actor_uid: str | None,
    actor_email: str | None,
    dry_run: bool,
    reason: str | None,
    yes: bool,
    operator: str,
    database: Path,
    bigquery: bool,
    timeout: float,
    fmt: str,
) -> None:
    """Erase one person's personal data from every table, and record that it was done.

    Finds the person's rows (as actor, or as reporter, owner... by uid or e-mail) in
    events, dead_letters and every legacy_* table, plus the actor-less texts of their
    chat turns, and applies the personal-data inventory: e-mails and texts NULL,
    actor_uid becomes erased:<erasure id>, free-form JSON loses its personal keys.
    Event ids, types, times, apps, statuses and costs stay. An audit.erasure.completed
    event records the operator, the reason, the counts and a keyed hash of the person
    (IL_AUDIT_HASH_KEY), never the person. The embedded file is rewritten afterwards.
    See docs/erasure.md for what it cannot find and where copies remain.

    Exit codes: 0 done (or dry run); 1 rows left to change (BigQuery's streaming buffer:
    re-run after ~90 minutes) or the work failed; 2 bad usage or configuration.

    \b
    Examples:
      il-audit erase --actor-uid u-123 --dry-run
      il-audit erase --actor-uid u-123 --reason "GDPR request 42" --yes
      il-audit erase --actor-email ann@example.com --bigquery --yes --format json
    """
    from il_audit.config.settings import get_audit_settings
    from il_audit.operations.erase import RERUN_AFTER
    from il_audit.operations.erase import erase as run_erase
    from il_audit.operations.erase_subject import Subject, recognising_pseudonym
    from il_audit.operations.errors import ErasureError

    try:
        subject = Subject.of(uid=actor_uid, email=actor_email)
    except ErasureError as exc:
        raise click.UsageError(str(exc)) from exc
    if not dry_run and not yes:
        raise click.UsageError(
            "the real run changes rows for good: add --yes (or --dry-run to only count)"
        )
    settings = get_audit_settings(strict=True)
    key = settings.hash_key.get_secret_value() if settings.hash_key else None
    if not key:
        raise BadSettingsError(
            "set IL_AUDIT_HASH_KEY: the erasure record names its subject only by a keyed hash"
        )
    subject = recognising_pseudonym(subject, key, settings.hash_key_id)
    one_warehouse(ctx, bigquery)
    store: ErasureStore
    if bigquery:
        from il_audit.operations.erase_bigquery import BigQueryErasureStore

        if not settings.project and not settings.bq_api_endpoint:
            raise click.UsageError(
                "--bigquery needs a project: set IL_BQ_LOGS_PROJECT or GOOGLE_CLOUD_PROJECT"
            )
        store = BigQueryErasureStore.from_settings(settings, timeout=timeout)
    else:
        from il_audit.operations.erase_duckdb import DuckDBErasureStore

        require_database(database, "pass --database, or --bigquery to erase in BigQuery")
        store = DuckDBErasureStore(database, timeout=timeout, read_only=dry_run)
    engine = "bigquery" if bigquery else "duckdb"
    guard = bigquery_errors(store.description, timeout) if bigquery else contextlib.nullcontext()
    try:
        with guard:
            report = run_erase(
                store,
                subject,
                hash_key=key,
                engine=engine,
                dry_run=dry_run,
                operator=operator,
                reason=reason,
                environment=settings.audit_environment,
            )
    except ErasureError as exc:
        raise JobFailedError(str(exc)) from exc
    click.echo(_render(report, fmt))
    if report.pending:
        raise JobFailedError(
            f"{report.pending} rows could not be changed yet (streaming buffer): {RERUN_AFTER}"
        )


def _render(report: ErasureReport, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(report.to_json(), indent=2)
    rows: list[tuple[str, str, int, int | None, int | None]] = [
        (name, "table", outcome.rows, outcome.changed, outcome.pending)
        for name, outcome in report.tables.items()
    ]
    rows += [(name, "view", count, None, None) for name, count in report.views.items()]
    what = "dry run: nothing changed" if report.dry_run else f"erasure {report.erasure_id}"
    lines = [
        f"{what} in {report.engine}",
        f"subject: {report.subject_kind} with keyed hash {report.subject_hash}",
        f"pseudonym: {report.pseudonym}",
        render(["relation", "kind", "rows", "changed", "pending"], rows, "table"),
        *report.notes,
        "copies that remain elsewhere:",
        *(f"  - {copy}" for copy in report.copies_remain),
    ]
    return "\n".join(lines)
