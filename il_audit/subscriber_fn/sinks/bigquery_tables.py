"""BigQuery clients and table definitions, shared by the sink and by ``il-audit infra``.

One place turns ``il_audit.schemas`` table specs into BigQuery ``Table``
objects (schema, day partitioning with optional expiration, clustering),
builds a client from settings (``IL_BQ_API_ENDPOINT`` points it at a local
stand-in with anonymous credentials), finds the columns (and nested fields) an
existing table lacks, and translates the errors a retry may cure into
:class:`~il_audit.subscriber_fn.errors.SinkUnavailableError`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from google.api_core import exceptions as core_exceptions
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from il_audit.config.settings import AuditSettings
from il_audit.retrying import is_retryable
from il_audit.schemas.tables import ColumnSpec, TableSpec
from il_audit.subscriber_fn.errors import SinkUnavailableError

LOCAL_PROJECT = "il-audit-local"
"""Project used against a stand-in endpoint when settings name none."""


def make_client(settings: AuditSettings) -> bigquery.Client:
    """A client for the settings' project (and endpoint override, anonymous there)."""
    if settings.bq_api_endpoint:
        return bigquery.Client(
            project=settings.project or LOCAL_PROJECT,
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options=ClientOptions(api_endpoint=settings.bq_api_endpoint),
        )
    return bigquery.Client(project=settings.project)


def schema_fields(columns: Sequence[ColumnSpec]) -> list[bigquery.SchemaField]:
    """BigQuery SchemaFields for column specs (nested records included)."""
    return [
        bigquery.SchemaField(
            column.name,
            column.type,
            mode=column.mode,
            description=column.description,
            fields=schema_fields(column.fields),
        )
        for column in columns
    ]


def partition_expiration_ms(retention_days: int | None) -> int | None:
    """``timePartitioning.expirationMs`` for a retention in days (None: keep forever)."""
    return None if retention_days is None else retention_days * 86_400_000


def bigquery_table(
    spec: TableSpec, table_id: str, *, retention_days: int | None = None
) -> bigquery.Table:
    """A Table for ``spec``: schema, description, day partitioning and clustering.

    With ``retention_days``, partitions expire that many days after their day starts.
    """
    table = bigquery.Table(table_id, schema=schema_fields(spec.columns))
    table.description = spec.description
    if spec.partition_field:
        table.time_partitioning = bigquery.TimePartitioning(
            type_=bigquery.TimePartitioningType.DAY,
            field=spec.partition_field,
            expiration_ms=partition_expiration_ms(retention_days),
        )
    if spec.clustering:
        table.clustering_fields = list(spec.clustering)
    return table


def merged_schema(table: Any, spec: TableSpec) -> tuple[list[bigquery.SchemaField], list[str]]:
    """``table``'s schema with the spec's columns and RECORD fields it lacks appended,
    and their names (``record.field`` for a nested one); added columns are NULLABLE."""
    return _merged_schema(list(table.schema), spec.columns)


def add_columns(client: Any, table: Any, spec: TableSpec, **options: Any) -> list[str]:
    """Add the spec's columns and RECORD fields ``table`` lacks; returns their names.

    BigQuery adds columns and nested fields in place, and old rows read NULL. A
    REQUIRED column cannot be added to a table with rows, so added columns are
    NULLABLE (REPEATED stays REPEATED).
    """
    schema, added = merged_schema(table, spec)
    if added:
        table.schema = schema
        client.update_table(table, ["schema"], **options)
    return added


def _merged_schema(
    existing: list[bigquery.SchemaField], columns: Sequence[ColumnSpec], prefix: str = ""
) -> tuple[list[bigquery.SchemaField], list[str]]:
    merged = list(existing)
    position = {field.name: index for index, field in enumerate(existing)}
    added: list[str] = []
    for column in columns:
        index = position.get(column.name)
        if index is None:
            merged.extend(schema_fields([_relaxed(column)]))
            added.append(prefix + column.name)
            continue
        field = existing[index]
        if column.type != "RECORD" or not column.fields:
            continue
        inner, inner_added = _merged_schema(
            list(field.fields), column.fields, f"{prefix}{column.name}."
        )
        if inner_added:
            merged[index] = bigquery.SchemaField(
                field.name,
                field.field_type,
                mode=field.mode,
                description=field.description,
                fields=inner,
            )
            added.extend(inner_added)
    return merged, added


def _relaxed(column: ColumnSpec) -> ColumnSpec:
    return ColumnSpec(
        column.name,
        column.type,
        "REPEATED" if column.mode == "REPEATED" else "NULLABLE",
        column.description,
        tuple(_relaxed(field) for field in column.fields),
    )


@contextlib.contextmanager
def unavailable_on_transient(what: str, *, any_api_error: bool = False) -> Iterator[None]:
    """Turn the errors a retry may cure into :class:`SinkUnavailableError`; others pass
    (with ``any_api_error``, every API error counts as unavailable)."""
    try:
        yield
    except core_exceptions.RetryError as exc:  # the retry deadline ran out
        raise SinkUnavailableError(f"{what}: {exc}") from exc
    except core_exceptions.GoogleAPICallError as exc:
        if any_api_error or is_retryable(exc):
            raise SinkUnavailableError(f"{what}: {exc}") from exc
        raise
    except OSError as exc:
        raise SinkUnavailableError(f"{what}: cannot reach BigQuery: {exc}") from exc
