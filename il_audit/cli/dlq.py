"""``il-audit dlq``: inspect, replay and purge the dead-letter subscription."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

import click

from il_audit.cli._dlq_person import person_to_purge, purge_person_letters
from il_audit.cli._options import dry_run_option, format_option, from_settings, shown_default
from il_audit.cli._output import render

if TYPE_CHECKING:
    from il_audit.operations.dlq import PubSubSource, ReplayReport, Selector

F = TypeVar("F", bound=Callable[..., Any])


def _subscription_option(function: F) -> F:
    function = click.option(
        "--pull-timeout",
        type=click.FloatRange(0.1, 60),
        default=2.0,
        show_default=True,
        envvar="IL_AUDIT_DLQ_PULL_TIMEOUT",
        help="Seconds one pull may wait for messages; a run ends after two empty pulls "
        "(env IL_AUDIT_DLQ_PULL_TIMEOUT).",
    )(function)
    function = click.option(
        "--lease-seconds",
        type=click.IntRange(10, 600),
        default=60,
        envvar="IL_AUDIT_DLQ_LEASE_SECONDS",
        help="How long pulled messages stay hidden while this run works; after a crash "
        "they return after this (env IL_AUDIT_DLQ_LEASE_SECONDS).",
    )(function)
    return click.option(
        "--subscription",
        envvar="IL_AUDIT_DLQ_SUBSCRIPTION",
        default=None,
        help="Dead-letter subscription (id or full path); default DLQ_TOPIC-inspect "
        "(env IL_AUDIT_DLQ_SUBSCRIPTION).",
    )(function)


_SELECTION = "il_audit.dlq.selection"


def _select(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """The selection options' one callback: together they set the command's ``selector``.

    Click calls it for each of them, given or not; each call rebuilds the
    selector from the values so far, so after the last one it holds them all.
    """
    from il_audit.operations.dlq import DlqError, Selector

    given: dict[str, Any] = ctx.meta.setdefault(_SELECTION, {})
    given[str(param.name)] = _utc(value) if isinstance(value, datetime) else value
    try:
        ctx.params["selector"] = Selector.parse(**given)
    except DlqError as exc:
        raise click.BadParameter(str(exc)) from exc


def _selector_options(function: F) -> F:
    """``--filter``, ``--error-class``, ``--since``, ``--until``: one ``selector`` parameter."""
    options = [
        click.option(
            "--filter",
            "filters",
            multiple=True,
            metavar="NAME=GLOB",
            expose_value=False,
            callback=_select,
            envvar="IL_AUDIT_DLQ_FILTER",
            help="Attribute filter, e.g. app=ingest, event_type=ui.* (repeatable; env "
            "IL_AUDIT_DLQ_FILTER, space-separated).",
        ),
        click.option(
            "--error-class",
            "error_classes",
            multiple=True,
            expose_value=False,
            callback=_select,
            envvar="IL_AUDIT_DLQ_ERROR_CLASS",
            help="Only this error class, e.g. unknown_event_type or "
            "delivery_exhausted (repeatable; env IL_AUDIT_DLQ_ERROR_CLASS, space-separated).",
        ),
        click.option(
            "--since",
            type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
            default=None,
            expose_value=False,
            callback=_select,
            envvar="IL_AUDIT_DLQ_SINCE",
            help="Only messages dead-lettered at or after (UTC; env IL_AUDIT_DLQ_SINCE).",
        ),
        click.option(
            "--until",
            type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
            default=None,
            expose_value=False,
            callback=_select,
            envvar="IL_AUDIT_DLQ_UNTIL",
            help="Only messages dead-lettered at or before (UTC; env IL_AUDIT_DLQ_UNTIL).",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _limit_option(function: F) -> F:
    return click.option(
        "--limit",
        type=click.IntRange(1),
        default=None,
        envvar="IL_AUDIT_DLQ_LIMIT",
        help="Look at no more than this many messages (env IL_AUDIT_DLQ_LIMIT).",
    )(function)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _source(
    subscription: str | None, lease_seconds: int, pull_timeout: float
) -> closing[PubSubSource]:
    """The dead-letter subscription, closed when the ``with`` block ends."""
    from il_audit.cli.errors import needs_project
    from il_audit.config.settings import get_audit_settings
    from il_audit.operations.dlq import PubSubSource

    settings = get_audit_settings(strict=True)
    if not settings.project and "/" not in (subscription or ""):
        raise needs_project("dlq")
    return closing(
        PubSubSource.from_settings(
            settings,
            subscription,
            lease_seconds=lease_seconds,
            pull_timeout=pull_timeout,
        )
    )


@contextmanager
def _failures() -> Iterator[None]:
    """A dead-letter operation that cannot proceed ends the command with exit code 1."""
    from il_audit.operations.dlq import DlqError

    try:
        yield
    except DlqError as exc:
        raise click.ClickException(str(exc)) from exc


def _progress_stream(fmt: str) -> TextIO | None:
    """Progress goes to stderr when stdout carries JSON."""
    return sys.stderr if fmt == "json" else None


@click.group()
def dlq() -> None:
    """Dead letters: look at them, send them back, or archive and drop them.

    Nothing is acknowledged before it was republished (replay) or archived
    (purge); a killed run leaves messages in the subscription.

    \b
    Examples:
      il-audit dlq inspect
      il-audit dlq replay --error-class delivery_exhausted --dry-run
      il-audit dlq replay --filter app=ingest --revalidate --report replay.json
      il-audit dlq purge --error-class schema_violation --since 2026-11-01 --yes
    """


@dlq.command()
@_subscription_option
@_selector_options
@_limit_option
@format_option("IL_AUDIT_DLQ_FORMAT")
def inspect(
    subscription: str | None,
    lease_seconds: int,
    pull_timeout: float,
    selector: Selector,
    limit: int | None,
    fmt: str,
) -> None:
    """Peek without acknowledging: groups by error class and app, with counts and a sample."""
    from il_audit.operations.dlq import inspect as run_inspect

    with _failures(), _source(subscription, lease_seconds, pull_timeout) as source:
        groups = run_inspect(source, limit=limit or 1000, selector=selector)
    columns = ["error_class", "app", "messages", "events", "first_seen", "last_seen", "sample"]
    rows = [
        (g.error_class, g.app, g.messages, g.events, g.first_seen, g.last_seen, g.sample_detail)
        for g in groups
    ]
    if fmt == "json":
        click.echo(render(columns, rows, "json"))
    elif rows:
        click.echo(render(columns, rows, "table"))
    else:
        click.echo("the dead-letter subscription is empty")


REVALIDATED_LOCALLY = (
    "revalidated against this shell's configuration (its IL_AUDIT_EXTRA_EVENT_TYPES, schema "
    "and cost catalog), not the deployed subscriber's: a message that passes here may be "
    "dead-lettered again"
)


@dlq.command()
@_subscription_option
@_selector_options
@_limit_option
@click.option(
    "--to-topic",
    default=None,
    envvar="IL_AUDIT_REPLAY_TOPIC",
    help="Republish here; default the events topic (env IL_AUDIT_REPLAY_TOPIC).",
)
@dry_run_option("Select and check, publish and acknowledge nothing")
@click.option(
    "--revalidate",
    is_flag=True,
    envvar="IL_AUDIT_DLQ_REVALIDATE",
    help="Check against this shell's schema, taxonomy and catalog first (not the deployed "
    "subscriber's); messages that would fail again are reported and left in place "
    "(env IL_AUDIT_DLQ_REVALIDATE).",
)
@click.option(
    "--max-replays",
    type=click.IntRange(1),
    default=from_settings("dlq_max_replays"),
    show_default=shown_default("dlq_max_replays"),
    envvar="IL_AUDIT_MAX_REPLAYS",
    help="Refuse messages replayed this many times already (env IL_AUDIT_MAX_REPLAYS).",
)
@click.option(
    "--force", is_flag=True, help="Replay past --max-replays (never from the environment)."
)
@click.option(
    "--batch-size",
    type=click.IntRange(1, 1000),
    default=500,
    envvar="IL_AUDIT_DLQ_BATCH_SIZE",
    help="Messages pulled, republished and acknowledged together (env IL_AUDIT_DLQ_BATCH_SIZE).",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    envvar="IL_AUDIT_DLQ_REPORT",
    help="Also write the JSON document of --format json to this file (env IL_AUDIT_DLQ_REPORT).",
)
@format_option("IL_AUDIT_DLQ_FORMAT")
def replay(
    subscription: str | None,
    lease_seconds: int,
    pull_timeout: float,
    selector: Selector,
    limit: int | None,
    to_topic: str | None,
    dry_run: bool,
    revalidate: bool,
    max_replays: int,
    force: bool,
    batch_size: int,
    report_path: Path | None,
    fmt: str,
) -> None:
    """Republish selected dead letters to the events topic, keeping every event_id.

    Adds il_audit_replayed_from and an incremented il_audit_replay_count, and
    acknowledges a message only after its republish is confirmed. Exit code 1
    when any publish failed (those messages stay in the subscription).

    `--format json` prints one object (what --report FILE writes): dry_run, pulled,
    selected, replayed and replayed_events (0 in a dry run), would_replay and
    would_replay_events (0 unless a dry run), skipped_* counts, still_failing,
    publish_errors, dead_lettered_again (replayed messages the subscriber rejected again
    during the run) with their message ids, revalidated and revalidation_note.
    """
    from il_audit.config.settings import get_audit_settings
    from il_audit.operations.dlq import Republisher
    from il_audit.operations.dlq import replay as run_replay

    with (
        _failures(),
        _source(subscription, lease_seconds, pull_timeout) as source,
        closing(Republisher.from_settings(get_audit_settings(strict=True), to_topic)) as publish,
        click.progressbar(
            length=limit or 0, label="replaying", show_pos=True, file=_progress_stream(fmt)
        ) as bar,
    ):
        report = run_replay(
            source,
            publish,
            selector=selector,
            limit=limit,
            cap=max_replays,
            force=force,
            dry_run=dry_run,
            revalidate=revalidate,
            batch=batch_size,
            progress=bar.update,
        )
    document = {
        **report.to_json(),
        "revalidated": revalidate,
        "revalidation_note": REVALIDATED_LOCALLY if revalidate else None,
    }
    if report_path is not None:
        report_path.write_text(json.dumps(document, indent=2) + "\n")
    for error in report.errors[:20]:
        click.echo(f"publish failed: {error}", err=True)
    if fmt == "json":
        click.echo(json.dumps(document, indent=2))
    else:
        _print_replay(report, dry_run=dry_run, revalidate=revalidate, max_replays=max_replays)
    if report.failed:
        raise SystemExit(1)


def _print_replay(
    report: ReplayReport, *, dry_run: bool, revalidate: bool, max_replays: int
) -> None:
    """The replay's outcome for people: message ids labelled as such, never bare numbers."""
    if revalidate:
        click.echo(REVALIDATED_LOCALLY)
    for failing in report.failing[:20]:
        problems = "; ".join(failing["problems"][:3])
        click.echo(f"still failing: message id {failing['message_id']}: {problems}")
    if report.back_again:
        click.echo(
            f"dead-lettered again during this run: {len(report.back_again)} replayed "
            f"message(s) (first: message id {report.back_again[0]}): the subscriber still "
            "rejects them; see `il-audit dlq inspect`"
        )
    if report.capped:
        click.echo(
            f"{len(report.capped)} message(s) reached the replay cap ({max_replays}); "
            "--force replays them anyway"
        )
    click.echo(("dry run: " if dry_run else "") + report.summary())


