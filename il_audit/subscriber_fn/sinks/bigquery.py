"""The BigQuery sink: events and dead letters through the Storage Write API, or
legacy streaming inserts with ``insertId = event_id``.

``IL_AUDIT_BQ_WRITE_METHOD`` chooses. ``storage_write`` (the default) appends to each
table's default stream (``bigquery_storage_write``: half insertAll's price, at-least-once,
duplicates hidden by ``events_deduped``); ``insert_all`` is the path described below.
Both return the rows BigQuery refused for good as ``{index: reason}``.

insertAll requests stay under BigQuery's limits (500 rows and 9 MB per
``tabledata.insertAll``). Per-row ``insertErrors`` are handled row by row:
``invalid`` rows are refused permanently (the caller dead-letters them),
``stopped`` rows (not inserted because a neighbour was invalid) are sent
again, anything else is transient. A request refused as a whole with 400/413
is split in halves until the offending row is alone. Retryable HTTP errors
(classified in ``il_audit.retrying``) become
:class:`~il_audit.subscriber_fn.errors.SinkUnavailableError`, so Pub/Sub
redelivers the message; the insertIds make that harmless.

Tables and the dataset are created on first use, from ``il_audit.schemas``,
and columns a newer il-audit added are added to existing tables then, so a
subscriber deployed before ``infra apply`` never refuses rows for them.
Client and table construction live in ``bigquery_tables`` (shared with
``il-audit infra``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from google.api_core import exceptions as core_exceptions
from google.cloud import bigquery
from google.cloud.bigquery.retry import DEFAULT_RETRY

from il_audit._json import dumps
from il_audit.config.settings import AuditSettings, BigQueryWriteMethod
from il_audit.retrying import is_retryable
from il_audit.schemas.integrity import stamp_rows
from il_audit.schemas.tables import COST_RATES, DEAD_LETTERS, EVENTS, KEY_COLUMNS, TABLES, TableSpec
from il_audit.subscriber_fn.errors import SinkUnavailableError, redact_values
from il_audit.subscriber_fn.sinks.base import Row
from il_audit.subscriber_fn.sinks.bigquery_storage_write import (
    StorageTableMissingError,
    StorageWriter,
    default_stream,
    make_write_client,
)
from il_audit.subscriber_fn.sinks.bigquery_tables import (
    add_columns,
    bigquery_table,
    make_client,
    unavailable_on_transient,
)

logger = logging.getLogger(__name__)

MAX_ROWS_PER_REQUEST: Final = 500
MAX_REQUEST_BYTES: Final = 9_000_000
_MAX_STOPPED_ROUNDS: Final = 3
_PERMANENT_ROW_REASONS: Final = frozenset({"invalid"})
_ROW_PROBLEM_CODES: Final = frozenset({400, 413})  # a whole request refused for its content


def _json_columns(spec: TableSpec) -> frozenset[str]:
    return frozenset(column.name for column in spec.columns if column.type == "JSON")


def to_insert_row(row: Row, json_columns: frozenset[str]) -> dict[str, Any]:
    """A row as insertAll wants it: JSON columns as JSON text, numbers and times as strings."""
    prepared: dict[str, Any] = {}
    for key, value in row.items():
        if value is None:
            continue
        if key in json_columns:
            prepared[key] = dumps(value)
        else:
            prepared[key] = value
    # One round trip through json turns Decimal, datetime and date into strings.
    converted: dict[str, Any] = json.loads(dumps(prepared))
    return converted


class BigQuerySink:
    """Writes rows into ``{project}.{dataset}.{events,dead_letters,cost_rates}``.

    ``storage_writer`` makes the :class:`StorageWriter` that event and dead-letter rows go
    through (called on the first write); without one they are streamed with insertAll.
    """

    name = "bigquery"

    def __init__(
        self,
        client: bigquery.Client,
        dataset: str,
        *,
        location: str | None = None,
        retry_deadline: float = 20.0,
        timeout: float = 30.0,
        retention_days: int | None = None,
        storage_writer: Callable[[], StorageWriter] | None = None,
    ) -> None:
        self.client = client
        self.dataset = dataset
        self.location = location
        self.retention_days = retention_days
        self.timeout = timeout
        self._retry = DEFAULT_RETRY.with_deadline(retry_deadline)
        self._ensured = False
        self._make_writer = storage_writer
        self._writer: StorageWriter | None = None

    @property
    def write_method(self) -> BigQueryWriteMethod:
        """How event and dead-letter rows are written."""
        if self._make_writer is None:
            return BigQueryWriteMethod.INSERT_ALL
        return BigQueryWriteMethod.STORAGE_WRITE

    @classmethod
    def from_settings(cls, settings: AuditSettings) -> BigQuerySink:
        """A sink for the configured project and dataset (and endpoint override)."""
        storage_writer = None
        if settings.bq_write_method is BigQueryWriteMethod.STORAGE_WRITE:

            def storage_writer() -> StorageWriter:
                return StorageWriter(make_write_client(settings))

        return cls(
            make_client(settings),
            settings.dataset,
            location=settings.dataset_location,
            retention_days=settings.retention.partition_days,  # the longest family's
            storage_writer=storage_writer,
        )

    def table_id(self, spec: TableSpec) -> str:
        """``project.dataset.table`` of a spec."""
        return f"{self.client.project}.{self.dataset}.{spec.name}"

    def ensure_tables(self) -> None:
        """Create the dataset and the three tables if they are missing."""
        if self._ensured:
            return
        with unavailable_on_transient("cannot create BigQuery tables"):
            dataset = bigquery.Dataset(f"{self.client.project}.{self.dataset}")
            if self.location:
                dataset.location = self.location
            self.client.create_dataset(
                dataset, exists_ok=True, retry=self._retry, timeout=self.timeout
            )
            for spec in TABLES:
                table = self.client.create_table(
                    bigquery_table(spec, self.table_id(spec), retention_days=self.retention_days),
                    exists_ok=True,
                    retry=self._retry,
                    timeout=self.timeout,
                )
                added = add_columns(
                    self.client, table, spec, retry=self._retry, timeout=self.timeout
                )
                if added:
                    logger.info("il-audit: added column(s) %s to %s", ", ".join(added), spec.name)
        self._ensured = True

    def write_events(self, rows: Sequence[Row]) -> dict[int, str]:
        """Insert event rows; returns the rows BigQuery refused permanently."""
        return self._insert(EVENTS, rows)

    def write_dead_letters(self, rows: Sequence[Row]) -> None:
        """Insert dead-letter rows (a permanently refused one is logged; its topic copy remains)."""
        for index, reason in self._insert(DEAD_LETTERS, rows).items():
            logger.error(
                "il-audit: dead letter %s refused by BigQuery: %s",
                rows[index].get("dead_letter_id"),
                reason,
            )

    def read_cost_rates(self) -> list[dict[str, Any]]:
        """Every row of cost_rates (``tabledata.list``; no query job needed)."""
        self.ensure_tables()
        # Any failure here means "price from the seed for now" to the catalog provider.
        with unavailable_on_transient("cannot read cost_rates", any_api_error=True):
            return [
                dict(row.items())
                for row in self.client.list_rows(
                    self.table_id(COST_RATES), retry=self._retry, timeout=self.timeout
                )
            ]

    def upsert_cost_rates(self, rows: Sequence[Row]) -> None:
        """Insert or replace cost_rates rows by (service, model_id, pricing_tier, effective_from).

        DML rather than streaming, so that a changed price replaces the old row.
        """
        if not rows:
            return
        self.ensure_tables()
        sql = merge_cost_rates_sql(self.table_id(COST_RATES), rows)
        with unavailable_on_transient("cannot update cost_rates"):
            self.client.query(sql, retry=self._retry, timeout=self.timeout).result(
                retry=self._retry, timeout=self.timeout
            )

    def close(self) -> None:
        """Close the client's HTTP session and the write client's channel."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self.client.close()  # type: ignore[no-untyped-call]

    # ------------------------------------------------------------------ inserts

    def _insert(self, spec: TableSpec, rows: Sequence[Row]) -> dict[int, str]:
        if not rows:
            return {}
        self.ensure_tables()
        # The writer hashes the row it is about to write (docs/integrity.md).
        rows = stamp_rows(spec, rows)
        if self._make_writer is not None:
            return self._append(spec, rows, self._make_writer)
        json_columns = _json_columns(spec)
        (key,) = KEY_COLUMNS[spec.name]
        prepared = [to_insert_row(row, json_columns) for row in rows]
        row_ids = [str(row[key]) for row in rows]
        # Each row's size as the client sends it: json.dumps, ASCII-escaped, ", " separators.
        sizes = [
            len(json.dumps({"json": row, "insertId": row_id})) + 2
            for row, row_id in zip(prepared, row_ids, strict=True)
        ]
        batch = _Batch(spec, prepared, row_ids)
        for chunk in _chunks(list(range(len(rows))), sizes):
            self._insert_chunk(batch, chunk)
        return batch.refused

    def _append(
        self, spec: TableSpec, rows: Sequence[Row], make_writer: Callable[[], StorageWriter]
    ) -> dict[int, str]:
        if self._writer is None:
            self._writer = make_writer()
        stream = default_stream(self.client.project, self.dataset, spec.name)
        try:
            return self._writer.append(stream, spec, rows)
        except StorageTableMissingError:
            # The table was dropped under us: recreate it once, then try again.
            self._ensured = False
            self.ensure_tables()
            return self._writer.append(stream, spec, rows)

    def _insert_chunk(
        self, batch: _Batch, indices: list[int], *, may_recreate: bool = True
    ) -> None:
        spec, refused = batch.spec, batch.refused
        for _ in range(_MAX_STOPPED_ROUNDS):
            try:
                errors = self.client.insert_rows_json(
                    self.table_id(spec),
                    [batch.prepared[index] for index in indices],
                    row_ids=[batch.row_ids[index] for index in indices],
                    retry=self._retry,
                    timeout=self.timeout,
                )
            except core_exceptions.GoogleAPICallError as exc:
                self._request_refused(batch, indices, exc, may_recreate=may_recreate)
                return
            except (core_exceptions.RetryError, OSError) as exc:
                raise SinkUnavailableError(f"cannot reach BigQuery: {exc}") from exc
            stopped: list[int] = []
            for entry in errors:
                index = indices[int(entry["index"])]
                reasons = {str(error.get("reason")) for error in entry.get("errors", [])}
                if reasons & _PERMANENT_ROW_REASONS:
                    messages = "; ".join(
                        f"{error.get('location') or '-'}: {error.get('message')}"
                        for error in entry.get("errors", [])
                        if error.get("reason") in _PERMANENT_ROW_REASONS
                    )
                    refused[index] = f"BigQuery refused the row: {redact_values(messages)}"[:1000]
                elif reasons <= {"stopped"}:
                    stopped.append(index)
                else:
                    raise SinkUnavailableError(
                        f"BigQuery could not insert into {spec.name} now: {sorted(reasons)}"
                    )
            if not stopped:
                return
            indices = stopped
        raise SinkUnavailableError(f"rows into {spec.name} kept being stopped")

    def _request_refused(
        self,
        batch: _Batch,
        indices: list[int],
        error: core_exceptions.GoogleAPICallError,
        *,
        may_recreate: bool,
    ) -> None:
        spec = batch.spec
        if is_retryable(error):
            raise SinkUnavailableError(
                f"BigQuery insert into {spec.name} failed: {error}"
            ) from error
        if isinstance(error, core_exceptions.NotFound):
            if not may_recreate:
                raise SinkUnavailableError(f"BigQuery table {spec.name} is missing: {error}")
            # The table was dropped under us: recreate it once, then try again.
            self._ensured = False
            self.ensure_tables()
            self._insert_chunk(batch, indices, may_recreate=False)
            return
        if error.code not in _ROW_PROBLEM_CODES:
            # Not about the rows (permission, ...): fail the message; Pub/Sub retries it and
            # dead-letters it whole after max_delivery_attempts, ready for replay.
            raise SinkUnavailableError(f"insert into {spec.name} refused: {error}") from error
        if len(indices) > 1:
            middle = len(indices) // 2
            self._insert_chunk(batch, indices[:middle])
            self._insert_chunk(batch, indices[middle:])
            return
        reason = error.message
        if error.errors and isinstance(error.errors[0], dict):
            reason = str(error.errors[0].get("message") or reason)
        batch.refused[indices[0]] = f"BigQuery refused the row: {redact_values(reason)}"[:1000]


