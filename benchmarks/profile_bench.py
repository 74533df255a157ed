"""Where the time goes: py-spy profiles of the publisher and the subscriber core, and memory.

1. Publisher: a fresh process emits the benchmark event in bursts (as fast
   as possible, then a flush) to the official Pub/Sub emulator, under
   ``py-spy record --gil --threads`` (only the thread holding the GIL is
   sampled, so the shares are shares of Python time, the resource the caller
   and the background thread compete for). Reported: the share of each thread
   (caller, ``il-audit-publisher``, the Pub/Sub client's threads), the caller
   path by line, and the background thread by cost bucket and by line.
2. Subscriber core: ``process_message`` on messages of 100 benchmark events,
   one thread, same profiler, by bucket and by line.
3. The function at a steady rate (5,000 events/s): functions-framework
   serving ``handle_pubsub`` with the DuckDB sink, fed by the emulator's push
   subscription, profiled by attaching py-spy to it while a producer emits
   (freshness target 5 depends on it keeping up).
4. Memory of a queued event: ``tracemalloc`` over the captured tuple exactly
   as ``emit()`` builds it (``sys.getsizeof`` of each part), and a snapshot of
   a real publisher right after it accepted a burst, grouped by allocation site.

Lines are attributed to the deepest il-audit frame of each sample (a call
into pydantic's Rust core or another C extension has no frame of its own, so
it shows as the il-audit line that makes it); frames below it in other
packages are named by package.

    python benchmarks/profile_bench.py [--events 20000] [--bursts 10] [--write] [--quick]
"""

from __future__ import annotations

import argparse
import collections
import json
import linecache
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench import (
    APP,
    EVENT_TYPE,
    HERE,
    PROJECT,
    PROPERTIES,
    USER_ID,
    add_common_arguments,
    check_arguments,
    emulator,
    facts_line,
    run_child,
    timed,
)
from _readme import write_section

SAMPLE_RATE = 1000
QUICK_SAMPLE_RATE = 200
sample_rate = SAMPLE_RATE
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>.*):(?P<line>\d+)\)$")
_OWN = "/il_audit/"
BURST_LOOP = "_emit_burst"


# ------------------------------------------------------------------ children


def publisher_child(args: argparse.Namespace) -> dict[str, Any]:
    """Bursts of ``events`` emits, each followed by a flush (run under py-spy)."""
    os.environ.update(
        {
            "IL_AUDIT_TRANSPORT": "pubsub",
            "GOOGLE_CLOUD_PROJECT": PROJECT,
            "IL_AUDIT_TOPIC": args.topic,
            "IL_AUDIT_WRITE_QUEUE_MAX_SIZE": str(args.events + 1000),
            "IL_AUDIT_EXTRA_EVENT_TYPES": EVENT_TYPE,
        }
    )
    from _client_run import create_topic

    create_topic(args.topic)
    import il_audit

    context = il_audit.AuditContext(app=APP, actor_uid=USER_ID)
    il_audit.emit(EVENT_TYPE, context=context, **PROPERTIES)
    il_audit.flush_audit_writer(timeout=60)
    start = time.perf_counter()
    for _ in range(args.bursts):
        _emit_burst(il_audit.emit, context, args.events)
        if not il_audit.flush_audit_writer(timeout=600).complete:
            raise RuntimeError(f"flush failed: {il_audit.stats()}")
    elapsed = time.perf_counter() - start
    return {"events": args.events * args.bursts, "seconds": elapsed}


def _emit_burst(emit: Callable[..., Any], context: Any, count: int) -> None:
    for _ in range(count):
        emit(EVENT_TYPE, context=context, **PROPERTIES)


def core_child(args: argparse.Namespace) -> dict[str, Any]:
    """``process_message`` over messages of 100 benchmark events for ``seconds``."""
    from datetime import UTC, datetime

    from subscriber_bench import sample_lines

    from il_audit.subscriber_fn.core import MessageMeta, process_message
    from il_audit.subscriber_fn.pricing import seed_catalog

    lines = sample_lines("event", 2000)
    messages = [b"\n".join(lines[i : i + 100]) for i in range(0, len(lines), 100)]
    catalog = seed_catalog()
    meta = MessageMeta("m-1", datetime.now(UTC), 1)
    deadline = time.monotonic() + args.seconds
    processed = 0
    while time.monotonic() < deadline:
        now = datetime.now(UTC)
        for message in messages:
            process_message(message, meta, catalog, now)
        processed += len(lines)
    return {"events": processed}


