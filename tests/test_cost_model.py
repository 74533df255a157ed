"""The cost table: its arithmetic, BigQuery's size rules, and the READMEs kept equal to it.

``benchmarks/cost.py`` bills measured quantities at list prices. These tests
recompute items by hand from the prices file (no call into the bill's
helpers for the expected values), and fail when a README shows a table that
the committed prices and measurements no longer give.
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
        "function_per_invocation_500_events": 0.050,
        "pull_worker_per_1000_events": 0.040,
    },
}


def test_the_naive_path_by_hand() -> None:
    naive = cost.bill(PRICES, MEASURED)[0]
    # Publish 700 B per event; each push is billed at the 1,000-byte floor.
    assert naive.pubsub == pytest.approx((700 + 1000) * 1e6 / 2**40 * 40.0)
    # A million invocations, 2 ms of one vCPU with 0.5 GiB each.
    assert naive.compute == pytest.approx(0.40 + 1e6 * 0.002 * (0.000024 + 0.5 * 0.0000025))
    # Rows of 400 B are billed as 1 KB.
    assert naive.bigquery == pytest.approx(1e6 * 1024 / 2**30 * 0.05)


def test_the_function_path_by_hand() -> None:
    ours = cost.bill(PRICES, MEASURED)[1]
    messages = 1e6 / 500
    assert ours.pubsub == pytest.approx(2 * messages * 30_000 / 2**40 * 40.0)
    assert ours.compute == pytest.approx(
        messages * 0.40 / 1e6 + messages * 0.050 * (0.000024 + 0.5 * 0.0000025)
    )
    assert ours.bigquery == pytest.approx(1e6 * 400 / 2**30 * 0.025)


def test_the_pull_worker_is_sized_for_its_rate() -> None:
    lines = cost.bill(PRICES, MEASURED)[2:]
    instance_second = 0.000018 + 0.5 * 0.000002
    # 1k/s: 0.04 vCPU busy, the one minimum instance; 100k/s: 4 vCPU busy at 70 % -> 6.
    assert lines[0].compute == pytest.approx(instance_second * 1e6 / 1_000)
    assert lines[1].compute == pytest.approx(instance_second * 1e6 / 10_000)
    assert lines[2].compute == pytest.approx(6 * instance_second * 1e6 / 100_000)


def test_the_verdict_follows_the_numbers() -> None:
    cheap = cost.render(cost.bill(PRICES, MEASURED), PRICES, MEASURED)
    assert "≤ 1/10 of the naive path: met" in cheap
    dear: dict[str, Any] = json.loads(json.dumps(MEASURED))
    dear["cpu_seconds"]["function_per_invocation_500_events"] = 100.0
    assert "**not met**" in cost.render(cost.bill(PRICES, dear), PRICES, dear)


def test_bigquery_sizes_follow_its_data_size_rules() -> None:
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


def test_both_readmes_show_the_bill_of_the_committed_files() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks/cost.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "| naive" in result.stdout
    for readme in ("README.md", "benchmarks/README.md"):
        assert "| il-audit: function path" in (ROOT / readme).read_text()
