"""The two children of ``soak.py``: the emitter, and the worker with the discard sink.

    python benchmarks/_soak_child.py emitter --topic T --rate R --seconds S --ids-out FILE
    python benchmarks/_soak_child.py worker --ids-out FILE [--trace DIR] \
        subscriber pull --subscription S --health-port 0
    python benchmarks/_soak_child.py index --keys uuid7|uuid4 --rows N --database FILE

Both write the 16 bytes of every event id they emit (store) to ``--ids-out``
with one ``os.write`` per tick (batch): no id is kept in memory, and pages
written with ``write`` are the kernel's page cache, not the process's RSS.
``soak.py`` compares the two files after the run. The worker prints what
``il-audit subscriber pull`` prints (``WorkerProcess`` reads it). With
``--trace DIR`` it also writes a ``tracemalloc`` snapshot there every minute
(``soak.py --trace`` diffs them).

``index`` writes ``rows`` benchmark events through the DuckDB sink in batches
of 5,000 (the worker's default), with il-audit's time-ordered ids (``uuid7``)
or random ones (``uuid4``), and reports what DuckDB holds then by
``duckdb_memory()`` tag and the process's RSS: what a primary key costs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import tracemalloc
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench import APP, EVENT_TYPE, PROJECT, PROPERTIES

EVENTS_PER_REQUEST = 2
TRACE_INTERVAL_SECONDS = 60


def id_bytes(event_ids: Sequence[str]) -> bytes:
    """The ids (UUID text) as 16 bytes each."""
    return b"".join(bytes.fromhex(event_id.replace("-", "")) for event_id in event_ids)


def emitter(args: argparse.Namespace) -> dict[str, Any]:
    """Emit ``rate`` events/s for ``seconds``, a new context per request; ids to ``ids_out``."""
    os.environ.update(
        {
            "IL_AUDIT_TRANSPORT": "pubsub",
            "GOOGLE_CLOUD_PROJECT": PROJECT,
            "IL_AUDIT_TOPIC": args.topic,
            "IL_AUDIT_EXTRA_EVENT_TYPES": EVENT_TYPE,
            # 30 s of events may wait for the emulator before emit() drops (and counts).
            "IL_AUDIT_WRITE_QUEUE_MAX_SIZE": str(args.rate * 30),
            # Every stored event_id must be one it emitted: no heartbeat events.
            "IL_AUDIT_HEARTBEAT_SECONDS": "0",
        }
    )
    import il_audit

    out = os.open(args.ids_out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    warm = il_audit.emit(EVENT_TYPE, context=il_audit.AuditContext(app=APP), warm_up=True)
    os.write(out, id_bytes([str(warm)]))
    il_audit.flush_audit_writer(timeout=30)
    print("emitting", flush=True)
    requests = round(args.rate * args.seconds / EVENTS_PER_REQUEST)
    per_second = args.rate / EVENTS_PER_REQUEST
    start = time.monotonic()
    request = 0
    while request < requests:
        delay = start + request / per_second - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        due = min(requests, int((time.monotonic() - start) * per_second) + 1)
        ids = []
        while request < due:
            context = il_audit.AuditContext(
                app=APP,
                actor_uid=f"user-{request % 5000}",
                request_id=f"req-{request}",
                session_id=f"session-{request // 20}",
            )
            for _ in range(EVENTS_PER_REQUEST):
                ids.append(str(il_audit.emit(EVENT_TYPE, context=context, **PROPERTIES)))
            request += 1
        os.write(out, id_bytes(ids))
    seconds = time.monotonic() - start
    print("emitted", flush=True)
    os.close(out)
    il_audit.flush_audit_writer(timeout=120)
    stats = il_audit.stats()
    return {
        "emitted": requests * EVENTS_PER_REQUEST + 1,
        "achieved_rate": requests * EVENTS_PER_REQUEST / seconds,
        "dropped": stats.dropped,
        "failed": stats.failed,
        "pending": stats.pending,
    }


class DiscardSink:
    """A sink that keeps nothing: it appends each stored row's id (16 bytes) to a file."""

    name = "discard"

    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        self.dead_letters = 0

    def ensure_tables(self) -> None:
        return None

    def write_events(self, rows: Sequence[Mapping[str, Any]]) -> dict[int, str]:
        os.write(self._fd, id_bytes([row["event_id"] for row in rows]))
        return {}

    def write_dead_letters(self, rows: Sequence[Mapping[str, Any]]) -> None:
        self.dead_letters += len(rows)

    def read_cost_rates(self) -> list[dict[str, Any]]:
        return []

    def upsert_cost_rates(self, rows: Sequence[Mapping[str, Any]]) -> None:
        raise NotImplementedError(f"the discard sink keeps no cost rates ({len(rows)} given)")

    def close(self) -> None:
        os.close(self._fd)


