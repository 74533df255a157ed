"""Where a report reads its numbers: the embedded DuckDB file or BigQuery.

Both take the same BigQuery SQL with ``@name`` DATE parameters; the DuckDB
side translates it with :func:`il_audit.sql.for_duckdb` (parameters become
``$name``), the BigQuery side qualifies il-audit's tables and views with
``project.dataset`` (:func:`il_audit.sql.for_bigquery`) and passes query
parameters. Rows come back as dicts of plain Python values (``Decimal`` for
NUMERIC, ``date``/``datetime`` for DATE/TIMESTAMP).

Errors: :class:`QueryFailedError` when one query fails (a missing view, SQL
the engine refuses): its section reports it and the others go on.
:class:`WarehouseUnavailableError` when the warehouse cannot be read at all
(a file held by a writer past the timeout, BigQuery unreachable or refusing
access): the report stops.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from il_audit.report.errors import QueryFailedError, WarehouseUnavailableError

Row = dict[str, Any]


class Warehouse(Protocol):
    """Runs the report's BigQuery SQL."""

    @property
    def description(self) -> str:
        """Where the numbers come from, for the page's header."""
        ...

    def query(self, sql: str, params: Mapping[str, date]) -> list[Row]:
        """Rows of ``sql`` with ``@name`` parameters bound to ``params``."""
        ...


class DuckDBWarehouse:
    """The embedded file, read-only, one short connection per query (writers take turns)."""

    def __init__(self, path: Path, *, timeout: float = 30.0) -> None:
        self.path = path
        self.timeout = timeout

    @property
    def description(self) -> str:
        """``DuckDB file <path>``."""
        return f"DuckDB file {self.path}"

    def query(self, sql: str, params: Mapping[str, date]) -> list[Row]:
        """Translate to DuckDB and run; the file must exist (no empty file is created)."""
        import duckdb
        import sqlglot

        from il_audit.sql import for_duckdb
        from il_audit.subscriber_fn.errors import SinkUnavailableError
        from il_audit.subscriber_fn.sinks.duckdb_file import DuckDBFile

        if not self.path.exists():
            raise WarehouseUnavailableError(f"no embedded database at {self.path}")
        try:
            statement = for_duckdb(sql)
        except sqlglot.errors.SqlglotError as exc:
            raise QueryFailedError(f"cannot translate the query for DuckDB: {exc}") from exc
        used = {name: value for name, value in params.items() if f"${name}" in statement}
        try:
            with DuckDBFile(self.path, lock_timeout=self.timeout).connect(read_only=True) as db:
                cursor = db.execute(statement, used)
                names = [column[0] for column in cursor.description or []]
                return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        except SinkUnavailableError as exc:
            raise WarehouseUnavailableError(str(exc)) from exc
        except duckdb.Error as exc:
            raise QueryFailedError(f"{type(exc).__name__}: {exc}") from exc


class BigQueryWarehouse:
    """A BigQuery dataset (or the local stand-in, through the client's endpoint)."""

    def __init__(
        self, client: Any, dataset: str, *, timeout: float = 300.0, retry_deadline: float = 30.0
    ) -> None:
        self.client = client
        self.dataset = dataset
        self.timeout = timeout
        """Seconds a query may run."""
        self.retry_deadline = retry_deadline
        """Seconds of retrying transient errors (an unreachable endpoint, 5xx) per query."""

    @property
    def description(self) -> str:
        """``BigQuery project.dataset``."""
        return f"BigQuery {self.client.project}.{self.dataset}"

    def query(self, sql: str, params: Mapping[str, date]) -> list[Row]:
        """Qualify il-audit's relations with project and dataset, bind DATE parameters, run."""
        import concurrent.futures

        import sqlglot
        from google.api_core import exceptions
        from google.api_core.retry import Retry
        from google.auth import exceptions as auth_exceptions
        from google.cloud import bigquery
        from google.cloud.bigquery.retry import DEFAULT_JOB_RETRY, DEFAULT_RETRY

        from il_audit.sql import View, for_bigquery

        try:
            qualified = for_bigquery(View("report", sql), self.client.project, self.dataset)
        except sqlglot.errors.SqlglotError as exc:
            raise QueryFailedError(f"cannot parse the query: {exc}") from exc
        config = bigquery.QueryJobConfig(
            query_parameters=[
                bigquery.ScalarQueryParameter(name, "DATE", value)
                for name, value in params.items()
                if f"@{name}" in sql
            ]
        )
        # Every layer of retrying is bounded by retry_deadline. With a job_retry, client.query
        # wraps the job insert in a retry of its own (10 minutes, not configurable): give it
        # none there, and let result() restart a failed query within the deadline.
        retry: Retry = DEFAULT_RETRY.with_deadline(self.retry_deadline)
        job_retry: Retry = DEFAULT_JOB_RETRY.with_deadline(self.retry_deadline)
        try:
            job = self.client.query(qualified, job_config=config, retry=retry, job_retry=None)
            rows = job.result(timeout=self.timeout, retry=retry, job_retry=job_retry)
            return [dict(row.items()) for row in rows]
        except (exceptions.BadRequest, exceptions.NotFound) as exc:
            raise QueryFailedError(_message(exc)) from exc
        except (
            exceptions.GoogleAPIError,
            auth_exceptions.GoogleAuthError,
            concurrent.futures.TimeoutError,
            OSError,
        ) as exc:
            raise WarehouseUnavailableError(f"cannot query {self.description}: {exc}") from exc


def _message(exc: Any) -> str:
    message = getattr(exc, "message", None) or str(exc)
    return f"{type(exc).__name__}: {message}"
