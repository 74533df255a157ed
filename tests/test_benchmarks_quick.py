"""The benchmarks still run: each one in quick mode (tiny sizes, one repetition, no README).

Benchmarks are measurements, not tests: these check that each script completes
and prints its tables with numbers in them, never how fast anything is. They
need the ``bench`` extra (Segment, PostHog, py-spy), which ``make test``
installs; without it they fail in CI and are skipped elsewhere with the hint.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
HINT = "the benchmarks' peers are not installed: pip install -e '.[bench]' (make test does)"


@pytest.fixture
def bench_extra() -> None:
    """Fail in CI, skip elsewhere, when the ``bench`` extra is missing."""
    missing = [name for name in ("segment", "posthog") if importlib.util.find_spec(name) is None]
    if not (shutil.which("py-spy") or (Path(sys.executable).parent / "py-spy").exists()):
        missing.append("py-spy")
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs the bench extra ({', '.join(missing)}): {HINT}", pytrace=False)
        pytest.skip(HINT)


def run_quick(script: str, emulator_host: str) -> str:
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--quick", "--emulator-host", emulator_host],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return result.stdout


def numbers_in_rows(output: str, first_cell: str) -> list[str]:
    """The numbers in the table row whose first cell starts with ``first_cell``."""
    for line in output.splitlines():
        if line.startswith(f"| {first_cell}"):
            return re.findall(r"\d[\d,]*(?:\.\d+)?", line.split("|", 2)[2])
    raise AssertionError(f"no row starting with {first_cell!r} in:\n{output}")


@pytest.mark.slow
@pytest.mark.usefixtures("bench_extra")
def test_publisher_benchmarks_run_for_every_library(pubsub_emulator_host: str) -> None:
    """Benchmarks 1-3 print caller cost, throughput, CPU and RSS for il-audit and each peer."""
    output = run_quick("publisher_bench.py", pubsub_emulator_host)
    assert "**1. Caller-thread cost" in output
    assert "**3. Peak RSS" in output
    for label in ("il-audit", "Segment", "PostHog", "direct"):
        rows = [line for line in output.splitlines() if line.startswith(f"| {label}")]
        assert len(rows) == 3, (label, output)
        assert all(re.search(r"\d", row) for row in rows)
    assert "segment-analytics-python" in output  # versions are recorded
    assert "posthog" in output


@pytest.mark.slow
@pytest.mark.usefixtures("bench_extra")
def test_subscriber_benchmarks_run(pubsub_emulator_host: str) -> None:
    """Benchmarks 4-5 print the core's rates against bare validation and the freshness."""
    output = run_quick("subscriber_bench.py", pubsub_emulator_host)
    assert "**4. Subscriber core" in output
    assert numbers_in_rows(output, "the benchmark event")
    assert len(numbers_in_rows(output, "1,000 events/s")) >= 4


@pytest.mark.slow
@pytest.mark.usefixtures("bench_extra")
def test_pull_benchmarks_run(pubsub_emulator_host: str) -> None:
    """Benchmarks 6-7 print rates and CPU for the function path and the worker, and freshness."""
    output = run_quick("pull_bench.py", pubsub_emulator_host)
    assert "**6. Pull worker against the function path**" in output
    assert len(numbers_in_rows(output, "function path")) >= 3
    assert len(numbers_in_rows(output, "pull worker")) >= 3
    assert len(numbers_in_rows(output, "1,000 events/s")) >= 4
    assert re.search(r"Messages per event: 0\.0020", output)


@pytest.mark.slow
@pytest.mark.usefixtures("bench_extra")
def test_profile_reports_where_the_time_goes(pubsub_emulator_host: str) -> None:
    """The profile names the background thread's costs, the caller path and the core."""
    output = run_quick("profile_bench.py", pubsub_emulator_host)
    assert "**Background thread (`il-audit-publisher`) by cost**" in output
    assert re.search(r"^\| [^|]+ \| \d+\.\d % \|$", output, flags=re.M)
    assert "**Caller path (`emit()`)**" in output
    assert "**Subscriber core by cost**" in output
    assert "**The function at" in output
    assert re.search(r"\*\*[\d,]+ bytes per event\*\*", output)


@pytest.mark.slow
def test_soak_stores_every_event_once(pubsub_emulator_host: str) -> None:
    """The quick soak (6 s at 2,000 events/s through the real worker) loses and repeats nothing."""
    output = run_quick("soak.py", pubsub_emulator_host)
    emitted, _rate, stored_once, lost, duplicates, strangers, *_, drops = numbers_in_rows(
        output, "discard |"
    )
    assert int(emitted.replace(",", "")) > 0
    assert (stored_once, lost, duplicates, strangers, drops) == (emitted, "0", "0", "0", "0")


@pytest.mark.slow
@pytest.mark.subprocess
def test_retrieval_benchmark_runs() -> None:
    """The retrieval benchmark prints a turn's caller time for its three variants (it checks
    itself that every event of the measured turns was published, and none with the gate off)."""
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / "retrieval_bench.py"), "--quick"],
        capture_output=True, text=True, timeout=120, cwd=ROOT, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    assert "**Caller-thread time of one turn's retrieval logging**" in result.stdout
    for label in ("retrieval logging on", "the same 71 events", "`IL_AUDIT_STORE_RETRIEVAL"):
        assert len(numbers_in_rows(result.stdout, label)) >= 3
