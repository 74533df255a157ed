"""What the benchmarks share: the event, the libraries, statistics, machine facts, children.

The event is the same for every library: a Segment-style e-commerce
``Order Completed`` with about 600 bytes of properties (no benchmark or
load-test event turned up in Segment's or PostHog's Python repositories, so
this one is built here, modelled on the event of Segment's documented
e-commerce spec: an order with two products). il-audit gets the properties
as ``emit()`` keywords, so they land in ``payload``; Segment and PostHog get
them as ``properties``; a direct ``PublisherClient.publish()`` gets them as
one JSON message.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
PROJECT = "il-audit-bench"

EVENT_NAME = "Order Completed"
EVENT_TYPE = "shop.order.completed"
"""il-audit's name for the event: a host type, registered with IL_AUDIT_EXTRA_EVENT_TYPES."""
USER_ID = "user-4242"
APP = "shop"
PROPERTIES: dict[str, Any] = {
    "checkout_id": "chk_7f3a9c2e51d84b06",
    "order_id": "ord_50314b8e9bcf4a1c",
    "affiliation": "Online Store",
    "total": 27.5,
    "subtotal": 22.5,
    "revenue": 25.0,
    "shipping": 3.0,
    "tax": 2.0,
    "discount": 2.5,
    "coupon": "SPRING-10",
    "currency": "EUR",
    "products": [
        {
            "product_id": "prd_507f1f77bcf86cd7",
            "sku": "45790-32",
            "name": "Board game, third edition",
            "price": 19.0,
            "quantity": 1,
            "category": "Games",
            "url": "https://shop.example.com/p/45790-32",
            "image_url": "https://shop.example.com/img/45790-32.jpg",
        },
        {
            "product_id": "prd_505bd76785ebb509",
            "sku": "46493-32",
            "name": "Card game",
            "price": 3.0,
            "quantity": 2,
            "category": "Games",
            "url": "https://shop.example.com/p/46493-32",
        },
    ],
}
PROPERTIES_BYTES = len(json.dumps(PROPERTIES, separators=(",", ":")).encode())

LIBRARIES = ("il-audit", "segment", "posthog", "pubsub")
"""il-audit ``emit``, Segment ``analytics.track``, PostHog ``capture``, direct ``publish``."""
LABELS = {
    "il-audit": "il-audit `emit()`",
    "segment": "Segment `analytics.track()`",
    "posthog": "PostHog `capture()`",
    "pubsub": "direct `PublisherClient.publish()`",
}
PEERS_NOT_INSTALLED = (
    "the peers are not installed: pip install -e '.[bench]' (make bench and make test do it)"
)
VERSIONED = (
    "il-audit",
    "segment-analytics-python",
    "posthog",
    "google-cloud-pubsub",
    "grpcio",
    "protobuf",
    "pydantic",
    "pydantic-core",
    "requests",
    "functions-framework",
    "duckdb",
    "py-spy",
)


def peers_installed() -> bool:
    """Whether the ``bench`` extra (Segment and PostHog) is importable."""
    try:
        importlib.metadata.version("segment-analytics-python")
        importlib.metadata.version("posthog")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


# ------------------------------------------------------------------ statistics


@dataclass
class Summary:
    """Median and range of one measure over the repetitions."""

    values: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else float("nan")

    @property
    def low(self) -> float:
        return min(self.values) if self.values else float("nan")

    @property
    def high(self) -> float:
        return max(self.values) if self.values else float("nan")

    def show(self, fmt: str = "{:,.1f}", unit: str = "") -> str:
        """``median unit (min–max)``, or just the value for one repetition."""
        if not self.values:
            return "n/a"
        text = fmt.format(self.median) + unit
        if len(self.values) > 1:
            text += f" ({fmt.format(self.low)}–{fmt.format(self.high)})"
        return text


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index]


def interleaved(names: Sequence[str], reps: int) -> Iterator[tuple[int, str]]:
    """(repetition, name) with the order rotated each repetition, so no one always goes first."""
    for rep in range(reps):
        shift = rep % len(names)
        for name in [*names[shift:], *names[:shift]]:
            yield rep, name


# --------------------------------------------------------------- machine facts


