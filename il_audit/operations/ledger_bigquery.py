"""The ledger in a BigQuery dataset (or the stand-in): the shared queries as query jobs.

Every job has a deadline (``timeout``: per attempt and for the retries together) and its
bytes processed are added up (``bytes_processed``), so a seal reports what it read. The
ledger tables are created by the ledger command (``ensure``), like the subscriber creates
its own tables on first use: the least surprise for a dataset made before the ledger.

Seals are appended with ``insertAll`` (an insertId per row): first the sealed pairs, then
the entries; a run that dies in between leaves pairs no entry names, which every reader
ignores (they join on ``seal_hash``). Streamed rows cannot be changed by DML for about
half an hour, which suits a ledger.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

from il_audit.operations.ledger_store import Row, SqlLedgerStore
from il_audit.schemas.ledger import LEDGER_TABLES
from il_audit.schemas.tables import TableSpec

ROWS_PER_INSERT: Final = 500


class BigQueryLedgerStore(SqlLedgerStore):
    """Seals of ``project.dataset`` through a ``google.cloud.bigquery.Client``."""

    def __init__(self, client: Any, dataset: str, *, timeout: float = 60.0) -> None:
        self.client = client
        self.dataset = dataset
        self.timeout = timeout
        self.description = f"BigQuery {client.project}.{dataset}"
        self.bytes_processed = 0
        """Bytes BigQuery reported processed by this store's queries (job statistics)."""

    def _table(self, name: str) -> str:
        return f"`{self.client.project}.{self.dataset}.{name}`"

    def _instant(self, moment: datetime) -> str:
        return f"TIMESTAMP '{moment.astimezone(UTC).isoformat(timespec='microseconds')}'"

    def _retry(self) -> Any:
        from google.cloud.bigquery.retry import DEFAULT_RETRY

        return DEFAULT_RETRY.with_deadline(self.timeout)

    def _query(self, sql: str) -> list[Row]:
        retry = self._retry()
        job = self.client.query(sql, retry=retry, job_retry=None, timeout=self.timeout)
        rows = [dict(row.items()) for row in job.result(timeout=self.timeout, retry=retry)]
        self.bytes_processed += int(job.total_bytes_processed or 0)
        return rows

    def dry_run_bytes(self, sql: str) -> int:
        """What BigQuery would process for ``sql`` (a dry run: free, nothing read)."""
        from google.cloud import bigquery

        config = bigquery.QueryJobConfig(dry_run=True, use_query_cache=False)
        job = self.client.query(sql, job_config=config, retry=self._retry(), timeout=self.timeout)
        return int(job.total_bytes_processed or 0)

    def has_ledger(self) -> bool:
        """Whether both ledger tables exist."""
        from google.api_core.exceptions import NotFound

        try:
            for spec in LEDGER_TABLES:
                self.client.get_table(
                    f"{self.client.project}.{self.dataset}.{spec.name}",
                    retry=self._retry(),
                    timeout=self.timeout,
                )
        except NotFound:
            return False
        return True

    def ensure(self) -> None:
        """Create the ledger tables when missing (never expiring: no partition expiry)."""
        from il_audit.subscriber_fn.sinks.bigquery_tables import bigquery_table

        for spec in LEDGER_TABLES:
            table = bigquery_table(spec, f"{self.client.project}.{self.dataset}.{spec.name}")
            self.client.create_table(table, exists_ok=True, retry=self._retry(),
                                     timeout=self.timeout)  # fmt: skip

    def _insert(self, spec: TableSpec, rows: Sequence[Row]) -> None:
        from il_audit.operations.errors import LedgerError
        from il_audit.subscriber_fn.sinks.bigquery import to_insert_row

        table_id = f"{self.client.project}.{self.dataset}.{spec.name}"
        prepared = [to_insert_row(row, frozenset()) for row in rows]
        ids = [f"{row['seal_hash'][:40]}-{index}" for index, row in enumerate(rows)]
        for start in range(0, len(prepared), ROWS_PER_INSERT):
            errors = self.client.insert_rows_json(
                table_id,
                prepared[start : start + ROWS_PER_INSERT],
                row_ids=ids[start : start + ROWS_PER_INSERT],
                retry=self._retry(),
                timeout=self.timeout,
            )
            if errors:
                raise LedgerError(f"BigQuery refused ledger rows of {spec.name}: {errors[:3]}")

    def close(self) -> None:
        """Close the client's HTTP session."""
        self.client.close()
