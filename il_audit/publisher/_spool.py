"""The disk spool: packed messages that could not be published, kept across outages and restarts.

Layout under ``IL_AUDIT_SPOOL_DIR``: one subdirectory per process
(``HOST-PID-RANDOM``), created on the first write and held with an exclusive
``flock`` on its ``LOCK`` file for the life of the process. gunicorn and
``multiprocessing`` workers share the parent directory, each in its own
subdirectory. A subdirectory whose lock is free belongs to a process that has
gone (killed, crashed, or exited during an outage): any process on the same
parent directory adopts it and drains it.

A subdirectory holds numbered segment files (``000000000001.seg``...) of
records, each ``magic | payload length | CRC-32 | payload``, where the payload
is the message's attributes (length-prefixed JSON) and its NDJSON data, byte
for byte. Writes are ``os.write`` calls (no userspace buffer, so a fork can
never write a parent's data twice) made durable by ``fsync`` in groups: the
publisher syncs once per round of work and only then forgets the messages.

Reading is in order, segment by segment. A record that fails its checksum or
stops short (a torn tail after a crash) is skipped and counted, never fatal;
reading resumes at the next record magic. Confirmed progress is kept in a
``CURSOR`` file and fully drained segments are deleted, so a restart resends
at most the records that were in flight: delivery is at least once, and events
keep their ``event_id`` for deduplication downstream.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import secrets
import socket
import struct
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, NamedTuple

logger = logging.getLogger(__name__)

MAGIC: Final = b"ILS1"
_HEADER: Final = struct.Struct(">4sII")  # magic, payload length, CRC-32 of the payload
_ATTR_LENGTH: Final = struct.Struct(">I")
SEGMENT_MAX_BYTES: Final = 8 * 1024 * 1024
MAX_RECORD_BYTES: Final = 16 * 1024 * 1024  # above Pub/Sub's 10 MB message limit
_LOCK_NAME: Final = "LOCK"
_CURSOR_NAME: Final = "CURSOR"
_SEGMENT_SUFFIX: Final = ".seg"
_OTHERS_RESCAN_SECONDS: Final = 5.0


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
    """Envelopes it carries (from ``il_audit_count``; 1 when unreadable)."""


def encode_record(data: bytes, attributes: Mapping[str, str]) -> bytes:
    """The bytes of one record."""
    attrs = json.dumps(dict(attributes), separators=(",", ":"), ensure_ascii=False).encode()
    payload = _ATTR_LENGTH.pack(len(attrs)) + attrs + data
    return _HEADER.pack(MAGIC, len(payload), zlib.crc32(payload)) + payload


def _decode_payload(payload: bytes) -> tuple[dict[str, str], bytes]:
    (length,) = _ATTR_LENGTH.unpack_from(payload)
    attrs = json.loads(payload[_ATTR_LENGTH.size : _ATTR_LENGTH.size + length])
    if not isinstance(attrs, dict):
        raise ValueError("attributes are not an object")
    return {str(k): str(v) for k, v in attrs.items()}, payload[_ATTR_LENGTH.size + length :]


def _count(attributes: Mapping[str, str]) -> int:
    raw = attributes.get("il_audit_count", "1")
    return int(raw) if raw.isdigit() and int(raw) > 0 else 1


def _segment_name(number: int) -> str:
    return f"{number:012d}{_SEGMENT_SUFFIX}"


def _segments(directory: Path) -> list[int]:
    numbers = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(directory):
            name = entry.name
            if name.endswith(_SEGMENT_SUFFIX) and name[: -len(_SEGMENT_SUFFIX)].isdigit():
                numbers.append(int(name[: -len(_SEGMENT_SUFFIX)]))
    return sorted(numbers)


def _tree_bytes(root: Path, skip: Path | None) -> int:
    total = 0
    with contextlib.suppress(OSError):
        for sub in os.scandir(root):
            if not sub.is_dir(follow_symlinks=False) or (skip and sub.path == str(skip)):
                continue
            with contextlib.suppress(OSError):
                for entry in os.scandir(sub.path):
                    if entry.name.endswith(_SEGMENT_SUFFIX):
                        total += entry.stat().st_size
    return total


def _try_lock(directory: Path) -> int | None:
    """An fd holding the directory's exclusive lock, or None if another process holds it."""
    path = directory / _LOCK_NAME
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


@dataclass
class _Directory:
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
        segments = _segments(self.path)
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


