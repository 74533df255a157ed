"""A small fast HTTP sink on 127.0.0.1 for the peers' batch endpoints; it counts events.

Segment's client posts ``{"batch": [...]}`` to ``HOST/v1/batch``, PostHog's
(capture mode v0, its default) to ``HOST/batch/``; both may gzip. Any POST is
answered ``200 {"status": 1}`` and the length of its ``batch`` is counted by
path. ``GET /stats`` returns the counts as JSON; ``POST /reset`` zeroes them.

A raw asyncio protocol with keep-alive, in its own process (started by
``_bench.Sink``), so that its work never competes for the measured process's
GIL. Prints ``SINK_PORT=N`` once it listens.

    python benchmarks/_sink.py [PORT]
"""

from __future__ import annotations

import asyncio
import gzip
import json
import sys
from collections import Counter

_OK = (
    b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{"status": 1}'
)
_BAD = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"

events: Counter[str] = Counter()
requests: Counter[str] = Counter()


def _json_response(value: object) -> bytes:
    body = json.dumps(value).encode()
    head = (
        f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


class _Handler(asyncio.Protocol):
    def __init__(self) -> None:
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
            method, path = head[0].split(" ", 2)[:2]
            headers = {}
            for line in head[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            if "chunked" in headers.get("transfer-encoding", ""):
                self._send(_BAD)
                return
            length = int(headers.get("content-length", "0"))
            if len(self.buffer) < end + 4 + length:
                return
            body = bytes(self.buffer[end + 4 : end + 4 + length])
            del self.buffer[: end + 4 + length]
            self._send(self._answer(method, path, headers, body))

    def _answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> bytes:
        if method == "GET" and path == "/stats":
            return _json_response({"events": dict(events), "requests": dict(requests)})
        if method == "POST" and path == "/reset":
            events.clear()
            requests.clear()
            return _json_response({})
        if method != "POST":
            return _OK
        if headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        try:
            batch = json.loads(body).get("batch") or []
        except (ValueError, AttributeError):
            return _BAD
        requests[path] += 1
        events[path] += len(batch)
        return _OK

    def _send(self, response: bytes) -> None:
        if self.transport is not None:
            self.transport.write(response)


async def _serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Handler, "127.0.0.1", port, backlog=256)
    bound = server.sockets[0].getsockname()[1]
    print(f"SINK_PORT={bound}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    asyncio.run(_serve(port))


if __name__ == "__main__":
    main()
