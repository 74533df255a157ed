"""Publisher benchmark: il-audit ``emit()`` against ``PublisherClient.publish()``, one run.

Measures, against the official Pub/Sub emulator started here on a free port:

1. caller-thread cost per call (p50, p99) of ``emit()`` and of a direct
   ``PublisherClient.publish()`` of the same envelope;
2. sustained events/s until everything is confirmed: il-audit (NDJSON packing,
   100 events per message) against a direct one-event-per-message publisher;
3. peak RSS of a fresh process that emits 100k events and flushes.

Both sides run in the same process and the same minute; the machine is shared
and noisy, so compare the ratios rather than the absolute figures.

    python benchmarks/publisher_bench.py [--events 100000] [--calls 20000] [--write]

``--write`` replaces the results table in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

from _readme import write_section  # noqa: E402
from google.cloud import pubsub_v1  # noqa: E402

from il_audit.config.settings import AuditSettings  # noqa: E402
from il_audit.devtools import pubsub_emulator  # noqa: E402
from il_audit.publisher import AuditContext, AuditPublisher, emit, set_publisher  # noqa: E402
from il_audit.schemas import taxonomy as T  # noqa: E402

PROJECT = "il-audit-bench"
CTX = AuditContext(app="bench", actor_uid="user-1", request_id="req-1")
FIELDS: dict[str, Any] = {"status": "succeeded", "action": "login", "surface": "main_nav"}


def make_topic(name: str) -> str:
    client = pubsub_v1.PublisherClient()
    path = client.topic_path(PROJECT, name)
    client.create_topic(name=path)
    return name


def settings(topic: str, **overrides: Any) -> AuditSettings:
    base = AuditSettings.from_env({})
    values = {**base.model_dump(), "transport": "pubsub", "project": PROJECT, "topic": topic}
    return AuditSettings.model_validate({**values, **overrides})


def percentiles(samples_ns: list[int]) -> tuple[float, float]:
    ordered = sorted(samples_ns)
    p50 = ordered[len(ordered) // 2] / 1000
    p99 = ordered[int(len(ordered) * 0.99)] / 1000
    return p50, p99


def sample_envelope() -> bytes:
    return json.dumps(
        {
            "schema_version": 1,
            "event_id": "01a21e5d-8189-74d8-a807-efdce4e37d49",
            "event_type": T.AUTH_LOGIN_SUCCEEDED,
            "occurred_at": "2026-11-27T12:00:00.000000Z",
            "app": "bench",
            "actor_uid": "user-1",
            "request_id": "req-1",
            "status": "succeeded",
            "action": "login",
            "payload": {"surface": "main_nav"},
        }
    ).encode()


def emit_samples(calls: int, **overrides: Any) -> list[int]:
    """Nanoseconds per module-level emit() call, with the publisher settings ``overrides``."""
    publisher = AuditPublisher(
        settings(
            make_topic(f"caller-emit-{len(overrides)}"), write_queue_max_size=calls * 2, **overrides
        )
    )
    set_publisher(publisher)  # measure the module-level emit() that apps call
    emit(T.AUTH_LOGIN_SUCCEEDED, context=CTX, **FIELDS)  # warm up: thread, client
    publisher.flush(30)
    clock = time.perf_counter_ns
    samples = []
    for _ in range(calls):
        start = clock()
        emit(T.AUTH_LOGIN_SUCCEEDED, context=CTX, **FIELDS)
        samples.append(clock() - start)
    assert publisher.flush(120)
    publisher.shutdown(10)
    set_publisher(None)
    return samples


def caller_cost(calls: int) -> dict[str, tuple[float, float]]:
    """Per-call latency on the calling thread, in microseconds (with and without a spool)."""
    with tempfile.TemporaryDirectory() as spool:
        with_spool = emit_samples(calls, spool_dir=spool)
    plain = emit_samples(calls)
    clock = time.perf_counter_ns

    client = pubsub_v1.PublisherClient()
    topic = client.topic_path(PROJECT, make_topic("caller-direct"))
    data = sample_envelope()
    client.publish(topic, data).result()
    direct_samples = []
    futures = []
    for _ in range(calls):
        start = clock()
        futures.append(client.publish(topic, data, app="bench"))
        direct_samples.append(clock() - start)
    for future in futures:
        future.result()
    return {
        "emit": percentiles(plain),
        "emit_spool": percentiles(with_spool),
        "direct": percentiles(direct_samples),
    }


def throughput(events: int) -> dict[str, float]:
    """Events per second from the first call until every publish is confirmed."""
    publisher = AuditPublisher(settings(make_topic("tp-emit"), write_queue_max_size=events + 1))
    publisher.emit(T.AUTH_LOGIN_SUCCEEDED, context=CTX, **FIELDS)
    publisher.flush(30)
    start = time.perf_counter()
    for _ in range(events):
        publisher.emit(T.AUTH_LOGIN_SUCCEEDED, context=CTX, **FIELDS)
    assert publisher.flush(600)
    emit_seconds = time.perf_counter() - start
    stats = publisher.stats()
    assert stats.dropped == 0, stats
    assert stats.published == events + 1, stats
    publisher.shutdown(10)

    client = pubsub_v1.PublisherClient()
    topic = client.topic_path(PROJECT, make_topic("tp-direct"))
    data = sample_envelope()
    client.publish(topic, data).result()
    start = time.perf_counter()
    futures = [client.publish(topic, data, app="bench") for _ in range(events)]
    for future in futures:
        future.result()
    direct_seconds = time.perf_counter() - start
    return {"emit": events / emit_seconds, "direct": events / direct_seconds}


RSS_CHILD = """
import sys, time
sys.path.insert(0, {root!r})
from il_audit.publisher import AuditContext, AuditPublisher
from il_audit.config.settings import AuditSettings
from il_audit.schemas import taxonomy as T
events = {events}
base = AuditSettings.from_env({{}})
s = AuditSettings.model_validate({{**base.model_dump(), "transport": "pubsub",
    "project": {project!r}, "topic": {topic!r}, "write_queue_max_size": {queue}}})
