"""One DuckDB file shared by processes that take turns: the embedded warehouse's lock manners.

DuckDB lets one process write a file at a time. A writer keeps its connection
only while writes keep coming (``hold_seconds`` after the last one, never more
than ``max_hold_seconds`` in a row) and retries while another process holds the
lock, so an app emitting into the file and ``il-audit query`` reading it take
turns. DuckDB's lock is not fair, so a waiting reader says so by touching
``FILE.waiting``; a writer that sees a fresh one steps aside (for at most a
second) before writing again. Opening a connection per write cost a third of
each write, hence the holding. Every connection runs in UTC.

Every connection also gets DuckDB's ``memory_limit`` from
``IL_AUDIT_DUCKDB_MEMORY_LIMIT`` (DuckDB's own default is 80 % of RAM). DuckDB
refuses a second connection to a file with another configuration in the same
process, so every :class:`DuckDBFile` takes the process's setting unless told
otherwise. The limit bounds DuckDB's buffer manager, and the primary-key index
lives there: a limit too low makes writes fail with :meth:`DuckDBFile.out_of_memory`,
a transient error naming the limit and the setting (docs/reliability.md).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import random
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import duckdb

from il_audit.config.settings import ENV_BINDINGS, get_audit_settings
from il_audit.subscriber_fn.errors import SinkUnavailableError

DEFAULT_LOCK_TIMEOUT: Final = 30.0
DEFAULT_HOLD_SECONDS: Final = 0.25
DEFAULT_MAX_HOLD_SECONDS: Final = 2.0
_WAITING_FRESH_SECONDS: Final = 1.0
_MAX_YIELD_SECONDS: Final = 1.0


def _is_lock_error(error: BaseException) -> bool:
    text = str(error).lower()
    return "lock" in text or "conflicting" in text or "being used by another process" in text


class DuckDBFile:
    """Connections to one DuckDB file: short-lived readers and one held writer per process."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        hold_seconds: float = DEFAULT_HOLD_SECONDS,
        max_hold_seconds: float = DEFAULT_MAX_HOLD_SECONDS,
        memory_limit: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.memory_limit = memory_limit or get_audit_settings().duckdb_memory_limit
        self.lock_timeout = lock_timeout
        self.hold_seconds = hold_seconds
        self.max_hold_seconds = max_hold_seconds
        self._lock = threading.RLock()  # one writer per process; other processes: file lock
        self._held: duckdb.DuckDBPyConnection | None = None
        self._held_since = 0.0
        self._last_write = 0.0
        self._releaser: threading.Thread | None = None

    @property
    def waiting_marker(self) -> Path:
        """The file a blocked reader touches so that writers step aside."""
        return self.path.with_name(self.path.name + ".waiting")

    def _open(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        deadline = time.monotonic() + self.lock_timeout
        delay = 0.01
        waited = False
        try:
            while True:
                try:
                    connection = duckdb.connect(
                        str(self.path),
                        read_only=read_only,
                        config={"memory_limit": self.memory_limit},
                    )
                    break
                except duckdb.OutOfMemoryException as exc:
                    raise self.out_of_memory(exc) from exc
                except (duckdb.IOException, duckdb.ConnectionException) as exc:
                    if read_only and "different configuration" in str(exc):
                        # This process holds a write connection; share its database instead.
                        read_only = False
                        continue
                    if not _is_lock_error(exc) or time.monotonic() >= deadline:
                        raise SinkUnavailableError(f"cannot open {self.path}: {exc}") from exc
                    if read_only:
                        waited = True
                        with contextlib.suppress(OSError):
                            self.waiting_marker.touch()
                    time.sleep(delay * random.uniform(0.5, 1.5))
                    delay = min(delay * 2, 0.05 if read_only else 0.25)
        finally:
            if waited:
                with contextlib.suppress(OSError):
                    self.waiting_marker.unlink()
        connection.execute("SET TimeZone = 'UTC'")
        return connection

    def out_of_memory(self, error: BaseException) -> SinkUnavailableError:
        """DuckDB ran out of its ``memory_limit``: a transient error that says which to raise."""
        variable = ENV_BINDINGS["duckdb_memory_limit"][0]
        said = str(error).splitlines()[:1]
        return SinkUnavailableError(
            f"DuckDB ran out of memory on {self.path.name} under its memory_limit of "
            f"{self.memory_limit} ({variable}); the primary-key index counts against it, "
            f"so a growing table needs more: raise {variable} (docs/reliability.md). "
            f"DuckDB said: {' '.join(said)}"
        )

    def _reader_waiting(self) -> bool:
        try:
            age = time.time() - self.waiting_marker.stat().st_mtime
        except OSError:
            return False
        return age < _WAITING_FRESH_SECONDS

    def _step_aside(self) -> None:
        """Let a waiting reader in: release, and wait (bounded) until it has opened."""
        self._release()
        deadline = time.monotonic() + _MAX_YIELD_SECONDS
        while self._reader_waiting() and time.monotonic() < deadline:
            time.sleep(0.02)

    @contextlib.contextmanager
    def connect(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A short-lived connection, retried while another process holds the file."""
        connection = self._open(read_only)
        try:
            yield connection
        finally:
            connection.close()

    @contextlib.contextmanager
    def writer(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The held write connection (opened, or reopened after ``max_hold_seconds``)."""
        with self._lock:
            if self._reader_waiting():
                self._step_aside()
            now = time.monotonic()
            if self._held is not None and now - self._held_since >= self.max_hold_seconds:
                self._release()  # let other processes in before holding again
            if self._held is None:
                self._held = self._open(read_only=False)
                self._held_since = now
                _holding.add(self)
            try:
                yield self._held
            except duckdb.OutOfMemoryException as exc:
                self._release()
                raise self.out_of_memory(exc) from exc
            except duckdb.Error:
                self._release()  # the connection may be unusable now
                raise
            finally:
                self._last_write = time.monotonic()
                if self.hold_seconds <= 0:
                    self._release()
                elif self._releaser is None or not self._releaser.is_alive():
                    self._releaser = threading.Thread(
                        target=self._release_when_idle, name="il-audit-duckdb-release", daemon=True
                    )
                    self._releaser.start()

    def _release(self) -> None:
        if self._held is not None:
            with contextlib.suppress(duckdb.Error):
                self._held.close()
            self._held = None

    def _release_when_idle(self) -> None:
        while True:
            time.sleep(max(self.hold_seconds / 2, 0.01))
            with self._lock:
                if self._held is None:
                    return
                if time.monotonic() - self._last_write >= self.hold_seconds:
                    self._release()
                    return

    def close(self) -> None:
        """Close the held write connection, if any."""
        with self._lock:
            self._release()


_holding: weakref.WeakSet[DuckDBFile] = weakref.WeakSet()
"""Files that held a write connection in this process."""


@atexit.register
def _close_held_connections() -> None:
    # A connection still held at exit would be destroyed during interpreter shutdown,
    # possibly while its releaser thread is inside DuckDB: a C++ exception escaping
    # there aborts the process ("terminate called ..."), after the work was done.
    for file in list(_holding):
        with contextlib.suppress(Exception):
            file.close()