def memory_child(args: argparse.Namespace) -> dict[str, Any]:
    """What a queued event costs: the captured tuple, and a real publisher's heap."""
    import tracemalloc

    os.environ.update(
        {
            "IL_AUDIT_TRANSPORT": "pubsub",
            "GOOGLE_CLOUD_PROJECT": PROJECT,
            "IL_AUDIT_TOPIC": args.topic,
            "IL_AUDIT_WRITE_QUEUE_MAX_SIZE": str(args.events + 1000),
            "IL_AUDIT_EXTRA_EVENT_TYPES": EVENT_TYPE,
        }
    )
    from _client_run import create_topic

    create_topic(args.topic)
    import il_audit

    context = il_audit.AuditContext(app=APP, actor_uid=USER_ID)
    try:
        from il_audit.publisher._ids import new_event_id
    except ImportError:  # the publisher was reshaped: a UUID string is what it was
        import uuid

        def new_event_id(_now: int) -> str:
            return str(uuid.uuid4())

    def capture(event_type: str, *, context: Any = None, **fields: Any) -> tuple[Any, ...]:
        # What AuditPublisher.submit appends to its deque (client.py), built the same way.
        now = time.time_ns()
        event_id = fields.pop("event_id", None) or new_event_id(now)
        return (event_id, now, event_type, context, fields)

    count = 20_000
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    held = [capture(EVENT_TYPE, context=context, **PROPERTIES) for _ in range(count)]
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    per_event = sum(stat.size_diff for stat in after.compare_to(before, "filename")) / count
    sample = held[0]
    parts = {
        "tuple of 5 (deque slot: +8)": sys.getsizeof(sample),
        f"event_id str ({len(sample[0])} chars)": sys.getsizeof(sample[0]),
        "time_ns int": sys.getsizeof(sample[1]),
        f"fields dict ({len(sample[4])} keys; values shared with the caller)": sys.getsizeof(
            sample[4]
        ),
    }
    del held

    # A real publisher: snapshot right after a burst was accepted (its queue at its fullest).
    il_audit.emit(EVENT_TYPE, context=context, **PROPERTIES)
    il_audit.flush_audit_writer(timeout=60)
    tracemalloc.start(1)
    base = tracemalloc.take_snapshot()
    for _ in range(args.events):
        il_audit.emit(EVENT_TYPE, context=context, **PROPERTIES)
    pending = il_audit.stats().pending
    peak_snapshot = tracemalloc.take_snapshot()
    tracemalloc.stop()
    if not il_audit.flush_audit_writer(timeout=600).complete:
        raise RuntimeError(f"flush failed: {il_audit.stats()}")
    sites = []
    for stat in peak_snapshot.compare_to(base, "lineno")[:10]:
        frame = stat.traceback[0]
        text = linecache.getline(frame.filename, frame.lineno).strip()
        if Path(frame.filename).resolve() == Path(__file__).resolve():
            text = "emit(..., **PROPERTIES)`: the keyword dict the call builds, kept as `fields"
        sites.append(
            {
                "site": f"{_short(frame.filename)}:{frame.lineno}",
                "code": text[:90],
                "bytes_per_event": stat.size_diff / args.events,
            }
        )
    total = sum(stat.size_diff for stat in peak_snapshot.compare_to(base, "filename"))
    return {
        "captured_bytes": per_event,
        "parts": parts,
        "events": args.events,
        "pending_at_snapshot": pending,
        "heap_bytes_per_event": total / args.events,
        "sites": sites,
    }


def _short(filename: str) -> str:
    for marker in ("/site-packages/", _OWN):
        if marker in filename:
            prefix = "il_audit/" if marker == _OWN else ""
            return prefix + filename.split(marker, 1)[1]
    return Path(filename).name


# ------------------------------------------------------------------ profiling


