"""Erasure on the embedded DuckDB file, and the rewrite that leaves no old bytes behind.

DuckDB's ``UPDATE`` marks the old values free but leaves their bytes in the file until
the blocks are reused, and ``CHECKPOINT`` does not clear them (checked here with DuckDB
2.0.1: an erased address was still in the file's bytes). So after a real run the file is
rewritten: ``COPY FROM DATABASE`` into a new file beside it (tables with their keys,
views), then ``os.replace`` over the old one while the old connection still holds
DuckDB's lock, so no writer can slip a write into the old file between copy and replace.
A process that opens the path afterwards opens the new file.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb

from il_audit.operations.erase_store import (
    Assignment,
    Relation,
    Where,
    not_null_guard,
    render_where,
)
from il_audit.operations.errors import ErasureError
from il_audit.subscriber_fn.errors import SinkUnavailableError
from il_audit.subscriber_fn.sinks.duckdb_file import DuckDBFile


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class _Params:
    """Positional ``?`` parameters collected in the order the SQL names them."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def __call__(self, value: Any) -> str:
        if isinstance(value, tuple):
            self.values.extend(value)
            return "(" + ", ".join("?" for _ in value) + ")"
        self.values.append(value)
        return "?"


def _json_text(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


class DuckDBErasureStore:
    """The embedded file: one connection for the run, the event through the sink, a rewrite."""

    def __init__(self, path: Path, *, timeout: float = 30.0, read_only: bool = False) -> None:
        self.path = path
        self.file = DuckDBFile(path, lock_timeout=timeout)
        self.read_only = read_only
        self._stack = contextlib.ExitStack()
        self._connection: duckdb.DuckDBPyConnection | None = None

    @property
    def description(self) -> str:
        """``DuckDB file PATH``."""
        return f"DuckDB file {self.path}"

    def _db(self) -> duckdb.DuckDBPyConnection:
        if self._connection is None:
            if not self.path.exists():
                raise ErasureError(f"no embedded database at {self.path}")
            try:
                self._connection = self._stack.enter_context(
                    self.file.connect(read_only=self.read_only)
                )
            except SinkUnavailableError as exc:
                raise ErasureError(str(exc)) from exc
        return self._connection

    def relations(self) -> list[Relation]:
        """Tables and views of the ``main`` schema, with their column types."""
        db = self._db()
        kinds = dict(
            db.execute(
                "SELECT table_name, table_type FROM information_schema.tables "
                "WHERE table_schema = 'main' AND table_catalog = current_database()"
            ).fetchall()
        )
        columns: dict[str, dict[str, str]] = {}
        for table, column, data_type in db.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'main' AND table_catalog = current_database() "
            "ORDER BY table_name, ordinal_position"
        ).fetchall():
            columns.setdefault(table, {})[column] = data_type
        return [
            Relation(
                name,
                "view" if kind == "VIEW" else "table",
                tuple(columns.get(name, {})),
                columns.get(name, {}),
            )
            for name, kind in sorted(kinds.items())
        ]

    def fetch(
        self, relation: Relation, where: Where, columns: Sequence[str]
    ) -> list[dict[str, Any]]:
        """The chosen columns of the matching rows (JSON as text)."""
        params = _Params()
        condition = render_where(where, params, _quote)
        chosen = ", ".join(_quote(column) for column in columns)
        cursor = self._db().execute(
            f"SELECT {chosen} FROM {_quote(relation.name)} WHERE {condition}",  # noqa: S608
            params.values,
        )
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]

    def count(self, relation: Relation, where: Where) -> int:
        """Matching rows of a table or view."""
        params = _Params()
        condition = render_where(where, params, _quote)
        row = (
            self._db()
            .execute(
                f"SELECT COUNT(*) FROM {_quote(relation.name)} WHERE {condition}",  # noqa: S608
                params.values,
            )
            .fetchone()
        )
        return int(row[0]) if row else 0

    def update_keyed(
        self,
        relation: Relation,
        key: str,
        rows: Sequence[Mapping[str, Any]],
        columns: Sequence[str],
    ) -> int:
        """One prepared ``UPDATE`` run for every row, in one transaction."""
        if not rows or not columns:
            return 0
        assignments = ", ".join(
            f"{_quote(c)} = CAST(? AS JSON)" if relation.is_json(c) else f"{_quote(c)} = ?"
            for c in columns
        )
        sql = f"UPDATE {_quote(relation.name)} SET {assignments} WHERE {_quote(key)} = ?"  # noqa: S608
        values = [
            [
                *(_json_text(row[c]) if relation.is_json(c) else row[c] for c in columns),
                row[key],
            ]
            for row in rows
        ]
        db = self._db()
        db.execute("BEGIN TRANSACTION")
        try:
            db.executemany(sql, values)
            db.execute("COMMIT")
        except duckdb.Error:
            db.execute("ROLLBACK")
            raise
        return len(rows)

    def update_where(
        self, relation: Relation, assignments: Sequence[Assignment], where: Where
    ) -> int:
        """``UPDATE ... SET col = CASE ... END WHERE ...``; the rows changed."""
        if not assignments:
            return 0
        params = _Params()
        sets = []
        for assignment in assignments:
            column = _quote(assignment.column)
            cases = " ".join(
                f"WHEN {render_where(case, params, _quote)}{not_null_guard(column, value)} "
                f"THEN {params(value)}"
                for case, value in assignment.cases
            )
            sets.append(f"{column} = CASE {cases} ELSE {column} END")
        condition = render_where(where, params, _quote)
        row = (
            self._db()
            .execute(
                f"UPDATE {_quote(relation.name)} SET {', '.join(sets)} WHERE {condition}",  # noqa: S608
                params.values,
            )
            .fetchone()
        )
        return int(row[0]) if row else 0

    def write_event(self, line: bytes) -> None:
        """Through the subscriber pipeline and the DuckDB sink, as the embedded mode writes."""
        from il_audit.operations.erase_event import write_through_pipeline
        from il_audit.subscriber_fn.sinks.duckdb import DuckDBSink

        sink = DuckDBSink(self.path, hold_seconds=0)
        try:
            write_through_pipeline(sink, line)
        finally:
            sink.close()

    def finish(self, real_run: bool) -> list[str]:
        """Close; after a real run, rewrite the file so that no old bytes remain.

        Every real run rewrites, even one that found nothing left to change: that is how a
        run after a failed rewrite finishes the job.
        """
        self._stack.close()
        self._connection = None
        if not real_run:
            return []
        rewrite(self.file)
        return [f"{self.path} was rewritten: the old values are no longer in its bytes"]


def rewrite(file: DuckDBFile) -> None:
    """Copy the database into a new file and put it in place of the old one.

    The old connection holds DuckDB's lock until after ``os.replace``; the copy is
    checkpointed and closed (``DETACH``) first, so it has no write-ahead log of its own.
    """
    path = file.path
    fresh = path.with_name(path.name + ".erase-rewrite")
    fresh.unlink(missing_ok=True)
    try:
        with file.connect() as db:
            db.execute("CHECKPOINT")
            (name,) = db.execute("SELECT current_database()").fetchone() or ("",)
            db.execute(f"ATTACH {_literal(str(fresh))} AS il_audit_rewrite")
            db.execute(f"COPY FROM DATABASE {_quote(name)} TO il_audit_rewrite")
            db.execute("DETACH il_audit_rewrite")
            os.replace(fresh, path)
    except (duckdb.Error, SinkUnavailableError, OSError) as exc:
        raise ErasureError(
            f"the rows are erased, but rewriting {path} failed ({exc}): the old values are still "
            "in the file's bytes; run `il-audit erase` again when nothing holds the file"
        ) from exc
    finally:
        fresh.unlink(missing_ok=True)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
