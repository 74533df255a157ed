"""Dead-letter replay benchmark: 100k events streamed back, against the publisher, one run.

Two shapes of dead-letter subscription on the official emulator, each holding
N events:

- N single-line rejects, as the subscriber publishes its poison (one event
  per message: the worst case for replay);
- N/100 messages of 100 envelopes, as Pub/Sub dead-letters the publisher's
  packed messages after an outage (the common case for bulk replays).

For each, a fresh process replays everything and reports messages/s and
events/s from the first pull until the last acknowledgement, and its peak RSS
(replay streams in batches, so memory stays flat whatever N is). In the same
run it measures the publisher's sustained events/s (``emit()`` until flushed)
and a direct one-event-per-message ``publish()``, as the bars to compare to.

    python benchmarks/dlq_bench.py [--events 100000] [--write]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

from _readme import write_section  # noqa: E402
from google.cloud import pubsub_v1  # noqa: E402

from il_audit.config.settings import AuditSettings  # noqa: E402
from il_audit.devtools import pubsub_emulator  # noqa: E402
from il_audit.publisher import AuditContext, AuditPublisher  # noqa: E402
from il_audit.schemas import taxonomy as T  # noqa: E402

PROJECT = "il-audit-bench"

REPLAY_CHILD = """
import json, sys, time
sys.path.insert(0, {root!r})
from google.cloud import pubsub_v1
from il_audit.operations.dlq import PubSubSource, replay
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) // 1024
publisher = pubsub_v1.PublisherClient(
    batch_settings=pubsub_v1.types.BatchSettings(max_messages=1000, max_latency=0.02))
topic = publisher.topic_path({project!r}, "replayed")
source = PubSubSource("projects/{project}/subscriptions/{subscription}", lease_seconds=60)
baseline = status("VmRSS")
start = time.perf_counter()
report = replay(source, lambda data, attrs: publisher.publish(topic, data, **attrs), batch=1000)
elapsed = time.perf_counter() - start
print(json.dumps({{"seconds": report.busy_seconds, "wall_seconds": elapsed,
                  "replayed": report.replayed, "failed": report.failed,
                  "events": report.replayed_events,
                  "baseline_mib": baseline, "peak_mib": status("VmHWM")}}))
