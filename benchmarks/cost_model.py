"""The bill's arithmetic: measured quantities times list prices, as GCP bills them.

``cost.py`` measures and writes; this module only computes, so the tests can
recompute every item by hand. The function's deployment shape (memory, vCPU,
concurrency) is read from the defaults of ``infra/terraform/variables.tf``, the
variables Terraform deploys with, so the bill and the deployment cannot drift.

How Cloud Run (which runs 2nd-gen functions) bills a request-based instance:
the **allocated** vCPU and memory for the **wall-clock** time while a request is
in flight, each request's time rounded up to the next 100 ms, plus $0.40 per
million requests; requests served concurrently on one instance share that time.
So a push costs ``ceil((CPU / vCPU + BigQuery wait) / 100 ms) x 100 ms`` of the
instance, divided by the concurrency (which assumes full instances: a lower
bound above 1; Terraform's default is 1, where it is exact). The BigQuery wait
is an assumption (``gcp_prices.json``'s ``assumptions``), not a measurement.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TERRAFORM_VARIABLES = ROOT / "infra/terraform/variables.tf"
EVENTS = 1_000_000
RATES = (1_000, 10_000, 100_000)
TIB, GIB = 2**40, 2**30
PACKED, NAIVE = 500, 1
BILLING_INCREMENT_SECONDS = 0.1


@dataclass(frozen=True)
class Line:
    """One path's bill per million events, by item (USD); ``ours`` marks il-audit's paths."""

    path: str
    pubsub: float
    compute: float
    bigquery: float
    ours: bool = True

    @property
    def total(self) -> float:
        return self.pubsub + self.compute + self.bigquery


@dataclass(frozen=True)
class Shape:
    """A function instance as deployed: memory, the vCPU it gets, requests at once."""

    memory: str
    gib: float
    vcpu: float
    cpu_from_memory: bool
    concurrency: int


# --- the deployment shape, from Terraform -------------------------------------------------


_VARIABLE = re.compile(r'variable\s+"(\w+)"\s*\{(.*?)\n\}', re.S)
_DEFAULT = re.compile(r"^\s*default\s*=\s*(.+?)\s*$", re.M)


def terraform_defaults(path: Path = TERRAFORM_VARIABLES) -> dict[str, Any]:
    """Each variable's scalar default (string, number, bool or null); others are left out."""
    defaults: dict[str, Any] = {}
    for name, body in _VARIABLE.findall(path.read_text()):
        match = _DEFAULT.search(body)
        if match is None:
            continue
        raw = match.group(1)
        if raw.startswith('"') and raw.endswith('"'):
            defaults[name] = raw[1:-1]
        elif raw in ("null", "true", "false"):
            defaults[name] = {"null": None, "true": True, "false": False}[raw]
        elif re.fullmatch(r"-?\d+(\.\d+)?", raw):
            defaults[name] = float(raw) if "." in raw else int(raw)
    return defaults


def memory_mib(memory: str) -> float:
    """Cloud Run's memory strings: ``512Mi``, ``1Gi``, ``512M``, ``1G``."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(Mi|Gi|M|G)", memory.strip())
    if match is None:
        raise ValueError(f"unknown memory size {memory!r} (expected e.g. 512Mi or 1Gi)")
    number = float(match.group(1))
    factor = {"Mi": 1.0, "Gi": 1024.0, "M": 1e6 / 2**20, "G": 1e9 / 2**20}[match.group(2)]
    return number * factor


def function_shape(variables: Mapping[str, Any], prices: Mapping[str, Any]) -> Shape:
    """The shape Terraform deploys: ``function_cpu`` if set, else the CPU of the memory tier."""
    memory = str(variables["function_memory"])
    mib = memory_mib(memory)
    cpu = variables.get("function_cpu")
    if cpu is None:
        tiers = prices["cloud_run_functions_cpu_by_memory"]["mib_to_vcpu"]
        fits = [int(tier) for tier in tiers if int(tier) >= mib]
        if not fits:
            raise ValueError(f"no CPU tier for {memory}; set function_cpu")
        vcpu = float(tiers[str(min(fits))])
    else:
        vcpu = float(cpu)
    return Shape(memory, mib / 1024, vcpu, cpu is None, int(variables["function_concurrency"]))


# --- the items ----------------------------------------------------------------------------


def _price(prices: Mapping[str, Any], name: str) -> float:
    return float(prices["prices"][name]["usd"])


def assumption(prices: Mapping[str, Any], name: str) -> float:
    return float(prices["assumptions"][name]["value"])


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


def billable_seconds(wall_seconds: float) -> float:
    """One request's billed time: rounded up to the next 100 ms."""
    steps = math.ceil(round(wall_seconds / BILLING_INCREMENT_SECONDS, 9))
    return max(1, steps) * BILLING_INCREMENT_SECONDS


def function_wall_seconds(shape: Shape, cpu_seconds: float, bigquery_wait: float) -> float:
    """A push's wall time on the instance: its CPU spread over the allocated vCPU, plus the wait.

    ``cpu_seconds`` is measured on one core here; an instance with 1/3 vCPU gets a third
    of a core, so the same work takes three times as long.
    """
    return cpu_seconds / min(shape.vcpu, 1.0) + bigquery_wait


