"""Soak: an emitter and a pull worker for minutes through the official emulator, memory sampled.

An emitter process emits the benchmark event at a steady rate (default 2,000
events/s), two events per request, each request with a new ``AuditContext``
(as a web app makes one per request), through the Pub/Sub transport to a
topic on the official Pub/Sub emulator. A worker process pulls its
subscription with the real :class:`~il_audit.subscriber_fn.pull_worker.PullWorker`
and :class:`~il_audit.subscriber_fn.pipeline.Pipeline`. Every few seconds this
process reads RSS, open fds and threads of both from ``/proc``. Reported per
process: first and last sample, RSS medians of the first and the last minute,
its range, and the slope of RSS over the second half of the samples (least
squares, MB/min); and for the run: events emitted, stored once (distinct
``event_id``), lost, stored more than once, and stored but never emitted.

Sinks (``--sinks``, each run in turn on the same emulator, each with its own topic):

* ``discard``: the worker's own memory. A worker process (``_soak_child.py``)
  runs ``run_worker`` (what ``il-audit subscriber pull`` runs) with a pipeline
  whose sink keeps nothing. It appends the 16 bytes of each stored row's
  ``event_id`` to a file with one ``os.write`` per batch, and the emitter does
  the same for each id it emits, so the worker holds no set of ids: file pages
  written with ``write`` belong to the kernel's page cache, not to the
  worker's RSS. This process compares the two files after the run. With
  ``--trace DIR`` the worker writes a ``tracemalloc`` snapshot every minute and
  this process prints what grew between the middle and the last one.
* ``duckdb``: ``il-audit subscriber pull`` into a DuckDB file. Also reported:
  bytes of worker RSS per stored row (second-half slope over the rate).
  Beside it, ``_soak_child.py index`` writes a million rows through the DuckDB
  sink with time-ordered (il-audit's UUIDv7) and with random ids, and reports
  what DuckDB then holds by ``duckdb_memory()`` tag: what the primary key costs.
* ``standin``: ``il-audit subscriber pull`` into the BigQuery stand-in, for
  short runs only: the stand-in snapshots its table on every insert, so a
  long run measures the stand-in, not the worker.

    python benchmarks/soak.py [--sinks discard,duckdb] [--minutes 10] [--duckdb-minutes 5]
                              [--standin-minutes 1] [--rate 2000] [--sample 5]
                              [--trace DIR] [--write] [--quick] [--emulator-host H]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench import HERE, PROJECT, emulator, facts_line, run_child, timed
from _readme import write_section
from _soak_child import EVENTS_PER_REQUEST, id_bytes
from pull_bench import WorkerProcess

SINKS = ("discard", "duckdb", "standin")
CHILD = HERE / "_soak_child.py"
DLQ_TOPIC = "soak-dlq"
TARGET_MB_PER_MINUTE = 2.0
DRAIN_SECONDS = 180
"""How long the worker may take, after the last emit, to store what was emitted."""
ID_BYTES = 16


# ------------------------------------------------------------------ sampling


def proc_sample(pid: int) -> tuple[float, int, int]:
    """(RSS in MB, open fds, threads) of ``pid`` from /proc."""
    rss = threads = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
        elif line.startswith("Threads:"):
            threads = int(line.split()[1])
    return rss, len(os.listdir(f"/proc/{pid}/fd")), int(threads)


@dataclass
class Series:
    """Samples of one process: (seconds since the steady emit began, RSS MB, fds, threads)."""

    samples: list[tuple[float, float, int, int]] = field(default_factory=list)

    def slope(self) -> float:
        """MB/min over the second half of the samples (least squares)."""
        half = self.samples[len(self.samples) // 2 :]
        if len(half) < 2:
            return float("nan")
        times = [t / 60 for t, *_ in half]
        return statistics.linear_regression(times, [rss for _, rss, _, _ in half]).slope

    def start_end(self, index: int) -> tuple[float, float]:
        """First and last sample of a column (1 RSS, 2 fds, 3 threads)."""
        return self.samples[0][index], self.samples[-1][index]

    def minute_medians(self) -> tuple[float, float]:
        """Median RSS of the first and of the last minute: robust to one spike."""
        end = self.samples[-1][0]
        first = [rss for t, rss, _, _ in self.samples if t < 60]
        last = [rss for t, rss, _, _ in self.samples if t >= end - 60]
        return statistics.median(first), statistics.median(last)

    def rss_range(self) -> tuple[float, float]:
        return min(s[1] for s in self.samples), max(s[1] for s in self.samples)


class Sampler:
    """Reads both processes every ``interval`` seconds on a thread, between start and stop."""

    def __init__(self, pids: Mapping[str, int], interval: float) -> None:
        self.pids = pids
        self.interval = interval
        self.series = {name: Series() for name in pids}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._start = 0.0

    def start(self) -> None:
        self._start = time.monotonic()
        self._thread.start()

    def _run(self) -> None:
        while True:
            now = time.monotonic() - self._start
            for name, pid in self.pids.items():
                with contextlib.suppress(OSError):  # exited
                    self.series[name].samples.append((now, *proc_sample(pid)))
            if self._stop.wait(self.interval):
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


# ---------------------------------------------------------------------- runs


@dataclass
class Run:
    """What one soak measured."""

    sink: str
    minutes: float
    rate: float = 0.0
    emitted: int = 0
    stored_once: int = 0
    lost: int = 0
    duplicates: int = 0
    unexpected: int = 0
    emitter_dropped: int = 0
    dead_lettered: int = 0
    deliveries: int = 0
    series: dict[str, Series] = field(default_factory=dict)


def read_ids(path: Path) -> list[bytes]:
    data = path.read_bytes()
    return [data[i : i + ID_BYTES] for i in range(0, len(data), ID_BYTES)]


def _child(*argv: str) -> list[str]:
    return [sys.executable, str(CHILD), *argv]


@contextmanager
def _standin_env() -> Iterator[dict[str, str]]:
    from il_audit.devtools import bigquery_standin

    standin = bigquery_standin.start(PROJECT)
    try:
        yield {
            "IL_AUDIT_SINK": "bigquery",
            "IL_BQ_API_ENDPOINT": standin.url,
            "IL_BQ_STORAGE_API_ENDPOINT": standin.grpc_address,
            "IL_BQ_AUDIT_DATASET": "soak",
        }
    finally:
        standin.stop()


def _stored_ids(sink: str, directory: Path, env: Mapping[str, str]) -> list[bytes]:
    """Every stored row's id (with repeats where the warehouse keeps them)."""
    if sink == "discard":
        return read_ids(directory / "stored.ids")
    if sink == "duckdb":
        import duckdb

        with duckdb.connect(str(directory / "soak.duckdb"), read_only=True) as connection:
            rows = connection.execute("SELECT event_id FROM events").fetchall()
    else:
        from google.api_core.client_options import ClientOptions
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import bigquery

        client = bigquery.Client(
            project=PROJECT,
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options=ClientOptions(api_endpoint=env["IL_BQ_API_ENDPOINT"]),
        )
        rows = [tuple(row) for row in client.query("SELECT event_id FROM soak.events").result()]
    return [id_bytes([str(row[0])]) for row in rows]


