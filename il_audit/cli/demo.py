"""``il-audit demo``: a synthetic workload through the embedded pipeline, then a report.

Everything is the real thing: ``emit()`` and the background publisher, the
subscriber's validation, pricing and dead-lettering, the DuckDB sink and the
analytics views; only the transport is in-process instead of Pub/Sub. It ends
with the HTML report of ``il-audit report``, written next to the database.
"""

from __future__ import annotations

import io
import json
import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import click

from il_audit.cli._options import format_option
from il_audit.cli._output import plain, render
from il_audit.config.settings import Transport, get_audit_settings
from il_audit.devtools.demo_workload import generate
from il_audit.publisher.client import AuditPublisher
from il_audit.schemas.taxonomy import AUDIT_PUBLISHER_HEARTBEAT


class Section(NamedTuple):
    """One part of the demo's report: its title (table output) and its query."""

    title: str
    sql: str


# Keyed by the stable snake_case name the JSON output uses; the title is for people.
REPORT_QUERIES: dict[str, Section] = {
    "events_by_type": Section(
        "Events by type (top 12)",
        """
        SELECT event_type, SUM(events) AS events, SUM(actors) AS actor_days
        FROM events_by_type_daily GROUP BY event_type ORDER BY events DESC, event_type LIMIT 12""",
    ),
    "active_users_by_app": Section(
        "Active users by app",
        """
        SELECT app, MAX(active_users) AS peak_daily_users, SUM(events) AS events
        FROM active_users_daily GROUP BY app ORDER BY app""",
    ),
    "cost_by_app_and_pricing_source": Section(
        "Cost by app and pricing source (USD)",
        """
        SELECT app, pricing_source, SUM(priced_events) AS events, SUM(cost_usd) AS cost_usd,
               SUM(partially_priced_events) AS partially_priced, SUM(unpriced_events) AS unpriced
        FROM cost_by_app_daily GROUP BY app, pricing_source ORDER BY app, pricing_source""",
    ),
    "cost_by_model": Section(
        "Cost by model (USD)",
        """
        SELECT service, model_id, pricing_source, SUM(items) AS items,
               SUM(input_tokens) AS input_tokens, SUM(output_tokens) AS output_tokens,
               SUM(quantity) AS quantity, SUM(cost_usd) AS cost_usd,
               SUM(unpriced_items) AS unpriced_items
        FROM cost_by_model_daily GROUP BY service, model_id, pricing_source
        ORDER BY cost_usd DESC NULLS LAST, service, model_id""",
    ),
    "dead_letters_by_reason": Section(
        "Dead letters by reason",
        """
        SELECT error_class, SUM(dead_letters) AS dead_letters, ANY_VALUE(sample_detail) AS sample
        FROM dead_letters_by_reason GROUP BY error_class ORDER BY dead_letters DESC""",
    ),
}


def _spread(index: int, events: int, now: datetime, days: int = 3) -> datetime:
    """Spread the workload evenly over the last ``days`` days (deterministic)."""
    return now - timedelta(seconds=days * 86400 * (events - index) / max(events, 1))


@click.command()
@click.option(
    "--events",
    type=click.IntRange(1, 1_000_000),
    default=5000,
    envvar="IL_AUDIT_DEMO_EVENTS",
    help="How many events to emit (env IL_AUDIT_DEMO_EVENTS).",
)
@click.option(
    "--seed",
    type=int,
    default=7,
    envvar="IL_AUDIT_DEMO_SEED",
    help="Workload seed (env IL_AUDIT_DEMO_SEED).",
)
@click.option(
    "--database",
    type=click.Path(dir_okay=False, path_type=Path),
    default="./il_audit_demo.duckdb",
    envvar="IL_AUDIT_DEMO_DATABASE",
    help="Demo warehouse file, recreated on every run (env IL_AUDIT_DEMO_DATABASE).",
)
@format_option(
    "IL_AUDIT_DEMO_FORMAT", what="Output format of the report (json: for scripts)", json_alias=True
)
def demo(events: int, seed: int, database: Path, fmt: str) -> None:
    """Run a realistic synthetic workload through the embedded pipeline and report on it.

    Several apps and users: logins and failed logins, ingest jobs with Gemini
    token usage and Cloud Run CPU seconds, chat sessions and turns, UI beacon
    events, and a few malformed events, which are dead-lettered with their
    reason. The report is read from the analytics views, and ends with the
    path of the HTML report (`il-audit report`) written beside the database.
    Events are spread over the last three days, so the report's pipeline
    delay shows that backdating, not the pipeline.

    `--format json` prints one object: events, accepted, dead_lettered, dropped, seconds,
    database, html_report and report, whose keys are events_by_type, active_users_by_app,
    cost_by_app_and_pricing_source, cost_by_model and dead_letters_by_reason (each a list
    of rows).

    \b
    Example:
      il-audit demo --events 20000
      il-audit query --database il_audit_demo.duckdb "SELECT * FROM cost_by_model_daily"
    """
    for leftover in (database, database.with_name(database.name + ".wal")):
        leftover.unlink(missing_ok=True)
    logger = logging.getLogger("il_audit")
    level = logger.level
    if logging.getLogger().getEffectiveLevel() >= logging.WARNING:
        # The malformed events are deliberate; the report lists them instead.
        logger.setLevel(logging.ERROR)
    try:
        _run(events, seed, database, fmt)
    finally:
        # Put it back: a caller running the command in-process (a test, a notebook) keeps
        # its own logging.
        logger.setLevel(level)