def function_cost(
    prices: Mapping[str, Any],
    shape: Shape,
    cpu_per_invocation: float,
    bigquery_wait: float,
    per_message: int,
) -> float:
    """Requests, plus the allocated vCPU and memory for each request's billed wall time."""
    invocations = EVENTS / per_message
    billed = billable_seconds(function_wall_seconds(shape, cpu_per_invocation, bigquery_wait))
    instance_seconds = invocations * billed / shape.concurrency
    return invocations / 1e6 * _price(prices, "functions_invocations_per_million") + (
        instance_seconds
        * (
            shape.vcpu * _price(prices, "functions_vcpu_second")
            + shape.gib * _price(prices, "functions_gib_second")
        )
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


def bigquery_subscription_pubsub_cost(prices: Mapping[str, Any], bytes_per_message: float) -> float:
    """One event per message: published at the throughput price, delivered at the export price."""
    data = EVENTS * bytes_per_message / TIB
    return data * (
        _price(prices, "pubsub_throughput_per_tib")
        + _price(prices, "pubsub_bigquery_subscription_per_tib")
    )


def storage_cost_per_month(prices: Mapping[str, Any], row_bytes: float) -> float:
    """A million events' rows kept a month in active logical storage: the same on every path."""
    return EVENTS * row_bytes / GIB * _price(prices, "bigquery_active_storage_per_gib_month")


def bill(prices: Mapping[str, Any], measured: Mapping[str, Any], shape: Shape) -> list[Line]:
    """The naive path first, then the zero-code peer, then ours: the function, the pull worker."""
    size, cpu = measured["bytes"], measured["cpu_seconds"]
    packed_pubsub = pubsub_cost(prices, size["gzip_per_message"], PACKED)
    write_api = storage_write_cost(prices, size["bigquery_row"])
    lines = [
        Line(
            "naive: 1 event per message, function, insertAll",
            pubsub_cost(prices, size["naive_per_message"], NAIVE),
            function_cost(
                prices,
                shape,
                cpu["function_per_invocation_one_event"],
                assumption(prices, "bigquery_wait_seconds_insert_all"),
                NAIVE,
            ),
            streaming_insert_cost(prices, size["bigquery_row"]),
            ours=False,
        ),
        Line(
            "zero-code peer: Pub/Sub BigQuery subscription (1 JSON event per message; "
            "no validation, pricing or dead-lettering)",
            bigquery_subscription_pubsub_cost(prices, size["naive_per_message"]),
            0.0,
            0.0,
            ours=False,
        ),
        Line(
            "il-audit: function path (500 per gzip message, Storage Write API)",
            packed_pubsub,
            function_cost(
                prices,
                shape,
                cpu["function_per_invocation_500_events"],
                assumption(prices, "bigquery_wait_seconds_storage_write_500"),
                PACKED,
            ),
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


# --- the text -----------------------------------------------------------------------------


def render(
    lines: Sequence[Line], prices: Mapping[str, Any], measured: Mapping[str, Any], shape: Shape
) -> str:
    """The Markdown table, the storage line, and the facts and assumptions it rests on."""
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
    worst = max(line.total for line in lines if line.ours) / naive
    verdict = "met" if worst <= 0.1 else "**not met**"
    wait_one = assumption(prices, "bigquery_wait_seconds_insert_all")
    wait_500 = assumption(prices, "bigquery_wait_seconds_storage_write_500")
    one = function_wall_seconds(shape, cpu["function_per_invocation_one_event"], wait_one)
    many = function_wall_seconds(shape, cpu["function_per_invocation_500_events"], wait_500)
    cpu_source = (
        "function_cpu unset, so Cloud Run's CPU for that memory"
        if shape.cpu_from_memory
        else "function_cpu"
    )
    storage = storage_cost_per_month(prices, size["bigquery_row"])
    return (
        "\n".join(rows)
        + "\n\n"
        + f"Plus **BigQuery active storage**, the same on every path: ${storage:.4f} per "
        f"million events per month kept ({size['bigquery_row']:.0f} B a row at "
        f"${_price(prices, 'bigquery_active_storage_per_gib_month'):.2f} per GiB-month).\n\n"
        f"List prices of {prices['checked']} (`benchmarks/gcp_prices.json`, sources there; "
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
        f"Function shape from `infra/terraform/variables.tf`: {shape.memory}, "
        f"{shape.vcpu:g} vCPU ({cpu_source}), concurrency {shape.concurrency}. "
        f"Assumed BigQuery wait per push: {wait_one * 1000:.0f} ms for an insertAll, "
        f"{wait_500 * 1000:.0f} ms for a Storage Write API append of {PACKED} rows; "
        f"so a push's wall time is {one * 1000:.0f} ms (one event, billed "
        f"{billable_seconds(one) * 1000:.0f} ms) and {many * 1000:.0f} ms ({PACKED} events, "
        f"billed {billable_seconds(many) * 1000:.0f} ms). "
        f"Target: every il-audit path ≤ 1/10 of the naive path: {verdict} "
        f"(highest ratio {worst:.3f}).\n"
    )


def summary(lines: Sequence[Line]) -> str:
    """The README's one line: the function path's bill against the naive one's."""
    naive, peer = lines[0], lines[1]
    ours = next(line for line in lines if line.ours)
    return (
        f"**What it costs on GCP:** ${ours.total:.3f} per million events on the function "
        f"path, against ${naive.total:.2f} for one event per message through a function "
        f"and ${peer.total:.3f} for a Pub/Sub BigQuery subscription "
        "([the bill and its assumptions](docs/costs.md)).\n"
    )
