"""The ledger in the embedded DuckDB file: the shared queries, run on one connection.

The ledger tables are created here, by the ledger's own command, not by the sink: a
file nobody seals carries no empty ledger (docs/integrity.md says so).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from il_audit._json import dumps_line
from il_audit.operations.ledger_store import Row, SqlLedgerStore
from il_audit.schemas.ledger import LEDGER_TABLES
from il_audit.schemas.tables import TableSpec
from il_audit.subscriber_fn.sinks.duckdb import duckdb_type
from il_audit.subscriber_fn.sinks.duckdb_file import DuckDBFile


class DuckDBLedgerStore(SqlLedgerStore):
    """Seals of one DuckDB file; ``read_only`` for verify (writers may keep writing)."""

    def __init__(self, path: Path, *, timeout: float = 30.0, read_only: bool = False) -> None:
        self.file = DuckDBFile(path, lock_timeout=timeout)
        self.read_only = read_only
        self.description = f"DuckDB {path}"
        self._stack = contextlib.ExitStack()
        opened = self.file.connect(read_only=True) if read_only else self.file.writer()
        self._db = self._stack.enter_context(opened)

    def _table(self, name: str) -> str:
        return f'"{name}"'

    def _instant(self, moment: datetime) -> str:
        return f"TIMESTAMPTZ '{moment.astimezone(UTC).isoformat(timespec='microseconds')}'"

    def _query(self, sql: str) -> list[Row]:
        cursor = self._db.execute(sql)
        names = [column[0] for column in cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def has_ledger(self) -> bool:
        """Whether the file has the ledger tables (verify of a file never sealed)."""
        names = {
            row[0]
            for row in self._db.execute(
                "SELECT table_name FROM information_schema.tables"
            ).fetchall()
        }
        return all(spec.name in names for spec in LEDGER_TABLES)

    def ensure(self) -> None:
        """Create the ledger tables when missing (no key: one row may be sealed twice)."""
        for spec in LEDGER_TABLES:
            columns = ", ".join(
                f"{column.name} {duckdb_type(column)}"
                + (" NOT NULL" if column.mode == "REQUIRED" else "")
                for column in spec.columns
            )
            self._db.execute(f"CREATE TABLE IF NOT EXISTS {spec.name} ({columns})")

    def _insert(self, spec: TableSpec, rows: Sequence[Row]) -> None:
        types = ", ".join(f"'{c.name}': '{duckdb_type(c)}'" for c in spec.columns)
        with _ndjson(rows) as path:
            self._db.execute(
                f"INSERT INTO {spec.name} BY NAME SELECT * FROM read_json(?, "  # noqa: S608
                f"format='newline_delimited', columns={{{types}}})",
                [path],
            )

    def append(self, entries: Sequence[Row], rows: Sequence[Row]) -> None:
        """Rows and entries in one transaction: a seal lands whole or not at all."""
        self._db.execute("BEGIN TRANSACTION")
        try:
            super().append(entries, rows)
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def close(self) -> None:
        """Release the connection (and the file's write lock)."""
        self._stack.close()
        self.file.close()


@contextlib.contextmanager
def _ndjson(rows: Sequence[Any]) -> Iterator[str]:
    handle, path = tempfile.mkstemp(prefix="il-audit-ledger-", suffix=".ndjson")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(b"\n".join(dumps_line(row) for row in rows) + b"\n")
        yield path
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