def py_spy(argv: list[str], output: Path) -> dict[str, Any]:
    """Run ``python argv`` under py-spy (GIL holders, thread names, full file names)."""
    binary = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(binary).exists():
        raise SystemExit("py-spy is not installed: pip install -e '.[bench]'")
    command = [binary, "record", "--rate", str(sample_rate), "--gil", "--threads",
               "--format", "raw", "--full-filenames", "--output", str(output), "--",
               sys.executable, *argv]  # fmt: skip
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "PYTHONPATH": str(HERE.parent)},
        check=False,
    )
    if result.returncode != 0 or not output.exists():
        raise RuntimeError(f"py-spy failed ({result.returncode}):\n{result.stderr[-3000:]}")
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    data: dict[str, Any] = json.loads(lines[-1])
    return data


@dataclass(frozen=True)
class Frame:
    function: str
    file: str
    line: int

    @property
    def own(self) -> bool:
        return _OWN in self.file

    @property
    def where(self) -> str:
        return f"{_short(self.file)}:{self.line}"

    @property
    def code(self) -> str:
        return linecache.getline(self.file, self.line).strip()


def samples(path: Path) -> Iterable[tuple[str, list[Frame], int]]:
    """(thread name, frames root→leaf, count) from py-spy's raw (collapsed) output."""
    for raw in path.read_text().splitlines():
        stack, _, count = raw.rpartition(" ")
        head, *rest = stack.split(";")
        name = head.split(": ", 1)[1] if ": " in head else head
        frames = []
        for text in rest:
            match = _FRAME.match(text)
            if match:
                frames.append(Frame(match["function"], match["file"], int(match["line"])))
        yield name, frames, int(count)


def package(frame: Frame) -> str:
    """The package (or stdlib module) a frame outside il-audit belongs to."""
    if "/site-packages/" in frame.file:
        parts = frame.file.split("/site-packages/", 1)[1].split("/")
        if parts[0] == "google" and len(parts) > 2:
            return ".".join(parts[:3]).removesuffix(".py")
        return parts[0].removesuffix(".py")
    return Path(frame.file).stem


@dataclass(frozen=True)
class Site:
    """The deepest il-audit frame of a sample, and the package it was calling, if any."""

    frame: Frame | None
    callee: str

    @property
    def label(self) -> str:
        if self.frame is None:
            return f"outside il-audit: {self.callee}"
        text = f"`{self.frame.function}` ({self.frame.where})"
        if self.callee:
            return f"{text} → {self.callee}"
        return f"{text}: `{self.frame.code[:80]}`"


def site(frames: list[Frame]) -> Site:
    deepest = None
    for index, frame in enumerate(frames):
        if frame.own:
            deepest = index
    if deepest is None:
        return Site(None, package(frames[-1]) if frames else "?")
    below = frames[deepest + 1] if deepest + 1 < len(frames) else None
    return Site(frames[deepest], package(below) if below is not None else "")


Bucket = tuple[str, Callable[[Site], bool]]


def _code(item: Site) -> str:
    return item.frame.code if item.frame is not None else ""


def _function(item: Site) -> str:
    return item.frame.function if item.frame is not None else ""


def _file(item: Site) -> str:
    return item.frame.file if item.frame is not None else ""


WORKER_BUCKETS: list[Bucket] = [
    ("pydantic validation (`model_validate`)", lambda s: "model_validate" in _code(s)),
    (
        "serialisation to JSON (`to_json` / `dumps`)",
        lambda s: any(word in _code(s) for word in ("to_json", "dumps", "envelope_json")),
    ),
    (
        "Pub/Sub client `publish()` on our thread",
        lambda s: s.callee.startswith(("google", "grpc", "proto")),
    ),
    (
        "building the envelope dict (context, keywords, timestamp)",
        lambda s: (
            _function(s) in {"envelope_fields", "occurred_at_from_ns"} or "as_fields" in _code(s)
        ),
    ),
    ("packing (`OutgoingMessage`: fits, add, NDJSON, attributes)", lambda s: "_batch" in _file(s)),
    ("the rest of il-audit (loop, taxonomy, locks, completions)", lambda s: s.frame is not None),
    ("outside il-audit frames", lambda _s: True),
]
CORE_BUCKETS: list[Bucket] = [
    ("pydantic `model_validate_json`", lambda s: "model_validate_json" in _code(s)),
    ("pydantic `model_dump` (the row)", lambda s: "model_dump" in _code(s)),
    ("pricing (`price_usage`)", lambda s: "pricing" in _file(s) or "price_usage" in _code(s)),
    ("taxonomy check", lambda s: "is_known" in _code(s) or "taxonomy" in _file(s)),
    ("the rest of the core (split, loop, row fields)", lambda s: s.frame is not None),
    ("outside il-audit frames", lambda _s: True),
]


