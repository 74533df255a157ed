"""Caller-thread p50 of il-audit ``emit()`` against Segment ``track()`` by event size.

A diagnostic, not one of the numbered benchmarks: it answers "does the ratio
depend on the event?". Both libraries run in this process; il-audit on its
in-memory transport, Segment posting to a closed port (its consumer thread
gives up at once, so neither client's background work competes much). Each
size is measured three times, alternating, and the median ratio printed.

    python benchmarks/caller_ratio.py
"""

from __future__ import annotations

import logging
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench import PROPERTIES

EVENT_TYPE = "bench.checkout.completed"


def p50_ns(call: Callable[[], Any], count: int = 20_000) -> float:
    """Median time of one call, after 200 warm-up calls."""
    for _ in range(200):
        call()
    clock = time.perf_counter_ns
    samples = [0] * count
    for index in range(count):
        start = clock()
        call()
        samples[index] = clock() - start
    return statistics.median(samples)


def main() -> None:
    logging.disable(logging.CRITICAL)  # Segment logs each failed upload
    os.environ.update(
        IL_AUDIT_TRANSPORT="memory",
        IL_AUDIT_WRITE_QUEUE_MAX_SIZE="10000000",
        IL_AUDIT_EXTRA_EVENT_TYPES=EVENT_TYPE,
    )
    from segment import analytics

    import il_audit

    analytics.write_key, analytics.host = "bench", "http://127.0.0.1:9"
    analytics.max_queue_size, analytics.max_retries = 10_000_000, 0
    context = il_audit.AuditContext(app="bench", actor_uid="u")
    emit, track = il_audit.emit, analytics.track
    sizes = {
        "no properties": {},
        "3 properties": {"order_id": "o-1", "total": 12.5, "currency": "EUR"},
        "12 properties (the benchmark's)": PROPERTIES,
        "30 properties": {**PROPERTIES, **{f"extra_{i}": i for i in range(18)}},
    }
    for name, properties in sizes.items():
        ours, theirs = [], []
        for _ in range(3):
            ours.append(p50_ns(lambda p=properties: emit(EVENT_TYPE, context=context, **p)))
            theirs.append(p50_ns(lambda p=properties: track("u", "Checkout", p)))
        ratio = statistics.median(b / a for a, b in zip(ours, theirs, strict=True))
        print(
            f"{name}: emit {statistics.median(ours) / 1000:.2f} µs, "
            f"track {statistics.median(theirs) / 1000:.2f} µs, ratio {ratio:.1f}×"
        )


if __name__ == "__main__":
    main()
