"""Rows into BigQuery through the Storage Write API's default stream (``AppendRows``).

The default stream (``projects/P/datasets/D/tables/T/streams/_default``) commits each
append as soon as it succeeds, at-least-once: there is no ``insertId``, so a message
redelivered after a partial write stores some rows twice, and the ``events_deduped``
view (one row per ``event_id``) is what hides them, as it already hid insertAll's
best-effort dedup misses.

One ``write_events`` call is one bidirectional ``AppendRows`` call: the rows, encoded
by ``bigquery_proto``, are cut into requests below the 10 MB request limit, every
request names ``write_stream`` (the stand-in needs it on each, not only the first) and
carries the writer schema, and the requests go out back to back; the server answers
each in order. No ``AppendRowsFuture`` (its ``result()`` polls with a 1 s initial
backoff) and no ``AppendRowsStream`` helper thread: the call is made directly with a
deadline.

What an answer means:

- ``row_errors`` (real BigQuery fails the whole append and lists the bad rows): the
  bad rows are refused for good, ``{index: reason}`` like insertAll's ``invalid`` rows
  (the pipeline dead-letters them as ``sink_rejected``); the good rows of that append
  are sent again in a new one.
- an error status without ``row_errors``: UNAVAILABLE, INTERNAL, DEADLINE_EXCEEDED,
  RESOURCE_EXHAUSTED, ABORTED, CANCELLED, UNKNOWN, PERMISSION_DENIED and UNAUTHENTICATED
  raise :class:`SinkUnavailableError` (the message is retried; rows already appended come
  back as duplicates that the view hides), as does a broken connection; NOT_FOUND raises
  :class:`StorageTableMissingError` (the sink recreates the table once); anything else
  (INVALID_ARGUMENT: the writer schema does not fit the table) raises
  :class:`StorageWriteSchemaError`, a permanent error with the server's message.
- a row that cannot be encoded at all is refused alone, before anything is sent.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

import grpc
from google.api_core import exceptions as core_exceptions
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials

from il_audit.errors import SettingsError
from il_audit.retrying import is_retryable
from il_audit.schemas.tables import TableSpec
from il_audit.subscriber_fn.errors import (
    RowEncodingError,
    SinkUnavailableError,
    StorageTableMissingError,
    StorageWriteSchemaError,
    redact_values,
)
from il_audit.subscriber_fn.sinks.base import Row
from il_audit.subscriber_fn.sinks.bigquery_proto import ProtoTable

if TYPE_CHECKING:
    from google.cloud.bigquery_storage_v1 import BigQueryWriteClient, types

    from il_audit.config.settings import AuditSettings

logger = logging.getLogger(__name__)

MAX_REQUEST_BYTES: Final = 9_000_000
"""Serialized rows per AppendRows request: under the 10 MB limit with room for the schema."""
_ROW_OVERHEAD: Final = 8  # tag and length prefix of one serialized row, rounded up
_MAX_ROUNDS: Final = 3
_TRANSIENT: Final = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.UNKNOWN,
        # Not about the rows: fail the message, as the insertAll path does.
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.UNAUTHENTICATED,
    }
)
_CODES: Final = {code.value[0]: code for code in grpc.StatusCode}


def default_stream(project: str, dataset: str, table: str) -> str:
    """The default stream's name for a table."""
    return f"projects/{project}/datasets/{dataset}/tables/{table}/streams/_default"


def make_write_client(settings: AuditSettings) -> BigQueryWriteClient:
    """A write client; with ``bq_storage_api_endpoint``, plaintext and anonymous (stand-in)."""
    from google.cloud.bigquery_storage_v1 import BigQueryWriteClient
    from google.cloud.bigquery_storage_v1.services.big_query_write.transports import (
        BigQueryWriteGrpcTransport,
    )

    endpoint = settings.bq_storage_api_endpoint
    if endpoint:
        transport = BigQueryWriteGrpcTransport(
            host=endpoint,
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            channel=grpc.insecure_channel(endpoint),
        )
        return BigQueryWriteClient(  # type: ignore[no-untyped-call]
            transport=transport, client_options=ClientOptions(api_endpoint=endpoint)
        )
    if settings.bq_api_endpoint:
        raise SettingsError(
            "IL_BQ_API_ENDPOINT points BigQuery at a stand-in but IL_BQ_STORAGE_API_ENDPOINT "
            "is unset: set it to the stand-in's gRPC address, or set "
            "IL_AUDIT_BQ_WRITE_METHOD=insert_all"
        )
    return BigQueryWriteClient()  # type: ignore[no-untyped-call]


@dataclass
class _Append:
    """Rows of one ``append`` call: encoded once, and what became of them."""

    encoded: dict[int, bytes]
    refused: dict[int, str] = field(default_factory=dict)