def breakdown(counts: collections.Counter[Site], buckets: list[Bucket]) -> list[tuple[str, float]]:
    total = sum(counts.values()) or 1
    shares: dict[str, int] = dict.fromkeys((name for name, _ in buckets), 0)
    for item, count in counts.items():
        for name, matches in buckets:
            if matches(item):
                shares[name] += count
                break
    return [(name, 100 * count / total) for name, count in shares.items() if count]


def top(counts: collections.Counter[Site], limit: int) -> list[tuple[str, float]]:
    total = sum(counts.values()) or 1
    return [(item.label, 100 * count / total) for item, count in counts.most_common(limit)]


CALLER = "caller (`emit()` in a tight loop)"
WORKER = "il-audit-publisher"
PUBSUB_THREADS = "Pub/Sub client threads (batch commit)"


def thread_group(name: str, frames: list[Frame]) -> str | None:
    """Which thread a sample is from, by its stack (py-spy cannot always read thread names)."""
    if frames and frames[0].function == "<module>":  # the main thread
        return CALLER if any(frame.function == BURST_LOOP for frame in frames) else None
    if name == WORKER or any(frame.file.endswith("/publisher/_outbox.py") for frame in frames):
        return WORKER
    if name.startswith(("Thread-CommitBatchPublisher", "Thread-PubSubBatchCommitter")) or any(
        "/pubsub_v1/publisher/" in frame.file for frame in frames
    ):
        return PUBSUB_THREADS
    return "other threads"


def analyse_publisher(path: Path) -> dict[str, Any]:
    threads: collections.Counter[str] = collections.Counter()
    caller: collections.Counter[Site] = collections.Counter()
    worker: collections.Counter[Site] = collections.Counter()
    for name, frames, count in samples(path):
        group = thread_group(name, frames)
        if group is None:
            continue  # the main thread outside the bursts: start-up (imports), flush waits
        threads[group] += count
        if group == CALLER:
            last = frames[-1]
            item = site(frames)
            if not last.own and last.function == BURST_LOOP:
                item = Site(None, "the call site: loop and building the `**properties` dict")
            caller[item] += count
        elif group == WORKER:
            worker[site(frames)] += count
    total = sum(threads.values()) or 1
    return {
        "threads": [(name, 100 * count / total) for name, count in threads.most_common()],
        "caller": top(caller, 8),
        "worker_buckets": breakdown(worker, WORKER_BUCKETS),
        "worker_lines": top(worker, 12),
        "worker_samples": sum(worker.values()),
        "caller_samples": sum(caller.values()),
    }


def analyse_core(path: Path) -> dict[str, Any]:
    core: collections.Counter[Site] = collections.Counter()
    for name, frames, count in samples(path):
        if name == "MainThread" and any(frame.function == "process_message" for frame in frames):
            core[site(frames)] += count
    return {
        "buckets": breakdown(core, CORE_BUCKETS),
        "lines": top(core, 10),
        "samples": sum(core.values()),
    }


FUNCTION_BUCKETS: list[tuple[str, Callable[[list[Frame]], bool]]] = [
    (
        "the core (`process_message`: validate, price, rows)",
        lambda frames: any(frame.function == "process_message" for frame in frames),
    ),
    (
        "the DuckDB sink (rows to NDJSON, `read_json` insert, connection)",
        lambda frames: any("sinks/duckdb" in frame.file for frame in frames),
    ),
    (
        "decoding the push (base64, JSON, CloudEvent)",
        lambda frames: any(
            word in frame.file for frame in frames for word in ("cloudevents", "base64")
        ),
    ),
    (
        "logging",
        lambda frames: any(frame.file.endswith("/logging/__init__.py") for frame in frames),
    ),
    (
        "HTTP server (gunicorn, werkzeug, Flask, functions-framework)",
        lambda frames: any(
            word in frame.file
            for frame in frames
            for word in ("werkzeug", "flask", "functions_framework", "gunicorn", "socketserver")
        ),
    ),
    ("other", lambda _frames: True),
]


