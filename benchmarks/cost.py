"""The GCP bill per million audit events: il-audit's two paths against the naive one.

    python benchmarks/cost.py --measure   # measure bytes and CPU here, write cost_measured.json
    python benchmarks/cost.py --write     # bill from the two JSON files into both READMEs
    python benchmarks/cost.py --check     # exit 1 if a README's table is not the bill (a test)

The bill multiplies **measured quantities** (``cost_measured.json``) by **list
prices** (``gcp_prices.json``, each with its source and the date it was read):

- *bytes*: the demo workload's audit events (logins, an ingest job, chat turns
  with priced usage, UI beacons) packed by the real publisher, as NDJSON and as
  the gzip bodies it sends to Pub/Sub, attributes included; and the BigQuery
  size of the rows the real subscriber core makes of them, by BigQuery's
  data-size rules (STRING 2 + UTF-8 bytes, INT64/FLOAT64/TIMESTAMP/DATE 8,
  NUMERIC 16, BOOL 1, JSON its text, NULL 0);
- *CPU-seconds*: the production function (functions-framework's app serving
  ``handle_pubsub`` in this process, DuckDB sink) handling pushes of 500 events
  (ours) and of one event (the naive path), measured with ``process_time``; and
  the pull worker's CPU per 1,000 events from ``pull_bench.py`` (end to end
  against the emulator), copied into the file with its date;
- *invocations*: one per message.

The paths:

- **naive**: one event per message (the usual ``publish(json.dumps(event))``),
  a push to a function per message, one legacy streaming insert per row (billed
  at 1 KB at least);
- **ours, function**: 500 events per gzip message, one function invocation per
  message, the Storage Write API;
- **ours, pull worker**: the same messages pulled by ``il-audit subscriber
  pull`` on Cloud Run instances with CPU always allocated (1 vCPU, 512 MiB,
  kept at most 70 % busy, at least one instance), at a sustained 1k, 10k and
  100k events/s.

What the bill leaves out, on purpose: free tiers (they only lower the small
bills), BigQuery storage and queries (the same rows whatever the path), and
time a function instance waits on BigQuery without using CPU. The last one
favours the naive path, which waits once per event where ours waits once per
500, so the ratios are, if anything, conservative.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import math
import os
import re
import statistics
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PRICES = HERE / "gcp_prices.json"
MEASURED = HERE / "cost_measured.json"
README_BENCH = HERE / "README.md"
README_MAIN = ROOT / "README.md"
EVENTS = 1_000_000
RATES = (1_000, 10_000, 100_000)
TIB, GIB = 2**40, 2**30
PACKED, NAIVE = 500, 1


# --- the bill -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """One path's bill per million events, by item (USD)."""

    path: str
    pubsub: float
    compute: float
    bigquery: float

    @property
    def total(self) -> float:
        return self.pubsub + self.compute + self.bigquery


def _price(prices: Mapping[str, Any], name: str) -> float:
    return float(prices["prices"][name]["usd"])


def pubsub_cost(prices: Mapping[str, Any], bytes_per_message: float, per_message: int) -> float:
    """Publish plus delivery of a million events, each request billed at its 1,000-byte floor.

    Publish requests carry many messages for the naive path too (the official
    client batches 100 per request), so only delivery pays the floor there.
    """
    floor = prices["prices"]["pubsub_throughput_per_tib"]["minimum_bytes_per_request"]
    messages = EVENTS / per_message
    publish = messages * bytes_per_message
    delivery = messages * max(floor, bytes_per_message)
    return (publish + delivery) / TIB * _price(prices, "pubsub_throughput_per_tib")


def function_cost(prices: Mapping[str, Any], cpu_per_invocation: float, per_message: int) -> float:
    """Invocations plus the vCPU- and GiB-seconds they keep an instance busy."""
    shape = prices["deployment"]
    invocations = EVENTS / per_message
    busy = invocations * cpu_per_invocation / shape["function_vcpu"]
    return (
        invocations / 1e6 * _price(prices, "functions_invocations_per_million")
        + busy * shape["function_vcpu"] * _price(prices, "functions_vcpu_second")
        + busy * shape["function_gib"] * _price(prices, "functions_gib_second")
    )


def worker_cost(prices: Mapping[str, Any], cpu_per_event: float, rate: float) -> float:
    """Always-on instances sized for ``rate`` events/s, per million events."""
    shape = prices["deployment"]
    vcpus_busy = rate * cpu_per_event
    instances = max(
        shape["worker_min_instances"],
        math.ceil(vcpus_busy / (shape["worker_vcpu"] * shape["worker_target_utilisation"])),
    )
    per_second = instances * (
        shape["worker_vcpu"] * _price(prices, "run_instance_vcpu_second")
        + shape["worker_gib"] * _price(prices, "run_instance_gib_second")
    )
    return per_second * EVENTS / rate


