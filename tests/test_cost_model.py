"""The cost table: its arithmetic, the shape read from Terraform, and the documents that show it.

``benchmarks/cost.py`` bills measured quantities at list prices, for the
function shape Terraform deploys, the function billed as Cloud Run bills it
(allocated vCPU and memory for each push's wall time, rounded up to 100 ms).
These tests recompute items by hand from the prices file (no call into the
bill's helpers for the expected values), and fail when docs/costs.md or the
README's line is not what the committed prices, measurements and Terraform
variables give.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import cost  # noqa: E402
import cost_model  # noqa: E402

PRICES = json.loads((ROOT / "benchmarks/gcp_prices.json").read_text())
MEASURED = {
    "measured": "2026-12-01",
    "bytes": {
        "plain_per_event": 600.0,
        "gzip_per_message": 30_000.0,
        "naive_per_message": 700.0,
        "bigquery_row": 400.0,
    },
    "cpu_seconds": {
        "function_per_invocation_one_event": 0.002,
        "function_per_invocation_500_events": 0.040,
        "pull_worker_per_1000_events": 0.040,
    },
}
# Terraform's defaults: 512 MiB, function_cpu unset (so 0.333 vCPU), concurrency 1.
SHAPE = cost_model.function_shape(cost_model.terraform_defaults(), PRICES)
# An instance-second of that shape, request-based.
INSTANCE_SECOND = 0.333 * 0.000024 + 0.5 * 0.0000025


def _bill(measured: dict[str, Any] = MEASURED) -> list[cost_model.Line]:
    return cost_model.bill(PRICES, measured, SHAPE)


def _variables(tmp_path: Path, memory: str, cpu: str, concurrency: int) -> Path:
    path = tmp_path / "variables.tf"
    path.write_text(
        f"""variable "function_memory" {{
  description = "Memory."
  type        = string
  default     = {memory}
}}

variable "function_cpu" {{
  type    = string
  default = {cpu}
}}

variable "labels" {{
  type    = map(string)
  default = {{}}
}}

variable "function_concurrency" {{
  description = "Requests at once."
  type        = number
  default     = {concurrency}
}}
"""
    )
    return path


def test_the_shape_is_terraforms_defaults() -> None:
    """The shape is Terraform's defaults: 512 MiB, 0.333 vCPU from the memory, concurrency 1."""
    defaults = cost_model.terraform_defaults()
    assert defaults["function_memory"] == "512Mi"
    assert defaults["function_cpu"] is None
    assert defaults["function_concurrency"] == 1
    # 512 MiB without a CPU gets 0.333 vCPU (the cited memory -> CPU table).
    assert (SHAPE.vcpu, SHAPE.gib, SHAPE.concurrency, SHAPE.cpu_from_memory) == (
        0.333,
        0.5,
        1,
        True,
    )


def test_a_changed_terraform_changes_the_shape_and_the_bill(tmp_path: Path) -> None:
    """A set CPU, a memory between tiers and a higher concurrency each change the bill."""
    one_cpu = cost_model.terraform_defaults(_variables(tmp_path, '"1Gi"', '"1"', 1))
    assert "labels" not in one_cpu  # not a scalar: left out
    shape = cost_model.function_shape(one_cpu, PRICES)
    assert (shape.vcpu, shape.gib, shape.cpu_from_memory) == (1.0, 1.0, False)
    # Between two tiers, the memory gets the next one up's CPU.
    between = cost_model.terraform_defaults(_variables(tmp_path, '"768Mi"', "null", 1))
    assert cost_model.function_shape(between, PRICES).vcpu == 0.583
    # Two requests at once share an instance's billed time: half the instance-seconds.
    shared = cost_model.terraform_defaults(_variables(tmp_path, '"512Mi"', "null", 2))
    naive_shared = cost_model.bill(PRICES, MEASURED, cost_model.function_shape(shared, PRICES))
    assert naive_shared[0].compute == pytest.approx(0.40 + 1e6 * 0.1 * INSTANCE_SECOND / 2)
    with pytest.raises(ValueError, match="512Q"):
        cost_model.memory_mib("512Q")


