"""Erasure in BigQuery: parameterised reads, one ``MERGE`` per table, the event through the sink.

BigQuery facts this relies on (docs: "Transform data with DML", "Quotas and limits"):

- Rows written with ``tabledata.insertAll`` refuse ``UPDATE``/``DELETE``/``MERGE`` while
  they are in the streaming buffer (usually about 30 minutes, up to 90), and the job fails
  with "... would affect rows in the streaming buffer, which is not supported". Rows
  written with the Storage Write API can be changed at once. A refused statement changes
  nothing, so its table's rows are reported pending and a re-run later changes them.
- Each DML statement is its own transaction; mutating statements on one table run a few
  at a time and queue behind each other, so erasure sends one ``MERGE`` per table: the
  new values computed here travel as an ``ARRAY<STRUCT>`` query parameter (all STRING,
  cast back in SQL), split only when the parameter would pass :data:`MAX_PARAMETER_BYTES`
  (the HTTP request that carries it is limited to 10 MB).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from il_audit.operations.erase_store import (
    Assignment,
    Relation,
    Where,
    not_null_guard,
    render_where,
)
from il_audit.operations.errors import PendingRowsError

if TYPE_CHECKING:
    from il_audit.config.settings import AuditSettings

MAX_PARAMETER_BYTES: Final = 4 * 1024 * 1024
STREAMING_BUFFER: Final = "streaming buffer"


def _quote(name: str) -> str:
    return "`" + name.replace("`", "") + "`"


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


class _Params:
    """Named ``@pN`` parameters, STRING or ARRAY<STRING>."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def __call__(self, value: Any) -> str:
        from google.cloud import bigquery

        name = f"p{len(self.values)}"
        if isinstance(value, tuple):
            self.values.append(bigquery.ArrayQueryParameter(name, "STRING", list(value)))
            return f"UNNEST(@{name})"
        self.values.append(bigquery.ScalarQueryParameter(name, "STRING", value))
        return f"@{name}"