def analyse_function(path: Path) -> dict[str, Any]:
    lines: collections.Counter[Site] = collections.Counter()
    buckets: collections.Counter[str] = collections.Counter()
    threads: set[str] = set()
    for name, frames, count in samples(path):
        threads.add(name)
        lines[site(frames)] += count
        for bucket, matches in FUNCTION_BUCKETS:
            if matches(frames):
                buckets[bucket] += count
                break
    total = sum(buckets.values()) or 1
    order = [name for name, _ in FUNCTION_BUCKETS]
    return {
        "buckets": [(name, 100 * buckets[name] / total) for name in order if buckets[name]],
        "lines": top(lines, 10),
        "samples": sum(buckets.values()),
        "threads": len(threads),
    }


def profile_function(args: argparse.Namespace, directory: Path) -> dict[str, Any]:
    """py-spy attached to functions-framework while a producer emits at ``function_rate``."""
    from il_audit.devtools.local_stack import PubSubLayout, provision_pubsub, start_function

    env = {
        "GOOGLE_CLOUD_PROJECT": PROJECT,
        "IL_AUDIT_DLQ_TOPIC": "profile-dlq",
        "IL_AUDIT_SINK": "duckdb",
        "IL_AUDIT_DUCKDB_PATH": str(directory / "function.duckdb"),
        "IL_AUDIT_EXTRA_EVENT_TYPES": EVENT_TYPE,
    }
    server = start_function(env)
    try:
        layout = PubSubLayout.for_topic(PROJECT, f"profile-fn-{os.getpid()}", "profile-dlq")
        provision_pubsub(layout, server.url)
        producer = [str(HERE / "subscriber_bench.py"), "--child", "producer", "--topic",
                    layout.topic, "--rate"]  # fmt: skip
        # Warm up (imports, tables), then profile a steady run (py-spy starts first and
        # runs 3 s longer than the producer emits: its start-up holds no GIL here).
        run_child([*producer, "100", "--seconds", "1", "--out", str(directory / "w.json")])
        child = subprocess.Popen(
            [sys.executable, *producer, str(args.function_rate), "--seconds",
             str(args.seconds), "--out", str(directory / "sent.json")],
            env={**os.environ, "PYTHONPATH": str(HERE.parent)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        binary = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        output = directory / "function.txt"
        result = subprocess.run(
            [binary, "record", "--rate", str(sample_rate), "--gil", "--threads", "--format",
             "raw", "--full-filenames", "--subprocesses", "--output", str(output), "--pid",
             str(server.process.pid), "--duration", str(args.seconds + 3)],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        child.wait(timeout=300)
        if result.returncode != 0 or not output.exists():
            raise RuntimeError(f"py-spy --pid failed:\n{result.stderr[-3000:]}")
        return analyse_function(output)
    finally:
        server.stop()


# ---------------------------------------------------------------------- tables


def _rows(pairs: list[tuple[str, float]]) -> list[str]:
    return [f"| {label} | {share:.1f} % |" for label, share in pairs]


def tables(results: dict[str, Any], args: argparse.Namespace) -> str:
    pub, core, memory = results["publisher"], results["core"], results["memory"]
    fn = results["function"]
    rate = pub["run"]["events"] / pub["run"]["seconds"]
    out = [
        facts_line(
            f"py-spy {sample_rate} Hz, `--gil` (only the thread holding the GIL is sampled). "
            f"Publisher: {args.bursts} bursts of {args.events:,} benchmark events, each flushed "
            f"({rate:,.0f} events/s under the profiler); subscriber core: {args.seconds} s of "
            "messages of 100 benchmark events."
        ),
        "",
        "**Publisher process: who holds the GIL** (samples during the bursts)",
        "",
        "| thread | share |",
        "|---|---|",
        *_rows(pub["threads"]),
        "",
        f"**Background thread (`il-audit-publisher`) by cost** ({pub['worker_samples']:,} samples)",
        "",
        "| cost | share of the thread |",
        "|---|---|",
        *_rows(pub["worker_buckets"]),
        "",
        "Its top lines (deepest il-audit frame; `→ package` when that line was calling into it):",
        "",
        "| line | share of the thread |",
        "|---|---|",
        *_rows(pub["worker_lines"]),
        "",
        f"**Caller path (`emit()`)** ({pub['caller_samples']:,} samples)",
        "",
        "| line | share of the caller |",
        "|---|---|",
        *_rows(pub["caller"]),
        "",
        f"**Subscriber core by cost** ({core['samples']:,} samples)",
        "",
        "| cost | share |",
        "|---|---|",
        *_rows(core["buckets"]),
        "",
        "| line | share |",
        "|---|---|",
        *_rows(core["lines"]),
        "",
        f"**The function at {args.function_rate:,} events/s** (functions-framework serving "
        f"`handle_pubsub` with the DuckDB sink; py-spy attached for {args.seconds} s; "
        f"{fn['samples']:,} samples)",
        "",
        "| cost | share of the function's Python time |",
        "|---|---|",
        *_rows(fn["buckets"]),
        "",
        "| line | share |",
        "|---|---|",
        *_rows(fn["lines"]),
        "",
        "**What a queued event costs.** The captured tuple, built as `emit()` builds it, "
        f"measured with `tracemalloc`: **{memory['captured_bytes']:,.0f} bytes per event** "
        "(the properties' values are shared with the caller, not copied):",
        "",
        "| part | `sys.getsizeof` |",
        "|---|---|",
        *[f"| {name} | {size:,} B |" for name, size in memory["parts"].items()],
        "",
        f"A real publisher right after accepting {memory['events']:,} events "
        f"({memory['pending_at_snapshot']:,} still pending): Python heap "
        f"**{memory['heap_bytes_per_event']:,.0f} bytes per accepted event**; where it was "
        "allocated:",
        "",
        "| allocation site | code | bytes per event |",
        "|---|---|---|",
        *[
            f"| {item['site']} | `{item['code']}` | {item['bytes_per_event']:,.0f} |"
            for item in memory["sites"]
        ],
    ]
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000, help="events per burst")
    parser.add_argument("--bursts", type=int, default=10)
    parser.add_argument(
        "--seconds", type=int, default=5, help="seconds of subscriber core and of the function"
    )
    parser.add_argument("--function-rate", type=int, default=5_000, help="events/s (function)")
    parser.add_argument("--child", choices=["publisher", "core", "memory"], help=argparse.SUPPRESS)
    parser.add_argument("--topic", default="profile", help=argparse.SUPPRESS)
    add_common_arguments(parser)
    args = parser.parse_args()
    if args.child:
        child = {"publisher": publisher_child, "core": core_child, "memory": memory_child}
        print(json.dumps(child[args.child](args)), flush=True)
        os._exit(0)
    check_arguments(args)
    if args.quick:
        args.events, args.bursts, args.seconds, args.function_rate = 1_000, 2, 1, 1_000
        global sample_rate
        sample_rate = QUICK_SAMPLE_RATE
    script = str(Path(__file__).resolve())
    sizes = ["--events", str(args.events), "--bursts", str(args.bursts)]
    directory = Path(tempfile.mkdtemp(prefix="il-audit-profile-"))
    results: dict[str, Any] = {}
    with emulator(args.emulator_host):
        publisher = directory / "publisher.txt"
        run = timed("profile: publisher")(py_spy)(
            [script, "--child", "publisher", "--topic", f"profile-{os.getpid()}", *sizes],
            publisher,
        )
        results["publisher"] = {**analyse_publisher(publisher), "run": run}
        core = directory / "core.txt"
        timed("profile: subscriber core")(py_spy)(
            [script, "--child", "core", "--seconds", str(args.seconds)], core
        )
        results["core"] = analyse_core(core)
        results["function"] = timed("profile: function")(profile_function)(args, directory)
        results["memory"] = timed("memory per event")(run_child)(
            [script, "--child", "memory", "--topic", f"memory-{os.getpid()}", "--events",
             str(args.events * (1 if args.quick else 5))]
        )  # fmt: skip
    text = tables(results, args)
    print(text)
    if args.write:
        write_section("profile", text)


if __name__ == "__main__":
    main()
