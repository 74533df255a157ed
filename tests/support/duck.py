"""Reading a DuckDB file the way another process would: the one helper tests use for it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from il_audit.config.settings import get_audit_settings
from tests.support.waiting import retrying

_HELD_HERE = "different configuration"
"""What DuckDB says when this process holds the file for writing (a sink the test runs)."""


def read(path: Path, sql: str, timeout: float = 5.0) -> list[tuple[Any, ...]]:
    """Rows of ``sql``, retrying while the file is held for writing (the sink holds it
    for ``hold_seconds`` after its last write).

    When the writer is a sink in this process (a function or pipeline the test runs
    in-process), the rows are read through its database, as the sink's own readers
    do (``DuckDBFile``), instead of waiting out the hold: what is committed is the same.
    """

    def attempt() -> list[tuple[Any, ...]]:
        try:
            connection = duckdb.connect(str(path), read_only=True)
        except duckdb.ConnectionException as exc:
            if _HELD_HERE not in str(exc):
                raise
            memory_limit = get_audit_settings().duckdb_memory_limit
            connection = duckdb.connect(str(path), config={"memory_limit": memory_limit})
        with connection:
            return connection.execute(sql).fetchall()

    busy = (duckdb.ConnectionException, duckdb.IOException)
    return retrying(attempt, busy, timeout, interval=0.05)


def peek(path: Path, sql: str) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` now, or [] while the file is missing, busy or not set up yet (polling)."""
    if not path.exists():
        return []
    try:
        with duckdb.connect(str(path), read_only=True) as connection:
            return connection.execute(sql).fetchall()
    except duckdb.Error:
        return []


def count(path: Path, sql: str) -> int:
    """The single number ``sql`` returns now (-1 while unreadable), for polling."""
    rows = peek(path, sql)
    return int(rows[0][0]) if rows else -1
