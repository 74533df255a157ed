"""Subscriber benchmarks 4-5: the core against bare validation, and freshness through the stack.

4. Core events/s on one core (a child process pinned to one CPU, one
   thread): ``process_message`` (split, validate, taxonomy, price, shape rows)
   on messages of 1 and of 100 envelopes, as a ratio to pydantic's bare
   ``Envelope.model_validate_json`` of the same lines in the same process. Two
   workloads: the benchmark event (``_bench.PROPERTIES`` in ``payload``, as
   ``emit()`` encodes it) and the earlier mix (half of the events with two
   priced usage items). The three variants are interleaved and rotated in
   each repetition.
5. Freshness through the local stack's function path: a producer process
   emits at a steady rate (5,000 events/s, the issue's, and 1,000 events/s as
   a reference below the stack's capacity here) to the official Pub/Sub
   emulator, whose push subscription feeds functions-framework serving
   ``handle_pubsub``, which writes DuckDB; this process polls DuckDB every
   100 ms (as a reader, taking turns with the writer as ``il-audit query``
   does) and takes each event's freshness as the time its row was first seen
   minus the time just before its ``emit()``. Polling adds up to 100 ms. Each
   run has its own topic and push subscription, deleted after it.

    python benchmarks/subscriber_bench.py [--core-events 20000] [--rates 5000,1000] [--seconds 10]
                                          [--reps 3] [--write] [--quick] [--emulator-host H]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench import (
    APP,
    EVENT_TYPE,
    HERE,
    PROJECT,
    PROPERTIES,
    PROPERTIES_BYTES,
    USER_ID,
    Summary,
    add_common_arguments,
    check_arguments,
    emulator,
    facts_line,
    interleaved,
    percentile,
    run_child,
    timed,
)
from _readme import write_section

WORKLOADS = ("event", "mix")
VARIANTS = ("bare", "core_100", "core_1")
POLL_SECONDS = 0.1
GIVE_UP_SECONDS = 60


# ------------------------------------------------------------------ 4: the core


def sample_lines(workload: str, count: int) -> list[bytes]:
    """Envelope lines as ``emit()`` produces them (captured, then serialized compactly)."""
    os.environ["IL_AUDIT_EXTRA_EVENT_TYPES"] = EVENT_TYPE
    from il_audit import AuditContext, emit, taxonomy
    from il_audit.publisher.testing import capture_events
    from il_audit.schemas import taxonomy as T

    taxonomy.register(EVENT_TYPE)
    context = AuditContext(app=APP, actor_uid=USER_ID, request_id="req-1", session_id="s-1")
    with capture_events() as events:
        for index in range(count):
            if workload == "event":
                emit(EVENT_TYPE, context=context, **PROPERTIES)
            elif index % 2:
                emit(
                    T.API_USAGE_RECORDED,
                    context=context,
                    status="succeeded",
                    usage=[
                        {"service": "vertex_gemini", "model_id": "gemini-2.0-flash",
                         "input_tokens": 1200 + index, "output_tokens": 80},
                        {"service": "cloud_run", "model_id": "cpu_second", "quantity": 1.5},
                    ],
                )  # fmt: skip
            else:
                emit(T.INGEST_FILE_INDEXED, context=context, status="ok", resource_id=f"f-{index}")
    return [envelope.model_dump_json(exclude_none=True).encode() for envelope in events]


def core_child(args: argparse.Namespace) -> dict[str, Any]:
    """Runs in a fresh process pinned to one CPU: seconds per pass for each variant."""
    cpus = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpus[-1]})
    from il_audit.schemas import Envelope
    from il_audit.subscriber_fn.core import MessageMeta, process_message
    from il_audit.subscriber_fn.pricing import seed_catalog

    catalog = seed_catalog()
    meta = MessageMeta("m-1", datetime.now(UTC), 1)
    results: dict[str, Any] = {}
    for workload in WORKLOADS:
        lines = sample_lines(workload, args.core_events)
        messages = {
            size: [b"\n".join(lines[i : i + size]) for i in range(0, len(lines), size)]
            for size in (1, 100)
        }

        def bare(lines: list[bytes] = lines) -> None:
            for line in lines:
                Envelope.model_validate_json(line)

        def core(size: int, messages: dict[int, list[bytes]] = messages) -> None:
            now = datetime.now(UTC)
            for message in messages[size]:
                outcome = process_message(message, meta, catalog, now)
                if outcome.rejects:
                    raise RuntimeError(f"the core rejected a line: {outcome.rejects[0]}")

        runs = {"bare": bare, "core_100": lambda: core(100), "core_1": lambda: core(1)}
        for _ in range(2):  # warm up caches and the taxonomy
            for run in runs.values():
                run()
        seconds: dict[str, list[float]] = {name: [] for name in VARIANTS}
        for rep in range(args.reps):
            shift = rep % len(VARIANTS)
            for name in [*VARIANTS[shift:], *VARIANTS[:shift]]:
                start = time.process_time()
                runs[name]()
                seconds[name].append(time.process_time() - start)
        results[workload] = {
            "seconds": seconds,
            "events": len(lines),
            "line_bytes": sum(map(len, lines)) / len(lines),
        }
    results["cpu"] = cpus[-1]
    return results


# ------------------------------------------------------------- 5: freshness


def producer_child(args: argparse.Namespace) -> dict[str, Any]:
    """Emit ``rate`` events/s for ``seconds``; write (event_id, time before emit) per event."""
    os.environ.update(
        {
            "IL_AUDIT_TRANSPORT": "pubsub",
            "GOOGLE_CLOUD_PROJECT": PROJECT,
            "IL_AUDIT_TOPIC": args.topic,
            "IL_AUDIT_EXTRA_EVENT_TYPES": EVENT_TYPE,
            "IL_AUDIT_WRITE_QUEUE_MAX_SIZE": str(args.rate * args.seconds + 1000),
        }
    )
    import il_audit

    context = il_audit.AuditContext(app=APP, actor_uid=USER_ID)
    il_audit.emit(EVENT_TYPE, context=context, warm_up=True)
    il_audit.flush_audit_writer(timeout=30)
    total = args.rate * args.seconds
    tick = 0.01
    per_tick = max(1, round(args.rate * tick))
    sent: list[tuple[str, float]] = []
    clock = time.time
    start = time.monotonic()
    index = 0
    while index < total:
        due = start + (index / args.rate)
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        for _ in range(min(per_tick, total - index)):
            before = clock()
            event_id = il_audit.emit(EVENT_TYPE, context=context, **PROPERTIES)
            sent.append((str(event_id), before))
            index += 1
    achieved = total / (time.monotonic() - start)
    if not il_audit.flush_audit_writer(timeout=120).complete:
        raise RuntimeError(f"the producer could not flush: {il_audit.stats()}")
    Path(args.out).write_text(json.dumps(sent))
    return {"achieved_rate": achieved, "events": total}


def freshness(args: argparse.Namespace) -> dict[int, dict[str, Summary]]:
    """Start the stack once, run the producer ``reps`` times per rate; {rate: summaries}."""
    import subprocess

    from il_audit.devtools.local_stack import PubSubLayout, provision_pubsub, start_function
    from il_audit.subscriber_fn.sinks.duckdb import DuckDBSink

    directory = Path(tempfile.mkdtemp(prefix="il-audit-bench-"))
    database = directory / "fresh.duckdb"
    measures = ("p50_ms", "p99_ms", "max_ms", "rate", "missing")
    summaries = {rate: {name: Summary() for name in measures} for rate in args.rates}
    # Run -1 warms the function up (imports, tables, catalog) and is not recorded.
    runs = [(-1, 100), *((rep, rate) for rep, rate in interleaved(args.rates, args.reps))]
    with emulator(args.emulator_host):
        server = start_function(
            {
                "GOOGLE_CLOUD_PROJECT": PROJECT,
                "IL_AUDIT_DLQ_TOPIC": "fresh-dlq",
                "IL_AUDIT_SINK": "duckdb",
                "IL_AUDIT_DUCKDB_PATH": str(database),
                "IL_AUDIT_EXTRA_EVENT_TYPES": EVENT_TYPE,
            }
        )
        try:
            reader = DuckDBSink(database)
            last_rowid = -1
            for number, (rep, rate) in enumerate(runs):
                seconds = 1 if rep < 0 else args.seconds
                # Each run has its own topic and push subscription, deleted afterwards, so that
                # redeliveries of an overloaded run never reach the function during the next.
                layout = PubSubLayout.for_topic(
                    PROJECT, f"fresh-{os.getpid()}-{number}", "fresh-dlq"
                )
                provision_pubsub(layout, server.url)
                out = directory / f"sent-{number}.json"
                argv = [str(Path(__file__).resolve()), "--child", "producer", "--topic",
                        layout.topic, "--out", str(out), "--rate", str(rate),
                        "--seconds", str(seconds)]  # fmt: skip
                producer = subprocess.Popen(
                    [sys.executable, *argv],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    env={**os.environ, "PYTHONPATH": str(HERE.parent)},
                )
                seen: dict[str, float] = {}
                expected = rate * seconds + 1  # + the producer's own warm-up event
                deadline = None
                while len(seen) < expected:
                    time.sleep(POLL_SECONDS)
                    if database.exists():
                        last_rowid = _poll(reader, last_rowid, seen)
                    if deadline is None and producer.poll() is not None:
                        deadline = time.monotonic() + GIVE_UP_SECONDS
                    if deadline is not None and time.monotonic() > deadline:
                        break
                stdout, stderr = producer.communicate(timeout=120)
                _delete_subscription(layout)
                if number < len(runs) - 1:  # let the function finish before the next run
                    last_rowid = _settle(reader, last_rowid, {})
                if producer.returncode != 0:
                    raise RuntimeError(f"the producer failed:\n{stderr[-3000:]}")
                produced = json.loads(stdout.strip().splitlines()[-1])
                sent = json.loads(out.read_text())
                missing = sum(1 for event_id, _ in sent if event_id not in seen)
                if rep < 0 and missing:
                    raise RuntimeError(f"{missing} of {len(sent)} warm-up events never arrived")
                if rep < 0:
                    continue
                # An event not seen GIVE_UP_SECONDS after the producer ended counts as infinitely
                # late: the stack fell behind (the percentiles then say so).
                ages = sorted(
                    (seen[event_id] - before) * 1000 if event_id in seen else math.inf
                    for event_id, before in sent
                )
                summary = summaries[rate]
                summary["p50_ms"].values.append(percentile(ages, 0.50))
                summary["p99_ms"].values.append(percentile(ages, 0.99))
                summary["max_ms"].values.append(ages[-1])
                summary["rate"].values.append(produced["achieved_rate"])
                summary["missing"].values.append(float(missing))
        finally:
            server.stop()
    return summaries


def _delete_subscription(layout: Any) -> None:
    from google.cloud import pubsub_v1

    subscriber = pubsub_v1.SubscriberClient()
    try:
        subscriber.delete_subscription(
            subscription=subscriber.subscription_path(layout.project, layout.subscription)
        )
    finally:
        subscriber.close()


def _settle(reader: Any, last_rowid: int, seen: dict[str, float]) -> int:
    """Wait (at most 120 s) until no new row has appeared for 3 s: no backlog for the next run."""
    quiet_since = time.monotonic()
    deadline = quiet_since + 120
    while time.monotonic() - quiet_since < 3 and time.monotonic() < deadline:
        time.sleep(0.5)
        newest = _poll(reader, last_rowid, seen)
        if newest != last_rowid:
            last_rowid, quiet_since = newest, time.monotonic()
    return last_rowid


def _poll(reader: Any, last_rowid: int, seen: dict[str, float]) -> int:
    """Record the first time each new row is readable; returns the highest rowid seen."""
    import duckdb

    try:
        with reader.file.connect(read_only=True) as connection:
            rows = connection.execute(
                "SELECT rowid, event_id FROM events WHERE rowid > ? ORDER BY rowid", [last_rowid]
            ).fetchall()
    except (duckdb.Error, OSError, RuntimeError):
        return last_rowid  # not created yet, or busy past the lock timeout
    now = time.time()
    for _, event_id in rows:
        seen.setdefault(event_id, now)
    return int(rows[-1][0]) if rows else last_rowid


# ---------------------------------------------------------------------- tables


def tables(
    core: dict[str, Any], fresh: dict[int, dict[str, Summary]], args: argparse.Namespace
) -> str:
    out = [
        facts_line(
            f"{args.reps} interleaved repetitions (median, min–max). Core: one process pinned to "
            f"one CPU, {args.core_events:,} envelopes per pass, CPU time of each pass."
        ),
        "",
        "**4. Subscriber core on one core**, as a ratio to bare `Envelope.model_validate_json` "
        "of the same lines in the same process.",
        "",
        "| workload | variant | events/s | ratio to bare validation |",
        "|---|---|---|---|",
    ]
    labels = {
        "event": f"the benchmark event ({PROPERTIES_BYTES} B of properties in `payload`; "
        f"lines of {core['event']['line_bytes']:.0f} B)",
        "mix": "the earlier mix (half with two priced usage items; "
        f"lines of {core['mix']['line_bytes']:.0f} B)",
    }
    variant_labels = {
        "bare": "bare `model_validate_json` (floor)",
        "core_100": "core, messages of 100 envelopes",
        "core_1": "core, messages of 1 envelope",
    }
    ratios = {}
    for workload in WORKLOADS:
        data = core[workload]
        rates = {
            name: Summary([data["events"] / s for s in data["seconds"][name]]) for name in VARIANTS
        }
        for name in VARIANTS:
            pairs = zip(data["seconds"]["bare"], data["seconds"][name], strict=True)
            paired = Summary([bare_s / s for bare_s, s in pairs])
            ratios[(workload, name)] = paired.median
            out.append(
                f"| {labels[workload]} | {variant_labels[name]} | {rates[name].show('{:,.0f}')} "
                f"| {paired.show('{:.2f}')} |"
            )
    worst = min(ratios[(w, v)] for w in WORKLOADS for v in ("core_1", "core_100"))
    out += [
        "",
        "Ratios are per repetition (core and bare timed back to back), then the median. "
        f"Target (issue 14): ≥ 0.5× bare validation: {'met' if worst >= 0.5 else '**not met**'} "
        f"(lowest {worst:.2f}).",
        "",
        "**5. Freshness through the local stack** (emit → official emulator → push → "
        "functions-framework → DuckDB), from just before `emit()` until a reader polling every "
        f"{POLL_SECONDS * 1000:.0f} ms first sees the row (polling adds up to that much); "
        f"{args.seconds} s of the benchmark event at a steady rate per repetition, after a "
        "warm-up run.",
        "",
        "| target rate | rate achieved | freshness p50 | freshness p99 | freshness max "
        f"| events not seen {GIVE_UP_SECONDS} s after the last emit |",
        "|---|---|---|---|---|---|",
    ]
    for rate, summary in fresh.items():
        out.append(
            f"| {rate:,} events/s | {summary['rate'].show('{:,.0f}')} "
            f"| {summary['p50_ms'].show('{:,.0f}', ' ms')} "
            f"| {summary['p99_ms'].show('{:,.0f}', ' ms')} "
            f"| {summary['max_ms'].show('{:,.0f}', ' ms')} "
            f"| {summary['missing'].show('{:,.0f}')} |"
        )
    out += [
        "",
        f"`inf` is an event not seen {GIVE_UP_SECONDS} s after the producer's last `emit()`: "
        "the stack had fallen behind by more than that.",
    ]
    target = fresh.get(5_000)
    if target is not None:
        met = target["p99_ms"].median <= 1000
        out += ["", f"Target: p99 ≤ 1 s at 5,000 events/s: {'met' if met else '**not met**'}."]
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--core-events", type=int, default=20_000)
    parser.add_argument(
        "--rates",
        type=lambda text: [int(rate) for rate in text.split(",")],
        default=[5_000, 1_000],
        help="events/s for freshness, comma-separated (5,000 is the target's; 1,000 is a "
        "reference below the stack's capacity)",
    )
    parser.add_argument("--rate", type=int, default=5_000, help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=int, default=10, help="seconds per freshness run")
    parser.add_argument("--child", choices=["core", "producer"], help=argparse.SUPPRESS)
    parser.add_argument("--topic", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    add_common_arguments(parser)
    args = parser.parse_args()
    if args.child == "core":
        print(json.dumps(core_child(args)))
        return
    if args.child == "producer":
        print(json.dumps(producer_child(args)), flush=True)
        os._exit(0)
    check_arguments(args)
    if args.quick:
        args.core_events, args.rates, args.seconds = 500, [1_000], 1
    core = timed("subscriber core (4)")(run_child)(
        [str(Path(__file__).resolve()), "--child", "core", "--reps", str(args.reps),
         "--core-events", str(args.core_events)]
    )  # fmt: skip
    fresh = timed("freshness (5)")(freshness)(args)
    text = tables(core, fresh, args)
    print(text)
    if args.write:
        write_section("subscriber", text)


if __name__ == "__main__":
    main()
