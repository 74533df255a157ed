"""A fake Cloud Storage: a small HTTP server speaking the two JSON-API calls the seal export makes.

This is a fake, not an emulator: no Cloud Storage stand-in runs here (nothing like the
BigQuery stand-in or the Pub/Sub emulator is installed), and the export needs only these
two endpoints, in the protocol the JSON API documents:

- ``POST /upload/storage/v1/b/{bucket}/o?uploadType=media&name={object}&ifGenerationMatch=0``:
  the body is the object. 200 with the object's JSON resource (``kind``, ``bucket``, ``name``,
  ``generation``, ``size``, ``contentType``); 412 ``conditionNotMet`` when a live object has
  that name (the precondition ``ifGenerationMatch=0``); 404 for an unknown bucket.
- ``GET /download/storage/v1/b/{bucket}/o/{object, URL-encoded}?alt=media``: the object's
  bytes, or 404.

The exporter reaches it through ``STORAGE_EMULATOR_HOST`` (:attr:`FakeStorage.url`).
Tests script failures with :meth:`FakeStorage.fail` (the next N requests of a kind answer a
status) and read back every request in :attr:`FakeStorage.requests`.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

UPLOAD_PREFIX = "/upload/storage/v1/b/"
DOWNLOAD_PREFIX = "/download/storage/v1/b/"


@dataclass(frozen=True)
class StorageRequest:
    """One request as the fake received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass
class _Failure:
    method: str
    status: int
    remaining: int


class FakeStorage:
    """Cloud Storage's upload and download endpoints on ``127.0.0.1:<free port>``, in memory."""

    def __init__(self, *buckets: str) -> None:
        self._lock = threading.Lock()
        self.objects: dict[tuple[str, str], bytes] = {}
        self.buckets = set(buckets)
        self.requests: list[StorageRequest] = []
        self._failures: list[_Failure] = []
        self._generation = 1_700_000_000_000_000
        self._server: ThreadingHTTPServer | None = None
        self.port = 0

    def __enter__(self) -> FakeStorage:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        server.daemon_threads = True
        self._server = server
        self.port = server.server_address[1]
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``: the value for ``STORAGE_EMULATOR_HOST``."""
        return f"http://127.0.0.1:{self.port}"

    def fail(self, method: str, status: int, times: int = 1) -> None:
        """Answer the next ``times`` requests with ``method`` (``POST``/``GET``) with ``status``."""
        with self._lock:
            self._failures.append(_Failure(method, status, times))

    def handle(self, method: str, target: str, body: bytes, headers: dict[str, str]) -> Any:
        """(status, bytes, content type) for one request."""
        parts = urlsplit(target)
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        with self._lock:
            self.requests.append(StorageRequest(method, parts.path, query, headers, body))
            for failure in self._failures:
                if failure.method == method and failure.remaining > 0:
                    failure.remaining -= 1
                    return _error(failure.status, "scripted failure")
            if method == "POST" and parts.path.startswith(UPLOAD_PREFIX):
                return self._upload(parts.path, query, body, headers)
            if method == "GET" and parts.path.startswith(DOWNLOAD_PREFIX):
                return self._download(parts.path, query)
        return _error(404, f"no such endpoint: {method} {parts.path}")

    def _upload(
        self, path: str, query: dict[str, str], body: bytes, headers: dict[str, str]
    ) -> Any:
        bucket, _, rest = path.removeprefix(UPLOAD_PREFIX).partition("/")
        bucket = unquote(bucket)
        if rest != "o" or query.get("uploadType") != "media" or "name" not in query:
            return _error(400, "expected /o?uploadType=media&name=...")
        if bucket not in self.buckets:
            return _error(404, "The specified bucket does not exist.")
        key = (bucket, query["name"])
        if query.get("ifGenerationMatch") == "0" and key in self.objects:
            return _error(412, "At least one of the pre-conditions you specified did not hold.")
        self.objects[key] = body
        self._generation += 1
        resource = {
            "kind": "storage#object",
            "bucket": bucket,
            "name": key[1],
            "generation": str(self._generation),
            "size": str(len(body)),
            "contentType": headers.get("content-type", "application/octet-stream"),
        }
        return 200, json.dumps(resource).encode(), "application/json"

    def _download(self, path: str, query: dict[str, str]) -> Any:
        bucket, _, rest = path.removeprefix(DOWNLOAD_PREFIX).partition("/o/")
        key = (unquote(bucket), unquote(rest))
        if query.get("alt") != "media":
            return _error(400, "expected alt=media")
        if key not in self.objects:
            return _error(404, "No such object.")
        return 200, self.objects[key], "application/octet-stream"


def _error(status: int, message: str) -> Any:
    reason = {412: "conditionNotMet", 404: "notFound", 403: "forbidden"}.get(status, "error")
    body = {"error": {"code": status, "message": message, "errors": [{"reason": reason}]}}
    return status, json.dumps(body).encode(), "application/json"


def _handler(fake: FakeStorage) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            headers = {key.lower(): value for key, value in self.headers.items()}
            status, payload, content_type = fake.handle(self.command, self.path, raw, headers)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _serve

        def log_message(self, _format: str, *args: Any) -> None:
            return

    return _Handler
