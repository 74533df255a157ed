"""The GCP bill per million audit events: il-audit's paths, the naive one and a zero-code peer.

    python benchmarks/cost.py --measure   # measure bytes and CPU here, write cost_measured.json
    python benchmarks/cost.py --write     # bill into docs/costs.md and the README's line
    python benchmarks/cost.py --check     # exit 1 if docs/costs.md or the README is not the bill

The bill (``cost_model.py``) multiplies **measured quantities**
(``cost_measured.json``) by **list prices** (``gcp_prices.json``, each with its
source and the date it was read), for the function's **deployment shape** as
Terraform deploys it (the defaults of ``infra/terraform/variables.tf``), and
bills the function as Cloud Run does: allocated vCPU and memory for each push's
wall time, rounded up to 100 ms. The measured quantities:

- *bytes*: the demo workload's audit events (logins, an ingest job, chat turns
  with priced usage, UI beacons) packed by the real publisher, as NDJSON and as
  the gzip bodies it sends to Pub/Sub, attributes included; and the BigQuery
  size of the rows the real subscriber core makes of them, by BigQuery's
  data-size rules (STRING 2 + UTF-8 bytes, INT64/FLOAT64/TIMESTAMP/DATE 8,
  NUMERIC 16, BOOL 1, JSON its text, NULL 0);
- *CPU-seconds*: the production function (functions-framework's app serving
  ``handle_pubsub`` in this process) handling pushes of 500 events (ours,
  Storage Write API) and of one event (the naive path, insertAll) against the
  BigQuery stand-in, measured with ``process_time``; and the pull worker's CPU
  per 1,000 events from ``pull_bench.py`` (end to end against the emulator),
  copied into the file with its date.

Assumed, and named in ``gcp_prices.json``'s ``assumptions``: the time a push
waits on BigQuery (a wall-time cost the function is billed for).

The paths:

- **naive**: one event per message (the usual ``publish(json.dumps(event))``),
  a push to a function per message, one legacy streaming insert per row (billed
  at 1 KB at least);
- **zero-code peer**: a Pub/Sub BigQuery subscription: no code, one JSON event
  per message (it cannot inflate gzip or split NDJSON), and no validation,
  pricing or dead-lettering; billed at its own per-TiB delivery price;
- **ours, function**: 500 events per gzip message, one function invocation per
  message, the Storage Write API;
- **ours, pull worker**: the same messages pulled by ``il-audit subscriber
  pull`` on Cloud Run instances with CPU always allocated (1 vCPU, 512 MiB,
  kept at most 70 % busy, at least one instance), at a sustained 1k, 10k and
  100k events/s.

BigQuery active storage is a separate line: the same rows on every path.
What the bill leaves out, on purpose: free tiers (they only lower the small
bills), queries (the same whatever the path), and instance start-up (billed
while an instance starts; at a steady rate instances stay warm, and the
naive path, with a push per event, would start more of them).
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import re
import statistics
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from cost_model import (
    NAIVE,
    PACKED,
    bill,
    function_shape,
    render,
    summary,
    terraform_defaults,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PRICES = HERE / "gcp_prices.json"
MEASURED = HERE / "cost_measured.json"
COSTS_DOC = ROOT / "docs/costs.md"
README_MAIN = ROOT / "README.md"


def table() -> str:
    prices = json.loads(PRICES.read_text())
    measured = json.loads(MEASURED.read_text())
    shape = function_shape(terraform_defaults(), prices)
    return render(bill(prices, measured, shape), prices, measured, shape)


def readme_summary() -> str:
    prices = json.loads(PRICES.read_text())
    measured = json.loads(MEASURED.read_text())
    return summary(bill(prices, measured, function_shape(terraform_defaults(), prices)))


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


# --- the documents -------------------------------------------------------------------------


def _section(path: Path, name: str) -> str | None:
    match = re.search(rf"<!-- {name}:begin -->\n(.*?)<!-- {name}:end -->", path.read_text(), re.S)
    return match.group(1) if match else None


def _targets() -> list[tuple[Path, str, str]]:
    """(file, marker name, text it must hold): the table in docs/costs.md, one line in README."""
    return [(COSTS_DOC, "cost", table()), (README_MAIN, "cost-summary", readme_summary())]


def write() -> None:
    for path, name, text in _targets():
        if _section(path, name) is None:
            raise SystemExit(f"{path.name} has no {name} markers")
        path.write_text(
            re.sub(
                rf"<!-- {name}:begin -->\n.*?<!-- {name}:end -->",
                lambda _, name=name, text=text: f"<!-- {name}:begin -->\n{text}<!-- {name}:end -->",
                path.read_text(),
                flags=re.S,
            )
        )


def stale() -> Iterable[str]:
    """The documents whose cost text is not the bill of the committed files."""
    return [path.name for path, name, text in _targets() if _section(path, name) != text]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--measure", action="store_true", help="measure, write the JSON")
    parser.add_argument(
        "--write", action="store_true", help="write docs/costs.md and the README line"
    )
    parser.add_argument("--check", action="store_true", help="fail if either is out of date")
    parser.add_argument("--events", type=int, default=5_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--naive-pushes", type=int, default=1_000)
    args = parser.parse_args()
    if args.measure:
        measured = measure(args.events, args.reps, args.naive_pushes)
        MEASURED.write_text(json.dumps(measured, indent=2, default=_number) + "\n")
    if args.check and (out_of_date := stale()):
        print(f"out of date: {', '.join(out_of_date)}; run benchmarks/cost.py --write")
        sys.exit(1)
    if args.write:
        write()
    print(table())


def _number(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(type(value).__name__)


if __name__ == "__main__":
    main()
