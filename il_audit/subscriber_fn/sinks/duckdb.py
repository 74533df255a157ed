"""The DuckDB sink: the embedded warehouse, with the same tables and columns as BigQuery.

Types follow the table specs: NUMERIC is DECIMAL(38,9), TIMESTAMP is
TIMESTAMPTZ read and written in UTC, JSON is DuckDB's JSON, repeated records
are lists of structs. Each table has a primary key on its dedup column, and
inserts are ``INSERT OR IGNORE``, so redelivered events do not duplicate.

DuckDB lets one process write a file at a time. Every operation opens its own
short-lived connection and retries while another process holds the lock, so
an app emitting into the file and ``il-audit query`` reading it can take
turns. Rows are loaded through ``read_json`` from a temporary NDJSON file,
which is two orders of magnitude faster than ``executemany`` for nested rows.
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
from datetime import UTC, datetime
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
from il_audit.subscriber_fn.sinks.base import Row, dumps

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


def _read_json_columns(spec: TableSpec) -> str:
    pairs = ", ".join(f"'{column.name}': '{duckdb_type(column)}'" for column in spec.columns)
    return "{" + pairs + "}"


def _is_lock_error(error: BaseException) -> bool:
    text = str(error).lower()
    return "lock" in text or "conflicting" in text or "being used by another process" in text


class DuckDBSink:
    """Writes the warehouse tables into one DuckDB file."""

    name = "duckdb"

    def __init__(self, path: str | os.PathLike[str], *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT):
        self.path = Path(path)
        self.lock_timeout = lock_timeout
        self._ensured = False
        self._lock = threading.Lock()  # one writer per process; other processes: file lock

    @contextlib.contextmanager
    def connect(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A short-lived connection in UTC, retried while another process holds the file."""
        deadline = time.monotonic() + self.lock_timeout
        delay = 0.01
        while True:
            try:
                connection = duckdb.connect(str(self.path), read_only=read_only)
                break
            except (duckdb.IOException, duckdb.ConnectionException) as exc:
                if not _is_lock_error(exc) or time.monotonic() >= deadline:
                    raise SinkUnavailableError(f"cannot open {self.path}: {exc}") from exc
                time.sleep(delay * random.uniform(0.5, 1.5))
                delay = min(delay * 2, 0.25)
        try:
            connection.execute("SET TimeZone = 'UTC'")
            yield connection
        finally:
            connection.close()

    def ensure_tables(self) -> None:
        """Create the three tables if they are missing."""
        if self._ensured:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SinkUnavailableError(f"cannot create {self.path.parent}: {exc}") from exc
        with self._lock, self.connect() as connection:
            for spec in TABLES:
                connection.execute(create_table_sql(spec))
            for name, sql in view_statements():
                connection.execute(f"CREATE OR REPLACE VIEW {name} AS {sql}")
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
        with self._lock, self.connect() as connection, _ndjson_file(rows) as path:
            connection.execute(
                f"INSERT OR REPLACE INTO {COST_RATES.name} BY NAME SELECT * FROM read_json(?, "
                f"format='newline_delimited', columns={_read_json_columns(COST_RATES)})",
                [path],
            )

    def read_cost_rates(self) -> list[dict[str, Any]]:
        """Every cost_rates row, as dicts."""
        self.ensure_tables()
        with self.connect() as connection:
            cursor = connection.execute(
                f"SELECT * FROM {COST_RATES.name} ORDER BY service, model_id, effective_from"
            )
            names = [description[0] for description in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def close(self) -> None:
        """Nothing stays open between calls."""

    def _insert(self, spec: TableSpec, rows: Sequence[Row]) -> dict[int, str]:
        if not rows:
            return {}
        self.ensure_tables()
        sql = (
            f"INSERT OR IGNORE INTO {spec.name} BY NAME SELECT * FROM read_json(?, "
            f"format='newline_delimited', columns={_read_json_columns(spec)})"
        )
        with self._lock, self.connect() as connection:
            try:
                with _ndjson_file(rows) as path:
                    connection.execute(sql, [path])
                return {}
            except (duckdb.ConversionException, duckdb.InvalidInputException) as exc:
                # One bad row fails the statement: find it by inserting one at a time.
                logger.warning("il-audit: DuckDB refused a batch (%s); isolating rows", exc)
                refused: dict[int, str] = {}
                for index, row in enumerate(rows):
                    try:
                        with _ndjson_file([row]) as path:
                            connection.execute(sql, [path])
                    except (duckdb.ConversionException, duckdb.InvalidInputException) as row_exc:
                        refused[index] = f"DuckDB refused the row: {row_exc}"[:1000]
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