def soak(sink: str, minutes: float, args: argparse.Namespace) -> Run:
    """One emitter and one worker for ``minutes``; the figures of :class:`Run`."""
    from il_audit.devtools.local_stack import PubSubLayout, provision_pubsub

    directory = Path(tempfile.mkdtemp(prefix=f"il-audit-soak-{sink}-"))
    layout = PubSubLayout.for_topic(PROJECT, f"soak-{sink}-{os.getpid()}", DLQ_TOPIC)
    provision_pubsub(layout, None)
    subscription = f"projects/{PROJECT}/subscriptions/{layout.subscription}"
    run = Run(sink, minutes)
    with ExitStack() as stack:
        env = {"IL_AUDIT_DLQ_TOPIC": DLQ_TOPIC}
        command = None
        if sink == "discard":
            command = _child("worker", "--ids-out", str(directory / "stored.ids"))
            command += ["--trace", args.trace] if args.trace else []
        elif sink == "standin":
            env.update(stack.enter_context(_standin_env()))
        worker = WorkerProcess(subscription, directory / "soak.duckdb", env=env, command=command)
        stack.callback(worker.stop)
        emitter = subprocess.Popen(
            _child("emitter", "--topic", layout.topic, "--rate", str(args.rate),
                   "--seconds", str(minutes * 60), "--ids-out", str(directory / "emitted.ids")),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONPATH": str(HERE.parent)},
        )  # fmt: skip
        stack.callback(lambda: emitter.poll() is None and emitter.kill())
        assert emitter.stdout is not None
        if emitter.stdout.readline().strip() != "emitting":
            raise RuntimeError(f"the emitter did not start:\n{emitter.communicate()[1][-3000:]}")
        sampler = Sampler({"worker": worker.process.pid, "emitter": emitter.pid}, args.sample)
        sampler.start()
        emitter.stdout.readline()  # "emitted": the steady part is over
        sampler.stop()
        # The result line through readline too: readline's buffer may already hold it
        # (it can arrive with "emitted"), and communicate() reads the pipe past that buffer.
        result = emitter.stdout.readline()
        _, stderr = emitter.communicate(timeout=180)
        if emitter.returncode != 0 or not result.strip():
            raise RuntimeError(f"the emitter failed ({emitter.returncode}):\n{stderr[-3000:]}")
        emitted = json.loads(result)
        deadline = time.monotonic() + DRAIN_SECONDS
        while worker.status()["events_stored"] < emitted["emitted"] - emitted["dropped"]:
            if time.monotonic() > deadline or worker.process.poll() is not None:
                break  # counted as lost below
            time.sleep(0.5)
        status = worker.status()
        worker.process.send_signal(signal.SIGTERM)
        worker.process.wait(60)
        stored = _stored_ids(sink, directory, env)
    sent = set(read_ids(directory / "emitted.ids"))
    distinct = set(stored)
    run.series = sampler.series
    samples = {name: series.samples for name, series in run.series.items()}
    (directory / "samples.json").write_text(json.dumps(samples))
    print(f"[soak {sink}: samples in {directory / 'samples.json'}]", file=sys.stderr)
    run.rate = emitted["achieved_rate"]
    run.emitted = len(sent)
    run.emitter_dropped = emitted["dropped"]
    run.stored_once = len(sent & distinct)
    run.lost = len(sent - distinct)
    run.unexpected = len(distinct - sent)
    run.duplicates = len(stored) - len(distinct)
    run.deliveries = status["events_stored"] - len(distinct)
    run.dead_lettered = status["dead_lettered"]
    return run