"""


def fill_dead_letters(name: str, events: int, per_message: int) -> float:
    """Publish ``events`` events into a new dead-letter topic; returns messages/s of doing so."""
    client = pubsub_v1.PublisherClient(
        batch_settings=pubsub_v1.types.BatchSettings(max_messages=1000, max_latency=0.05)
    )
    subscriber = pubsub_v1.SubscriberClient()
    topic = client.topic_path(PROJECT, name)
    client.create_topic(name=topic)
    subscriber.create_subscription(
        request={"name": subscriber.subscription_path(PROJECT, f"{name}-inspect"),
                 "topic": topic, "ack_deadline_seconds": 10}
    )  # fmt: skip
    subscriber.close()
    if per_message == 1:  # the subscriber's own rejects
        attributes = {"app": "ingest", "event_type": "billing.invoice.sent",
                      "il_audit_schema": "1", "il_audit_count": "1",
                      "il_audit_error_class": "unknown_event_type",
                      "il_audit_error_detail": "event_type 'billing.invoice.sent' is unknown",
                      "il_audit_line_index": "0", "il_audit_source_message_id": "1"}  # fmt: skip
    else:  # what Pub/Sub forwards after max_delivery_attempts
        attributes = {
            "app": "ingest",
            "il_audit_schema": "1",
            "il_audit_count": str(per_message),
            "CloudPubSubDeadLetterSourceDeliveryCount": "5",
            "CloudPubSubDeadLetterSourceSubscription": "il-audit-events-push",
        }
    started = time.perf_counter()
    futures = []
    for first in range(0, events, per_message):
        lines = [
            json.dumps({"schema_version": 1, "event_id": f"e-{index:08d}",
                        "event_type": "auth.logout", "app": "ingest",
                        "occurred_at": "2026-11-27T12:00:00Z"})
            for index in range(first, min(first + per_message, events))
        ]  # fmt: skip
        futures.append(client.publish(topic, "\n".join(lines).encode(), **attributes))
    for future in futures:
        future.result()
    return len(futures) / (time.perf_counter() - started)


def replay_in_child(subscription: str) -> dict[str, float]:
    child = subprocess.run(
        [sys.executable, "-c",
         REPLAY_CHILD.format(root=str(ROOT), project=PROJECT, subscription=subscription)],
        capture_output=True, text=True, check=True, timeout=1800,
    )  # fmt: skip
    result: dict[str, float] = json.loads(child.stdout.strip().splitlines()[-1])
    return result


def publisher_rate(events: int) -> float:
    base = AuditSettings.from_env({})
    settings = AuditSettings.model_validate(
        {**base.model_dump(), "transport": "pubsub", "project": PROJECT, "topic": "replayed",
         "write_queue_max_size": events + 1}
    )  # fmt: skip
    publisher = AuditPublisher(settings)
    ctx = AuditContext(app="ingest", actor_uid="u-1")
    publisher.emit(T.AUTH_LOGOUT, context=ctx)
    publisher.flush(30)
    start = time.perf_counter()
    for _ in range(events):
        publisher.emit(T.AUTH_LOGIN_SUCCEEDED, context=ctx, status="succeeded")
    assert publisher.flush(600).complete
    elapsed = time.perf_counter() - start
    publisher.shutdown(10)
    return events / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--write", action="store_true", help="update benchmarks/README.md")
    args = parser.parse_args()
    emulator = pubsub_emulator.start()
    os.environ["PUBSUB_EMULATOR_HOST"] = emulator.host
    results = {}
    try:
        client = pubsub_v1.PublisherClient()
        client.create_topic(name=client.topic_path(PROJECT, "replayed"))
        subscriber = pubsub_v1.SubscriberClient()  # replays are stored, as in production
        subscriber.create_subscription(
            name=subscriber.subscription_path(PROJECT, "replayed-sink"),
            topic=client.topic_path(PROJECT, "replayed"),
        )
        subscriber.close()
        direct_rate = fill_dead_letters("dlq-rejects", args.events, 1)
        results["one event per message (the subscriber's rejects)"] = replay_in_child(
            "dlq-rejects-inspect"
        )
        fill_dead_letters("dlq-packed", args.events, 100)
        results["100 events per message (dead-lettered by Pub/Sub)"] = replay_in_child(
            "dlq-packed-inspect"
        )
        emit_rate = publisher_rate(args.events)
    finally:
        emulator.stop()
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    rows = [
        "| dead-letter subscription | messages/s | events/s | events/s vs `emit()` | peak RSS |",
        "|---|---|---|---|---|",
    ]
    for shape, result in results.items():
        seconds = result["seconds"]
        rows.append(
            f"| {shape}: {int(result['replayed']):,} messages, {int(result['events']):,} events, "
            f"{int(result['failed'])} publish errors | {result['replayed'] / seconds:,.0f} "
            f"| {result['events'] / seconds:,.0f} | {result['events'] / seconds / emit_rate:.2f}x "
            f"| {int(result['peak_mib'])} MiB (start-up {int(result['baseline_mib'])} MiB) |"
        )
    rows.append(
        f"| publisher `emit()`, same run (100 events per message) | | {emit_rate:,.0f} | 1.00x | |"
    )
    rows.append(
        f"| direct `publish()`, one event per message, same run | {direct_rate:,.0f} "
        f"| {direct_rate:,.0f} | {direct_rate / emit_rate:.2f}x | |"
    )
    text = (
        f"Measured {time.strftime('%Y-%m-%d')} on {machine}, official Pub/Sub emulator "
        f"({args.events:,} events per shape).\n\n" + "\n".join(rows) + "\n"
    )
    print(text)
    if args.write:
        write_section("dlq", text)


if __name__ == "__main__":
    main()