class Spool:
    """The spool of one process: appends to its own subdirectory, drains its own and adopted ones.

    Not thread-safe: only the publisher's worker thread calls it.
    """

    def __init__(self, root: str | os.PathLike[str], max_bytes: int) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.corrupt = 0
        """Records skipped because they were torn or failed their checksum."""
        self._own: _Directory | None = None
        self._write_fd: int | None = None
        self._write_segment = 0
        self._write_size = 0
        self._synced_size = 0
        self._unsynced = False
        self._own_bytes = 0
        self._others_bytes = 0
        self._others_scanned = float("-inf")
        self._adopted: list[_Directory] = []

    # ------------------------------------------------------------------ writing

    def append(self, data: bytes, attributes: Mapping[str, str]) -> RecordKey | None:
        """Write one message; None when the spool is at its byte bound (nothing written)."""
        record = encode_record(data, attributes)
        if len(record) > MAX_RECORD_BYTES:
            return None
        own = self._own or self._create_own()
        if self._write_fd is None or self._write_size + len(record) > SEGMENT_MAX_BYTES:
            self._rotate(own)
        now = time.monotonic()
        if now - self._others_scanned >= _OTHERS_RESCAN_SECONDS:
            self._others_bytes = _tree_bytes(self.root, own.path)
            self._others_scanned = now
        if self._own_bytes + self._others_bytes + len(record) > self.max_bytes:
            return None
        assert self._write_fd is not None
        key = RecordKey(str(own.path), self._write_segment, self._write_size)
        written = 0
        view = memoryview(record)
        while written < len(record):
            written += os.write(self._write_fd, view[written:])
        self._write_size += len(record)
        self._own_bytes += len(record)
        self._unsynced = True
        return key

    def sync(self) -> bool:
        """Make every appended record durable; True when there was something to sync."""
        if not self._unsynced or self._write_fd is None:
            return False
        os.fsync(self._write_fd)
        self._synced_size = self._write_size
        self._unsynced = False
        return True

    @property
    def unsynced(self) -> bool:
        """Whether records were appended since the last :meth:`sync`."""
        return self._unsynced

    def _create_own(self) -> _Directory:
        self.root.mkdir(parents=True, exist_ok=True)
        host = socket.gethostname().split(".")[0] or "host"
        path = self.root / f"{host}-{os.getpid()}-{secrets.token_hex(4)}"
        path.mkdir()
        fd = _try_lock(path)
        if fd is None:
            raise OSError(f"cannot lock the new spool directory {path}")
        self._own = _Directory(path, fd, own=True)
        self._own.load_cursor()
        return self._own

    def _rotate(self, own: _Directory) -> None:
        if self._write_fd is not None:
            if self._unsynced:
                os.fsync(self._write_fd)
                self._unsynced = False
            os.close(self._write_fd)
        existing = _segments(own.path)
        self._write_segment = max([self._write_segment, *existing]) + 1
        path = own.path / _segment_name(self._write_segment)
        self._write_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._write_size = self._synced_size = 0
        self._others_scanned = float("-inf")  # rescan the neighbours at each new segment
        if own.segment == 0:
            own.segment = own.confirmed_segment = self._write_segment

    # ------------------------------------------------------------------ adopting

    def adopt(self) -> int:
        """Take over every sibling subdirectory whose lock is free; returns how many."""
        adopted = 0
        try:
            entries = sorted(os.scandir(self.root), key=lambda entry: entry.name)
        except OSError:
            return 0
        taken = {str(directory.path) for directory in self._adopted}
        if self._own is not None:
            taken.add(str(self._own.path))
        for entry in entries:
            if not entry.is_dir(follow_symlinks=False) or entry.path in taken:
                continue
            fd = _try_lock(Path(entry.path))
            if fd is None:
                continue
            directory = _Directory(Path(entry.path), fd, own=False)
            directory.load_cursor()
            self._adopted.append(directory)
            adopted += 1
            logger.info("il-audit: adopted the spool of a stopped process: %s", entry.name)
        return adopted

    # ------------------------------------------------------------------ reading

    def next_record(self) -> SpoolRecord | None:
        """The next unread record (adopted directories first, then this process's own)."""
        for directory in [*self._adopted, *([self._own] if self._own else [])]:
            record = self._next_in(directory)
            if record is not None:
                return record
        return None

    def _next_in(self, directory: _Directory) -> SpoolRecord | None:
        while True:
            if directory.segment == 0:
                segments = _segments(directory.path)
                if not segments:
                    return None
                directory.segment, directory.offset = segments[0], 0
            active = directory.own and directory.segment == self._write_segment
            limit = self._synced_size if active else self._segment_size(directory)
            if limit is None:  # the segment is gone: move on
                if not self._advance_segment(directory):
                    return None
                continue
            if directory.offset >= limit:
                if active or not self._advance_segment(directory):
                    return None
                continue
            record, next_offset = self._read(directory, limit)
            key = RecordKey(str(directory.path), directory.segment, directory.offset)
            directory.offset = next_offset
            if record is None:
                continue
            directory.unconfirmed.append((key, next_offset))
            attributes, data = record
            return SpoolRecord(key, data, attributes, _count(attributes))

    def _segment_size(self, directory: _Directory) -> int | None:
        try:
            return (directory.path / _segment_name(directory.segment)).stat().st_size
        except OSError:
            return None

    def _advance_segment(self, directory: _Directory) -> bool:
        later = [number for number in _segments(directory.path) if number > directory.segment]
        if not later:
            return False
        directory.close_fd()
        directory.segment, directory.offset = later[0], 0
        return True

    def _read(
        self, directory: _Directory, limit: int
    ) -> tuple[tuple[dict[str, str], bytes] | None, int]:
        """The record at the read position and the offset after it (None: skipped as corrupt)."""
        if directory.fd is None or directory.fd_segment != directory.segment:
            directory.close_fd()
            directory.fd = os.open(directory.path / _segment_name(directory.segment), os.O_RDONLY)
            directory.fd_segment = directory.segment
        start = directory.offset
        header = os.pread(directory.fd, _HEADER.size, start)
        if len(header) < _HEADER.size:
            return self._corrupt(directory, "a torn header at the end", limit)
        magic, length, checksum = _HEADER.unpack(header)
        if magic != MAGIC or length > MAX_RECORD_BYTES:
            return self._corrupt(
                directory, "no record magic", self._resync(directory, start, limit)
            )
        end = start + _HEADER.size + length
        if end > limit:
            return self._corrupt(directory, "a record cut short", limit)
        payload = os.pread(directory.fd, length, start + _HEADER.size)
        if len(payload) < length or zlib.crc32(payload) != checksum:
            return self._corrupt(
                directory, "a checksum mismatch", self._resync(directory, start, limit)
            )
        try:
            return _decode_payload(payload), end
        except (ValueError, struct.error, UnicodeDecodeError):
            return self._corrupt(directory, "unreadable attributes", end)

    def _resync(self, directory: _Directory, start: int, limit: int) -> int:
        """The offset of the next record magic after ``start`` (or ``limit``)."""
        assert directory.fd is not None
        position = start + 1
        while position < limit:
            chunk = os.pread(directory.fd, min(1 << 20, limit - position) + len(MAGIC), position)
            found = chunk.find(MAGIC)
            if found >= 0:
                return position + found
            position += max(1, len(chunk) - len(MAGIC))
        return limit

    def _corrupt(self, directory: _Directory, what: str, resume_at: int) -> tuple[None, int]:
        self.corrupt += 1
        logger.warning(
            "il-audit: skipped a corrupt spool record (%s) in %s segment %d at byte %d",
            what,
            directory.path.name,
            directory.segment,
            directory.offset,
        )
        # A skipped region needs no confirmation: record it as done right away.
        key = RecordKey(str(directory.path), directory.segment, directory.offset)
        directory.unconfirmed.append((key, resume_at))
        directory.done.add(key)
        self._settle(directory)
        return None, resume_at

    def confirm(self, key: RecordKey) -> None:
        """The record was published (or is known to be): it need never be sent again."""
        for directory in [*self._adopted, *([self._own] if self._own else [])]:
            if str(directory.path) == key.directory:
                directory.done.add(key)
                self._settle(directory)
                return

    def _settle(self, directory: _Directory) -> None:
        moved = False
        while directory.unconfirmed and directory.unconfirmed[0][0] in directory.done:
            key, end = directory.unconfirmed.pop(0)
            directory.done.discard(key)
            directory.confirmed_segment, directory.confirmed_offset = key.segment, end
            moved = True
        if not moved:
            return
        directory.save_cursor()
        self._delete_finished(directory)

    def _delete_finished(self, directory: _Directory) -> None:
        """Delete segments wholly confirmed; an adopted directory drained to the end goes too."""
        for number in _segments(directory.path):
            if number >= directory.confirmed_segment:
                break
            self._remove_segment(directory, number)
        if directory.own:
            # The active segment, all read and confirmed: start a fresh one so it can go.
            if (
                directory.confirmed_segment == self._write_segment
                and directory.confirmed_offset >= self._write_size > 0
                and not directory.unconfirmed
            ):
                self._rotate(directory)
                self._remove_segment(directory, directory.confirmed_segment)
                directory.segment = directory.confirmed_segment = self._write_segment
                directory.offset = directory.confirmed_offset = 0
                directory.save_cursor()
            return
        size = self._segment_size(directory)
        later = [n for n in _segments(directory.path) if n > directory.confirmed_segment]
        if (
            not later
            and not directory.unconfirmed
            and (size is None or directory.confirmed_offset >= size)
        ):
            self._remove_directory(directory)

    def _remove_segment(self, directory: _Directory, number: int) -> None:
        if directory.fd is not None and directory.fd_segment == number:
            directory.close_fd()
        path = directory.path / _segment_name(number)
        with contextlib.suppress(OSError):
            size = path.stat().st_size
            path.unlink()
            if directory.own:
                self._own_bytes -= size

    def _remove_directory(self, directory: _Directory) -> None:
        directory.close_fd()
        for entry in list(os.scandir(directory.path)):
            if entry.name != _LOCK_NAME:
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
        with contextlib.suppress(OSError):
            os.unlink(directory.path / _LOCK_NAME)
        with contextlib.suppress(OSError):
            directory.path.rmdir()
        with contextlib.suppress(OSError):
            os.close(directory.lock_fd)
        if directory in self._adopted:
            self._adopted.remove(directory)
        logger.info("il-audit: drained and removed the spool directory %s", directory.path.name)

    def rewind(self) -> None:
        """Forget what was read and not confirmed: it is read (and sent) again."""
        for directory in [*self._adopted, *([self._own] if self._own else [])]:
            if directory.unconfirmed:
                first_key = directory.unconfirmed[0][0]
                directory.segment, directory.offset = first_key.segment, first_key.offset
                directory.unconfirmed.clear()
                directory.done.clear()

    # ---------------------------------------------------------------- lifecycle

    @property
    def own_directory(self) -> Path | None:
        """This process's subdirectory, once it has written one."""
        return self._own.path if self._own else None

    def backlog_bytes(self) -> int:
        """Bytes of segments in this process's and its adopted directories."""
        total = self._own_bytes
        for directory in self._adopted:
            for number in _segments(directory.path):
                with contextlib.suppress(OSError):
                    total += (directory.path / _segment_name(number)).stat().st_size
        return total

    def close(self) -> None:
        """Sync, release the locks, and remove this process's directory if it holds nothing."""
        if self._write_fd is not None:
            with contextlib.suppress(OSError):
                if self._unsynced:
                    os.fsync(self._write_fd)
                os.close(self._write_fd)
            self._write_fd = None
        own = self._own
        if own is not None:
            own.close_fd()
            if not own.unconfirmed and self._own_drained():
                self._remove_directory(own)
            else:
                with contextlib.suppress(OSError):
                    os.close(own.lock_fd)
            self._own = None
        for directory in list(self._adopted):
            directory.close_fd()
            with contextlib.suppress(OSError):
                os.close(directory.lock_fd)
        self._adopted.clear()

    def _own_drained(self) -> bool:
        own = self._own
        if own is None:
            return True
        for number in _segments(own.path):
            try:
                size = (own.path / _segment_name(number)).stat().st_size
            except OSError:
                continue
            if number > own.confirmed_segment and size > 0:
                return False
            if number == own.confirmed_segment and own.confirmed_offset < size:
                return False
        return True

    def forget_after_fork(self) -> None:
        """In a forked child: drop the parent's files without touching them.

        Closing the inherited descriptors leaves the parent's locks held (flock
        locks belong to the open file, which the parent still has open).
        """
        fds = [self._write_fd]
        for directory in [*self._adopted, *([self._own] if self._own else [])]:
            fds.extend((directory.fd, directory.lock_fd))
        for fd in fds:
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._write_fd = None
        self._own = None
        self._adopted = []


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
        numbers = _segments(Path(entry.path))
        segments += len(numbers)
        for number in numbers:
            with contextlib.suppress(OSError):
                total += (Path(entry.path) / _segment_name(number)).stat().st_size
        fd = _try_lock(Path(entry.path))
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
        for number in _segments(sub):
            try:
                raw = (sub / _segment_name(number)).read_bytes()
            except OSError:
                continue
            offset = 0
            while offset + _HEADER.size <= len(raw):
                magic, length, checksum = _HEADER.unpack_from(raw, offset)
                end = offset + _HEADER.size + length
                payload = raw[offset + _HEADER.size : end]
                if magic != MAGIC or end > len(raw) or zlib.crc32(payload) != checksum:
                    break
                attributes, data = _decode_payload(payload)
                key = RecordKey(str(sub), number, offset)
                records.append(SpoolRecord(key, data, attributes, _count(attributes)))
                offset = end
    return records