class StorageWriter:
    """Appends rows to tables' default streams; one writer serves every table."""

    def __init__(
        self,
        client: BigQueryWriteClient,
        *,
        timeout: float = 30.0,
        max_request_bytes: int = MAX_REQUEST_BYTES,
    ) -> None:
        self.client = client
        self.timeout = timeout
        self.max_request_bytes = max_request_bytes
        self._tables: dict[str, ProtoTable] = {}

    def proto_table(self, spec: TableSpec) -> ProtoTable:
        """The proto form of ``spec``, built once."""
        table = self._tables.get(spec.name)
        if table is None:
            table = self._tables[spec.name] = ProtoTable(spec)
        return table

    def append(self, stream: str, spec: TableSpec, rows: Sequence[Row]) -> dict[int, str]:
        """Append ``rows`` to ``stream``; returns ``{index: reason}`` of rows refused for good."""
        table = self.proto_table(spec)
        batch = _Append({})
        for index, row in enumerate(rows):
            try:
                batch.encoded[index] = table.encode(row)
            except RowEncodingError as exc:
                batch.refused[index] = _reason(str(exc))
        pending = sorted(batch.encoded)
        for _ in range(_MAX_ROUNDS):
            if not pending:
                return batch.refused
            pending = self._round(stream, table, batch, pending)
        if pending:
            raise SinkUnavailableError(
                f"rows into {spec.name} were not appended after {_MAX_ROUNDS} rounds"
            )
        return batch.refused

    def close(self) -> None:
        """Close the gRPC channel."""
        self.client.transport.close()  # type: ignore[no-untyped-call]

    # ------------------------------------------------------------------ internals

    def _round(
        self, stream: str, table: ProtoTable, batch: _Append, pending: list[int]
    ) -> list[int]:
        """One AppendRows call for ``pending``; returns the good rows of failed appends."""
        chunks = self._chunks(table, batch, pending)
        if not chunks:
            return []
        responses = self._call(stream, table, [[batch.encoded[i] for i in c] for c in chunks])
        again: list[int] = []
        for chunk, response in zip(chunks, responses, strict=True):
            if response.row_errors:
                bad: dict[int, str] = {}
                for error in response.row_errors:
                    position = int(error.index)
                    if 0 <= position < len(chunk):
                        code = getattr(error.code, "name", str(error.code))
                        bad[chunk[position]] = _reason(f"{code}: {error.message}")
                batch.refused.update(bad)
                again.extend(index for index in chunk if index not in bad)
                continue
            code = _CODES.get(int(response.error.code), grpc.StatusCode.UNKNOWN)
            if code is not grpc.StatusCode.OK:
                _raise_for(code, str(response.error.message), table.spec.name)
        return again

    def _chunks(self, table: ProtoTable, batch: _Append, pending: list[int]) -> list[list[int]]:
        room = self.max_request_bytes - table.descriptor.ByteSize() - 1024
        chunks: list[list[int]] = []
        current: list[int] = []
        size = 0
        for index in pending:
            row_size = len(batch.encoded[index]) + _ROW_OVERHEAD
            if row_size > room:
                batch.refused[index] = _reason(
                    f"the row is {row_size} bytes, over the AppendRows request limit"
                )
                continue
            if current and size + row_size > room:
                chunks.append(current)
                current, size = [], 0
            current.append(index)
            size += row_size
        if current:
            chunks.append(current)
        return chunks

    def _call(
        self, stream: str, table: ProtoTable, chunks: list[list[bytes]]
    ) -> list[types.AppendRowsResponse]:
        from google.cloud.bigquery_storage_v1 import types

        schema = types.ProtoSchema(proto_descriptor=table.descriptor)

        def requests() -> Iterator[types.AppendRowsRequest]:
            for rows in chunks:
                yield types.AppendRowsRequest(
                    write_stream=stream,
                    proto_rows=types.AppendRowsRequest.ProtoData(
                        writer_schema=schema,
                        rows=types.ProtoRows(serialized_rows=rows),
                    ),
                )

        metadata = (("x-goog-request-params", f"write_stream={stream}"),)
        try:
            responses = list(
                self.client.append_rows(
                    requests(), retry=None, timeout=self.timeout, metadata=metadata
                )
            )
        except core_exceptions.GoogleAPICallError as exc:
            code = exc.grpc_status_code
            if code is None:
                if is_retryable(exc):
                    raise SinkUnavailableError(f"AppendRows failed: {exc}") from exc
                code = grpc.StatusCode.UNKNOWN
            _raise_for(code, str(exc.message), table.spec.name, exc)
        except (core_exceptions.RetryError, grpc.RpcError, OSError) as exc:
            raise SinkUnavailableError(f"cannot reach the BigQuery Storage API: {exc}") from exc
        if len(responses) != len(chunks):
            raise SinkUnavailableError(
                f"AppendRows into {table.spec.name} answered {len(responses)} of "
                f"{len(chunks)} appends"
            )
        return responses


def _raise_for(
    code: grpc.StatusCode, message: str, table: str, cause: BaseException | None = None
) -> None:
    text = f"AppendRows into {table} failed with {code.name}: {redact_values(message)}"
    if code is grpc.StatusCode.NOT_FOUND:
        raise StorageTableMissingError(text) from cause
    if code in _TRANSIENT:
        raise SinkUnavailableError(text) from cause
    raise StorageWriteSchemaError(text) from cause


def _reason(detail: str) -> str:
    return f"BigQuery refused the row: {redact_values(detail)}"[:1000]


__all__ = [
    "MAX_REQUEST_BYTES",
    "StorageTableMissingError",
    "StorageWriteSchemaError",
    "StorageWriter",
    "default_stream",
    "make_write_client",
]