def test_each_request_is_billed_in_steps_of_100_ms() -> None:
    """Each push's wall time is rounded up to 100 ms: CPU within the step costs nothing more."""
    assert cost_model.billable_seconds(0.001) == pytest.approx(0.1)
    assert cost_model.billable_seconds(0.1) == pytest.approx(0.1)
    assert cost_model.billable_seconds(0.1001) == pytest.approx(0.2)
    assert cost_model.billable_seconds(0.25) == pytest.approx(0.3)
    # A one-event push 2 ms or 10 ms of CPU costs the same: 100 ms of the instance.
    slower: dict[str, Any] = json.loads(json.dumps(MEASURED))
    slower["cpu_seconds"]["function_per_invocation_one_event"] = 0.010
    assert _bill(slower)[0].compute == pytest.approx(_bill()[0].compute)
    # 20 ms of CPU on a third of a vCPU is 60 ms, plus the 50 ms wait: 110 ms, billed 200.
    slower["cpu_seconds"]["function_per_invocation_one_event"] = 0.020
    assert _bill(slower)[0].compute == pytest.approx(0.40 + 1e6 * 0.2 * INSTANCE_SECOND)


def test_the_naive_path_by_hand() -> None:
    """The naive path's items, recomputed from the prices and the assumed insertAll wait."""
    naive = _bill()[0]
    # Publish 700 B per event; each push is billed at the 1,000-byte floor.
    assert naive.pubsub == pytest.approx((700 + 1000) * 1e6 / 2**40 * 40.0)
    # A million requests; each 2 ms / 0.333 + 50 ms of BigQuery wait = 56 ms, billed 100 ms.
    assert PRICES["assumptions"]["bigquery_wait_seconds_insert_all"]["value"] == 0.05
    assert naive.compute == pytest.approx(0.40 + 1e6 * 0.1 * INSTANCE_SECOND)
    # Rows of 400 B are billed as 1 KB.
    assert naive.bigquery == pytest.approx(1e6 * 1024 / 2**30 * 0.05)


def test_the_function_path_by_hand() -> None:
    """The function path's items, recomputed from the prices and the assumed Storage Write wait."""
    ours = _bill()[2]
    messages = 1e6 / 500
    assert ours.pubsub == pytest.approx(2 * messages * 30_000 / 2**40 * 40.0)
    # 40 ms / 0.333 = 120 ms, plus 150 ms of BigQuery wait: 270 ms, billed 300 ms.
    assert PRICES["assumptions"]["bigquery_wait_seconds_storage_write_500"]["value"] == 0.15
    assert ours.compute == pytest.approx(messages * 0.40 / 1e6 + messages * 0.3 * INSTANCE_SECOND)
    assert ours.bigquery == pytest.approx(1e6 * 400 / 2**30 * 0.025)


def test_the_zero_code_peer_by_hand() -> None:
    """The BigQuery subscription pays publish and its own delivery price per TiB, and no compute."""
    peer = _bill()[1]
    assert "BigQuery subscription" in peer.path
    assert not peer.ours
    # Publish at $40/TiB, delivered into BigQuery at the subscription's $50/TiB; no compute.
    assert PRICES["prices"]["pubsub_bigquery_subscription_per_tib"]["usd"] == 50.0
    assert peer.pubsub == pytest.approx(700 * 1e6 / 2**40 * (40.0 + 50.0))
    assert (peer.compute, peer.bigquery) == (0.0, 0.0)


def test_storage_is_one_line_the_same_for_every_path() -> None:
    """Active storage is one line per month kept, outside every path's total."""
    lines = _bill()
    expected = 1e6 * 400 / 2**30 * 0.02
    assert cost_model.storage_cost_per_month(PRICES, 400.0) == pytest.approx(expected)
    text = cost_model.render(lines, PRICES, MEASURED, SHAPE)
    assert f"BigQuery active storage**, the same on every path: ${expected:.4f}" in text
    # Not inside any path's total.
    assert lines[2].total == pytest.approx(lines[2].pubsub + lines[2].compute + lines[2].bigquery)


