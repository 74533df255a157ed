"""``il-audit demo``: run a synthetic workload and report what was captured."""

from __future__ import annotations

import time
from collections import Counter

import click

from il_audit.config.settings import Transport, get_audit_settings
from il_audit.demo_workload import generate
from il_audit.publisher._transports.memory import MemoryTransport
from il_audit.publisher.client import AuditPublisher


@click.command()
@click.option(
    "--events",
    type=click.IntRange(1, 10_000_000),
    default=2000,
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
def demo(events: int, seed: int) -> None:
    """Emit a realistic synthetic workload (apps, users, logins, ingest jobs with
    Gemini tokens, Cloud Run CPU, chat sessions, UI beacons, a few malformed
    events) through the in-memory transport, then summarise what was published.

    \b
    Example:
      il-audit demo --events 5000
    """
    settings = get_audit_settings().model_copy(
        update={"enabled": True, "transport": Transport.MEMORY, "write_queue_max_size": events + 1}
    )
    transport = MemoryTransport(max_messages=None)
    publisher = AuditPublisher(settings, transport=transport)
    started = time.perf_counter()
    with click.progressbar(generate(events, seed=seed), length=events, label="emitting") as bar:
        for event in bar:
            publisher.submit(event.event_type, event.context, dict(event.fields))
    flushed = publisher.shutdown(timeout=60)
    elapsed = time.perf_counter() - started
    stats = publisher.stats()
    envelopes = transport.envelopes()
    by_type = Counter(envelope.get("event_type") for envelope in envelopes)
    click.echo(f"\n{len(envelopes)} events in {len(transport.messages)} messages, {elapsed:.2f}s")
    click.echo(f"  published={stats.published} invalid={stats.invalid} dropped={stats.dropped}")
    click.echo("\nevents by type:")
    for event_type, count in sorted(by_type.items(), key=lambda item: (-item[1], str(item[0]))):
        click.echo(f"  {event_type:<32} {count:>7}")
    if not flushed or stats.published != events:
        raise click.ClickException("not every event was published")