@dlq.command()
@_subscription_option
@_selector_options
@_limit_option
@click.option(
    "--archive",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    envvar="IL_AUDIT_DLQ_ARCHIVE",
    help="JSONL file to append the purged messages to; default "
    "dlq-archive-YYYYmmddTHHMMSSZ.jsonl in the nearest .il-audit-dev/ (this directory or a "
    "parent; git-ignored: dead letters may hold personal data) (env IL_AUDIT_DLQ_ARCHIVE).",
)
@click.option(
    "--yes",
    is_flag=True,
    help="Really acknowledge (delete) the selected messages (never from the environment).",
)
@dry_run_option("Show what would be purged (inspect)")
@click.option(
    "--actor-uid", help="Purge one person's letters instead (il-audit erase): no archive."
)
@click.option("--actor-email", help="As --actor-uid, by e-mail address.")
@format_option("IL_AUDIT_DLQ_FORMAT")
def purge(
    subscription: str | None,
    lease_seconds: int,
    pull_timeout: float,
    selector: Selector,
    limit: int | None,
    archive: Path | None,
    yes: bool,
    dry_run: bool,
    actor_uid: str | None,
    actor_email: str | None,
    fmt: str,
) -> None:
    """Archive selected dead letters to a JSONL file, then acknowledge them.

    The archive is written and flushed to disk before anything is acknowledged.
    ``--format json`` prints ``pulled``, ``purged``, ``skipped`` and ``archive`` (with
    ``--dry-run``, what ``inspect`` prints).

    With --actor-uid (or --actor-email), see docs/erasure.md: that person's letters are
    acknowledged with no archive; a letter shared with others is first republished to the
    dead-letter topic without the person's lines. JSON: ``pulled``, ``purged``,
    ``redacted``, ``lines_removed``, ``skipped``, ``dry_run``.
    """
    from il_audit.operations.dlq import purge as run_purge

    if actor_uid is not None or actor_email is not None:
        subject = person_to_purge(actor_uid, actor_email, yes=yes, dry_run=dry_run, archive=archive)
        with _failures(), _source(subscription, lease_seconds, pull_timeout) as source:
            purge_person_letters(
                source, subject, selector, limit, dry_run=dry_run, fmt=fmt,
                progress_file=_progress_stream(fmt),
            )  # fmt: skip
        return
    if dry_run or not yes:
        if not dry_run:
            raise click.UsageError("purge deletes messages: add --yes (or preview with --dry-run)")
        if yes:  # a dry run wins over --yes; say so, as IL_AUDIT_DRY_RUN may have set it
            click.echo("dry run (--dry-run or IL_AUDIT_DRY_RUN): nothing is purged", err=True)
        click.get_current_context().invoke(
            inspect,
            subscription=subscription,
            lease_seconds=lease_seconds,
            pull_timeout=pull_timeout,
            selector=selector,
            limit=limit,
            fmt=fmt,
        )
        return
    if archive is None:
        from il_audit.devtools.dev_stack import STATE_DIR, find_state_dir

        state_dir = find_state_dir(Path.cwd()) or Path(STATE_DIR)
        archive = state_dir / f"dlq-archive-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.jsonl"
    with (
        _failures(),
        _source(subscription, lease_seconds, pull_timeout) as source,
        click.progressbar(
            length=limit or 0, label="purging", show_pos=True, file=_progress_stream(fmt)
        ) as bar,
    ):
        report = run_purge(source, archive, selector=selector, limit=limit, progress=bar.update)
    click.echo(
        json.dumps(dataclasses.asdict(report), indent=2) if fmt == "json" else report.summary()
    )