def test_the_pull_worker_is_sized_for_its_rate() -> None:
    """The pull worker runs enough always-on instances for its rate at 70 % CPU, one at least."""
    lines = _bill()[3:]
    instance_second = 0.000018 + 0.5 * 0.000002
    # 1k/s: 0.04 vCPU busy, the one minimum instance; 100k/s: 4 vCPU busy at 70 % -> 6.
    assert lines[0].compute == pytest.approx(instance_second * 1e6 / 1_000)
    assert lines[1].compute == pytest.approx(instance_second * 1e6 / 10_000)
    assert lines[2].compute == pytest.approx(6 * instance_second * 1e6 / 100_000)


def test_the_verdict_follows_our_numbers_only() -> None:
    """The one-tenth target is judged on il-audit's paths, never on the peer's."""
    cheap = cost_model.render(_bill(), PRICES, MEASURED, SHAPE)
    assert "≤ 1/10 of the naive path: met" in cheap
    # The peer is not one of our paths: however dear, the verdict is ours.
    dear_peer: dict[str, Any] = json.loads(json.dumps(MEASURED))
    dear_peer["bytes"]["naive_per_message"] = 10_000.0
    assert "met (" in cost_model.render(_bill(dear_peer), PRICES, dear_peer, SHAPE)
    dear: dict[str, Any] = json.loads(json.dumps(MEASURED))
    dear["cpu_seconds"]["function_per_invocation_500_events"] = 100.0
    assert "**not met**" in cost_model.render(_bill(dear), PRICES, dear, SHAPE)


def test_every_price_and_assumption_says_where_it_comes_from() -> None:
    """Every price cites its page, and every assumption says why."""
    for name, price in PRICES["prices"].items():
        assert price["source"].startswith("https://cloud.google.com/"), name
    assert PRICES["cloud_run_functions_cpu_by_memory"]["source"].startswith("https://")
    for name, value in PRICES["assumptions"].items():
        if not name.startswith("_"):
            assert value["why"], name


def test_bigquery_sizes_follow_its_data_size_rules() -> None:
    """Row sizes follow BigQuery's data-size rules, nested records and repeats included."""
    from il_audit.schemas.tables import EVENTS

    columns = {column.name: column for column in EVENTS.columns}
    assert cost.bigquery_size("héllo", columns["app"]) == 2 + 6
    assert cost.bigquery_size(None, columns["app"]) == 0
    assert cost.bigquery_size({"a": 1}, columns["payload"]) == len('{"a":1}')
    usage = columns["usage"]
    item = {"service": "vertex", "input_tokens": 3, "cost_usd": Decimal("0.1")}
    sub = {field.name: field for field in usage.fields}
    expected = (
        cost.bigquery_size("vertex", sub["service"])
        + cost.bigquery_size(3, sub["input_tokens"])
        + cost.bigquery_size(Decimal("0.1"), sub["cost_usd"])
    )
    assert expected == (2 + 6) + 8 + 16
    assert cost.bigquery_size([item, item], usage) == 2 * expected
    assert cost.bigquery_size(True, replace(columns["app"], type="BOOL")) == 1


def test_docs_and_readme_show_the_bill_of_the_committed_files() -> None:
    """docs/costs.md holds the table, the README one line: the bill of the committed files."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks/cost.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "| naive" in result.stdout
    costs = (ROOT / "docs/costs.md").read_text()
    assert "| il-audit: function path" in costs
    assert "| zero-code peer" in costs
    readme = (ROOT / "README.md").read_text()
    assert "| naive" not in readme  # the table lives in docs/costs.md
    assert "**What it costs on GCP:**" in readme
    assert "(docs/costs.md)" in readme
