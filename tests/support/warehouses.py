"""A played workload in a warehouse: an embedded DuckDB file or a dataset of the BigQuery stand-in.

Two ways in, each on both engines:

- In bulk, for the view tests: :class:`DuckDBWarehouse` and :class:`BigQueryWarehouse`
  compute every row with the subscriber's core (seed catalog, each event at its
  ingestion time), write them with one request per table (the stand-in snapshots
  tables on every insert) next to the ``cost_rates`` rows the views reprice with,
  and answer the same BigQuery SQL: ``{ds}`` in a query stands for the dataset
  (``project.dataset`` on BigQuery; dropped on DuckDB, as ``il-audit query`` does),
  so a seed-era query runs unchanged on both.
- Message by message through the subscriber's real ``Pipeline`` (built by
  ``build_pipeline``, as the embedded transport and the function do), for the
  report: :func:`load_duckdb` and :func:`load_bigquery` (Storage Write API).

On BigQuery the views are created by ``infra apply``'s code.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import duckdb
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from il_audit.config.settings import AuditSettings
from il_audit.operations.infra import BigQueryProvisioner, apply_warehouse
from il_audit.schemas.envelope import envelope_json
from il_audit.sql import for_duckdb
from il_audit.subscriber_fn.core import MessageMeta, dead_letter_row, process_message
from il_audit.subscriber_fn.pipeline import Pipeline, build_pipeline
from il_audit.subscriber_fn.pricing import Rate, seed_catalog
from il_audit.subscriber_fn.sinks.bigquery import BigQuerySink
from il_audit.subscriber_fn.sinks.duckdb import DuckDBSink
from tests.support.factories import make_settings
from tests.support.scenario import Workload


def _meta(when: datetime) -> MessageMeta:
    return MessageMeta(message_id=f"m-{uuid.uuid4().hex[:12]}", publish_time=when)


def event_rows(workload: Workload) -> list[dict[str, Any]]:
    """``events`` rows of the workload's envelopes, from the subscriber's core."""
    rows = []
    for envelope in workload.envelopes:
        when = workload.ingested_at[envelope.event_id]
        result = process_message(envelope_json(envelope), _meta(when), seed_catalog(), when)
        assert not result.rejects, result.rejects
        rows.extend(result.rows)
    return rows


def dead_letter_rows(workload: Workload) -> list[dict[str, Any]]:
    """``dead_letters`` rows of the workload's rejected lines."""
    rows = []
    for line, when in workload.rejected:
        meta = _meta(when)
        result = process_message(line, meta, seed_catalog(), when)
        assert len(result.rejects) == 1, line
        rows.append(dead_letter_row(result.rejects[0], {}, meta, when))
    return rows


class DuckDBWarehouse:
    """The workload in an embedded DuckDB file, created by the DuckDB sink (views included)."""

    name = "duckdb"

    def __init__(self, path: Path, workload: Workload, cost_rates: Sequence[Rate] = ()) -> None:
        sink = DuckDBSink(path, hold_seconds=0)
        try:
            sink.upsert_cost_rates([rate.to_row() for rate in cost_rates])
            assert sink.write_events(event_rows(workload)) == {}
            sink.write_dead_letters(dead_letter_rows(workload))
        finally:
            sink.close()
        self.path = path

    def _execute(self, sql: str) -> duckdb.DuckDBPyConnection:
        connection = duckdb.connect(str(self.path), read_only=True)
        connection.execute("SET TimeZone = 'UTC'")
        return connection.execute(for_duckdb(sql.replace("{ds}", "`il-audit-test.compat`")))

    def query(self, sql: str) -> list[dict[str, Any]]:
        """Rows of a BigQuery-dialect query, as dicts."""
        cursor = self._execute(sql)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def columns(self, relation: str) -> list[tuple[str, str]]:
        """(name, BigQuery type) of a relation's output columns."""
        cursor = self._execute(f"SELECT * FROM {{ds}}.{relation} LIMIT 0")
        return [(column[0], bigquery_type(str(column[1]))) for column in cursor.description]


def _create_views(client: bigquery.Client, dataset: str, settings: AuditSettings) -> None:
    provisioner = BigQueryProvisioner(client, dataset, None)
    apply_warehouse(provisioner, settings, dry_run=False, record=lambda _change: None)


class BigQueryWarehouse:
    """The workload in a fresh dataset of the BigQuery stand-in (``insertAll``)."""

    name = "bigquery"

    def __init__(
        self, url: str, project: str, workload: Workload, cost_rates: Sequence[Rate] = ()
    ) -> None:
        self.client = bigquery.Client(
            project=project,
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options={"api_endpoint": url},
        )
        self.dataset = f"compat_{uuid.uuid4().hex[:10]}"
        sink = BigQuerySink(self.client, self.dataset, retry_deadline=5.0, timeout=10.0)
        sink.upsert_cost_rates([rate.to_row() for rate in cost_rates])
        assert sink.write_events(event_rows(workload)) == {}
        sink.write_dead_letters(dead_letter_rows(workload))
        settings = make_settings(project=project, dataset=self.dataset, bq_api_endpoint=url)
        _create_views(self.client, self.dataset, settings)

    def query(self, sql: str) -> list[dict[str, Any]]:
        """Rows of a BigQuery query, as dicts."""
        qualified = sql.replace("{ds}", f"`{self.client.project}.{self.dataset}`")
        return [dict(row.items()) for row in self.client.query(qualified).result(timeout=60)]

    def columns(self, relation: str) -> list[tuple[str, str]]:
        """(name, BigQuery type) of a relation's output columns (from a query's result schema)."""
        qualified = f"SELECT * FROM `{self.client.project}.{self.dataset}.{relation}` LIMIT 0"
        result = self.client.query(qualified).result(timeout=60)
        return [(item.name, bigquery_type(item.field_type)) for item in result.schema]

    def close(self) -> None:
        """Drop the dataset (the stand-in snapshots tables on insert: keep it small)."""
        self.client.delete_dataset(self.dataset, delete_contents=True, not_found_ok=True)
        self.client.close()  # type: ignore[no-untyped-call]


