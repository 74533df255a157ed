"""Emit events through the default publisher and report as JSON lines on stdout.

Usage: emit_steady.py TOTAL PER_SECOND FLUSH_SECONDS [WAIT_DRAINED]

Prints {"ids": [...]} after every 100 events (so a parent that kills this process
knows what was emitted), {"stats": ...} once all are emitted, then flushes and,
if WAIT_DRAINED is given, waits until that many spooled events were drained, and
prints {"flushed": bool, "stats": ...}. Configuration comes from the environment.
"""

from __future__ import annotations

import json
import sys
import time

import il_audit
from il_audit import AuditContext, emit
from il_audit import taxonomy as T
from tests.support.waiting import poll  # PYTHONPATH is the repository (the tests set it)


def say(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


def main() -> None:
    total, per_second, flush_seconds = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
    wait_drained = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    ctx = AuditContext(app="steady", actor_uid="u-1")
    batch: list[str | None] = []
    started = time.monotonic()
    for index in range(total):
        batch.append(emit(T.UI_TAB_VIEWED, context=ctx, element_id=str(index)))
        if len(batch) == 100:
            say(ids=batch)
            batch = []
        pause = started + (index + 1) / per_second - time.monotonic()
        if pause > 0:
            time.sleep(pause)  # pacing: PER_SECOND is the scenario
    if batch:
        say(ids=batch)
    say(stats=il_audit.stats()._asdict())
    flushed = il_audit.flush_audit_writer(flush_seconds).complete
    poll(lambda: il_audit.stats().drained >= wait_drained, flush_seconds, interval=0.1)
    say(flushed=flushed, stats=il_audit.stats()._asdict())


if __name__ == "__main__":
    main()
