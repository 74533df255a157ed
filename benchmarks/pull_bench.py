"""Pull-worker benchmarks 6-7: the streaming-pull worker against the function path, into DuckDB.

6. Throughput and client CPU: the same events (the benchmark event, packed
   500 per message and gzipped, as the publisher sends them) are published as fast as the
   client goes to two topics on the official Pub/Sub emulator: one whose push
   subscription feeds functions-framework serving ``handle_pubsub`` (the local
   stack's function path), one with a pull subscription read by
   ``il-audit subscriber pull`` (default batch window). Both write their own
   DuckDB file. Measured from the first publish until a reader polling every
   100 ms sees the last row: events/s, and CPU-seconds of the subscriber's
   process tree (functions-framework, or the worker) per 1,000 events. Also
   recorded: messages per event, bytes of message data per 1M events, and
   function invocations (one per message) or sink writes (one per batch) per
   1M events: the inputs of the cost model. The two paths alternate, the
   order rotating each repetition, after a warm-up run of each.
7. Freshness through the worker: a producer process emits at a steady 5,000
   events/s (``subscriber_bench.py``'s producer) to the worker's topic; the
   freshness of an event is the time its row is first seen by the reader
   minus the time just before its ``emit()`` (polling adds up to 100 ms).

    python benchmarks/pull_bench.py [--events 100000] [--rate 5000] [--seconds 10]
                                    [--reps 3] [--write] [--quick] [--emulator-host H]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench import (
    EVENT_TYPE,
    HERE,
    PROJECT,
    Summary,
    add_common_arguments,
    check_arguments,
    emulator,
    facts_line,
    interleaved,
    percentile,
    timed,
)
from _readme import write_section
from subscriber_bench import _poll, sample_lines

PATHS = ("function", "worker")
LABELS = {
    "function": "function path (push → functions-framework, one message per invocation)",
    "worker": "pull worker (`il-audit subscriber pull`, batches of ≤ 5,000 rows / 0.5 s)",
}
EVENTS_PER_MESSAGE = 500
POLL_SECONDS = 0.1
GIVE_UP_SECONDS = 300


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its descendants (from /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    times: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        process = int(stat.parent.name)
        children.setdefault(int(fields[1]), []).append(process)
        times[process] = (int(fields[11]) + int(fields[12])) / ticks
    total, todo = 0.0, [pid]
    while todo:
        process = todo.pop()
        total += times.get(process, 0.0)
        todo.extend(children.get(process, []))
    return total


class WorkerProcess:
    """``il-audit subscriber pull`` in a child process, with its health endpoint.

    It writes DuckDB at ``database``; ``env`` overrides the sink's variables and
    ``command`` replaces ``python -m il_audit.cli`` (``benchmarks/soak.py`` runs its own
    worker that way, with the same options and start-up lines).
    """

    def __init__(
        self,
        subscription: str,
        database: Path,
        *,
        env: dict[str, str] | None = None,
        command: list[str] | None = None,
    ) -> None:
        child_env = {
            **os.environ,
            "PYTHONPATH": str(HERE.parent),
            "GOOGLE_CLOUD_PROJECT": PROJECT,
            "IL_AUDIT_SINK": "duckdb",
            "IL_AUDIT_DUCKDB_PATH": str(database),
            "IL_AUDIT_EXTRA_EVENT_TYPES": EVENT_TYPE,
            "IL_AUDIT_DLQ_TOPIC": "pull-bench-dlq",
            **(env or {}),
        }
        argv = command or [sys.executable, "-m", "il_audit.cli"]
        self.process = subprocess.Popen(
            [*argv, "subscriber", "pull", "--subscription", subscription, "--health-port", "0"],
            env=child_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        self.lines: list[str] = []
        self.url = ""
        ready = threading.Event()

        def read() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                self.lines.append(line)
                found = re.search(r"health on (http://[\d.]+:\d+)", line)
                if found:
                    self.url = found.group(1)
                if "pulling" in line:
                    ready.set()
            ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(60) or self.process.poll() is not None:
            raise RuntimeError(f"the worker did not start:\n{''.join(self.lines)[-3000:]}")

    def status(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/livez", timeout=5) as response:
            data: dict[str, Any] = json.loads(response.read())
        return data

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(60)


def _messages(lines: list[bytes]) -> list[tuple[bytes, int]]:
    """(body, events) per message: 500 lines, gzip as the publisher sends them by default."""
    from il_audit.schemas.wire import compress_body

    chunks = [lines[i : i + EVENTS_PER_MESSAGE] for i in range(0, len(lines), EVENTS_PER_MESSAGE)]
    return [(compress_body(b"\n".join(chunk)), len(chunk)) for chunk in chunks]


def _publish(topic: str, messages: list[tuple[bytes, int]]) -> None:
    from google.cloud import pubsub_v1

    publisher = pubsub_v1.PublisherClient()
    futures = [
        publisher.publish(topic, data, il_audit_count=str(events), il_audit_encoding="gzip")
        for data, events in messages
    ]
    for future in futures:
        future.result(timeout=120)


def _count(reader: Any) -> int:
    try:
        with reader.file.connect(read_only=True) as connection:
            row = connection.execute("SELECT count(*) FROM events").fetchone()
    except Exception:  # noqa: BLE001 (not created yet, or busy past the lock timeout)
        return -1
    return int(row[0]) if row else -1


def _drain(
    topic: str, messages: list[bytes], reader: Any, target: int, pid: int
) -> tuple[float, float]:
    """Publish, wait until ``target`` rows; (seconds, CPU-seconds of ``pid``'s tree)."""
    cpu_before = cpu_seconds(pid)
    start = time.monotonic()
    _publish(topic, messages)
    deadline = start + GIVE_UP_SECONDS
    while _count(reader) < target:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {_count(reader)} of {target} rows after {GIVE_UP_SECONDS} s")
        time.sleep(POLL_SECONDS)
    return time.monotonic() - start, cpu_seconds(pid) - cpu_before


def throughput_and_freshness(args: argparse.Namespace) -> dict[str, Any]:
    """Benchmarks 6 and 7 on one emulator, one function and one worker."""
    from il_audit.devtools.local_stack import PubSubLayout, provision_pubsub, start_function
    from il_audit.subscriber_fn.sinks.duckdb import DuckDBSink

    directory = Path(tempfile.mkdtemp(prefix="il-audit-pull-bench-"))
    runs = [(-1, name) for name in PATHS] + list(interleaved(PATHS, args.reps))
    result: dict[str, Any] = {
        name: {"rate": Summary(), "cpu_per_1000": Summary(), "writes_per_1m": Summary()}
        for name in PATHS
    }
    with emulator(args.emulator_host):
        server = start_function(
            {
                "GOOGLE_CLOUD_PROJECT": PROJECT,
                "IL_AUDIT_DLQ_TOPIC": "pull-bench-dlq",
                "IL_AUDIT_SINK": "duckdb",
                "IL_AUDIT_DUCKDB_PATH": str(directory / "function.duckdb"),
                "IL_AUDIT_EXTRA_EVENT_TYPES": EVENT_TYPE,
            },
            log_path=directory / "function.log",
        )
        print(f"[function log: {directory / 'function.log'}]", file=sys.stderr)
        push = PubSubLayout.for_topic(PROJECT, f"pull-bench-push-{os.getpid()}", "pull-bench-dlq")
        pull = PubSubLayout.for_topic(PROJECT, f"pull-bench-pull-{os.getpid()}", "pull-bench-dlq")
        provision_pubsub(push, server.url)
        provision_pubsub(pull, None)
        pull_subscription = f"projects/{PROJECT}/subscriptions/{pull.subscription}"
        worker = WorkerProcess(pull_subscription, directory / "worker.duckdb")
        readers = {
            "function": DuckDBSink(directory / "function.duckdb"),
            "worker": DuckDBSink(directory / "worker.duckdb"),
        }
        try:
            totals = dict.fromkeys(PATHS, 0)
            for rep, name in runs:
                # Fresh event ids for every run (rows are keyed by event_id), made before timing.
                size = 2 * EVENTS_PER_MESSAGE if rep < 0 else args.events
                lines = sample_lines("event", size)
                messages = _messages(lines)
                events = len(lines)
                result["raw_bytes_per_1m"] = (sum(map(len, lines)) + events) / events * 1_000_000
                result["bytes_per_1m"] = sum(len(data) for data, _ in messages) / events * 1_000_000
                result["messages_per_event"] = len(messages) / events
                totals[name] += events
                topic = f"projects/{PROJECT}/topics/{(push if name == 'function' else pull).topic}"
                pid = server.process.pid if name == "function" else worker.process.pid
                batches_before = worker.status()["batches"] if name == "worker" else 0
                seconds, cpu = _drain(topic, messages, readers[name], totals[name], pid)
                print(f"[{name} run {rep}: {events:,} events in {seconds:.1f} s]", file=sys.stderr)
                if rep < 0:
                    continue
                result[name]["rate"].values.append(events / seconds)
                result[name]["cpu_per_1000"].values.append(cpu / events * 1000)
                writes = (
                    worker.status()["batches"] - batches_before
                    if name == "worker"
                    else len(messages)
                )
                result[name]["writes_per_1m"].values.append(writes / events * 1_000_000)
            result["freshness"] = _freshness(args, pull, readers["worker"], directory)
        finally:
            worker.stop()
            server.stop()
    return result


def _freshness(
    args: argparse.Namespace, layout: Any, reader: Any, directory: Path
) -> dict[str, Summary]:
    summary = {name: Summary() for name in ("p50_ms", "p99_ms", "max_ms", "rate", "missing")}
    last_rowid = _newest_rowid(reader)
    for rep in range(args.reps):
        seen: dict[str, float] = {}
        out = directory / f"fresh-{rep}.json"
        producer = subprocess.Popen(
            [sys.executable, str(HERE / "subscriber_bench.py"), "--child", "producer",
             "--topic", layout.topic, "--out", str(out), "--rate", str(args.rate),
             "--seconds", str(args.seconds)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONPATH": str(HERE.parent)},
        )  # fmt: skip
        deadline = None
        expected = args.rate * args.seconds + 1  # + the producer's warm-up event
        while len(seen) < expected:
            time.sleep(POLL_SECONDS)
            last_rowid = _poll(reader, last_rowid, seen)
            if deadline is None and producer.poll() is not None:
                deadline = time.monotonic() + 60
            if deadline is not None and time.monotonic() > deadline:
                break
        stdout, stderr = producer.communicate(timeout=120)
        if producer.returncode != 0:
            raise RuntimeError(f"the producer failed:\n{stderr[-3000:]}")
        produced = json.loads(stdout.strip().splitlines()[-1])
        sent = json.loads(out.read_text())
        ages = sorted(
            (seen[event_id] - before) * 1000 if event_id in seen else math.inf
            for event_id, before in sent
        )
        summary["p50_ms"].values.append(percentile(ages, 0.50))
        summary["p99_ms"].values.append(percentile(ages, 0.99))
        summary["max_ms"].values.append(ages[-1])
        summary["rate"].values.append(produced["achieved_rate"])
        summary["missing"].values.append(float(sum(1 for e, _ in sent if e not in seen)))
    return summary


def _newest_rowid(reader: Any) -> int:
    """The highest rowid of events now (retried while the writer holds the file)."""
    for _ in range(100):
        try:
            with reader.file.connect(read_only=True) as connection:
                row = connection.execute("SELECT coalesce(max(rowid), -1) FROM events").fetchone()
            return int(row[0]) if row else -1
        except Exception:  # noqa: BLE001 (busy past the lock timeout)
            time.sleep(0.1)
    raise RuntimeError("the worker's DuckDB file stayed unreadable")


def tables(result: dict[str, Any], args: argparse.Namespace) -> str:
    out = [
        facts_line(
            f"{args.reps} interleaved repetitions (median, min–max) after a warm-up run of each "
            f"path; {args.events:,} events per run, {EVENTS_PER_MESSAGE} per message."
        ),
        "",
        "**6. Pull worker against the function path**, both writing DuckDB through the "
        "official emulator: from the first publish until the last row is readable.",
        "",
        "| path | events/s | CPU-seconds per 1,000 events | sink writes (or invocations) "
        "per 1M events |",
        "|---|---|---|---|",
    ]
    for name in PATHS:
        data = result[name]
        out.append(
            f"| {LABELS[name]} | {data['rate'].show('{:,.0f}')} "
            f"| {data['cpu_per_1000'].show('{:.3f}')} | {data['writes_per_1m'].show('{:,.0f}')} |"
        )
    out += [
        "",
        f"Messages per event: {result['messages_per_event']:.4f} "
        f"({EVENTS_PER_MESSAGE} events per message, so {1_000_000 / EVENTS_PER_MESSAGE:,.0f} "
        "messages, push deliveries and function invocations per 1M events); "
        f"{result['bytes_per_1m'] / 1e9:.3f} GB of message data per 1M events as sent (gzip, "
        f"the publisher's default; {result['raw_bytes_per_1m'] / 1e9:.2f} GB as NDJSON; the "
        "benchmark event repeats the same properties, so it compresses far better than real "
        "traffic: `benchmarks/cost.py` measures bytes on a realistic workload). "
        "CPU is the subscriber's process tree only (the emulator and the publisher are not "
        "counted).",
        "",
        f"**7. Freshness through the pull worker** at a steady {args.rate:,} events/s for "
        f"{args.seconds} s per repetition, default batch window (0.5 s), from just before "
        f"`emit()` until a reader polling every {POLL_SECONDS * 1000:.0f} ms first sees the row.",
        "",
        "| target rate | rate achieved | freshness p50 | freshness p99 | freshness max "
        "| events not seen 60 s after the last emit |",
        "|---|---|---|---|---|---|",
    ]
    fresh = result["freshness"]
    out.append(
        f"| {args.rate:,} events/s | {fresh['rate'].show('{:,.0f}')} "
        f"| {fresh['p50_ms'].show('{:,.0f}', ' ms')} | {fresh['p99_ms'].show('{:,.0f}', ' ms')} "
        f"| {fresh['max_ms'].show('{:,.0f}', ' ms')} | {fresh['missing'].show('{:,.0f}')} |"
    )
    if args.rate == 5_000:
        met = fresh["p99_ms"].median <= 2000
        out += ["", f"Target: p99 ≤ 2 s at 5,000 events/s: {'met' if met else '**not met**'}."]
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="events per throughput run")
    parser.add_argument("--rate", type=int, default=5_000, help="events/s for freshness")
    parser.add_argument("--seconds", type=int, default=10, help="seconds per freshness run")
    add_common_arguments(parser)
    args = parser.parse_args()
    check_arguments(args)
    if args.quick:
        args.events, args.rate, args.seconds = 2_000, 1_000, 1
    result = timed("pull worker (6-7)")(throughput_and_freshness)(args)
    text = tables(result, args)
    print(text)
    if args.write:
        write_section("pull", text)


if __name__ == "__main__":
    main()
