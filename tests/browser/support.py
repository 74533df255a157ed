"""Helpers of the browser tests: the running example app and what reached its DuckDB file."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from tests.support.duck import read
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
COLUMNS = (
    "event_type", "app", "module", "source", "actor_uid", "actor_email", "session_id",
    "action", "status", "resource_type", "resource_id", "metadata", "payload",
)  # fmt: skip


@dataclass
class ExampleApp:
    """The example app running under uvicorn, writing ``database``."""

    process: subprocess.Popen[bytes]
    url: str
    port: int
    database: Path
    log: Path

    def rows(self) -> list[dict[str, Any]]:
        """Beacon events in the embedded warehouse, oldest first (JSON columns decoded)."""
        if not self.database.exists():
            return []
        try:
            raw = read(
                self.database,
                f"SELECT {', '.join(COLUMNS)} FROM events WHERE source = 'beacon' "
                "ORDER BY occurred_at, event_id",
            )
        except duckdb.Error:  # no table before the first write; a file being created
            return []
        rows = []
        for values in raw:
            row = dict(zip(COLUMNS, values, strict=True))
            for name in ("metadata", "payload"):
                if isinstance(row[name], str):
                    row[name] = json.loads(row[name])
            rows.append(row)
        return rows

    def wait_for_rows(self, count: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        """Wait until at least ``count`` beacon rows are stored; returns them."""
        wait_until(lambda: len(self.rows()) >= count, timeout, f"{count} beacon row(s)")
        return self.rows()

    def log_text(self) -> str:
        """What uvicorn printed (access lines included)."""
        return self.log.read_text("utf-8", "replace")

    def stop(self) -> None:
        """Stop uvicorn (SIGTERM lets the publisher flush at exit)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
