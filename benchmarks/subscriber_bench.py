"""Subscriber benchmark: the pure core's events/s, and the local stack end to end.

1. Core, one process, one thread: ``process_message`` on messages of 1 and of
   100 envelopes (validation, pricing, row shaping), against pydantic's bare
   ``Envelope.model_validate_json`` of the same envelopes in the same run (the
   floor: validation alone, no pricing or rows).
2. Local stack: events/s from the first ``emit()`` until every row is in
   DuckDB, through the official Pub/Sub emulator, a push subscription,
   functions-framework serving ``handle_pubsub`` and the DuckDB sink.

    python benchmarks/subscriber_bench.py [--events 20000] [--write]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

import duckdb  # noqa: E402
from _readme import write_section  # noqa: E402

from il_audit.config.settings import AuditSettings  # noqa: E402
from il_audit.devtools import pubsub_emulator  # noqa: E402
from il_audit.devtools.local_stack import PubSubLayout, provision_pubsub, start_function  # noqa: E402
from il_audit.publisher import AuditContext, AuditPublisher  # noqa: E402
from il_audit.publisher._encode import ContextDefaults, encode  # noqa: E402
from il_audit.publisher._ids import new_event_id  # noqa: E402
from il_audit.schemas import Envelope  # noqa: E402
from il_audit.schemas import taxonomy as T  # noqa: E402
from il_audit.subscriber_fn.core import MessageMeta, process_message  # noqa: E402
from il_audit.subscriber_fn.pricing import seed_catalog  # noqa: E402

PROJECT = "il-audit-bench"
CTX = AuditContext(app="ingest", actor_uid="user-1", request_id="req-1", session_id="s-1")


def sample_lines(count: int) -> list[bytes]:
    """Realistic envelopes as the publisher encodes them: half with priced usage."""
    lines = []
    for index in range(count):
        fields: dict[str, Any] = {"status": "succeeded", "resource_id": f"file-{index}"}
        event_type = T.INGEST_FILE_INDEXED
        if index % 2:
            event_type = T.API_USAGE_RECORDED
            fields["usage"] = [
                {"service": "vertex_gemini", "model_id": "gemini-2.0-flash",
                 "input_tokens": 1200 + index, "output_tokens": 80},
                {"service": "cloud_run", "model_id": "cpu_second", "quantity": 1.5},
            ]  # fmt: skip
        now = time.time_ns()
        encoded = encode(
            (new_event_id(now), now, event_type, CTX, fields), ContextDefaults(None, "bench")
        )
        assert encoded.problem is None
        lines.append(encoded.line)
    return lines


def core_rates(total: int) -> dict[str, float]:
    """Events/s of the core (per message size) and of bare validation."""
    lines = sample_lines(total)
    catalog = seed_catalog()
    meta = MessageMeta("m-1", datetime.now(UTC), 1)
    results: dict[str, float] = {}
    for per_message in (1, 100):
        messages = [b"\n".join(lines[i : i + per_message]) for i in range(0, total, per_message)]
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            for message in messages:
                outcome = process_message(message, meta, catalog, datetime.now(UTC))
                assert not outcome.rejects
            best = min(best, time.perf_counter() - start)
        results[f"core_{per_message}"] = total / best
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for line in lines:
            Envelope.model_validate_json(line)
        best = min(best, time.perf_counter() - start)
    results["bare"] = total / best
    return results


def local_stack_rate(events: int) -> float:
    """Events/s from the first emit until every row is in DuckDB."""
    emulator = pubsub_emulator.start()
    os.environ["PUBSUB_EMULATOR_HOST"] = emulator.host
    database = Path(tempfile.mkdtemp()) / "bench.duckdb"
    layout = PubSubLayout.for_topic(PROJECT, "bench-events")
    server = start_function(
        {
            "GOOGLE_CLOUD_PROJECT": PROJECT,
            "IL_AUDIT_DLQ_TOPIC": layout.dlq_topic,
            "IL_AUDIT_SINK": "duckdb",
            "IL_AUDIT_DUCKDB_PATH": str(database),
        }
    )
    try:
        provision_pubsub(layout, server.url)
        base = AuditSettings.from_env({})
        settings = AuditSettings.model_validate(
            {**base.model_dump(), "transport": "pubsub", "project": PROJECT,
             "topic": layout.topic, "write_queue_max_size": events + 1}
        )  # fmt: skip
        publisher = AuditPublisher(settings)
        start = time.perf_counter()
        for index in range(events):
            publisher.emit(T.INGEST_FILE_INDEXED, context=CTX, status="ok", resource_id=str(index))
        assert publisher.flush(300)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            try:
                with duckdb.connect(str(database), read_only=True) as connection:
                    row = connection.execute("SELECT count(*) FROM events").fetchone()
                if row and row[0] >= events:
                    break
            except duckdb.Error:
                pass
            time.sleep(0.05)
        elapsed = time.perf_counter() - start
        publisher.shutdown(10)
        return events / elapsed
    finally:
        server.stop()
        emulator.stop()


def table(core: dict[str, float], stack: float, args: argparse.Namespace) -> str:
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    rows = [
        "| measure | events/s | ratio |",
        "|---|---|---|",
        f"| pydantic `Envelope.model_validate_json` alone (floor: no pricing, no rows) "
        f"| {core['bare']:,.0f} | 1.00 |",
        f"| core, messages of 100 envelopes | {core['core_100']:,.0f} "
        f"| {core['core_100'] / core['bare']:.2f} of bare validation |",
        f"| core, messages of 1 envelope | {core['core_1']:,.0f} "
        f"| {core['core_1'] / core['bare']:.2f} of bare validation |",
        f"| local stack end to end ({args.events:,} events: emit -> emulator -> push -> "
        f"functions-framework -> DuckDB) | {stack:,.0f} | |",
    ]
    header = (
        f"Measured {time.strftime('%Y-%m-%d')} on {machine}; core figures are the best of "
        f"three passes over {args.core_events:,} envelopes (half with two priced usage items)."
    )
    return header + "\n\n" + "\n".join(rows) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000, help="events for the local stack")
    parser.add_argument("--core-events", type=int, default=20_000)
    parser.add_argument("--write", action="store_true", help="update benchmarks/README.md")
    args = parser.parse_args()
    core = core_rates(args.core_events)
    stack = local_stack_rate(args.events)
    text = table(core, stack, args)
    print(text)
    if args.write:
        write_section("subscriber", text)


if __name__ == "__main__":
    main()