def streaming_insert_cost(prices: Mapping[str, Any], row_bytes: float) -> float:
    """Legacy streaming inserts: every row billed at 1 KB at least."""
    floor = prices["prices"]["bigquery_streaming_insert_per_gib"]["minimum_bytes_per_row"]
    return (
        EVENTS * max(floor, row_bytes) / GIB * _price(prices, "bigquery_streaming_insert_per_gib")
    )


def storage_write_cost(prices: Mapping[str, Any], row_bytes: float) -> float:
    """The Storage Write API: the rows' bytes, no per-row floor."""
    return EVENTS * row_bytes / GIB * _price(prices, "bigquery_storage_write_per_gib")


def bill(prices: Mapping[str, Any], measured: Mapping[str, Any]) -> list[Line]:
    """The naive path first, then ours: the function path and the pull worker at each rate."""
    size, cpu = measured["bytes"], measured["cpu_seconds"]
    packed_pubsub = pubsub_cost(prices, size["gzip_per_message"], PACKED)
    write_api = storage_write_cost(prices, size["bigquery_row"])
    lines = [
        Line(
            "naive: 1 event per message, function, insertAll",
            pubsub_cost(prices, size["naive_per_message"], NAIVE),
            function_cost(prices, cpu["function_per_invocation_one_event"], NAIVE),
            streaming_insert_cost(prices, size["bigquery_row"]),
        ),
        Line(
            "il-audit: function path (500 per gzip message, Storage Write API)",
            packed_pubsub,
            function_cost(prices, cpu["function_per_invocation_500_events"], PACKED),
            write_api,
        ),
    ]
    for rate in RATES:
        lines.append(
            Line(
                f"il-audit: pull worker on Cloud Run at {rate:,} events/s",
                packed_pubsub,
                worker_cost(prices, cpu["pull_worker_per_1000_events"] / 1000, rate),
                write_api,
            )
        )
    return lines


def render(lines: Sequence[Line], prices: Mapping[str, Any], measured: Mapping[str, Any]) -> str:
    """The Markdown table with the facts it rests on."""
    naive = lines[0].total
    size, cpu = measured["bytes"], measured["cpu_seconds"]
    rows = [
        "| path | Pub/Sub | compute | BigQuery ingestion | total per 1M events | ÷ naive |",
        "|---|---|---|---|---|---|",
    ]
    for line in lines:
        rows.append(
            f"| {line.path} | ${line.pubsub:.4f} | ${line.compute:.4f} | "
            f"${line.bigquery:.4f} | **${line.total:.4f}** | {line.total / naive:.3f} |"
        )
    worst = max(line.total for line in lines[1:]) / naive
    verdict = "met" if worst <= 0.1 else "**not met**"
    return (
        "\n".join(rows)
        + "\n\n"
        + f"List prices of {prices['checked']} (`benchmarks/gcp_prices.json`, sources there; "
        "no free tier applied); quantities measured "
        f"{measured['measured']} (`benchmarks/cost_measured.json`): "
        f"{size['plain_per_event']:.0f} B of NDJSON per event, "
        f"{size['gzip_per_message'] / PACKED:.0f} B gzip in messages of {PACKED} "
        f"({size['plain_per_event'] * PACKED / size['gzip_per_message']:.1f}x), "
        f"{size['bigquery_row']:.0f} B per BigQuery row; function CPU "
        f"{cpu['function_per_invocation_one_event'] * 1000:.2f} ms per one-event push and "
        f"{cpu['function_per_invocation_500_events'] * 1000:.1f} ms per 500-event push "
        "(in-process, against the BigQuery stand-in); "
        f"pull worker {cpu['pull_worker_per_1000_events']:.3f} CPU-s per 1,000 events "
        "(`pull_bench.py`: through the emulator into DuckDB). "
        f"Target (issue 15): every il-audit path ≤ 1/10 of the naive path: {verdict} "
        f"(highest ratio {worst:.3f}).\n"
    )


def table() -> str:
    prices = json.loads(PRICES.read_text())
    measured = json.loads(MEASURED.read_text())
    return render(bill(prices, measured), prices, measured)


# --- measuring ----------------------------------------------------------------------------


def bigquery_size(value: Any, column: Any) -> int:
    """BigQuery's logical size of one value of ``column`` (its data-size rules)."""
    if value is None:
        return 0
    if column.mode == "REPEATED":
        return sum(bigquery_size(item, _single(column)) for item in value)
    kind = column.type
    if kind == "RECORD":
        return sum(bigquery_size(value.get(field.name), field) for field in column.fields)
    if kind == "STRING":
        return 2 + len(str(value).encode("utf-8"))
    if kind == "JSON":
        text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
        return len(text.encode("utf-8"))
    if kind == "BOOL":
        return 1
    if kind == "NUMERIC":
        return 16
    return 8  # INT64, FLOAT64, TIMESTAMP, DATE


