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
import logging
import os
import secrets
import socket
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Final

from il_audit.publisher._spool_records import (
    LOCK_NAME,
    MAX_RECORD_BYTES,
    RecordKey,
    SpoolDirectory,
    SpoolRecord,
    encode_record,
    read_record_at,
    segment_name,
    segment_numbers,
    tree_bytes,
    try_lock,
)
from il_audit.schemas.wire import envelope_count

logger = logging.getLogger(__name__)

SEGMENT_MAX_BYTES: Final = 8 * 1024 * 1024
_OTHERS_RESCAN_SECONDS: Final = 5.0


def _fsync_and_close(fd: int) -> None:
    try:
        os.fsync(fd)
    except OSError:
        logger.warning("il-audit: fsync of the spool failed", exc_info=True)
    finally:
        with contextlib.suppress(OSError):
            os.close(fd)


class Spool:
    """The spool of one process: appends to its own subdirectory, drains its own and adopted ones.

    Not thread-safe: only the publisher's worker thread calls it.
    """

    def __init__(self, root: str | os.PathLike[str], max_bytes: int) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.corrupt = 0
        """Records skipped because they were torn or failed their checksum."""
        self._own: SpoolDirectory | None = None
        self._write_fd: int | None = None
        self._write_segment = 0
        self._write_size = 0
        self._unsynced = False
        self._syncer: ThreadPoolExecutor | None = None
        self._own_bytes = 0
        self._others_bytes = 0
        self._others_scanned = float("-inf")
        self._adopted: list[SpoolDirectory] = []

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
            self._others_bytes = tree_bytes(self.root, own.path)
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
        """Start making every appended record durable; True when there was something to sync.

        The ``fsync`` runs on a helper thread (on a duplicate of the descriptor,
        so a rotation may close the original), because a slow disk must never
        stall the publisher's thread: what was written survives a crash of the
        process already; the fsync is for a crash of the machine.
        """
        if not self._unsynced or self._write_fd is None:
            return False
        self._unsynced = False
        fd = os.dup(self._write_fd)
        if self._syncer is None:
            self._syncer = ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="il-audit-spool-sync"
            )
        self._syncer.submit(_fsync_and_close, fd)
        return True

    @property
    def unsynced(self) -> bool:
        """Whether records were appended since the last :meth:`sync`."""
        return self._unsynced

    def _create_own(self) -> SpoolDirectory:
        self.root.mkdir(parents=True, exist_ok=True)
        host = socket.gethostname().split(".")[0] or "host"
        path = self.root / f"{host}-{os.getpid()}-{secrets.token_hex(4)}"
        path.mkdir()
        fd = try_lock(path)
        if fd is None:
            raise OSError(f"cannot lock the new spool directory {path}")
        self._own = SpoolDirectory(path, fd, own=True)
        self._own.load_cursor()
        return self._own

    def _rotate(self, own: SpoolDirectory) -> None:
        if self._write_fd is not None:
            if self._unsynced:
                os.fsync(self._write_fd)
                self._unsynced = False
            os.close(self._write_fd)
        existing = segment_numbers(own.path)
        self._write_segment = max([self._write_segment, *existing]) + 1
        path = own.path / segment_name(self._write_segment)
        self._write_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._write_size = 0
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
            fd = try_lock(Path(entry.path))
            if fd is None:
                continue
            directory = SpoolDirectory(Path(entry.path), fd, own=False)
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

    def _next_in(self, directory: SpoolDirectory) -> SpoolRecord | None:
        while True:
            if directory.segment == 0:
                segments = segment_numbers(directory.path)
                if not segments:
                    return None
                directory.segment, directory.offset = segments[0], 0
            active = directory.own and directory.segment == self._write_segment
            limit = self._write_size if active else self._segment_size(directory)
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
            return SpoolRecord(key, data, attributes, envelope_count(attributes, data))

    def _segment_size(self, directory: SpoolDirectory) -> int | None:
        try:
            return (directory.path / segment_name(directory.segment)).stat().st_size
        except OSError:
            return None

    def _advance_segment(self, directory: SpoolDirectory) -> bool:
        later = [number for number in segment_numbers(directory.path) if number > directory.segment]
        if not later:
            return False
        directory.close_fd()
        directory.segment, directory.offset = later[0], 0
        return True

    def _read(
        self, directory: SpoolDirectory, limit: int
    ) -> tuple[tuple[dict[str, str], bytes] | None, int]:
        """The record at the read position and the offset after it (None: skipped as corrupt)."""
        if directory.fd is None or directory.fd_segment != directory.segment:
            directory.close_fd()
            directory.fd = os.open(directory.path / segment_name(directory.segment), os.O_RDONLY)
            directory.fd_segment = directory.segment
        decoded, end, problem = read_record_at(directory.fd, directory.offset, limit)
        if problem is not None:
            return self._corrupt(directory, problem, end)
        return decoded, end

    def _corrupt(self, directory: SpoolDirectory, what: str, resume_at: int) -> tuple[None, int]:
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

    def _settle(self, directory: SpoolDirectory) -> None:
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

    def _delete_finished(self, directory: SpoolDirectory) -> None:
        """Delete segments wholly confirmed; an adopted directory drained to the end goes too."""
        for number in segment_numbers(directory.path):
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
        later = [n for n in segment_numbers(directory.path) if n > directory.confirmed_segment]
        if (
            not later
            and not directory.unconfirmed
            and (size is None or directory.confirmed_offset >= size)
        ):
            self._remove_directory(directory)

    def _remove_segment(self, directory: SpoolDirectory, number: int) -> None:
        if directory.fd is not None and directory.fd_segment == number:
            directory.close_fd()
        path = directory.path / segment_name(number)
        with contextlib.suppress(OSError):
            size = path.stat().st_size
            path.unlink()
            if directory.own:
                self._own_bytes -= size

    def _remove_directory(self, directory: SpoolDirectory) -> None:
        directory.close_fd()
        for entry in list(os.scandir(directory.path)):
            if entry.name != LOCK_NAME:
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
        with contextlib.suppress(OSError):
            os.unlink(directory.path / LOCK_NAME)
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
            for number in segment_numbers(directory.path):
                with contextlib.suppress(OSError):
                    total += (directory.path / segment_name(number)).stat().st_size
        return total

    def close(self) -> None:
        """Sync, release the locks, and remove this process's directory if it holds nothing."""
        if self._write_fd is not None:
            with contextlib.suppress(OSError):
                if self._unsynced:
                    os.fsync(self._write_fd)
                os.close(self._write_fd)
            self._write_fd = None
        if self._syncer is not None:
            self._syncer.shutdown(wait=True)
            self._syncer = None
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
        for number in segment_numbers(own.path):
            try:
                size = (own.path / segment_name(number)).stat().st_size
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
