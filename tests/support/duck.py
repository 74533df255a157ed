"""Reading a DuckDB file the way another process would: waiting while a writer holds it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import duckdb


def read(path: Path, sql: str, timeout: float = 5.0) -> list[tuple[Any, ...]]:
    """Rows of ``sql``, retrying while the file is held for writing (the sink holds it
    for ``hold_seconds`` after its last write)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with duckdb.connect(str(path), read_only=True) as connection:
                return connection.execute(sql).fetchall()
        except (duckdb.ConnectionException, duckdb.IOException):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
