"""Where seals are read and written: the queries both engines share, and the protocol.

:class:`LedgerStore` is what ``il-audit ledger seal`` and ``il-audit verify`` need from a
warehouse; :class:`SqlLedgerStore` writes those queries once, in SQL both BigQuery and
DuckDB run, and the engines (``ledger_duckdb``, ``ledger_bigquery``) supply the running,
the names and the inserts.

Every read of ``events`` by ingestion time also bounds ``occurred_at``, its partition
column, to ``[start - OCCURRED_LAG, end + OCCURRED_LEAD)``: sealing an hour reads about
eight daily partitions, not the table (``docs/costs.md``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from il_audit.schemas import taxonomy
from il_audit.schemas.ledger import (
    AUDIT_LEDGER,
    AUDIT_LEDGER_ROWS,
    OCCURRED_LAG,
    OCCURRED_LEAD,
    SealedTable,
    entry_order,
)
from il_audit.schemas.tables import TableSpec

Row = dict[str, Any]


class LedgerStore(Protocol):
    """What sealing and verifying read and write; every call may raise the engine's errors."""

    description: str

    def ensure(self) -> None:
        """Create the ledger tables when missing."""
        ...

    def has_ledger(self) -> bool:
        """Whether the ledger tables exist (a warehouse never sealed has none)."""
        ...

    def entries(self) -> list[Row]:
        """Every ``audit_ledger`` entry, in chain order."""
        ...

    def earliest(self, table: SealedTable) -> datetime | None:
        """The earliest ingestion time in ``table`` (None when it is empty)."""
        ...

    def sealable_rows(self, table: SealedTable, start: datetime, end: datetime) -> list[Row]:
        """``row_key, row_hash, event_type, retention_time, row_time`` of the rows ingested
        in ``[start, end)``, within the partition bound."""
        ...

    def full_rows(self, table: SealedTable, start: datetime, end: datetime) -> list[Row]:
        """Every column of the rows ingested in ``[start, end)``, within the bound."""
        ...

    def late_rows(self, table: SealedTable, start: datetime, end: datetime) -> list[Row]:
        """Like :meth:`sealable_rows`, only the rows no recorded seal holds (by key and
        stored hash)."""
        ...

    def ledger_rows(self, start: datetime, end: datetime) -> list[Row]:
        """``audit_ledger_rows`` of periods, or of seals, in ``[start, end)``."""
        ...

    def erasures(self) -> dict[str, dict[str, int]]:
        """erasure_id -> rows_by_table of every ``audit.erasure.completed`` event."""
        ...

    def erasure_claims(self, table: SealedTable) -> dict[str, int]:
        """erasure_id -> rows of ``table`` whose ``erased_by`` names it."""
        ...

    def append(self, entries: Sequence[Row], rows: Sequence[Row]) -> None:
        """Write the sealed rows, then the entries that vouch for them."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class SqlLedgerStore:
    """The shared queries; subclasses say how to run them and how to insert."""

    description = "ledger"

    def _table(self, name: str) -> str:
        raise NotImplementedError

    def _instant(self, moment: datetime) -> str:
        raise NotImplementedError

    def _query(self, sql: str) -> list[Row]:
        raise NotImplementedError

    def _insert(self, spec: TableSpec, rows: Sequence[Row]) -> None:
        raise NotImplementedError

    def _bound(self, table: SealedTable, start: datetime, end: datetime, alias: str = "") -> str:
        """The ingestion window and, where the partition column differs, its bound."""
        t = self._instant
        clause = (
            f"{alias}{table.time_column} >= {t(start)} AND {alias}{table.time_column} < {t(end)}"
        )
        if table.partition_column != table.time_column:
            clause += (
                f" AND {alias}{table.partition_column} >= {t(start - OCCURRED_LAG)}"
                f" AND {alias}{table.partition_column} < {t(end + OCCURRED_LEAD)}"
            )
        return clause

    def _sealable_columns(self, table: SealedTable, alias: str = "") -> str:
        event_type = f"{alias}{table.event_type_column}" if table.event_type_column else "NULL"
        return (
            f"{alias}{table.key} AS row_key, {alias}row_hash AS row_hash, "
            f"{event_type} AS event_type, {alias}{table.retention_column} AS retention_time, "
            f"{alias}{table.time_column} AS row_time"
        )

    def entries(self) -> list[Row]:
        """Every ``audit_ledger`` entry, in chain order."""
        rows = self._query(f"SELECT * FROM {self._table(AUDIT_LEDGER.name)}")  # noqa: S608
        return sorted(rows, key=entry_order)

    def earliest(self, table: SealedTable) -> datetime | None:
        """The earliest ingestion time in ``table``."""
        sql = f"SELECT MIN({table.time_column}) AS earliest FROM {self._table(table.name)}"  # noqa: S608
        rows = self._query(sql)
        return rows[0]["earliest"] if rows else None

    def sealable_rows(self, table: SealedTable, start: datetime, end: datetime) -> list[Row]:
        """Keys, stored hashes and what retention reads, of the rows ingested in the window."""
        sql = (
            f"SELECT {self._sealable_columns(table)} FROM {self._table(table.name)} "  # noqa: S608
            f"WHERE {self._bound(table, start, end)}"
        )
        return self._query(sql)

    def full_rows(self, table: SealedTable, start: datetime, end: datetime) -> list[Row]:
        """Every column of the rows ingested in the window."""
        sql = f"SELECT * FROM {self._table(table.name)} WHERE {self._bound(table, start, end)}"  # noqa: S608
        return self._query(sql)

    def late_rows(self, table: SealedTable, start: datetime, end: datetime) -> list[Row]:
        """Rows ingested in the window that no recorded seal holds (an anti-join)."""
        t = self._instant
        sealed = (
            f"SELECT r.row_key, r.row_hash FROM {self._table(AUDIT_LEDGER_ROWS.name)} r "  # noqa: S608
            f"JOIN {self._table(AUDIT_LEDGER.name)} e ON r.seal_hash = e.seal_hash "
            f"WHERE r.table_name = '{table.name}' "
            f"AND r.period_start >= {t(start)} AND r.period_start < {t(end)}"
        )
        # A row written before row hashes (row_hash NULL) is matched by its key alone.
        sql = (
            f"SELECT {self._sealable_columns(table, 't.')} FROM {self._table(table.name)} t "  # noqa: S608
            f"LEFT JOIN ({sealed}) s ON s.row_key = t.{table.key} "
            f"AND (s.row_hash = t.row_hash OR t.row_hash IS NULL) "
            f"WHERE {self._bound(table, start, end, 't.')} AND s.row_key IS NULL"
        )
        return self._query(sql)

    def ledger_rows(self, start: datetime, end: datetime) -> list[Row]:
        """Sealed pairs of periods, or of seals, in the window."""
        t = self._instant
        sql = (
            f"SELECT * FROM {self._table(AUDIT_LEDGER_ROWS.name)} "  # noqa: S608
            f"WHERE (period_start >= {t(start)} AND period_start < {t(end)}) "
            f"OR (sealed_in >= {t(start)} AND sealed_in < {t(end)})"
        )
        return self._query(sql)

    def erasures(self) -> dict[str, dict[str, int]]:
        """erasure_id -> rows_by_table of the erasure records in ``events``."""
        sql = (
            f"SELECT payload FROM {self._table('events')} "  # noqa: S608
            f"WHERE event_type = '{taxonomy.AUDIT_ERASURE_COMPLETED}'"
        )
        found: dict[str, dict[str, int]] = {}
        for row in self._query(sql):
            payload = row["payload"]
            if isinstance(payload, str):
                payload = json.loads(payload)
            if not isinstance(payload, Mapping) or not payload.get("erasure_id"):
                continue
            counts = payload.get("rows_by_table") or {}
            found[str(payload["erasure_id"])] = {
                str(name): int(count) for name, count in dict(counts).items()
            }
        return found

    def erasure_claims(self, table: SealedTable) -> dict[str, int]:
        """erasure_id -> rows of ``table`` marked with it."""
        sql = (
            f"SELECT erased_by, COUNT(*) AS n FROM {self._table(table.name)} "  # noqa: S608
            "WHERE erased_by IS NOT NULL GROUP BY erased_by"
        )
        return {str(row["erased_by"]): int(row["n"]) for row in self._query(sql)}

    def append(self, entries: Sequence[Row], rows: Sequence[Row]) -> None:
        """The sealed rows first: an entry only ever vouches for rows already written (rows
        of a seal that never got its entry are ignored: readers join on seal_hash)."""
        if rows:
            self._insert(AUDIT_LEDGER_ROWS, rows)
        if entries:
            self._insert(AUDIT_LEDGER, entries)
