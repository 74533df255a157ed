"""The DuckDB sink: the embedded warehouse, with the same tables and columns as BigQuery.

Types follow the table specs: NUMERIC is DECIMAL(38,9), TIMESTAMP is
TIMESTAMPTZ read and written in UTC, JSON is DuckDB's JSON, repeated records
are lists of structs. Each table has a primary key on its dedup column, and
inserts are ``INSERT OR IGNORE``, so redelivered events do not duplicate.

DuckDB lets one process write a file at a time. The sink keeps its write
connection only while writes keep coming (``hold_seconds`` after the last one,
never more than ``max_hold_seconds`` in a row) and retries while another
process holds the lock, so an app emitting into the file and ``il-audit
query`` reading it take turns. DuckDB's lock is not fair, so a waiting reader
says so by touching ``FILE.waiting``; a writer that sees a fresh one steps
aside (for at most a second) before writing again. Opening a connection per write cost a third of
each write. Rows are loaded through ``read_json`` from a temporary NDJSON
file, which is two orders of magnitude faster than ``executemany`` for nested
rows.

With ``retention_days`` (``IL_AUDIT_RETENTION_DAYS``) the sink deletes expired
events and dead letters when it opens the file (its first ``ensure_tables``),
by the rule of BigQuery's partition expiration: a UTC day's rows go once the
start of that day is ``retention_days`` old.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import random
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import duckdb

from il_audit.schemas.tables import (
    COST_RATES,
    DEAD_LETTERS,
    EVENTS,
    KEY_COLUMNS,
    TABLES,
    ColumnSpec,
    TableSpec,
)
from il_audit.subscriber_fn.errors import SinkUnavailableError
from il_audit.subscriber_fn.sinks.base import Row, dumps, redact_values

logger = logging.getLogger(__name__)

_SCALAR_TYPES: Final = {
    "STRING": "VARCHAR",
    "INT64": "BIGINT",
    "FLOAT64": "DOUBLE",
    "BOOL": "BOOLEAN",
    "TIMESTAMP": "TIMESTAMPTZ",
    "DATE": "DATE",
    "NUMERIC": "DECIMAL(38,9)",
    "JSON": "JSON",
}
DEFAULT_LOCK_TIMEOUT: Final = 30.0
DEFAULT_HOLD_SECONDS: Final = 0.25
DEFAULT_MAX_HOLD_SECONDS: Final = 2.0
_WAITING_FRESH_SECONDS: Final = 1.0
_MAX_YIELD_SECONDS: Final = 1.0


def duckdb_type(column: ColumnSpec) -> str:
    """The DuckDB type of a column spec (structs and lists included)."""
    if column.type == "RECORD":
        inner = ", ".join(f"{field.name} {duckdb_type(field)}" for field in column.fields)
        base = f"STRUCT({inner})"
    else:
        base = _SCALAR_TYPES[column.type]
    return f"{base}[]" if column.mode == "REPEATED" else base


def create_table_sql(spec: TableSpec) -> str:
    """``CREATE TABLE IF NOT EXISTS`` for a spec, keyed on its dedup columns."""
    columns = []
    for column in spec.columns:
        not_null = " NOT NULL" if column.mode == "REQUIRED" else ""
        columns.append(f"{column.name} {duckdb_type(column)}{not_null}")
    key = ", ".join(KEY_COLUMNS[spec.name])
    return f"CREATE TABLE IF NOT EXISTS {spec.name} ({', '.join(columns)}, PRIMARY KEY ({key}))"


@functools.cache
def view_statements() -> tuple[tuple[str, str], ...]:
    """(name, DuckDB SELECT) of every analytics view, transpiled once per process."""
    from il_audit.sql import for_duckdb, views

    return tuple((view.name, for_duckdb(view.sql)) for view in views())


def delete_expired(
    connection: duckdb.DuckDBPyConnection, retention_days: int, now: datetime
) -> dict[str, int]:
    """Delete the events and dead letters of UTC days older than ``retention_days``.

    BigQuery expires partition D at D 00:00 UTC + retention, so its rows are gone once
    D <= (now - retention).date(): here, every row before the start of the next day.
    Returns the rows deleted per table.
    """
    last_expired = (now.astimezone(UTC) - timedelta(days=retention_days)).date()
    cutoff = datetime.combine(last_expired + timedelta(days=1), datetime.min.time(), UTC)
    deleted: dict[str, int] = {}
    for spec in (EVENTS, DEAD_LETTERS):
        if spec.partition_field is None:
            continue
        row = connection.execute(
            f"DELETE FROM {spec.name} WHERE {spec.partition_field} < ?", [cutoff]
        ).fetchone()
        deleted[spec.name] = int(row[0]) if row else 0
        if deleted[spec.name]:
            logger.info(
                "il-audit: retention of %d days: deleted %d %s rows before %s",
                retention_days,
                deleted[spec.name],
                spec.name,
                cutoff.date().isoformat(),
            )
    return deleted


def _read_json_columns(spec: TableSpec) -> str:
    pairs = ", ".join(f"'{column.name}': '{duckdb_type(column)}'" for column in spec.columns)
    return "{" + pairs + "}"


def _is_lock_error(error: BaseException) -> bool:
    text = str(error).lower()
    return "lock" in text or "conflicting" in text or "being used by another process" in text


class DuckDBSink:
    """Writes the warehouse tables into one DuckDB file."""

    name = "duckdb"

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        hold_seconds: float = DEFAULT_HOLD_SECONDS,
        max_hold_seconds: float = DEFAULT_MAX_HOLD_SECONDS,
        retention_days: int | None = None,
    ) -> None:
        self.path = Path(path)
        self.retention_days = retention_days
        self.lock_timeout = lock_timeout
        self.hold_seconds = hold_seconds
        self.max_hold_seconds = max_hold_seconds
        self._ensured = False
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
                    connection = duckdb.connect(str(self.path), read_only=read_only)
                    break
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
        """A short-lived connection in UTC, retried while another process holds the file."""
        connection = self._open(read_only)
        try:
            yield connection
        finally:
            connection.close()

    @contextlib.contextmanager
    def _writer(self) -> Iterator[duckdb.DuckDBPyConnection]:
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
            try:
                yield self._held
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

    def ensure_tables(self) -> None:
        """Create the three tables if they are missing."""
        if self._ensured:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SinkUnavailableError(f"cannot create {self.path.parent}: {exc}") from exc
        with self._writer() as connection:
            for spec in TABLES:
                connection.execute(create_table_sql(spec))
            for name, sql in view_statements():
                connection.execute(f"CREATE OR REPLACE VIEW {name} AS {sql}")
            if self.retention_days is not None:
                delete_expired(connection, self.retention_days, datetime.now(UTC))
        self._ensured = True

    def write_events(self, rows: Sequence[Row]) -> dict[int, str]:
        """Insert event rows, ignoring event_ids already present."""
        return self._insert(EVENTS, rows)

    def write_dead_letters(self, rows: Sequence[Row]) -> None:
        """Insert dead-letter rows, ignoring ones already recorded."""
        refused = self._insert(DEAD_LETTERS, rows)
        for index, reason in refused.items():
            logger.error(
                "il-audit: dead letter %s refused by DuckDB: %s",
                rows[index].get("dead_letter_id"),
                reason,
            )

    def upsert_cost_rates(self, rows: Sequence[Row]) -> None:
        """Insert or replace cost_rates rows (keyed by service, model_id, effective_from)."""
        self.ensure_tables()
        now = datetime.now(UTC)
        rows = [{**row, "loaded_at": row.get("loaded_at") or now} for row in rows]
        with self._writer() as connection, _ndjson_file(rows) as path:
            connection.execute(
                f"INSERT OR REPLACE INTO {COST_RATES.name} BY NAME SELECT * FROM read_json(?, "
                f"format='newline_delimited', columns={_read_json_columns(COST_RATES)})",
                [path],
            )

    def read_cost_rates(self) -> list[dict[str, Any]]:
        """Every cost_rates row, as dicts."""
        self.ensure_tables()
        with self._writer() as connection:
            cursor = connection.execute(
                f"SELECT * FROM {COST_RATES.name} ORDER BY service, model_id, effective_from"
            )
            names = [description[0] for description in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def close(self) -> None:
        """Close the held write connection, if any."""
        with self._lock:
            self._release()

    def _insert(self, spec: TableSpec, rows: Sequence[Row]) -> dict[int, str]:
        if not rows:
            return {}
        self.ensure_tables()
        sql = (
            f"INSERT OR IGNORE INTO {spec.name} BY NAME SELECT * FROM read_json(?, "
            f"format='newline_delimited', columns={_read_json_columns(spec)})"
        )
        with self._writer() as connection:
            try:
                with _ndjson_file(rows) as path:
                    connection.execute(sql, [path])
                return {}
            except (duckdb.ConversionException, duckdb.InvalidInputException) as exc:
                # One bad row fails the statement: find it by inserting one at a time.
                logger.warning(
                    "il-audit: DuckDB refused a batch (%s); isolating rows", type(exc).__name__
                )
                refused: dict[int, str] = {}
                for index, row in enumerate(rows):
                    try:
                        with _ndjson_file([row]) as path:
                            connection.execute(sql, [path])
                    except (duckdb.ConversionException, duckdb.InvalidInputException) as row_exc:
                        refused[index] = f"DuckDB refused the row: {redact_values(str(row_exc))}"[
                            :1000
                        ]
                return refused
            except duckdb.Error as exc:
                raise SinkUnavailableError(f"DuckDB write to {spec.name} failed: {exc}") from exc


@contextlib.contextmanager
def _ndjson_file(rows: Sequence[Row]) -> Iterator[str]:
    handle, path = tempfile.mkstemp(prefix="il-audit-", suffix=".ndjson")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            for row in rows:
                out.write(dumps(row, ascii_only=True))
                out.write("\n")
        yield path
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
