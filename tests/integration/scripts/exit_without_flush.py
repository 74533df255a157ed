"""Emit and return without flushing, in the main process or in multiprocessing children.

Argument 1: ``main``, ``mp-child`` (the publisher starts in the child) or
``mp-parent`` (the parent emitted first, so the child inherits a publisher);
argument 2: N events. Prints the ids as JSON; the exit hooks must publish them.
"""

from __future__ import annotations

import json
import multiprocessing
import sys

from il_audit import AuditContext, emit
from il_audit import taxonomy as T


def emit_some(count: int, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    ctx = AuditContext(app="exittest")
    queue.put([emit(T.AUTH_LOGOUT, context=ctx) for _ in range(count)])


def main() -> None:
    mode, count = sys.argv[1], int(sys.argv[2])
    if mode == "main":
        ctx = AuditContext(app="exittest")
        print(json.dumps([emit(T.AUTH_LOGOUT, context=ctx) for _ in range(count)]))
        return
    ids = []
    if mode == "mp-parent":
        ids.append(emit(T.AUTH_LOGOUT, context=AuditContext(app="exittest")))
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    process = context.Process(target=emit_some, args=(count, queue))
    process.start()
    ids.extend(queue.get(timeout=30))
    process.join(30)
    print(json.dumps(ids))


if __name__ == "__main__":
    main()