class BigQueryErasureStore:
    """A dataset of BigQuery (or the stand-in, through the client's endpoint)."""

    def __init__(
        self,
        client: Any,
        dataset: str,
        *,
        timeout: float = 30.0,
        sink_factory: Callable[[], Any] | None = None,
    ) -> None:
        self.client = client
        self.dataset = dataset
        self.timeout = timeout
        self.sink_factory = sink_factory

    @classmethod
    def from_settings(
        cls, settings: AuditSettings, *, timeout: float = 30.0
    ) -> BigQueryErasureStore:
        """The settings' project and dataset; the event goes through the configured sink."""
        from il_audit.subscriber_fn.sinks.bigquery import BigQuerySink
        from il_audit.subscriber_fn.sinks.bigquery_tables import make_client

        return cls(
            make_client(settings),
            settings.dataset,
            timeout=timeout,
            sink_factory=lambda: BigQuerySink.from_settings(settings),
        )

    @property
    def description(self) -> str:
        """``BigQuery project.dataset``."""
        return f"BigQuery {self.client.project}.{self.dataset}"

    def _table(self, name: str) -> str:
        return _quote(f"{self.client.project}.{self.dataset}.{name}")

    def _run(self, sql: str, params: Sequence[Any]) -> Any:
        from google.api_core.retry import Retry
        from google.cloud import bigquery
        from google.cloud.bigquery.retry import DEFAULT_RETRY

        # Bounded like the report's queries: no 10-minute job retry around the insert.
        retry: Retry = DEFAULT_RETRY.with_deadline(self.timeout)
        config = bigquery.QueryJobConfig(query_parameters=list(params))
        job = self.client.query(sql, job_config=config, retry=retry, job_retry=None)
        return job.result(timeout=max(self.timeout, 60.0), retry=retry)

    def relations(self) -> list[Relation]:
        """Every table and view of the dataset, with the schema BigQuery reports."""
        found = []
        for item in self.client.list_tables(self.dataset, timeout=self.timeout):
            table = self.client.get_table(item.reference, timeout=self.timeout)
            types = {field.name: field.field_type for field in table.schema or ()}
            if table.table_type == "VIEW":
                found.append(Relation(table.table_id, "view", tuple(types), types))
            elif table.table_type == "TABLE":  # not materialized views, external tables...
                found.append(Relation(table.table_id, "table", tuple(types), types))
        return sorted(found, key=lambda relation: relation.name)

    def fetch(
        self, relation: Relation, where: Where, columns: Sequence[str]
    ) -> list[dict[str, Any]]:
        """The chosen columns of the matching rows."""
        params = _Params()
        condition = render_where(where, params, _quote)
        chosen = ", ".join(_quote(column) for column in columns)
        sql = f"SELECT {chosen} FROM {self._table(relation.name)} WHERE {condition}"  # noqa: S608
        return [dict(row.items()) for row in self._run(sql, params.values)]

    def count(self, relation: Relation, where: Where) -> int:
        """Matching rows; a view whose columns the engine did not report is asked anyway
        and counts 0 when it has no such column."""
        from google.api_core import exceptions

        params = _Params()
        condition = render_where(where, params, _quote)
        sql = f"SELECT COUNT(*) AS n FROM {self._table(relation.name)} WHERE {condition}"  # noqa: S608
        try:
            rows = list(self._run(sql, params.values))
        except exceptions.BadRequest:
            if relation.kind == "view":
                return 0
            raise
        return int(rows[0]["n"]) if rows else 0

    def _cast(self, relation: Relation, column: str) -> str:
        source = f"new_values.{_quote(column)}"
        kind = relation.types.get(column, "STRING").upper()
        if kind == "JSON":
            return f"PARSE_JSON({source})"
        if kind == "STRING":
            return source
        return f"CAST({source} AS {kind})"

    def update_keyed(
        self,
        relation: Relation,
        key: str,
        rows: Sequence[Mapping[str, Any]],
        columns: Sequence[str],
    ) -> int:
        """``MERGE`` the new values in, keyed; raises :class:`PendingRowsError` for rows in
        the streaming buffer."""
        from google.api_core import exceptions
        from google.cloud import bigquery

        if not rows or not columns:
            return 0
        sets = ", ".join(f"{_quote(c)} = {self._cast(relation, c)}" for c in columns)
        # MERGE's source is a table or a subquery; fields named one by one (the stand-in
        # does not expand ``SELECT *`` of an UNNESTed struct).
        fields = ", ".join(f"row_values.{_quote(c)} AS {_quote(c)}" for c in (key, *columns))
        # Identifiers come from the table's schema, values travel as parameters.
        sql = (
            f"MERGE {self._table(relation.name)} AS stored "  # noqa: S608
            f"USING (SELECT {fields} FROM UNNEST(@rows) AS row_values) AS new_values "
            f"ON stored.{_quote(key)} = new_values.{_quote(key)} "
            f"WHEN MATCHED THEN UPDATE SET {sets}"
        )
        changed = 0
        for chunk in _chunks(rows, [key, *columns]):
            structs = [
                bigquery.StructQueryParameter(
                    None,
                    *(
                        bigquery.ScalarQueryParameter(c, "STRING", _text(row[c]))
                        for c in (key, *columns)
                    ),
                )
                for row in chunk
            ]
            try:
                self._run(sql, [bigquery.ArrayQueryParameter("rows", "STRUCT", structs)])
            except exceptions.BadRequest as exc:
                if STREAMING_BUFFER in str(exc).lower():
                    raise PendingRowsError(
                        f"{relation.name}: BigQuery refused the change, rows in the streaming "
                        "buffer",
                        len(rows) - changed,
                    ) from exc
                raise
            changed += len(chunk)
        return changed

    def update_where(
        self, relation: Relation, assignments: Sequence[Assignment], where: Where
    ) -> int | None:
        """One ``UPDATE ... SET (CASE ...) WHERE``; the rows BigQuery says it changed."""
        from google.api_core import exceptions

        if not assignments:
            return 0
        params = _Params()
        sets = []
        for assignment in assignments:
            column = _quote(assignment.column)
            kind = relation.types.get(assignment.column, "STRING").upper()
            cases = " ".join(
                f"WHEN {render_where(case, params, _quote)}{not_null_guard(column, value)} THEN "
                + (f"CAST({params(value)} AS {kind})" if value is not None else "NULL")
                for case, value in assignment.cases
            )
            sets.append(f"{column} = CASE {cases} ELSE {column} END")
        condition = render_where(where, params, _quote)
        sql = f"UPDATE {self._table(relation.name)} SET {', '.join(sets)} WHERE {condition}"  # noqa: S608
        try:
            result = self._run(sql, params.values)
        except exceptions.BadRequest as exc:
            if STREAMING_BUFFER in str(exc).lower():
                raise PendingRowsError(
                    f"{relation.name}: BigQuery refused the change, rows in the streaming buffer",
                    0,
                ) from exc
            raise
        affected = getattr(result, "num_dml_affected_rows", None)
        return None if affected is None else int(affected)  # the stand-in reports none

    def write_event(self, line: bytes) -> None:
        """Through the subscriber pipeline and the BigQuery sink the settings name."""
        from il_audit.operations.erase_event import write_through_pipeline
        from il_audit.subscriber_fn.sinks.bigquery import BigQuerySink

        sink = (
            self.sink_factory()
            if self.sink_factory is not None
            else BigQuerySink(self.client, self.dataset)
        )
        try:
            write_through_pipeline(sink, line)
        finally:
            sink.close()

    def finish(self, real_run: bool) -> list[str]:  # noqa: ARG002 - the protocol's signature
        """Nothing to close: BigQuery keeps no old bytes a client can reach but time travel."""
        return []


def _chunks(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[str]
) -> list[list[Mapping[str, Any]]]:
    """Rows split so that each chunk's parameter stays under :data:`MAX_PARAMETER_BYTES`."""
    chunks: list[list[Mapping[str, Any]]] = [[]]
    size = 0
    for row in rows:
        weight = sum(len(_text(row[c]) or "") + len(c) + 16 for c in columns)
        if chunks[-1] and size + weight > MAX_PARAMETER_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(row)
        size += weight
    return chunks