@dataclass
class _Batch:
    """Rows of one insert, prepared once, and the ones BigQuery refused for good so far."""

    spec: TableSpec
    prepared: list[dict[str, Any]]
    row_ids: list[str]
    refused: dict[int, str] = field(default_factory=dict)


def _chunks(indices: list[int], sizes: list[int]) -> list[list[int]]:
    chunks: list[list[int]] = []
    current: list[int] = []
    current_bytes = 0
    for index in indices:
        size = sizes[index]
        if current and (
            len(current) >= MAX_ROWS_PER_REQUEST or current_bytes + size > MAX_REQUEST_BYTES
        ):
            chunks.append(current)
            current, current_bytes = [], 0
        current.append(index)
        current_bytes += size
    if current:
        chunks.append(current)
    return chunks


_COST_RATE_TYPES: Final = {column.name: column.type for column in COST_RATES.columns}


def _sql_literal(value: Any, bq_type: str) -> str:
    if value is None:
        return f"CAST(NULL AS {bq_type})"
    if bq_type == "STRING":
        # json escapes quotes, backslashes and control characters the way BigQuery
        # string literals do; non-ASCII stays as UTF-8 (no surrogate-pair escapes).
        return json.dumps(str(value), ensure_ascii=False)
    if bq_type in ("NUMERIC", "DATE", "TIMESTAMP"):
        text = dumps(value).strip('"')
        return f"{bq_type} {json.dumps(text)}"
    return str(value)