def write(pipeline: Pipeline, workload: Workload) -> None:
    """Each event and each rejected line as its own message, at its ingestion time."""
    try:
        for index, (data, when) in enumerate(workload.messages()):
            pipeline.clock = lambda when=when: when  # type: ignore[misc]
            pipeline.handle(data, {}, MessageMeta(message_id=f"m-{index}", publish_time=when))
    finally:
        pipeline.sink.close()


def load_duckdb(path: Path, workload: Workload) -> Path:
    """The workload in an embedded file, through the embedded mode's pipeline and sink."""
    settings = make_settings(sink="duckdb", duckdb_path=str(path))
    write(build_pipeline(settings, with_topic=False), workload)
    return path


@dataclass
class BigQueryDataset:
    """A dataset of the stand-in holding the workload, with the views."""

    project: str
    dataset: str
    url: str
    client: Any

    def close(self) -> None:
        """Drop the dataset (the stand-in snapshots tables on insert: keep it small)."""
        self.client.delete_dataset(self.dataset, delete_contents=True, not_found_ok=True)
        self.client.close()


def load_bigquery(url: str, project: str, workload: Workload, grpc_address: str) -> BigQueryDataset:
    """The workload in a fresh dataset of the stand-in, through the function's pipeline and
    the BigQuery sink (Storage Write API)."""
    dataset = f"report_{uuid.uuid4().hex[:10]}"
    settings = make_settings(
        sink="bigquery",
        project=project,
        dataset=dataset,
        bq_api_endpoint=url,
        bq_storage_api_endpoint=grpc_address,
    )
    pipeline = build_pipeline(settings, with_topic=False)
    client = pipeline.sink.client  # type: ignore[attr-defined]
    write(pipeline, workload)
    _create_views(client, dataset, settings)
    return BigQueryDataset(project, dataset, url, client)


class Engine(Protocol):
    """Reads one view of a loaded warehouse: its rows and its (name, BigQuery type) columns."""

    def rows(self, view: str) -> list[dict[str, Any]]: ...
    def columns(self, view: str) -> list[tuple[str, str]]: ...


@dataclass
class DuckDBEngine:
    """Views of an embedded DuckDB file (see :func:`load_duckdb`), read in BigQuery SQL."""

    path: Path

    def _execute(self, sql: str) -> duckdb.DuckDBPyConnection:
        connection = duckdb.connect(str(self.path), read_only=True)
        connection.execute("SET TimeZone = 'UTC'")
        return connection.execute(for_duckdb(sql))

    def rows(self, view: str) -> list[dict[str, Any]]:
        cursor = self._execute(f"SELECT * FROM {view}")
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def columns(self, view: str) -> list[tuple[str, str]]:
        cursor = self._execute(f"SELECT * FROM {view} LIMIT 0")
        return [(column[0], bigquery_type(str(column[1]))) for column in cursor.description]


@dataclass
class BigQueryEngine:
    """Views of a stand-in dataset (see :func:`load_bigquery`)."""

    dataset: BigQueryDataset

    def _query(self, sql: str) -> Any:
        return self.dataset.client.query(sql).result(timeout=60)

    def rows(self, view: str) -> list[dict[str, Any]]:
        name = f"`{self.dataset.project}.{self.dataset.dataset}.{view}`"
        return [dict(row.items()) for row in self._query(f"SELECT * FROM {name}")]

    def columns(self, view: str) -> list[tuple[str, str]]:
        name = f"`{self.dataset.project}.{self.dataset.dataset}.{view}`"
        result = self._query(f"SELECT * FROM {name} LIMIT 0")
        return [(item.name, bigquery_type(item.field_type)) for item in result.schema]


_TYPE_NAMES = {
    # DuckDB
    "VARCHAR": "STRING",
    "BIGINT": "INT64",
    "DOUBLE": "FLOAT64",
    "BOOLEAN": "BOOL",
    "TIMESTAMP WITH TIME ZONE": "TIMESTAMP",
    "DATE": "DATE",
    "DECIMAL(38,9)": "NUMERIC",
    "JSON": "JSON",
    # BigQuery's legacy names, which the REST API answers with
    "STRING": "STRING",
    "INTEGER": "INT64",
    "INT64": "INT64",
    "FLOAT": "FLOAT64",
    "FLOAT64": "FLOAT64",
    "BOOL": "BOOL",
    "TIMESTAMP": "TIMESTAMP",
    "NUMERIC": "NUMERIC",
}


def bigquery_type(name: str) -> str:
    """The BigQuery type of an output column; unknown types stay as they are (and differ)."""
    return _TYPE_NAMES.get(name.upper(), f"<{name}>")


def by(rows: Sequence[dict[str, Any]], *keys: str) -> list[dict[str, Any]]:
    """``rows`` sorted by ``keys`` (None first), so both engines compare in one order."""
    return sorted(rows, key=lambda row: tuple((row[k] is not None, row[k]) for k in keys))
