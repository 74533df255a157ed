"""The DuckDB sink: the embedded warehouse, with the same tables and columns as BigQuery.

Types follow the table specs: NUMERIC is DECIMAL(38,9), TIMESTAMP is
TIMESTAMPTZ read and written in UTC, JSON is DuckDB's JSON, repeated records
are lists of structs. Each table has a primary key on its dedup column, and
inserts are ``INSERT OR IGNORE``, so redelivered events do not duplicate.

How processes take turns on the file is the job of
:class:`~il_audit.subscriber_fn.sinks.duckdb_file.DuckDBFile`. Rows are loaded
through ``read_json`` from a temporary NDJSON file,
which is two orders of magnitude faster than ``executemany`` for nested rows.
Columns added to the row models since a file was created are added to its
tables when the sink opens it (nullable, so old rows read as NULL).

With a retention (``IL_AUDIT_RETENTION_DAYS`` and
``IL_AUDIT_RETENTION_DAYS_BY_FAMILY``: :mod:`il_audit.schemas.retention`) the sink
deletes expired events, family by family, and dead letters when it opens the file
(its first ``ensure_tables``), by the rule of BigQuery's partition expiration: a
UTC day's rows go once the start of that day is the family's days old.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import duckdb

from il_audit._json import dumps_line
from il_audit.schemas.integrity import stamp_rows
from il_audit.schemas.retention import DEFAULT_FAMILY, RetentionPolicy, cutoff
from il_audit.schemas.tables import (
    COST_RATES,
    DEAD_LETTERS,
    EVENTS,
    KEY_COLUMNS,
    TABLES,
    ColumnSpec,
    TableSpec,
)
from il_audit.subscriber_fn.errors import SinkUnavailableError, redact_values
from il_audit.subscriber_fn.sinks.base import Row
from il_audit.subscriber_fn.sinks.duckdb_file import DuckDBFile

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
    deleted = apply_retention(connection, RetentionPolicy(retention_days, {}), now)
    return {EVENTS.name: deleted[DEFAULT_FAMILY], DEAD_LETTERS.name: deleted[DEAD_LETTERS.name]}


def apply_retention(
    connection: duckdb.DuckDBPyConnection, policy: RetentionPolicy, now: datetime
) -> dict[str, int]:
    """Run the policy's deletes (:meth:`RetentionPolicy.deletions`); rows deleted per family."""
    deleted: dict[str, int] = {}
    for deletion in policy.deletions():
        limit = cutoff(deletion.days, now)
        row = connection.execute(deletion.statement(deletion.table, "?"), [limit]).fetchone()
        deleted[deletion.family] = count = int(row[0]) if row else 0
        if count:
            logger.info(
                "il-audit: retention of %d days for %s: deleted %d %s rows before %s",
                deletion.days,
                deletion.family,
                count,
                deletion.table,
                limit.date().isoformat(),
            )
    return deleted


def _read_json_columns(spec: TableSpec) -> str:
    pairs = ", ".join(f"'{column.name}': '{duckdb_type(column)}'" for column in spec.columns)
    return "{" + pairs + "}"


def add_missing_columns(connection: duckdb.DuckDBPyConnection, spec: TableSpec) -> list[str]:
    """Add the spec's columns (and fields of its struct columns) a table created by an
    older version lacks; returns their names (``usage.pricing_tier`` for a field)."""
    existing = dict(
        connection.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ?",
            [spec.name],
        ).fetchall()
    )
    added = []
    for column in spec.columns:
        if column.name not in existing:
            connection.execute(
                f"ALTER TABLE {spec.name} ADD COLUMN {column.name} {duckdb_type(column)}"
            )
            added.append(column.name)
            continue
        missing = _missing_struct_fields(existing[column.name], column)
        if missing:
            # DuckDB casts a struct to one with more fields by name; old rows read NULL.
            connection.execute(
                f"ALTER TABLE {spec.name} ALTER COLUMN {column.name} TYPE {duckdb_type(column)}"
            )
            added.extend(f"{column.name}.{name}" for name in missing)
    if added:
        logger.info("il-audit: added column(s) %s to %s", ", ".join(added), spec.name)
    return added


def _missing_struct_fields(data_type: str, column: ColumnSpec) -> list[str]:
    """Fields of a RECORD column that the existing column's DuckDB type does not name."""
    if column.type != "RECORD":
        return []
    named = set(re.findall(r"[(,]\s*\"?([A-Za-z_][A-Za-z0-9_]*)\"?\s", data_type))
    return [field.name for field in column.fields if field.name not in named]