def merge_cost_rates_sql(table_id: str, rows: Sequence[Row]) -> str:
    """A MERGE that upserts ``rows`` into the cost_rates table ``table_id``."""
    columns = [name for name in _COST_RATE_TYPES if name != "loaded_at"]
    selects = []
    for row in rows:
        values = [
            f"{_sql_literal(row.get(name), _COST_RATE_TYPES[name])} AS {name}" for name in columns
        ]
        selects.append("SELECT " + ", ".join(values))
    source = "\n  UNION ALL ".join(selects)
    # Rows written before tiers existed have a NULL tier, which means standard.
    key = " AND ".join(
        "COALESCE(t.pricing_tier, 'standard') = s.pricing_tier"
        if name == "pricing_tier"
        else f"t.{name} = s.{name}"
        for name in KEY_COLUMNS[COST_RATES.name]
    )
    updates = ", ".join(f"{name} = s.{name}" for name in columns)
    names = ", ".join([*columns, "loaded_at"])
    inserted = ", ".join([*(f"s.{name}" for name in columns), "CURRENT_TIMESTAMP()"])
    # Every value is a typed literal built by _sql_literal; no input text reaches SQL raw.
    return (
        f"MERGE `{table_id}` AS t\nUSING (\n  {source}\n) AS s\nON {key}\n"  # noqa: S608
        f"WHEN MATCHED THEN UPDATE SET {updates}, loaded_at = CURRENT_TIMESTAMP()\n"
        f"WHEN NOT MATCHED THEN INSERT ({names}) VALUES ({inserted})"
    )
