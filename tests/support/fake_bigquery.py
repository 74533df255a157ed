"""A fake BigQuery: a small HTTP server that speaks BigQuery's v2 REST protocol.

This is a fake, not an emulator. It exists because no local stand-in
reproduces BigQuery's error paths: per-row ``insertErrors`` (``invalid`` rows
and their ``stopped`` neighbours), whole requests refused with 400, 5xx and 429
answers, tables disappearing, and insertId deduplication. The real
``google-cloud-bigquery`` client talks to it over HTTP (see :meth:`FakeBigQuery.client`),
so what a test asserts is what the client really sent and how it really
reacted to the answer.

What it implements, in memory (one lock, one process):

- ``datasets.insert`` / ``datasets.get``
- ``tables.insert`` / ``tables.get`` / ``tables.patch`` / ``tables.delete``
- views: a ``tables.insert`` with ``view`` makes a VIEW, and, as BigQuery does, its schema
  is computed (here by the test's :attr:`FakeBigQuery.view_schema`, from the view's name)
  and refused as input (400). ``tables.patch`` may change a view's column descriptions
  only: other schema changes are refused; a changed query recomputes the schema, which
  drops the descriptions (BigQuery does the same). The BigQuery stand-in computes no
  schema for a view and keeps no column description, so what ``infra apply`` sends to
  describe view columns is tested here.
- ``tabledata.insertAll``: rows are checked against the table schema (unknown
  field, missing REQUIRED value, wrong type -> ``invalid``; with
  ``skipInvalidRows`` false the other rows are ``stopped`` and nothing is
  stored, as BigQuery does), stored as the JSON the client sent, and
  deduplicated by ``insertId`` (forever here; best effort for about a minute in
  BigQuery). Requests over 10 MB or 50,000 rows are refused with 400.
- ``tabledata.list``: rows as ``{"f": [{"v": ...}]}`` in schema order, with
  ``totalRows`` and ``pageToken`` paging, TIMESTAMP as int64 microseconds when
  ``formatOptions.useInt64Timestamp`` is set.

:class:`StreamingBufferProxy` is the other fake here: it stands in front of a real
server (the BigQuery stand-in) and refuses mutating DML (``UPDATE``, ``DELETE``,
``MERGE``) on chosen tables the way BigQuery does while rows are in the streaming
buffer: the job is created, ends DONE with ``errorResult`` reason ``invalidQuery`` and
the message "UPDATE or DELETE statement over table ... would affect rows in the streaming
buffer, which is not supported", and ``getQueryResults`` for it answers 400 with that
message. Everything else is forwarded unchanged. The stand-in has no streaming buffer.

Tests script failures with :meth:`FakeBigQuery.fail`, :meth:`FakeBigQuery.refuse_rows`,
:meth:`FakeBigQuery.refuse_requests` and :meth:`FakeBigQuery.on` (any answer),
and read back every request in :attr:`FakeBigQuery.requests`.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qs, unquote, urlsplit

if TYPE_CHECKING:
    from google.cloud import bigquery

API_PREFIX: Final = "/bigquery/v2"
MAX_REQUEST_BYTES: Final = 10 * 1024 * 1024
"""BigQuery's HTTP request size limit for ``tabledata.insertAll`` (10 MB)."""
MAX_ROWS_PER_REQUEST: Final = 50_000
"""BigQuery's hard limit of rows per ``tabledata.insertAll`` request."""

_STATUS_NAMES: Final = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_DEFAULT_REASONS: Final = {
    400: "invalid",
    403: "accessDenied",
    404: "notFound",
    409: "duplicate",
    413: "invalid",
    429: "rateLimitExceeded",
    500: "internalError",
    502: "badGateway",
    503: "backendError",
    504: "timeout",
}

_ROUTES: Final = (
    ("POST", re.compile(r"^/projects/([^/]+)/datasets$"), "datasets.insert"),
    ("GET", re.compile(r"^/projects/([^/]+)/datasets/([^/]+)$"), "datasets.get"),
    ("POST", re.compile(r"^/projects/([^/]+)/datasets/([^/]+)/tables$"), "tables.insert"),
    ("GET", re.compile(r"^/projects/([^/]+)/datasets/([^/]+)/tables$"), "tables.list"),
    ("GET", re.compile(r"^/projects/([^/]+)/datasets/([^/]+)/tables/([^/]+)$"), "tables.get"),
    ("PATCH", re.compile(r"^/projects/([^/]+)/datasets/([^/]+)/tables/([^/]+)$"), "tables.patch"),
    (
        "DELETE",
        re.compile(r"^/projects/([^/]+)/datasets/([^/]+)/tables/([^/]+)$"),
        "tables.delete",
    ),
    (
        "POST",
        re.compile(r"^/projects/([^/]+)/datasets/([^/]+)/tables/([^/]+)/insertAll$"),
        "tabledata.insertAll",
    ),
    (
        "GET",
        re.compile(r"^/projects/([^/]+)/datasets/([^/]+)/tables/([^/]+)/data$"),
        "tabledata.list",
    ),
)