def rekey_cost_rates(connection: duckdb.DuckDBPyConnection) -> bool:
    """Give a cost_rates table created before pricing tiers the tiered primary key.

    Its rows are all ``standard`` (a NULL tier is one); DuckDB cannot change a
    primary key in place, so the table is copied. Returns whether it did.
    """
    row = connection.execute(
        "SELECT constraint_column_names FROM duckdb_constraints() "
        "WHERE table_name = ? AND constraint_type = 'PRIMARY KEY'",
        [COST_RATES.name],
    ).fetchone()
    if row is None or "pricing_tier" in row[0]:
        return False
    staging = f"{COST_RATES.name}_rekeyed"
    connection.execute(f"DROP TABLE IF EXISTS {staging}")
    connection.execute(create_table_sql(COST_RATES).replace(COST_RATES.name, staging, 1))
    connection.execute(
        f"INSERT INTO {staging} BY NAME SELECT * REPLACE "
        f"(COALESCE(pricing_tier, 'standard') AS pricing_tier) FROM {COST_RATES.name}"
    )
    connection.execute(f"DROP TABLE {COST_RATES.name}")
    connection.execute(f"ALTER TABLE {staging} RENAME TO {COST_RATES.name}")
    logger.info("il-audit: cost_rates is now keyed by (service, model_id, pricing_tier, day)")
    return True


class DuckDBSink:
    """Writes the warehouse tables into one DuckDB file."""

    name = "duckdb"

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        retention_days: int | None = None,
        memory_limit: str | None = None,
        retention: RetentionPolicy | None = None,
        **file_options: float,
    ) -> None:
        """A sink on ``path``; ``file_options`` are :class:`DuckDBFile`'s (lock and hold times);
        ``memory_limit`` is DuckDB's (default: ``IL_AUDIT_DUCKDB_MEMORY_LIMIT``).
        ``retention`` (per family) wins over ``retention_days`` (every row alike)."""
        self.file = DuckDBFile(path, memory_limit=memory_limit, **file_options)
        self.retention_days = retention_days
        if retention is None and retention_days is not None:
            retention = RetentionPolicy(retention_days, {})
        self.retention = retention
        self._ensured = False

    @property
    def path(self) -> Path:
        """The warehouse file."""
        return self.file.path

    def ensure_tables(self) -> None:
        """Create the three tables if they are missing."""
        if self._ensured:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SinkUnavailableError(f"cannot create {self.path.parent}: {exc}") from exc
        with self.file.writer() as connection:
            for spec in TABLES:
                connection.execute(create_table_sql(spec))
                add_missing_columns(connection, spec)
            rekey_cost_rates(connection)
            for name, sql in view_statements():
                connection.execute(f"CREATE OR REPLACE VIEW {name} AS {sql}")
            if self.retention is not None:
                apply_retention(connection, self.retention, datetime.now(UTC))
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
        """Insert or replace cost_rates rows (keyed by service, model_id, tier, effective_from)."""
        self.ensure_tables()
        now = datetime.now(UTC)
        rows = [{**row, "loaded_at": row.get("loaded_at") or now} for row in rows]
        with self.file.writer() as connection, _ndjson_file(rows) as path:
            connection.execute(
                f"INSERT OR REPLACE INTO {COST_RATES.name} BY NAME SELECT * FROM read_json(?, "
                f"format='newline_delimited', columns={_read_json_columns(COST_RATES)})",
                [path],
            )

    def read_cost_rates(self) -> list[dict[str, Any]]:
        """Every cost_rates row, as dicts."""
        self.ensure_tables()
        with self.file.writer() as connection:
            cursor = connection.execute(
                f"SELECT * FROM {COST_RATES.name} ORDER BY service, model_id, effective_from"
            )
            names = [description[0] for description in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def close(self) -> None:
        """Close the held write connection, if any."""
        self.file.close()

    def _insert(self, spec: TableSpec, rows: Sequence[Row]) -> dict[int, str]:
        if not rows:
            return {}
        self.ensure_tables()
        # The writer hashes the row it is about to write (docs/integrity.md).
        rows = stamp_rows(spec, rows)
        sql = (
            f"INSERT OR IGNORE INTO {spec.name} BY NAME SELECT * FROM read_json(?, "
            f"format='newline_delimited', columns={_read_json_columns(spec)})"
        )
        with self.file.writer() as connection:
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
            except duckdb.OutOfMemoryException as exc:
                raise self.file.out_of_memory(exc) from exc
            except duckdb.Error as exc:
                raise SinkUnavailableError(f"DuckDB write to {spec.name} failed: {exc}") from exc


@contextlib.contextmanager
def _ndjson_file(rows: Sequence[Row]) -> Iterator[str]:
    handle, path = tempfile.mkstemp(prefix="il-audit-", suffix=".ndjson")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(b"\n".join(dumps_line(row) for row in rows))
            out.write(b"\n")
        yield path
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