def _trace_every_minute(directory: Path) -> None:
    tracemalloc.start(25)
    directory.mkdir(parents=True, exist_ok=True)

    def dump() -> None:
        for minute in range(1, 10_000):
            time.sleep(TRACE_INTERVAL_SECONDS)
            tracemalloc.take_snapshot().dump(str(directory / f"minute-{minute:03d}.tracemalloc"))

    threading.Thread(target=dump, name="soak-tracemalloc", daemon=True).start()


def worker(args: argparse.Namespace) -> int:
    """``il-audit subscriber pull``'s ``run_worker`` with the discard sink."""
    if args.trace:
        _trace_every_minute(Path(args.trace))
    from il_audit.config.settings import get_audit_settings
    from il_audit.schemas import taxonomy
    from il_audit.subscriber_fn.catalogs import catalog_provider
    from il_audit.subscriber_fn.dead_letter import DeadLetterTopic
    from il_audit.subscriber_fn.pipeline import Pipeline
    from il_audit.subscriber_fn.pull_runner import run_worker
    from il_audit.subscriber_fn.pull_worker import PullSettings

    settings = get_audit_settings(strict=True)
    taxonomy.register_many(settings.extra_event_types)
    sink = DiscardSink(args.ids_out)
    pipeline = Pipeline(
        sink,
        catalog_provider(settings, sink.read_cost_rates),
        DeadLetterTopic(PROJECT, settings.dlq_topic),
    )

    def echo(text: str) -> None:
        print(text, flush=True)

    return run_worker(
        settings,
        PullSettings(args.subscription),
        health_host="127.0.0.1",
        health_port=0,
        echo=echo,
        pipeline=pipeline,
    )


def index(args: argparse.Namespace) -> dict[str, Any]:
    """Write ``rows`` events through DuckDBSink; then DuckDB's memory by tag and the RSS."""
    import uuid
    from datetime import UTC, datetime

    from subscriber_bench import sample_lines

    from il_audit.publisher._ids import new_event_id
    from il_audit.subscriber_fn.core import MessageMeta, process_message
    from il_audit.subscriber_fn.pricing import seed_catalog
    from il_audit.subscriber_fn.sinks.duckdb import DuckDBSink

    batch = 5000
    now = datetime.now(UTC)
    lines = b"\n".join(sample_lines("event", batch))
    rows = process_message(lines, MessageMeta("m-1", now, 1), seed_catalog(), now).rows
    sink = DuckDBSink(args.database)
    sink.ensure_tables()
    started = time.monotonic()
    written = 0
    memory: dict[str, int] = {}
    rss = 0.0
    while written < args.rows:
        for row in rows:
            row["event_id"] = (
                new_event_id(time.time_ns()) if args.keys == "uuid7" else str(uuid.uuid4())
            )
        sink.write_events(rows)
        written += len(rows)
        if written > 0.9 * args.rows:  # the peaks of the last tenth: what a million rows hold
            with sink.file.writer() as connection:  # the connection the write used, if held
                tags = connection.execute("SELECT tag, memory_usage_bytes FROM duckdb_memory()")
                for tag, size in tags.fetchall():
                    memory[str(tag)] = max(memory.get(str(tag), 0), int(size))
            rss = max(rss, _rss_mb())
    seconds = time.monotonic() - started
    sink.close()
    return {"rows": written, "seconds": seconds, "memory": memory, "rss_mb": rss}


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", choices=("emitter", "worker", "index"))
    parser.add_argument("--ids-out", default="")
    parser.add_argument("--topic")
    parser.add_argument("--rate", type=int)
    parser.add_argument("--seconds", type=float)
    parser.add_argument("--subscription")
    parser.add_argument("--trace", default="")
    parser.add_argument("--keys", choices=("uuid7", "uuid4"), default="uuid7")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database", default="")
    args, _ = parser.parse_known_args()  # the worker also gets `subscriber pull --health-port 0`
    if args.role == "emitter":
        print(json.dumps(emitter(args)), flush=True)
    elif args.role == "index":
        print(json.dumps(index(args)), flush=True)
    else:
        raise SystemExit(worker(args))


if __name__ == "__main__":
    main()