def _run(events: int, seed: int, database: Path, fmt: str) -> None:
    """The demo's work, with the ``il_audit`` logger already quieted."""
    settings = get_audit_settings(strict=True).model_copy(
        update={
            "enabled": True,
            "transport": Transport.LOCAL,
            "duckdb_path": str(database),
            "write_queue_max_size": events + 1,
            "environment": "demo",
        }
    )
    publisher = AuditPublisher(settings)
    now = datetime.now(UTC)
    started = time.perf_counter()
    for index, event in enumerate(generate(events, seed=seed)):
        publisher.submit(
            event.event_type,
            event.context,
            {**event.fields, "occurred_at": _spread(index, events, now)},
        )
    as_json = fmt == "json"
    _wait_with_progress(publisher, events, quiet=as_json)
    publisher.shutdown(timeout=60)
    elapsed = time.perf_counter() - started
    stats = publisher.stats()
    # accepted counts the publisher's own heartbeat (audit.publisher.heartbeat) too.
    if stats.published != stats.accepted or stats.accepted < events:
        raise click.ClickException(
            f"only {stats.published} of {max(events, stats.accepted)} events were processed "
            f"(failed {stats.failed}, dropped {stats.dropped}); see the log above"
        )
    from il_audit.cli.query import run_query

    sections = {key: run_query(section.sql, database) for key, section in REPORT_QUERIES.items()}
    own = f"SELECT COUNT(*) FROM events WHERE event_type != '{AUDIT_PUBLISHER_HEARTBEAT}'"  # noqa: S608 - a constant
    accepted = run_query(own, database)[1][0][0]
    dead = run_query("SELECT COUNT(*) FROM dead_letters", database)[1][0][0]
    html_report = _write_html_report(database, now)
    if as_json:
        payload: dict[str, Any] = {
            "events": events,
            "accepted": accepted,
            "dead_lettered": dead,
            "dropped": stats.dropped,
            "seconds": round(elapsed, 3),
            "database": str(database),
            "html_report": str(html_report),
            "report": {
                key: [dict(zip(columns, map(plain, row), strict=True)) for row in rows]
                for key, (columns, rows) in sections.items()
            },
        }
        click.echo(json.dumps(payload, indent=2))
        return
    click.echo(
        f"\n{events:,} events in {elapsed:.1f} s ({events / elapsed:,.0f} events/s) -> {database}"
    )
    click.echo(f"accepted {accepted:,}, dead-lettered {dead:,}, dropped {stats.dropped:,}\n")
    for key, (columns, rows) in sections.items():
        click.secho(REPORT_QUERIES[key].title, bold=True)
        click.echo(render(columns, rows, "table"))
        click.echo()
    hint = "SELECT * FROM cost_by_model_daily"
    click.echo(f'Try: il-audit query --database {database} "{hint}"')
    click.echo(f"HTML report: {html_report}")


def html_report_path(database: Path) -> Path:
    """Where the demo writes its HTML report: beside the database, ``.html`` for ``.duckdb``."""
    path = database.with_suffix(".html")
    return path if path != database else database.with_name(database.name + ".report.html")


def _write_html_report(database: Path, now: datetime, days: int = 3) -> Path:
    """``il-audit report`` over the demo's days; returns the absolute path of the page."""
    from il_audit.report import DuckDBWarehouse, Period, build_report, write_report

    period = Period((now - timedelta(days=days)).date(), now.date())
    report = build_report(DuckDBWarehouse(database), period, generated_at=now)
    if report.failed:
        failures = "; ".join(f"{section.title}: {section.error}" for section in report.failed)
        raise click.ClickException(f"the HTML report could not read every section: {failures}")
    return write_report(report, html_report_path(database)).resolve()


def _wait_with_progress(publisher: AuditPublisher, total: int, *, quiet: bool) -> None:
    """Show events processed by the pipeline until all are done."""
    done = 0
    sink = io.StringIO() if quiet else None  # --json: keep stdout machine-readable
    with click.progressbar(length=total, label="processing", file=sink) as bar:
        while done < total:
            stats = publisher.stats()
            current = stats.published + stats.failed
            bar.update(current - done)
            done = current
            if stats.pending == 0 and current < total:
                break  # nothing left in flight: the rest failed; reported by the caller
            time.sleep(0.1)
