"""The spool's on-disk format: records, segments, locks, and reading without consuming.

A record is ``magic | payload length | CRC-32 | payload``; the payload is the
message's attributes (length-prefixed JSON) and its NDJSON data, byte for
byte. Segments are numbered files (``000000000001.seg``) in one process
subdirectory, which an exclusive ``flock`` on its ``LOCK`` file marks as
alive. Draining is :class:`~il_audit.publisher._spool.Spool`'s job; reading
without consuming is :mod:`il_audit.publisher.spool_reader`'s.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, NamedTuple

_CURSOR_NAME: Final = "CURSOR"

MAGIC: Final = b"ILS1"
HEADER: Final = struct.Struct(">4sII")  # magic, payload length, CRC-32 of the payload
ATTR_LENGTH: Final = struct.Struct(">I")
MAX_RECORD_BYTES: Final = 16 * 1024 * 1024  # above Pub/Sub's 10 MB message limit
LOCK_NAME: Final = "LOCK"
SEGMENT_SUFFIX: Final = ".seg"


class RecordKey(NamedTuple):
    """Where a record starts: its directory, segment number and byte offset."""

    directory: str
    segment: int
    offset: int


@dataclass(frozen=True, slots=True)
class SpoolRecord:
    """One spooled message, ready to be published again."""

    key: RecordKey
    data: bytes
    attributes: dict[str, str]
    count: int
    """Envelopes it carries (:func:`~il_audit.schemas.wire.envelope_count`)."""


def encode_record(data: bytes, attributes: Mapping[str, str]) -> bytes:
    """The bytes of one record."""
    attrs = json.dumps(dict(attributes), separators=(",", ":"), ensure_ascii=False).encode()
    payload = ATTR_LENGTH.pack(len(attrs)) + attrs + data
    return HEADER.pack(MAGIC, len(payload), zlib.crc32(payload)) + payload


def decode_payload(payload: bytes) -> tuple[dict[str, str], bytes]:
    (length,) = ATTR_LENGTH.unpack_from(payload)
    attrs = json.loads(payload[ATTR_LENGTH.size : ATTR_LENGTH.size + length])
    if not isinstance(attrs, dict):
        raise ValueError("attributes are not an object")
    return {str(k): str(v) for k, v in attrs.items()}, payload[ATTR_LENGTH.size + length :]


def segment_name(number: int) -> str:
    return f"{number:012d}{SEGMENT_SUFFIX}"


def segment_numbers(directory: Path) -> list[int]:
    numbers = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(directory):
            name = entry.name
            if name.endswith(SEGMENT_SUFFIX) and name[: -len(SEGMENT_SUFFIX)].isdigit():
                numbers.append(int(name[: -len(SEGMENT_SUFFIX)]))
    return sorted(numbers)


def tree_bytes(root: Path, skip: Path | None) -> int:
    total = 0
    with contextlib.suppress(OSError):
        for sub in os.scandir(root):
            if not sub.is_dir(follow_symlinks=False) or (skip and sub.path == str(skip)):
                continue
            with contextlib.suppress(OSError):
                for entry in os.scandir(sub.path):
                    if entry.name.endswith(SEGMENT_SUFFIX):
                        total += entry.stat().st_size
    return total


def try_lock(directory: Path) -> int | None:
    """An fd holding the directory's exclusive lock, or None if another process holds it."""
    path = directory / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        # The directory may have been drained and removed while we waited to open it.
        if os.stat(path).st_ino != os.fstat(fd).st_ino:
            raise OSError("lock file replaced")
    except OSError:
        os.close(fd)
        return None
    return fd


def read_record_at(
    fd: int, start: int, limit: int
) -> tuple[tuple[dict[str, str], bytes] | None, int, str | None]:
    """The record at ``start`` of an open segment, the offset after it, and what was wrong.

    A torn or corrupt record gives ``(None, where reading resumes, problem)``:
    the next record magic after a bad checksum, or ``limit`` after a torn tail.
    """
    header = os.pread(fd, HEADER.size, start)
    if len(header) < HEADER.size:
        return None, limit, "a torn header at the end"
    magic, length, checksum = HEADER.unpack(header)
    if magic != MAGIC or length > MAX_RECORD_BYTES:
        return None, _next_magic(fd, start, limit), "no record magic"
    end = start + HEADER.size + length
    if end > limit:
        return None, limit, "a record cut short"
    payload = os.pread(fd, length, start + HEADER.size)
    if len(payload) < length or zlib.crc32(payload) != checksum:
        return None, _next_magic(fd, start, limit), "a checksum mismatch"
    try:
        return decode_payload(payload), end, None
    except (ValueError, struct.error, UnicodeDecodeError):
        return None, end, "unreadable attributes"


def _next_magic(fd: int, start: int, limit: int) -> int:
    """The offset of the next record magic after ``start`` (or ``limit``)."""
    position = start + 1
    while position < limit:
        chunk = os.pread(fd, min(1 << 20, limit - position) + len(MAGIC), position)
        found = chunk.find(MAGIC)
        if found >= 0:
            return position + found
        position += max(1, len(chunk) - len(MAGIC))
    return limit


@dataclass
class SpoolDirectory:
    """One spool subdirectory being read (the process's own, or an adopted one)."""

    path: Path
    lock_fd: int
    own: bool
    segment: int = 0
    offset: int = 0
    """Next read position."""
    confirmed_segment: int = 0
    confirmed_offset: int = 0
    """Everything before this position is confirmed."""
    unconfirmed: list[tuple[RecordKey, int]] = field(default_factory=list)
    """Records read and not yet confirmed, in order, with the offset just after each."""
    done: set[RecordKey] = field(default_factory=set)
    fd: int | None = None
    fd_segment: int = 0

    def load_cursor(self) -> None:
        segments = segment_numbers(self.path)
        first = segments[0] if segments else 0
        self.segment, self.offset = first, 0
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            cursor = json.loads((self.path / _CURSOR_NAME).read_text("utf-8"))
            if int(cursor["segment"]) >= first:
                self.segment, self.offset = int(cursor["segment"]), int(cursor["offset"])
        self.confirmed_segment, self.confirmed_offset = self.segment, self.offset

    def save_cursor(self) -> None:
        tmp = self.path / (_CURSOR_NAME + ".tmp")
        with contextlib.suppress(OSError):
            tmp.write_text(
                json.dumps({"segment": self.confirmed_segment, "offset": self.confirmed_offset}),
                "utf-8",
            )
            os.replace(tmp, self.path / _CURSOR_NAME)

    def close_fd(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = None
