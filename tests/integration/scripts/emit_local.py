"""Emit N events into the embedded file in small bursts, then print the publisher's stats as JSON.

Environment: IL_AUDIT_TRANSPORT=local and IL_AUDIT_DUCKDB_PATH.
"""

from __future__ import annotations

import json
import sys
import time

import il_audit
from il_audit import AuditContext, emit
from il_audit import taxonomy as T


def main() -> None:
    total, burst = int(sys.argv[1]), int(sys.argv[2])
    ctx = AuditContext(app="writer", actor_uid="u-1")
    for start in range(0, total, burst):
        for index in range(start, min(start + burst, total)):
            emit(T.UI_TAB_VIEWED, context=ctx, element_id=str(index))
        time.sleep(0.1)  # pacing: small bursts, so a reader gets in between them
    flushed = il_audit.flush_audit_writer(120).complete
    stats = il_audit.stats()
    print(json.dumps({"flushed": flushed, **stats._asdict()}))


if __name__ == "__main__":
    main()