p = AuditPublisher(s)
ctx = AuditContext(app="bench", actor_uid="user-1", request_id="req-1")
def status(key):
    # /proc, not ru_maxrss: on Linux ru_maxrss survives exec and would report
    # the parent benchmark's peak.
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) // 1024
p.emit(T.AUTH_LOGIN_SUCCEEDED, context=ctx, status="ok"); p.flush(30)
baseline = status("VmRSS")
for _ in range(events):
    p.emit(T.AUTH_LOGIN_SUCCEEDED, context=ctx, status="succeeded", action="login",
           surface="main_nav")
assert p.flush(600)
st = p.stats()
assert st.dropped == 0, st
print(baseline, status("VmHWM"))
"""


def peak_rss(events: int, queue: int) -> tuple[int, int]:
    """(RSS after start-up, peak RSS) in MiB of a process emitting ``events``."""
    code = RSS_CHILD.format(
        root=str(ROOT),
        events=events,
        project=PROJECT,
        topic=make_topic(f"rss-{queue}"),
        queue=queue,
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=900
    ).stdout.split()
    return int(output[0]), int(output[1])


def table(results: dict[str, Any], args: argparse.Namespace) -> str:
    cost, rate = results["cost"], results["throughput"]
    rss_full = results["rss_full"]
    rows = [
        "| measure | il-audit `emit()` | direct `PublisherClient.publish()` | ratio |",
        "|---|---|---|---|",
        f"| caller-thread p50 per call | {cost['emit'][0]:.1f} µs | {cost['direct'][0]:.1f} µs "
        f"| {cost['direct'][0] / cost['emit'][0]:.1f}× lower |",
        f"| caller-thread p99 per call | {cost['emit'][1]:.1f} µs | {cost['direct'][1]:.1f} µs "
        f"| {cost['direct'][1] / cost['emit'][1]:.1f}× lower |",
        f"| caller-thread p50 / p99 with `IL_AUDIT_SPOOL_DIR` set | {cost['emit_spool'][0]:.1f} / "
        f"{cost['emit_spool'][1]:.1f} µs | | spool costs the caller nothing |",
        f"| sustained events/s until confirmed ({args.events:,} events) | {rate['emit']:,.0f} "
        f"| {rate['direct']:,.0f} (one event per message) | {rate['emit'] / rate['direct']:.1f}× |",
        f"| peak RSS of a process emitting {args.events:,} events in a tight loop, all queued "
        f"at once, then flushing | {rss_full[1]} MiB (after start-up: {rss_full[0]} MiB) | | |",
    ]
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    header = (
        f"Measured {time.strftime('%Y-%m-%d')} on {machine}, against the official "
        f"Pub/Sub emulator on 127.0.0.1 ({args.calls:,} calls for latency)."
    )
    return header + "\n\n" + "\n".join(rows) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--write", action="store_true", help="update benchmarks/README.md")
    args = parser.parse_args()
    emulator = pubsub_emulator.start()
    os.environ["PUBSUB_EMULATOR_HOST"] = emulator.host
    try:
        results = {
            "cost": caller_cost(args.calls),
            "throughput": throughput(args.events),
            "rss_full": peak_rss(args.events, args.events + 1),
        }
    finally:
        emulator.stop()
    text = table(results, args)
    print(text)
    if args.write:
        write_section("publisher", text)


if __name__ == "__main__":
    main()
