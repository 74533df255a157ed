"""A fake BigQuery Storage Write API: an in-process gRPC server that speaks ``AppendRows``.

It is a fake, not a stand-in, because no stand-in reports per-row errors: bqemulator fails
a whole request with a bad-typed row (code 3), drops the connection on a malformed NUMERIC
or JSON value and accepts a missing REQUIRED value. This one answers the way real
BigQuery is documented to (the same approach as ``fake_bigquery.py`` for the REST side):

- an append holding a *marked* row (a row whose key column, ``event_id`` or
  ``dead_letter_id``, starts with ``bad-``) fails as a whole: ``error`` INVALID_ARGUMENT
  and ``row_errors`` listing each marked row (index in the request, FIELDS_ERROR, a
  message); nothing of that append is stored;
- any other append stores every row and answers an ``append_result``;
- :meth:`FakeStorageWrite.fail_next` answers the next appends with an error status
  instead (a whole-request error, no row errors); :meth:`FakeStorageWrite.abort_next`
  ends the call with a gRPC status (a connection-level failure).

What it assumes about the protocol: requests carry ``write_stream`` and
``proto_rows.writer_schema`` (this fake needs the schema on every request, as il-audit
sends it), responses come one per request in order, and the descriptor is a
self-contained ``DescriptorProto``. Rows are decoded with that descriptor, as a server
would, and recorded per stream as dicts (``preserving_proto_field_name``).
"""

from __future__ import annotations

import threading
import uuid
from collections import defaultdict, deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
from google.cloud.bigquery_storage_v1 import BigQueryWriteClient, types
from google.cloud.bigquery_storage_v1.services.big_query_write.transports import (
    BigQueryWriteGrpcTransport,
)
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.json_format import MessageToDict
from google.rpc import status_pb2

SERVICE = "google.cloud.bigquery.storage.v1.BigQueryWrite"
BAD_PREFIX = "bad-"
_KEYS = ("event_id", "dead_letter_id")


def _key(row: dict[str, Any]) -> str:
    """dead_letter_id for a dead letter (which may carry an event_id too), else event_id."""
    for key in _KEYS[::-1]:
        if key in row:
            return str(row[key])
    return ""


def _message_class(descriptor: descriptor_pb2.DescriptorProto) -> Any:
    pool = descriptor_pool.DescriptorPool()
    name = f"fake_{uuid.uuid4().hex}.proto"
    pool.Add(
        descriptor_pb2.FileDescriptorProto(name=name, syntax="proto2", message_type=[descriptor])
    )
    return message_factory.GetMessageClass(
        pool.FindFileByName(name).message_types_by_name[descriptor.name]
    )


class FakeStorageWrite:
    """The fake server; ``with FakeStorageWrite() as fake: fake.client()``."""

    def __init__(self) -> None:
        self.requests: list[types.AppendRowsRequest] = []
        self.metadata: list[list[tuple[str, str]]] = []
        """Each call's invocation metadata, (key, value) pairs in order."""
        self._stored: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._failures: deque[tuple[int, str]] = deque()
        self._aborts: deque[grpc.StatusCode] = deque()
        self._lock = threading.Lock()
        self._server = grpc.server(ThreadPoolExecutor(max_workers=4))
        handler = grpc.method_handlers_generic_handler(
            SERVICE,
            {
                "AppendRows": grpc.stream_stream_rpc_method_handler(
                    self._append_rows,
                    request_deserializer=types.AppendRowsRequest.deserialize,
                    response_serializer=types.AppendRowsResponse.serialize,
                )
            },
        )
        self._server.add_generic_rpc_handlers((handler,))
        self.port = self._server.add_insecure_port("127.0.0.1:0")

    def __enter__(self) -> FakeStorageWrite:
        self._server.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.stop(grace=None)

    @property
    def address(self) -> str:
        """``host:port``, for ``IL_BQ_STORAGE_API_ENDPOINT``."""
        return f"127.0.0.1:{self.port}"

    def client(self) -> BigQueryWriteClient:
        """A write client on a plaintext channel to this server."""
        transport = BigQueryWriteGrpcTransport(channel=grpc.insecure_channel(self.address))
        return BigQueryWriteClient(transport=transport)  # type: ignore[no-untyped-call]

    def rows(self, stream: str) -> list[dict[str, Any]]:
        """Rows stored into ``stream`` so far."""
        with self._lock:
            return list(self._stored[stream])

    def fail_next(self, code: grpc.StatusCode, message: str = "", *, times: int = 1) -> None:
        """Answer the next ``times`` appends with ``code`` in ``error`` (no row errors)."""
        with self._lock:
            self._failures.extend([(code.value[0], message or code.name)] * times)

    def abort_next(self, code: grpc.StatusCode) -> None:
        """End the next call with ``code`` as its gRPC status, before any answer."""
        with self._lock:
            self._aborts.append(code)

    def _append_rows(
        self, requests: Iterator[types.AppendRowsRequest], context: grpc.ServicerContext
    ) -> Iterator[types.AppendRowsResponse]:
        with self._lock:
            self.metadata.append([(item.key, item.value) for item in context.invocation_metadata()])
            abort = self._aborts.popleft() if self._aborts else None
        if abort is not None:
            context.abort(abort, f"fake: {abort.name}")
        for request in requests:
            with self._lock:
                self.requests.append(request)
                failure = self._failures.popleft() if self._failures else None
            if failure is not None:
                code, message = failure
                yield types.AppendRowsResponse(error=status_pb2.Status(code=code, message=message))
                continue
            yield self._append(request)

    def _append(self, request: types.AppendRowsRequest) -> types.AppendRowsResponse:
        message_class = _message_class(request.proto_rows.writer_schema.proto_descriptor)
        rows = []
        for data in request.proto_rows.rows.serialized_rows:
            message = message_class()
            message.ParseFromString(data)
            rows.append(MessageToDict(message, preserving_proto_field_name=True))
        bad = [index for index, row in enumerate(rows) if _key(row).startswith(BAD_PREFIX)]
        if bad:
            return types.AppendRowsResponse(
                error=status_pb2.Status(code=3, message="Errors found while processing rows."),
                row_errors=[
                    types.RowError(
                        index=index,
                        code=types.RowError.RowErrorCode.FIELDS_ERROR,
                        message="Field cost_usd: NUMERIC value 'x' is out of range",
                    )
                    for index in bad
                ],
            )
        with self._lock:
            self._stored[request.write_stream].extend(rows)
        return types.AppendRowsResponse(
            append_result=types.AppendRowsResponse.AppendResult(), write_stream=request.write_stream
        )