# ---------------------------------------------------------------- requests and answers


@dataclass(frozen=True)
class Request:
    """One HTTP request as the fake received it (and, once answered, the status it got)."""

    method: str
    path: str
    """The path after ``/bigquery/v2``, e.g. ``/projects/p/datasets/d/tables/t/insertAll``."""
    operation: str
    """``tabledata.insertAll``, ``tables.get``, ... or ``unknown``."""
    query: Mapping[str, str]
    body: Any
    """The JSON body, parsed (None without a body)."""
    byte_size: int
    """Length of the raw body in bytes, as it came over the wire."""
    project: str | None = None
    dataset: str | None = None
    table: str | None = None
    status: int = 0
    """The HTTP status the fake answered (0 until answered)."""

    @property
    def rows(self) -> list[dict[str, Any]]:
        """The ``json`` of each row of an insertAll request (empty for other requests)."""
        if not isinstance(self.body, dict):
            return []
        return [entry.get("json", {}) for entry in self.body.get("rows", [])]

    @property
    def insert_ids(self) -> list[str | None]:
        """The ``insertId`` of each row of an insertAll request."""
        if not isinstance(self.body, dict):
            return []
        return [entry.get("insertId") for entry in self.body.get("rows", [])]

    @property
    def row_count(self) -> int:
        """How many rows an insertAll request carries."""
        return len(self.rows)


@dataclass(frozen=True)
class Reply:
    """An HTTP answer: status and JSON body."""

    status: int
    body: Mapping[str, Any]

    @classmethod
    def error(cls, status: int, message: str = "", *, reason: str | None = None) -> Reply:
        """An error in Google's JSON format: ``{"error": {code, message, errors, status}}``."""
        reason = reason or _DEFAULT_REASONS.get(status, "invalid")
        message = message or f"{HTTPStatus(status).phrase} (fake BigQuery)"
        return cls(
            status,
            {
                "error": {
                    "code": status,
                    "message": message,
                    "errors": [{"message": message, "domain": "global", "reason": reason}],
                    "status": _STATUS_NAMES.get(status, "UNKNOWN"),
                }
            },
        )

    @classmethod
    def insert_errors(cls, errors: Mapping[int, Sequence[RowError]]) -> Reply:
        """A 200 insertAll answer listing per-row errors (``insertErrors: [{index, errors}]``)."""
        entries = [
            {"index": index, "errors": [error.to_json() for error in row_errors]}
            for index, row_errors in sorted(errors.items())
        ]
        body: dict[str, Any] = {"kind": "bigquery#tableDataInsertAllResponse"}
        if entries:
            body["insertErrors"] = entries
        return cls(200, body)


@dataclass(frozen=True)
class RowError:
    """One ``ErrorProto`` of an insertAll row error."""

    reason: str
    location: str = ""
    message: str = ""
    debug_info: str = ""

    def to_json(self) -> dict[str, str]:
        """The error as BigQuery writes it."""
        return {
            "reason": self.reason,
            "location": self.location,
            "debugInfo": self.debug_info,
            "message": self.message,
        }


STOPPED: Final = RowError("stopped")
"""What BigQuery answers for a valid row not inserted because a neighbour was invalid."""

Handler = Callable[[Request], "Reply | None"]
RowPredicate = Callable[[Mapping[str, Any]], bool]
RequestPredicate = Callable[[Request], bool]


@dataclass
class _Rule:
    operation: str
    handler: Handler
    times: int | None
    """Answers left; None for every matching request."""


@dataclass
class _RowRule:
    predicate: RowPredicate
    error: RowError


@dataclass
class FakeTable:
    """A table's resource (as created), its stored rows and the insertIds seen."""

    resource: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)
    insert_ids: set[str] = field(default_factory=set)
    duplicates_dropped: int = 0

    @property
    def schema(self) -> list[dict[str, Any]]:
        """The schema fields of the resource."""
        fields: list[dict[str, Any]] = self.resource.get("schema", {}).get("fields", [])
        return fields


