"""Reading a spool without consuming it: what ``il-audit doctor`` and tests look at.

A live process may be appending while these read, so they take no locks (but
:func:`summarize` briefly tries each one, to tell a dead process's directory,
waiting to be adopted, from a live one) and change nothing. A reader of a live
spool must use these: :meth:`~il_audit.publisher._spool.Spool.adopt` only takes
directories whose lock is free.
"""

from __future__ import annotations

import contextlib
import json
import os
import zlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from il_audit.publisher._spool_records import (
    _CURSOR_NAME,
    HEADER,
    MAGIC,
    RecordKey,
    SpoolRecord,
    decode_payload,
    read_record_at,
    segment_name,
    segment_numbers,
    try_lock,
)
from il_audit.schemas.wire import envelope_count, message_body, split_lines

__all__ = ["SpoolSummary", "oldest_waiting", "scan", "summarize"]


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


def oldest_waiting(root: str | os.PathLike[str]) -> datetime | None:
    """When the oldest event still waiting in the spool happened (its ``occurred_at``).

    Each process directory's first unconfirmed record (after its cursor) is read; None
    when nothing waits or no record could be read.
    """
    oldest: datetime | None = None
    try:
        entries = [entry for entry in os.scandir(root) if entry.is_dir(follow_symlinks=False)]
    except OSError:
        return None
    for entry in entries:
        found = _first_waiting(Path(entry.path))
        if found is not None and (oldest is None or found < oldest):
            oldest = found
    return oldest


def _first_waiting(directory: Path) -> datetime | None:
    numbers = segment_numbers(directory)
    segment, offset = (numbers[0], 0) if numbers else (0, 0)
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        cursor = json.loads((directory / _CURSOR_NAME).read_text("utf-8"))
        if numbers and int(cursor["segment"]) >= numbers[0]:
            segment, offset = int(cursor["segment"]), int(cursor["offset"])
    for number in (n for n in numbers if n >= segment):
        try:
            fd = os.open(directory / segment_name(number), os.O_RDONLY)
        except OSError:
            continue
        try:
            start, limit = (offset if number == segment else 0), os.fstat(fd).st_size
            while start < limit:
                record, start, _ = read_record_at(fd, start, limit)
                if record is not None:
                    return _occurred_at(record[1])
        finally:
            os.close(fd)
    return None


def _occurred_at(data: bytes) -> datetime | None:
    try:
        for _, line in split_lines(message_body(data)):
            return datetime.fromisoformat(json.loads(line)["occurred_at"])
    except (ValueError, KeyError, TypeError):  # MalformedBodyError is a ValueError
        return None
    return None


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