# -------------------------------------------------------------------- report

LABELS = {
    "discard": "discard sink (the worker's own memory)",
    "duckdb": "`il-audit subscriber pull` into DuckDB",
    "standin": "`il-audit subscriber pull` into the BigQuery stand-in",
}


def index_costs(rows: int) -> dict[str, dict[str, Any]]:
    """``_soak_child.py index`` for each kind of key, each in a fresh process and file."""
    costs = {}
    for keys in ("uuid7", "uuid4"):
        database = Path(tempfile.mkdtemp(prefix="il-audit-soak-index-")) / "index.duckdb"
        argv = [str(CHILD), "index", "--keys", keys, "--rows", str(rows)]
        costs[keys] = run_child([*argv, "--database", str(database)], timeout=1800)
    return costs


def index_table(costs: Mapping[str, Mapping[str, Any]]) -> list[str]:
    mib = 1024 * 1024
    out = [
        "",
        "**What DuckDB holds at a million rows**, written through the sink in batches of "
        "5,000 under the default `IL_AUDIT_DUCKDB_MEMORY_LIMIT`: the most `duckdb_memory()` "
        "reported per tag, and the process's peak RSS, over the last 100,000 rows:",
        "",
        "| event ids | rows | `ART_INDEX` (primary key) | `BASE_TABLE` | sum of the tags "
        "| process RSS | seconds |",
        "|---|---|---|---|---|---|---|",
    ]
    names = {"uuid7": "il-audit's (UUIDv7, time-ordered)", "uuid4": "random (uuid4)"}
    for keys, cost in costs.items():
        memory = cost["memory"]
        out.append(
            f"| {names[keys]} | {cost['rows']:,} | {memory.get('ART_INDEX', 0) / mib:.1f} MiB "
            f"| {memory.get('BASE_TABLE', 0) / mib:.1f} MiB "
            f"| {sum(memory.values()) / mib:.1f} MiB | {cost['rss_mb']:.0f} MB "
            f"| {cost['seconds']:.0f} |"
        )
    return out