# ---------------------------------------------------------------------------- the server


class FakeBigQuery:
    """BigQuery's REST API on ``127.0.0.1:<free port>``, in memory, scriptable from tests."""

    def __init__(
        self,
        project: str = "il-audit-test",
        *,
        max_request_bytes: int = MAX_REQUEST_BYTES,
        max_rows_per_request: int = MAX_ROWS_PER_REQUEST,
        list_page_size: int = 1000,
    ) -> None:
        self.project = project
        self.max_request_bytes = max_request_bytes
        self.max_rows_per_request = max_rows_per_request
        self.list_page_size = list_page_size
        self._lock = threading.RLock()
        self._datasets: dict[tuple[str, str], dict[str, Any]] = {}
        self._tables: dict[tuple[str, str, str], FakeTable] = {}
        self._requests: list[Request] = []
        self._rules: list[_Rule] = []
        self._row_rules: list[_RowRule] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self.view_schema: Callable[[str], list[dict[str, Any]]] = lambda _name: []
        """The schema BigQuery would compute for the view ``name`` (API field dicts)."""

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeBigQuery:
        """Listen on a free 127.0.0.1 port and serve in a background thread."""
        server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        server.daemon_threads = True
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the port: later connections are refused."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeBigQuery:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``: the ``api_endpoint`` for the client."""
        return f"http://127.0.0.1:{self.port}"

    def client(self) -> bigquery.Client:
        """A real ``google.cloud.bigquery.Client`` pointed at this server, anonymously."""
        from google.api_core.client_options import ClientOptions
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import bigquery

        return bigquery.Client(
            project=self.project,
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options=ClientOptions(api_endpoint=self.url),
        )

    # ----------------------------------------------------------------------- state

    def dataset(self, dataset: str) -> dict[str, Any] | None:
        """The dataset resource as created, or None."""
        with self._lock:
            return self._datasets.get((self.project, dataset))

    def table(self, dataset: str, table: str) -> FakeTable | None:
        """The table (resource, rows, insertIds), or None."""
        with self._lock:
            return self._tables.get((self.project, dataset, table))

    def rows(self, dataset: str, table: str) -> list[dict[str, Any]]:
        """The rows stored in a table, as the JSON the client sent (empty if no such table)."""
        with self._lock:
            found = self._tables.get((self.project, dataset, table))
            return [dict(row) for row in found.rows] if found else []

    def add_rows(self, dataset: str, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """Store rows directly (no request recorded), e.g. to fill cost_rates for a test."""
        with self._lock:
            self._tables[(self.project, dataset, table)].rows.extend(dict(row) for row in rows)

    def clear_rows(self, dataset: str, table: str) -> None:
        """Empty a table (its insertIds are forgotten too)."""
        with self._lock:
            found = self._tables[(self.project, dataset, table)]
            found.rows.clear()
            found.insert_ids.clear()

    def delete_table(self, dataset: str, table: str) -> None:
        """Drop a table behind the client's back."""
        with self._lock:
            del self._tables[(self.project, dataset, table)]

    # ------------------------------------------------------------------- recording

    @property
    def requests(self) -> list[Request]:
        """Every request received so far, in order, with the status it was answered."""
        with self._lock:
            return list(self._requests)

    def requests_of(self, operation: str) -> list[Request]:
        """The requests of one operation, e.g. ``tabledata.insertAll``."""
        return [request for request in self.requests if request.operation == operation]

    def reset_requests(self) -> None:
        """Forget the requests recorded so far."""
        with self._lock:
            self._requests.clear()

    def reset_scripts(self) -> None:
        """Drop every scripted answer and row rule: the fake behaves normally again."""
        with self._lock:
            self._rules.clear()
            self._row_rules.clear()

    # ------------------------------------------------------------------- scripting

    def on(self, operation: str, handler: Handler, *, times: int | None = None) -> None:
        """Let ``handler`` answer requests of ``operation`` (``*`` for any).

        The handler returns a :class:`Reply`, or None to let the request through
        (the call still counts against ``times`` only when it answered). Rules
        are tried in the order they were added.
        """
        with self._lock:
            self._rules.append(_Rule(operation, handler, times))

    def fail(
        self,
        operation: str,
        status: int,
        message: str = "",
        *,
        reason: str | None = None,
        times: int | None = 1,
    ) -> None:
        """Answer the next ``times`` requests of ``operation`` with an HTTP error (None: all)."""
        reply = Reply.error(status, message, reason=reason)
        self.on(operation, lambda _request: reply, times=times)

    def refuse_rows(
        self,
        predicate: RowPredicate,
        *,
        reason: str = "invalid",
        location: str = "",
        message: str = "refused by the test",
    ) -> None:
        """Give every inserted row matching ``predicate`` a row error (``invalid`` by default).

        As in BigQuery, an ``invalid`` row makes the request insert nothing
        unless ``skipInvalidRows`` is set: its valid neighbours are answered
        ``stopped``.
        """
        with self._lock:
            self._row_rules.append(_RowRule(predicate, RowError(reason, location, message)))

    def refuse_requests(
        self,
        predicate: RequestPredicate,
        status: int = 400,
        message: str = "refused by the test",
        *,
        reason: str | None = None,
    ) -> None:
        """Refuse as a whole every insertAll request for which ``predicate`` is true."""

        def handler(request: Request) -> Reply | None:
            return Reply.error(status, message, reason=reason) if predicate(request) else None

        self.on("tabledata.insertAll", handler)

    # ------------------------------------------------------------- request handling

    def handle(self, method: str, raw_path: str, raw_body: bytes) -> Reply:
        """Route one request, record it, and answer it."""
        parts = urlsplit(raw_path)
        path = unquote(parts.path)
        if path.startswith(API_PREFIX):
            path = path[len(API_PREFIX) :]
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        body: Any = None
        if raw_body:
            try:
                body = json.loads(raw_body)
            except ValueError:
                body = None
        operation = "unknown"
        ids: tuple[str, ...] = ()
        for route_method, pattern, name in _ROUTES:
            match = pattern.match(path)
            if match and method == route_method:
                operation, ids = name, match.groups()
                break
        request = Request(
            method=method,
            path=path,
            operation=operation,
            query=query,
            body=body,
            byte_size=len(raw_body),
            project=ids[0] if len(ids) > 0 else None,
            dataset=ids[1] if len(ids) > 1 else None,
            table=ids[2] if len(ids) > 2 else None,
        )
        with self._lock:
            reply = self._scripted(request) or self._default(request)
            self._requests.append(_answered(request, reply.status))
        return reply

    def _scripted(self, request: Request) -> Reply | None:
        for rule in list(self._rules):
            if rule.operation not in (request.operation, "*"):
                continue
            reply = rule.handler(request)
            if reply is None:
                continue
            if rule.times is not None:
                rule.times -= 1
                if rule.times <= 0:
                    self._rules.remove(rule)
            return reply
        return None

    def _default(self, request: Request) -> Reply:
        handlers: dict[str, Callable[[Request], Reply]] = {
            "datasets.insert": self._datasets_insert,
            "datasets.get": self._datasets_get,
            "tables.insert": self._tables_insert,
            "tables.get": self._tables_get,
            "tables.list": self._tables_list,
            "tables.patch": self._tables_patch,
            "tables.delete": self._tables_delete,
            "tabledata.insertAll": self._insert_all,
            "tabledata.list": self._list,
        }
        handler = handlers.get(request.operation)
        if handler is None:
            return Reply.error(
                404,
                f"the fake does not implement {request.method} {request.path}",
                reason="notFound",
            )
        return handler(request)

    def _datasets_insert(self, request: Request) -> Reply:
        body = request.body if isinstance(request.body, dict) else {}
        reference = body.get("datasetReference", {})
        project = reference.get("projectId", request.project)
        dataset_id = reference.get("datasetId")
        if not dataset_id:
            return Reply.error(400, "Dataset reference is missing datasetId")
        if (project, dataset_id) in self._datasets:
            return Reply.error(409, f"Already Exists: Dataset {project}:{dataset_id}")
        resource = {
            **body,
            "kind": "bigquery#dataset",
            "id": f"{project}:{dataset_id}",
            "etag": f"etag-{dataset_id}",
            "datasetReference": {"projectId": project, "datasetId": dataset_id},
            "location": body.get("location") or "US",
            "creationTime": _now_millis(),
            "lastModifiedTime": _now_millis(),
        }
        self._datasets[(project, dataset_id)] = resource
        return Reply(200, resource)

    def _datasets_get(self, request: Request) -> Reply:
        resource = self._datasets.get((str(request.project), str(request.dataset)))
        if resource is None:
            return Reply.error(404, f"Not found: Dataset {request.project}:{request.dataset}")
        return Reply(200, resource)

    def _tables_insert(self, request: Request) -> Reply:
        body = request.body if isinstance(request.body, dict) else {}
        reference = body.get("tableReference", {})
        project = reference.get("projectId", request.project)
        dataset_id = reference.get("datasetId", request.dataset)
        table_id = reference.get("tableId")
        if not table_id:
            return Reply.error(400, "Table reference is missing tableId")
        dataset = self._datasets.get((project, dataset_id))
        if dataset is None:
            return Reply.error(404, f"Not found: Dataset {project}:{dataset_id}")
        key = (project, dataset_id, table_id)
        if key in self._tables:
            return Reply.error(409, f"Already Exists: Table {project}:{dataset_id}.{table_id}")
        problem = _schema_problem(body.get("schema", {}).get("fields", []))
        if problem:
            return Reply.error(400, problem)
        is_view = "view" in body
        if is_view and body.get("schema"):
            return Reply.error(400, "Schema field shouldn't be used as input with a view")
        resource = {
            **body,
            "kind": "bigquery#table",
            "id": f"{project}:{dataset_id}.{table_id}",
            "etag": f"etag-{table_id}",
            "tableReference": {"projectId": project, "datasetId": dataset_id, "tableId": table_id},
            "type": "VIEW" if is_view else "TABLE",
            "location": dataset["location"],
            "creationTime": _now_millis(),
            "lastModifiedTime": _now_millis(),
        }
        if is_view:
            resource["schema"] = {"fields": self.view_schema(table_id)}
        self._tables[key] = FakeTable(resource)
        return Reply(200, self._table_resource(self._tables[key]))

    def _tables_patch(self, request: Request) -> Reply:
        table = self._find_table(request)
        if isinstance(table, Reply):
            return table
        body = dict(request.body) if isinstance(request.body, dict) else {}
        resource = table.resource
        if resource.get("type") == "VIEW":
            query_changed = "view" in body and body["view"] != resource.get("view")
            if query_changed:
                resource["schema"] = {"fields": self.view_schema(str(request.table))}
            if "schema" in body and _without_descriptions(body["schema"]) != _without_descriptions(
                resource.get("schema", {})
            ):
                return Reply.error(400, "A view's schema can only change its column descriptions")
        resource.update(body)
        resource["lastModifiedTime"] = _now_millis()
        return Reply(200, self._table_resource(table))

    def _table_resource(self, table: FakeTable) -> dict[str, Any]:
        return {
            **table.resource,
            "numRows": str(len(table.rows)),
            "numBytes": str(sum(len(json.dumps(row)) for row in table.rows)),
        }

    def _find_table(self, request: Request) -> FakeTable | Reply:
        key = (str(request.project), str(request.dataset), str(request.table))
        table = self._tables.get(key)
        if table is not None:
            return table
        if (key[0], key[1]) not in self._datasets:
            return Reply.error(404, f"Not found: Dataset {key[0]}:{key[1]}")
        return Reply.error(404, f"Not found: Table {key[0]}:{key[1]}.{key[2]}")

    def _tables_get(self, request: Request) -> Reply:
        table = self._find_table(request)
        if isinstance(table, Reply):
            return table
        return Reply(200, self._table_resource(table))

    def _tables_list(self, request: Request) -> Reply:
        key = (str(request.project), str(request.dataset))
        if key not in self._datasets:
            return Reply.error(404, f"Not found: Dataset {key[0]}:{key[1]}")
        tables = [
            {
                "kind": "bigquery#table",
                "id": table.resource["id"],
                "tableReference": table.resource["tableReference"],
                "type": table.resource["type"],
            }
            for (project, dataset, _), table in sorted(self._tables.items())
            if (project, dataset) == key
        ]
        return Reply(
            200, {"kind": "bigquery#tableList", "tables": tables, "totalItems": len(tables)}
        )

    def _tables_delete(self, request: Request) -> Reply:
        table = self._find_table(request)
        if isinstance(table, Reply):
            return table
        del self._tables[(str(request.project), str(request.dataset), str(request.table))]
        return Reply(204, {})

    def _insert_all(self, request: Request) -> Reply:
        table = self._find_table(request)
        if isinstance(table, Reply):
            return table
        if not isinstance(request.body, dict) or not isinstance(request.body.get("rows"), list):
            return Reply.error(400, "No rows present in the request.")
        if request.byte_size > self.max_request_bytes:
            return Reply.error(
                400, f"Request payload size exceeds the limit: {self.max_request_bytes} bytes."
            )
        if request.row_count > self.max_rows_per_request:
            return Reply.error(
                400, f"too many rows present in the request, limit: {self.max_rows_per_request}"
            )
        skip_invalid = bool(request.body.get("skipInvalidRows"))
        ignore_unknown = bool(request.body.get("ignoreUnknownValues"))
        errors: dict[int, list[RowError]] = {}
        for index, row in enumerate(request.rows):
            row_errors = [rule.error for rule in self._row_rules if rule.predicate(row)]
            row_errors += [
                RowError("invalid", location, message)
                for location, message in _row_problems(row, table.schema, ignore_unknown)
            ]
            if row_errors:
                errors[index] = row_errors
        if errors and not skip_invalid:
            for index in range(request.row_count):
                errors.setdefault(index, [STOPPED])
            return Reply.insert_errors(errors)
        for index, (row, insert_id) in enumerate(
            zip(request.rows, request.insert_ids, strict=True)
        ):
            if index in errors:
                continue
            if insert_id is not None:
                if insert_id in table.insert_ids:
                    table.duplicates_dropped += 1
                    continue
                table.insert_ids.add(insert_id)
            table.rows.append(dict(row))
        return Reply.insert_errors(errors)

    def _list(self, request: Request) -> Reply:
        table = self._find_table(request)
        if isinstance(table, Reply):
            return table
        start = int(request.query.get("pageToken") or request.query.get("startIndex") or 0)
        size = int(request.query.get("maxResults") or self.list_page_size)
        timestamps = _timestamp_format(request.query)
        page = table.rows[start : start + size]
        body: dict[str, Any] = {
            "kind": "bigquery#tableDataList",
            "etag": f"etag-{len(table.rows)}",
            "totalRows": str(len(table.rows)),
        }
        if page:
            body["rows"] = [_encode_row(row, table.schema, timestamps) for row in page]
        if start + size < len(table.rows):
            body["pageToken"] = str(start + size)
        return Reply(200, body)


def _answered(request: Request, status: int) -> Request:
    return Request(
        method=request.method,
        path=request.path,
        operation=request.operation,
        query=request.query,
        body=request.body,
        byte_size=request.byte_size,
        project=request.project,
        dataset=request.dataset,
        table=request.table,
        status=status,
    )


def _make_handler(fake: FakeBigQuery) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        # HTTP/1.0: one request per connection, so stopping the server leaves no
        # kept-alive connection behind and the next request is refused.
        protocol_version = "HTTP/1.0"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            reply = fake.handle(self.command, self.path, raw)
            payload = json.dumps(reply.body).encode() if reply.status != 204 else b""
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        def log_message(self, _format: str, *args: Any) -> None:
            return

    return _Handler


def _without_descriptions(schema: Any) -> list[dict[str, Any]]:
    fields = schema.get("fields", []) if isinstance(schema, dict) else []
    return [
        {key: value for key, value in field.items() if key != "description"} for field in fields
    ]


def _now_millis() -> str:
    return str(int(datetime.now(UTC).timestamp() * 1000))


# ------------------------------------------------------------------------- schema checks

_TYPES: Final = {
    "STRING",
    "BYTES",
    "INTEGER",
    "INT64",
    "FLOAT",
    "FLOAT64",
    "NUMERIC",
    "BIGNUMERIC",
    "BOOLEAN",
    "BOOL",
    "TIMESTAMP",
    "DATE",
    "TIME",
    "DATETIME",
    "JSON",
    "RECORD",
    "STRUCT",
    "GEOGRAPHY",
}


def _schema_problem(fields: Sequence[Mapping[str, Any]]) -> str | None:
    for schema_field in fields:
        name, kind = schema_field.get("name"), str(schema_field.get("type", "")).upper()
        if not name or kind not in _TYPES:
            return f"Invalid field {name!r} of type {kind!r}"
        if kind in {"RECORD", "STRUCT"}:
            nested = _schema_problem(schema_field.get("fields", []))
            if nested:
                return nested
    return None


def _row_problems(
    row: Any,
    fields: Sequence[Mapping[str, Any]],
    ignore_unknown: bool,
    prefix: str = "",
) -> Iterator[tuple[str, str]]:
    """(location, message) for each way ``row`` does not fit ``fields``."""
    if not isinstance(row, Mapping):
        yield prefix.rstrip("."), "This field is not a record."
        return
    by_name = {str(schema_field["name"]).lower(): schema_field for schema_field in fields}
    for key in row:
        if key.lower() not in by_name and not ignore_unknown:
            yield f"{prefix}{key}", f"no such field: {prefix}{key}."
    for schema_field in fields:
        name = str(schema_field["name"])
        location = f"{prefix}{name}"
        value = next((v for k, v in row.items() if k.lower() == name.lower()), None)
        mode = str(schema_field.get("mode") or "NULLABLE").upper()
        if value is None:
            if mode == "REQUIRED":
                yield location, f"Missing required field: {location}."
            continue
        if mode == "REPEATED":
            if not isinstance(value, list):
                yield location, f"Array specified for non-repeated field: {location}."
                continue
            for item in value:
                yield from _value_problems(item, schema_field, location, ignore_unknown)
        else:
            if isinstance(value, list):
                yield location, f"Array specified for non-repeated field: {location}."
                continue
            yield from _value_problems(value, schema_field, location, ignore_unknown)


def _value_problems(
    value: Any, schema_field: Mapping[str, Any], location: str, ignore_unknown: bool
) -> Iterator[tuple[str, str]]:
    kind = str(schema_field["type"]).upper()
    if kind in {"RECORD", "STRUCT"}:
        yield from _row_problems(
            value, schema_field.get("fields", []), ignore_unknown, f"{location}."
        )
        return
    if _parse_scalar(value, kind) is _INVALID:
        yield location, f"Cannot convert value to {kind.lower()}: {str(value)[:64]!r}"


_INVALID: Final = object()


def _parse_scalar(value: Any, kind: str) -> Any:  # noqa: PLR0912
    """The Python value of a JSON cell for a column type, or ``_INVALID``."""
    try:
        if kind in {"INTEGER", "INT64"}:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                return _INVALID
            return int(value) if isinstance(value, int | float) else int(str(value).strip())
        if kind in {"FLOAT", "FLOAT64"}:
            if isinstance(value, bool):
                return _INVALID
            return float(value)
        if kind in {"NUMERIC", "BIGNUMERIC"}:
            if isinstance(value, bool):
                return _INVALID
            number = Decimal(str(value))
            if not number.is_finite():
                return _INVALID
            exponent = number.as_tuple().exponent
            if kind == "NUMERIC" and isinstance(exponent, int) and exponent < -9:
                return _INVALID
            return number
        if kind in {"BOOLEAN", "BOOL"}:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            return {"true": True, "false": False}.get(text, _INVALID)
        if kind == "TIMESTAMP":
            if isinstance(value, bool):
                return _INVALID
            if isinstance(value, int | float):
                return datetime.fromtimestamp(value, UTC)
            parsed = datetime.fromisoformat(str(value).strip().replace(" ", "T"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        if kind == "DATE":
            return date.fromisoformat(str(value)) if isinstance(value, str) else _INVALID
        if kind == "JSON":
            # The legacy streaming API takes JSON columns as JSON text.
            return json.loads(value) if isinstance(value, str) else _INVALID
        if kind == "BYTES":
            return base64.b64decode(str(value), validate=True)
        if kind == "STRING":
            return value if isinstance(value, str | int | float) else _INVALID
    except (ValueError, TypeError, InvalidOperation, OverflowError):
        return _INVALID
    return value


# ------------------------------------------------------------------------ tabledata.list


def _timestamp_format(query: Mapping[str, str]) -> str:
    if query.get("formatOptions.timestampOutputFormat") == "ISO8601_STRING":
        return "iso"
    if str(query.get("formatOptions.useInt64Timestamp", "")).lower() == "true":
        return "int64"
    return "float"


def _encode_row(
    row: Mapping[str, Any], fields: Sequence[Mapping[str, Any]], timestamps: str
) -> dict[str, Any]:
    return {"f": [_encode_cell(row.get(str(f["name"])), f, timestamps) for f in fields]}


def _encode_cell(value: Any, schema_field: Mapping[str, Any], timestamps: str) -> dict[str, Any]:
    mode = str(schema_field.get("mode") or "NULLABLE").upper()
    if mode == "REPEATED":
        items = value or []
        return {
            "v": [
                _encode_cell(item, {**schema_field, "mode": "NULLABLE"}, timestamps)
                for item in items
            ]
        }
    if value is None:
        return {"v": None}
    kind = str(schema_field["type"]).upper()
    if kind in {"RECORD", "STRUCT"}:
        return {"v": _encode_row(value, schema_field.get("fields", []), timestamps)}
    parsed = _parse_scalar(value, kind)
    if kind == "TIMESTAMP" and isinstance(parsed, datetime):
        micros = (parsed - datetime(1970, 1, 1, tzinfo=UTC)) // _MICROSECOND
        if timestamps == "int64":
            return {"v": str(micros)}
        if timestamps == "iso":
            return {"v": parsed.astimezone(UTC).isoformat().replace("+00:00", "Z")}
        return {"v": f"{micros / 1e6:.6E}"}
    if kind in {"BOOLEAN", "BOOL"} and isinstance(parsed, bool):
        return {"v": "true" if parsed else "false"}
    if kind == "JSON":
        return {"v": value if isinstance(value, str) else json.dumps(value)}
    if kind in {"NUMERIC", "BIGNUMERIC"} and isinstance(parsed, Decimal):
        return {"v": format(parsed, "f")}
    return {"v": str(value)}


_MICROSECOND: Final = datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC) - datetime(
    1970, 1, 1, tzinfo=UTC
)


# ------------------------------------------------------------ the streaming buffer (DML)

_DML: Final = re.compile(r"^\s*(UPDATE|DELETE|MERGE)\b", re.IGNORECASE)
_HOP_HEADERS: Final = {"transfer-encoding", "connection", "content-length", "keep-alive"}


class StreamingBufferProxy:
    """BigQuery's REST API forwarded to ``upstream``, refusing DML on rows "in the streaming
    buffer" of :attr:`tables` (see the module docstring). Clear :attr:`tables` to let the
    buffer "flush"; :attr:`refused` counts the statements refused."""

    def __init__(self, upstream: str, *, tables: set[str]) -> None:
        self.upstream = urlsplit(upstream)
        self.tables = set(tables)
        self.refused = 0
        self._failed: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def __enter__(self) -> StreamingBufferProxy:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _proxy_handler(self))
        server.daemon_threads = True
        self._server = server
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``: the ``api_endpoint`` for the client."""
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def refusal(self, method: str, path: str, raw: bytes) -> Reply | None:
        """The answer BigQuery gives for a DML job on a buffered table, or None to forward."""
        route = path.removeprefix(API_PREFIX).split("?", 1)[0]
        with self._lock:
            for job_id, job in self._failed.items():
                if method == "GET" and route.endswith(f"/jobs/{job_id}"):
                    return Reply(200, job)
                if method == "GET" and route.endswith(f"/queries/{job_id}"):
                    message = job["status"]["errorResult"]["message"]
                    return Reply.error(400, message, reason="invalidQuery")
        if method != "POST" or not re.fullmatch(r"/projects/[^/]+/jobs", route):
            return None
        body = json.loads(raw or b"{}")
        sql = body.get("configuration", {}).get("query", {}).get("query", "")
        table = next((t for t in sorted(self.tables) if f".{t}`" in sql), None)
        if not _DML.match(sql) or table is None:
            return None
        reference = dict(body.get("jobReference") or {})
        reference.setdefault("jobId", f"job_{len(self._failed)}")
        message = (
            f"UPDATE or DELETE statement over table {table} would affect rows in the "
            "streaming buffer, which is not supported"
        )
        error = {"reason": "invalidQuery", "location": "query", "message": message}
        job = {
            "kind": "bigquery#job",
            "id": f"{reference.get('projectId')}:{reference['jobId']}",
            "jobReference": reference,
            "configuration": body.get("configuration", {}),
            "status": {"state": "DONE", "errorResult": error, "errors": [error]},
            "statistics": {"creationTime": _now_millis(), "endTime": _now_millis()},
        }
        with self._lock:
            self._failed[reference["jobId"]] = job
            self.refused += 1
        return Reply(200, job)

    def forward(
        self, method: str, path: str, raw: bytes, headers: Mapping[str, str]
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """The upstream's answer to the same request."""
        import http.client

        connection = http.client.HTTPConnection(self.upstream.netloc, timeout=60)
        try:
            connection.request(method, path, body=raw or None, headers=dict(headers))
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()


def _proxy_handler(proxy: StreamingBufferProxy) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            reply = proxy.refusal(self.command, self.path, raw)
            if reply is not None:
                payload = json.dumps(reply.body).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS}
            status, answer_headers, body = proxy.forward(self.command, self.path, raw, headers)
            self.send_response(status)
            for name, value in answer_headers:
                if name.lower() not in _HOP_HEADERS:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        def log_message(self, _format: str, *args: Any) -> None:
            return

    return _Handler
