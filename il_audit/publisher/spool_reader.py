"""Reading a spool without consuming it: what ``il-audit doctor`` and tests look at.

A live process may be appending while these read, so they take no locks (but
:func:`summarize` briefly tries each one, to tell a dead process's directory,
waiting to be adopted, from a live one) and change nothing. A reader of a live
spool must use these: :meth:`~il_audit.publisher._spool.Spool.adopt` only takes
directories whose lock is free.
"""

from __future__ import annotations

import contextlib
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

from il_audit.publisher._spool_records import (
    HEADER,
    MAGIC,
    RecordKey,
    SpoolRecord,
    decode_payload,
    segment_name,
    segment_numbers,
    try_lock,
)
from il_audit.schemas.wire import envelope_count

__all__ = ["SpoolSummary", "scan", "summarize"]


@dataclass(frozen=True, slots=True)
class SpoolSummary:
    """What a spool directory holds, for ``il-audit doctor``."""

    directories: int
    """Process subdirectories."""
    adoptable: int
    """Subdirectories whose lock is free (their process has gone): to be adopted and drained."""
    segments: int
    bytes: int


def summarize(root: str | os.PathLike[str]) -> SpoolSummary:
    """Count subdirectories, segments and bytes under ``root`` (briefly trying each lock)."""
    directories = adoptable = segments = total = 0
    try:
        entries = list(os.scandir(root))
    except OSError:
        return SpoolSummary(0, 0, 0, 0)
    for entry in entries:
        if not entry.is_dir(follow_symlinks=False):
            continue
        directories += 1
        numbers = segment_numbers(Path(entry.path))
        segments += len(numbers)
        for number in numbers:
            with contextlib.suppress(OSError):
                total += (Path(entry.path) / segment_name(number)).stat().st_size
        fd = try_lock(Path(entry.path))
        if fd is not None:
            adoptable += 1
            os.close(fd)  # closing releases the lock at once
    return SpoolSummary(directories, adoptable, segments, total)


def scan(root: str | os.PathLike[str]) -> list[SpoolRecord]:
    """Every intact record under ``root``, read without locks and without consuming anything.

    For inspection (tests, diagnostics) only: a live process may be appending,
    so a record being written right now is simply not returned.
    """
    records = []
    for sub in sorted(Path(root).iterdir()) if Path(root).is_dir() else []:
        for number in segment_numbers(sub):
            try:
                raw = (sub / segment_name(number)).read_bytes()
            except OSError:
                continue
            offset = 0
            while offset + HEADER.size <= len(raw):
                magic, length, checksum = HEADER.unpack_from(raw, offset)
                end = offset + HEADER.size + length
                payload = raw[offset + HEADER.size : end]
                if magic != MAGIC or end > len(raw) or zlib.crc32(payload) != checksum:
                    break
                attributes, data = decode_payload(payload)
                key = RecordKey(str(sub), number, offset)
                records.append(SpoolRecord(key, data, attributes, envelope_count(attributes, data)))
                offset = end
    return records