def versions() -> dict[str, str]:
    """Installed versions of the libraries that take part."""
    found = {}
    for name in VERSIONED:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "not installed"
    jars = sorted(Path("/usr/lib/google-cloud-sdk/platform/pubsub-emulator/lib").glob("*.jar"))
    with contextlib.suppress(Exception):
        from il_audit.devtools import pubsub_emulator

        jars = sorted((pubsub_emulator.find_launcher().parents[1] / "lib").glob("*.jar"))
    if jars:
        found["pubsub emulator"] = jars[0].stem.removeprefix("cloud-pubsub-emulator-").split("-")[0]
    return found


def machine() -> dict[str, str]:
    """CPU, cores, memory, OS, Python and load: what the figures depend on."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError, IndexError, ValueError):
        kib = int(Path("/proc/meminfo").read_text().split("\n")[0].split()[1])
        memory = f"{kib / 1024 / 1024:.0f} GiB"
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return {
        "cpu": f"{cpu} ({platform.machine()})",
        "cores": str(os.cpu_count()),
        "memory": memory,
        "os": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "load average at start": load,
    }


def facts_line(extra: str = "") -> str:
    """One paragraph with the date, machine and versions, for the README sections."""
    info = machine()
    found = versions()
    libs = ", ".join(f"{name} {version}" for name, version in found.items())
    text = (
        f"Measured {time.strftime('%Y-%m-%d %H:%M')} on {info['cpu']}, {info['cores']} cores, "
        f"{info['memory']}, {info['os']}, {info['python']}; load average at start "
        f"{info['load average at start']}. Versions: {libs}."
    )
    return text + (f" {extra}" if extra else "")


# ------------------------------------------------------------------- arguments


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """--quick, --reps, --write and --emulator-host, the same for every benchmark."""
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny sizes and one repetition, never writes the README (make test runs this)",
    )
    parser.add_argument("--reps", type=int, default=3, help="interleaved repetitions (>= 3)")
    parser.add_argument("--write", action="store_true", help="update benchmarks/README.md")
    parser.add_argument(
        "--emulator-host",
        default="",
        help="use this running Pub/Sub emulator (host:port) instead of starting one",
    )


def check_arguments(args: argparse.Namespace) -> None:
    """Quick mode: one repetition, no README; otherwise at least three repetitions."""
    if args.quick:
        args.reps = 1
        if args.write:
            raise SystemExit("--quick never writes benchmarks/README.md")
    elif args.reps < 3:
        raise SystemExit("--reps must be at least 3 (medians of interleaved repetitions)")


@contextlib.contextmanager
def emulator(host: str) -> Iterator[str]:
    """A Pub/Sub emulator's host: ``host`` when given, else one started here and stopped after."""
    if host:
        os.environ["PUBSUB_EMULATOR_HOST"] = host
        yield host
        return
    from il_audit.devtools import pubsub_emulator

    running = pubsub_emulator.start()
    os.environ["PUBSUB_EMULATOR_HOST"] = running.host
    try:
        yield running.host
    finally:
        running.stop()


# -------------------------------------------------------------------- children


def run_child(
    argv: Sequence[str], env: dict[str, str] | None = None, timeout: float = 900
) -> dict[str, Any]:
    """Run a Python child (fresh process) and return the JSON object on its last stdout line."""
    child_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    result = subprocess.run(
        [sys.executable, *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=child_env,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"benchmark child {' '.join(argv)} failed ({result.returncode}):\n"
            f"{result.stderr[-4000:]}"
        )
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"benchmark child {' '.join(argv)} printed no result:\n{result.stdout}")
    data: dict[str, Any] = json.loads(lines[-1])
    return data


class Sink:
    """The local HTTP sink (``_sink.py``) in its own process, so it never shares our GIL."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "_sink.py")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        assert self.process.stdout is not None
        first = self.process.stdout.readline().strip()
        if not first.startswith("SINK_PORT="):
            self.stop()
            raise RuntimeError(f"the HTTP sink did not start: {first!r}")
        self.port = int(first.split("=", 1)[1])
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


@contextlib.contextmanager
def sink() -> Iterator[Sink]:
    running = Sink()
    try:
        yield running
    finally:
        running.stop()


def timed(label: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Print how long a benchmark step took (stderr), to keep quick mode's budget visible."""

    def wrap(function: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                print(f"[{label}: {time.perf_counter() - start:.1f} s]", file=sys.stderr)

        return run

    return wrap
