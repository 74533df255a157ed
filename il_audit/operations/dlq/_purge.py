"""Purge: archive selected dead letters to JSONL, flushed to disk, and only then acknowledge."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from il_audit.operations.dlq._messages import Selector
from il_audit.operations.dlq._source import Leases, Source, drain


@dataclass
class PurgeReport:
    """What a purge did."""

    pulled: int = 0
    purged: int = 0
    skipped: int = 0
    archive: str = ""

    def summary(self) -> str:
        """One line for humans."""
        return f"purged {self.purged} (archived to {self.archive}), left {self.skipped} in place"


def purge(
    source: Source,
    archive: Path,
    *,
    selector: Selector | None = None,
    limit: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> PurgeReport:
    """Archive selected messages to JSONL (appended, fsynced), then acknowledge them.

    :func:`~il_audit.operations.dlq.read_archive` reads the archive back.
    """
    report = PurgeReport(archive=str(archive))
    leases = Leases(source)
    archive.parent.mkdir(parents=True, exist_ok=True)
    try:
        with archive.open("a", encoding="utf-8") as out:
            for messages in drain(source, limit, 500, leases):
                report.pulled += len(messages)
                chosen = [m for m in messages if selector is None or selector.matches(m)]
                chosen_ids = {message.ack_id for message in chosen}
                for message in messages:
                    if message.ack_id not in chosen_ids:
                        leases.hold(message)
                report.skipped += len(messages) - len(chosen)
                for message in chosen:
                    out.write(json.dumps(message.archive_record(), ensure_ascii=False) + "\n")
                out.flush()
                os.fsync(out.fileno())  # on disk before anything is acknowledged
                source.ack([message.ack_id for message in chosen])
                report.purged += len(chosen)
                if progress is not None:
                    progress(len(messages))
    finally:
        leases.release_all()
    return report