def _single(column: Any) -> Any:
    from dataclasses import replace

    return replace(column, mode="NULLABLE")


def _demo_messages(events: int, per_message: int) -> list[tuple[bytes, dict[str, str]]]:
    """The demo workload through the real publisher: (NDJSON body, attributes) per message."""
    from il_audit.config.settings import AuditSettings
    from il_audit.devtools.demo_workload import generate
    from il_audit.publisher import AuditPublisher, MemoryTransport

    os.environ.update(
        {
            "IL_AUDIT_TRANSPORT": "memory",
            "IL_AUDIT_MAX_EVENTS_PER_MESSAGE": str(per_message),
            "IL_AUDIT_MAX_MESSAGE_BYTES": str(9_000_000),
            "IL_AUDIT_WRITE_QUEUE_MAX_SIZE": str(events * 2),
            "IL_AUDIT_MAX_LATENCY_MS": "60000",
        }
    )
    transport = MemoryTransport(max_messages=None)
    publisher = AuditPublisher(AuditSettings.from_env(), transport=transport)
    for event in generate(events):
        if not event.malformed:
            publisher.emit(event.event_type, context=event.context, **event.fields)
    if not publisher.flush(120).complete:
        raise RuntimeError(f"the publisher did not flush: {publisher.stats()}")
    publisher.shutdown(5)
    return [(message.data, dict(message.attributes)) for message in transport.messages]


def _attribute_bytes(attributes: Mapping[str, str]) -> int:
    return sum(len(key.encode()) + len(value.encode()) for key, value in attributes.items())


def measure_bytes(events: int) -> tuple[dict[str, float], list[bytes], list[bytes]]:
    """Bytes per message and per row; the packed and the one-event bodies for the CPU runs."""
    from il_audit.schemas.tables import EVENTS as EVENTS_TABLE
    from il_audit.schemas.wire import ATTR_ENCODING, ENCODING_GZIP, compress_body
    from il_audit.subscriber_fn.core import MessageMeta, process_message
    from il_audit.subscriber_fn.pricing import seed_catalog

    packed = [m for m in _demo_messages(events, PACKED) if m[0].count(b"\n") + 1 == PACKED]
    single = _demo_messages(events, NAIVE)
    encoding = len(ATTR_ENCODING) + len(ENCODING_GZIP)
    gzip_sizes = [len(compress_body(data)) + _attribute_bytes(a) + encoding for data, a in packed]
    plain_lines = sum(data.count(b"\n") + 1 for data, _ in packed)
    columns = {column.name: column for column in EVENTS_TABLE.columns}
    catalog, now = seed_catalog(), datetime.now(UTC)
    row_sizes = [
        sum(bigquery_size(row.get(name), column) for name, column in columns.items())
        for data, _ in packed
        for row in process_message(data, MessageMeta("cost"), catalog, now).rows
    ]
    sizes = {
        "plain_per_event": sum(len(data) for data, _ in packed) / plain_lines,
        "gzip_per_message": statistics.fmean(gzip_sizes),
        "naive_per_message": statistics.fmean(len(d) + _attribute_bytes(a) for d, a in single),
        "bigquery_row": statistics.fmean(row_sizes),
    }
    return sizes, [compress_body(data) for data, _ in packed], [data for data, _ in single]


def measure_function_cpu(bodies: Sequence[bytes], reps: int, env: Mapping[str, str]) -> float:
    """CPU-seconds per push of the production function, in this process, with ``env``'s sink.

    functions-framework's own app serves ``handle_pubsub``; only the HTTP socket is
    left out. The BigQuery stand-in runs in its own process, so its CPU (BigQuery's
    work, which the price covers) is not counted; the Google client's is.
    """
    import functions_framework

    from il_audit.config.settings import AuditSettings
    from il_audit.subscriber_fn import main as function_main
    from il_audit.subscriber_fn import pipeline

    os.environ.update(env)
    pipeline.reset_default_pipeline()
    # No dead-letter topic: nothing here is rejected, and no emulator is needed.
    pipeline._default = pipeline.build_pipeline(AuditSettings.from_env(), with_topic=False)
    app = functions_framework.create_app("handle_pubsub", function_main.__file__, "cloudevent")
    logging.getLogger("il_audit").setLevel(logging.WARNING)  # one INFO line per push otherwise
    client = app.test_client()
    samples = []
    for rep in range(reps + 1):  # the first pass warms up (imports, tables, catalog)
        started = time.process_time()
        for index, body in enumerate(bodies):
            message_id = f"cost-{rep}-{index}-{len(bodies)}"
            push = {
                "message": {
                    "data": base64.b64encode(body).decode("ascii"),
                    "messageId": message_id,
                    "publishTime": datetime.now(UTC).isoformat(),
                    "attributes": {"il_audit_schema": "1"},
                },
                "subscription": "projects/il-audit-cost/subscriptions/cost",
            }
            response = client.post(
                "/",
                data=json.dumps(push),
                headers={
                    "ce-specversion": "1.0",
                    "ce-type": "google.cloud.pubsub.topic.v1.messagePublished",
                    "ce-source": "//pubsub.googleapis.com/projects/il-audit-cost/topics/cost",
                    "ce-id": message_id,
                    "Content-Type": "application/json",
                },
            )
            if response.status_code != 200:
                raise RuntimeError(f"the function answered {response.status_code}")
        if rep:
            samples.append((time.process_time() - started) / len(bodies))
    pipeline.reset_default_pipeline()
    return statistics.median(samples)