def tables(runs: list[Run], args: argparse.Namespace, index: Mapping[str, Any]) -> str:
    out = [
        facts_line(
            f"Emitter: {args.rate:,} events/s, {EVENTS_PER_REQUEST} events per request and a new "
            f"`AuditContext` per request; RSS, fds and threads read from /proc every "
            f"{args.sample:g} s while the emitter runs its steady part."
        ),
        "",
        "| sink | minutes | process | RSS start → end | RSS first → last minute (median) "
        "| RSS min–max | second-half slope | fds start → end | threads start → end |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        for name in ("worker", "emitter"):
            series = run.series[name]
            rss, fds, threads = series.start_end(1), series.start_end(2), series.start_end(3)
            medians, extremes = series.minute_medians(), series.rss_range()
            out.append(
                f"| {LABELS[run.sink]} | {run.minutes:g} | {name} "
                f"| {rss[0]:.0f} → {rss[1]:.0f} MB | {medians[0]:.0f} → {medians[1]:.0f} MB "
                f"| {extremes[0]:.0f}–{extremes[1]:.0f} MB | {series.slope():+.2f} MB/min "
                f"| {fds[0]} → {fds[1]} | {threads[0]} → {threads[1]} |"
            )
    out += [
        "",
        "| sink | events emitted | rate achieved | stored once | lost | duplicates "
        "| stored, never emitted | redeliveries absorbed | dead-lettered | emitter drops |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        out.append(
            f"| {run.sink} | {run.emitted:,} | {run.rate:,.0f}/s | {run.stored_once:,} "
            f"| {run.lost:,} | {run.duplicates:,} | {run.unexpected:,} | {run.deliveries:,} "
            f"| {run.dead_lettered:,} "
            f"| {run.emitter_dropped:,} |"
        )
    out += [
        "",
        "*Stored once* counts distinct `event_id`s found in the sink that were emitted; "
        "*duplicates* are rows beyond one per `event_id` in the sink (DuckDB's primary key "
        "absorbs them; the discard sink and the stand-in keep them); *redeliveries absorbed* "
        "are rows the worker wrote beyond the distinct ids.",
    ]
    for run in runs:
        if run.sink == "duckdb":
            worker = run.series["worker"]
            per_row = worker.slope() * 1024 * 1024 / (run.rate * 60)
            first, last = worker.minute_medians()
            rows = run.rate * (worker.samples[-1][0] - 30)  # between the minutes' middles
            out += [
                "",
                f"DuckDB worker, RSS per stored row: {per_row:,.0f} bytes by the second-half "
                f"slope, {(last - first) * 1024 * 1024 / rows:,.0f} bytes from the first "
                f"minute's median to the last's ({rows:,.0f} rows apart); bytes per row are MB "
                "per million rows. The swings (min–max) are DuckDB's working memory for each "
                "batch's insert and checkpoints: they come and go (the discard worker has none).",
            ]
        if run.sink == "duckdb" and index:
            out += index_table(index)
        if run.sink == "discard" and run.minutes >= 10:
            slope = run.series["worker"].slope()
            met = "met" if slope < TARGET_MB_PER_MINUTE else "**not met**"
            out += [
                "",
                f"Target: the worker with the discard sink grows less than "
                f"{TARGET_MB_PER_MINUTE:g} MB/min over the second half of 10 minutes: {met} "
                f"({slope:+.2f} MB/min).",
            ]
    return "\n".join(out) + "\n"


def grown(directory: Path, top: int = 12) -> str:
    """Traced Python memory per snapshot, and what grew most from the middle one to the last."""
    import tracemalloc

    paths = sorted(directory.glob("minute-*.tracemalloc"))
    if len(paths) < 2:
        return f"(fewer than two snapshots in {directory})"
    snapshots = [tracemalloc.Snapshot.load(str(path)) for path in paths]
    lines = [
        "Python memory traced by tracemalloc (the worker's heap, in-flight messages included):"
    ]
    for path, snapshot in zip(paths, snapshots, strict=True):
        traced = sum(stat.size for stat in snapshot.statistics("filename"))
        lines.append(f"  {path.stem}: {traced / 1024 / 1024:.1f} MiB")
    middle = len(snapshots) // 2
    differences = snapshots[-1].compare_to(snapshots[middle], "lineno")
    differences.sort(key=lambda difference: difference.size_diff, reverse=True)
    lines.append(f"Grown most from {paths[middle].stem} to {paths[-1].stem}:")
    lines += [f"  {difference}" for difference in differences[:top]]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sinks", default="discard,duckdb", help=f"of {', '.join(SINKS)}")
    parser.add_argument("--minutes", type=float, default=10, help="discard run")
    parser.add_argument("--duckdb-minutes", type=float, default=5)
    parser.add_argument("--standin-minutes", type=float, default=1)
    parser.add_argument("--rate", type=int, default=2000, help="events/s")
    parser.add_argument("--sample", type=float, default=5, help="seconds between samples")
    parser.add_argument("--quick", action="store_true", help="discard, 6 s, no README")
    parser.add_argument("--write", action="store_true", help="update benchmarks/README.md")
    parser.add_argument("--emulator-host", default="")
    parser.add_argument("--trace", default="", help="tracemalloc snapshots of the discard worker")
    parser.add_argument("--index-rows", type=int, default=1_000_000, help="0: skip")
    args = parser.parse_args()
    if args.quick:
        if args.write:
            raise SystemExit("--quick never writes benchmarks/README.md")
        args.sinks, args.minutes, args.sample = "discard", 0.1, 1.0
    sinks = [name.strip() for name in args.sinks.split(",") if name.strip()]
    unknown = set(sinks) - set(SINKS)
    if unknown:
        raise SystemExit(f"unknown sinks {sorted(unknown)}: choose from {', '.join(SINKS)}")
    minutes = {"discard": args.minutes, "duckdb": args.duckdb_minutes}
    minutes["standin"] = args.standin_minutes
    runs = []
    with emulator(args.emulator_host):
        for sink in sinks:
            runs.append(timed(f"soak {sink}")(soak)(sink, minutes[sink], args))
    index = {}
    if "duckdb" in sinks and args.index_rows:
        index = timed("duckdb index")(index_costs)(args.index_rows)
    text = tables(runs, args, index)
    print(text)
    if args.trace:
        print(grown(Path(args.trace)))
    if args.write:
        write_section("soak", text)


if __name__ == "__main__":
    main()
