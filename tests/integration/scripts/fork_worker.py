"""Emit before fork (gunicorn --preload style), in the child, and after: print the ids as JSON.

Environment: the usual IL_AUDIT_* / PUBSUB_EMULATOR_HOST variables. Argument: N
(events per phase). The child does not flush before fork; nothing must be lost
or duplicated.
"""

from __future__ import annotations

import json
import os
import sys

import il_audit
from il_audit import AuditContext, emit
from il_audit import taxonomy as T


def main() -> None:
    count = int(sys.argv[1])
    ctx = AuditContext(app="forktest")
    before = [emit(T.AUTH_LOGOUT, context=ctx, phase="before") for _ in range(count)]
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        child = [emit(T.AUTH_LOGOUT, context=ctx, phase="child") for _ in range(count)]
        ok = il_audit.flush_audit_writer(30).complete
        os.write(write_end, json.dumps({"ids": child, "flushed": ok}).encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        child_result = json.loads(pipe.read() or b"{}")
    os.waitpid(pid, 0)
    after = [emit(T.AUTH_LOGOUT, context=ctx, phase="after") for _ in range(count)]
    flushed = il_audit.flush_audit_writer(30).complete
    print(
        json.dumps(
            {
                "before": before,
                "child": child_result.get("ids", []),
                "child_flushed": child_result.get("flushed"),
                "after": after,
                "flushed": flushed,
            }
        )
    )


if __name__ == "__main__":
    main()