def measure(events: int, reps: int, naive_pushes: int) -> dict[str, Any]:
    """Everything ``cost_measured.json`` holds except the pull worker's CPU (kept as it is)."""
    from il_audit.devtools.bigquery_standin import start

    sizes, packed, single = measure_bytes(events)
    previous = json.loads(MEASURED.read_text()) if MEASURED.exists() else {}
    standin = start("il-audit-cost")
    try:
        env = {
            "GOOGLE_CLOUD_PROJECT": standin.project,
            "IL_AUDIT_SINK": "bigquery",
            "IL_BQ_API_ENDPOINT": standin.url,
            "IL_BQ_STORAGE_API_ENDPOINT": standin.grpc_address,
        }
        # The naive path first, while the stand-in's table is small (it snapshots per insert).
        naive = {**env, "IL_BQ_AUDIT_DATASET": "naive", "IL_AUDIT_BQ_WRITE_METHOD": "insert_all"}
        ours = {**env, "IL_BQ_AUDIT_DATASET": "ours", "IL_AUDIT_BQ_WRITE_METHOD": "storage_write"}
        cpu = {
            "function_per_invocation_one_event": measure_function_cpu(
                single[:naive_pushes], reps, naive
            ),
            "function_per_invocation_500_events": measure_function_cpu(packed, reps, ours),
            "pull_worker_per_1000_events": previous.get("cpu_seconds", {}).get(
                "pull_worker_per_1000_events", 0.0
            ),
        }
    finally:
        standin.stop()
    return {
        "measured": datetime.now(UTC).strftime("%Y-%m-%d"),
        "how": (
            f"python benchmarks/cost.py --measure: {events:,} demo events; the function "
            f"in-process against the BigQuery stand-in, {reps} passes after a warm-up, "
            f"{naive_pushes:,} one-event pushes (insertAll) and {len(packed)} 500-event "
            "pushes (Storage Write API) per pass"
        ),
        "pull_worker_source": previous.get("pull_worker_source", "benchmarks/pull_bench.py"),
        "bytes": sizes,
        "cpu_seconds": cpu,
    }


# --- the READMEs ---------------------------------------------------------------------------


def _section(path: Path) -> str | None:
    match = re.search(r"<!-- cost:begin -->\n(.*?)<!-- cost:end -->", path.read_text(), re.S)
    return match.group(1) if match else None


def write(text: str) -> None:
    for path in (README_BENCH, README_MAIN):
        content = path.read_text()
        if _section(path) is None:
            raise SystemExit(f"{path.name} has no cost markers")
        path.write_text(
            re.sub(
                r"<!-- cost:begin -->\n.*?<!-- cost:end -->",
                lambda _: f"<!-- cost:begin -->\n{text}<!-- cost:end -->",
                content,
                flags=re.S,
            )
        )


def stale(text: str) -> Iterable[str]:
    """The READMEs whose cost table is not ``text``."""
    return [path.name for path in (README_BENCH, README_MAIN) if _section(path) != text]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--measure", action="store_true", help="measure, write the JSON")
    parser.add_argument("--write", action="store_true", help="write the tables into the READMEs")
    parser.add_argument("--check", action="store_true", help="fail if a README is out of date")
    parser.add_argument("--events", type=int, default=5_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--naive-pushes", type=int, default=1_000)
    args = parser.parse_args()
    if args.measure:
        measured = measure(args.events, args.reps, args.naive_pushes)
        MEASURED.write_text(json.dumps(measured, indent=2, default=_number) + "\n")
    text = table()
    if args.check and (out_of_date := stale(text)):
        print(f"out of date: {', '.join(out_of_date)}; run benchmarks/cost.py --write")
        sys.exit(1)
    if args.write:
        write(text)
    print(text)


def _number(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(type(value).__name__)


if __name__ == "__main__":
    main()
