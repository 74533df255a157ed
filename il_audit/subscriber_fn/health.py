"""A small HTTP health endpoint for long-running workers: ``/livez`` and ``/readyz``.

One daemon thread serves every connection through ``selectors``: no thread per
connection, so no client can make the worker start threads. A connection is
read until the end of its request head, answered once and closed. Bounds:

* at most ``max_connections`` open at once; a new one past that closes the
  oldest (a probe connects, asks at once and is answered within the same
  turn of the loop, so idle connections cannot crowd it out);
* ``request_timeout`` seconds from accept to answer: an idle or trickling
  client (slowloris) is closed then, whatever it sends;
* ``MAX_REQUEST_BYTES`` of request head: more is answered 431.

Each probe is a callable returning whether the worker is live (ready); the
answer to ``GET`` is 200 or 503 with a JSON body of the worker's counters
(never payloads), any other path 404, any other method 405. Probes run on
the serving thread and must be cheap (the worker's read counters and flags).
Requests are not logged: a probe every few seconds would drown the worker's
own lines.
"""

from __future__ import annotations

import contextlib
import json
import logging
import selectors
import socket
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

logger = logging.getLogger(__name__)

Probe = Callable[[], bool]

REQUEST_TIMEOUT_SECONDS: Final = 5.0
"""From accept to answer; probes answer in milliseconds (kubelet's default timeout is 1 s)."""
MAX_CONNECTIONS: Final = 64
"""Open connections; a new one past this closes the oldest."""
MAX_REQUEST_BYTES: Final = 8192
"""Request line and headers; a probe sends about 100 bytes."""
_REASONS: Final = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    431: "Request Header Fields Too Large",
    503: "Service Unavailable",
}


def default_host(environ: Mapping[str, str]) -> str:
    """``0.0.0.0`` on Cloud Run (``K_SERVICE`` set: its probes come from outside), else loopback."""
    return "0.0.0.0" if environ.get("K_SERVICE") else "127.0.0.1"  # noqa: S104


class _Connection:
    """One accepted socket: what it sent so far, what is left to send, when it must end."""

    __slots__ = ("deadline", "inbox", "outbox", "sock")

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock = sock
        self.deadline = deadline
        self.inbox = b""
        self.outbox = b""


class HealthServer:
    """Serves ``/livez`` and ``/readyz`` from ``probes`` until :meth:`stop`."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        live: Probe,
        ready: Probe,
        status: Callable[[], Mapping[str, Any]] = dict,
        request_timeout: float = REQUEST_TIMEOUT_SECONDS,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self._probes = {"/livez": live, "/readyz": ready}
        self._status = status
        self._timeout = request_timeout
        self._max_connections = max(1, max_connections)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._listener = socket.create_server((host, port), family=family, backlog=512)
        self._listener.setblocking(False)
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._wake_reader.setblocking(False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ, "accept")
        self._selector.register(self._wake_reader, selectors.EVENT_READ, "wake")
        self._connections: dict[socket.socket, _Connection] = {}  # oldest first
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="il-audit-health", daemon=True)

    @property
    def host(self) -> str:
        """The address bound."""
        return str(self._listener.getsockname()[0])

    @property
    def port(self) -> int:
        """The port bound (the free one picked when 0 was asked for)."""
        return int(self._listener.getsockname()[1])

    @property
    def open_connections(self) -> int:
        """Connections accepted and not yet closed."""
        return len(self._connections)

    def start(self) -> HealthServer:
        """Start serving on the background thread; returns self."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close every connection and the socket."""
        self._stopping.set()
        if self._thread.is_alive():
            with contextlib.suppress(OSError):
                self._wake_writer.send(b"x")
            self._thread.join(5)
        for connection in list(self._connections.values()):
            self._close(connection)
        self._selector.close()
        for sock in (self._listener, self._wake_reader, self._wake_writer):
            sock.close()

    # ------------------------------------------------------------------ the loop

    def _serve(self) -> None:
        while not self._stopping.is_set():
            oldest = next(iter(self._connections.values()), None)
            wait = None if oldest is None else max(0.0, oldest.deadline - time.monotonic())
            for key, events in self._selector.select(wait):
                if key.data == "accept":
                    self._accept()
                elif key.data == "wake":
                    with contextlib.suppress(OSError):
                        self._wake_reader.recv(64)
                elif events & selectors.EVENT_WRITE:
                    self._send(key.data)
                else:
                    self._receive(key.data)
            self._expire()

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # e.g. out of file descriptors: drop this turn, keep serving
                logger.warning("il-audit: health endpoint could not accept", exc_info=True)
                return
            sock.setblocking(False)
            if len(self._connections) >= self._max_connections:
                self._close(next(iter(self._connections.values())))
            connection = _Connection(sock, time.monotonic() + self._timeout)
            self._connections[sock] = connection
            self._selector.register(sock, selectors.EVENT_READ, connection)

    def _expire(self) -> None:
        now = time.monotonic()
        while self._connections:
            oldest = next(iter(self._connections.values()))
            if oldest.deadline > now:
                return
            self._close(oldest)

    def _close(self, connection: _Connection) -> None:
        if self._connections.pop(connection.sock, None) is None:
            return
        with contextlib.suppress(KeyError, ValueError, OSError):
            self._selector.unregister(connection.sock)
        connection.sock.close()

    def _receive(self, connection: _Connection) -> None:
        try:
            data = connection.sock.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._close(connection)
            return
        connection.inbox += data
        end = connection.inbox.find(b"\r\n\r\n")
        if end < 0:
            end = connection.inbox.find(b"\n\n")
        if end < 0 and len(connection.inbox) <= MAX_REQUEST_BYTES:
            return
        code, body = (
            (431, {"error": "request head too large"})
            if end < 0 or end > MAX_REQUEST_BYTES
            else self._answer(connection.inbox[:end])
        )
        connection.outbox = _response(code, body)
        self._selector.modify(connection.sock, selectors.EVENT_WRITE, connection)
        self._send(connection)

    def _send(self, connection: _Connection) -> None:
        try:
            sent = connection.sock.send(connection.outbox)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._close(connection)
            return
        connection.outbox = connection.outbox[sent:]
        if not connection.outbox:
            self._close(connection)

    def _answer(self, head: bytes) -> tuple[int, Mapping[str, Any]]:
        parts = head.split(b"\n", 1)[0].decode("latin-1").split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            return 400, {"error": "bad request"}
        method, target = parts[0], parts[1]
        probe = self._probes.get(target.split("?", 1)[0])
        if probe is None:
            return 404, {"error": "not found"}
        if method != "GET":
            return 405, {"error": "method not allowed"}
        try:
            healthy = probe()
            return (200 if healthy else 503), {"ok": healthy, **self._status()}
        except Exception:  # a failing probe is an unhealthy worker, not a crash
            logger.exception("il-audit: health probe %s failed", target)
            return 503, {"ok": False}


def _response(code: int, body: Mapping[str, Any]) -> bytes:
    data = json.dumps(body, sort_keys=True).encode()
    head = (
        f"HTTP/1.0 {code} {_REASONS[code]}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\n"
        "Cache-Control: no-store\r\n"
        "Connection: close\r\n"
    )
    if code == 405:
        head += "Allow: GET\r\n"
    return head.encode() + b"\r\n" + data
