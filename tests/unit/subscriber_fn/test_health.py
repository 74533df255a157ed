"""The health endpoint under hostile clients: idle floods, slow requests, oversized heads."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from il_audit.subscriber_fn.health import MAX_REQUEST_BYTES, HealthServer


@pytest.fixture
def server() -> Iterator[HealthServer]:
    """A started endpoint, live and ready, with a half-second request timeout (else defaults)."""
    running = HealthServer(
        "127.0.0.1",
        0,
        live=lambda: True,
        ready=lambda: True,
        status=lambda: {"batches": 7},
        request_timeout=0.5,
    ).start()
    try:
        yield running
    finally:
        running.stop()


def _get(server: HealthServer, path: str) -> tuple[int, dict[str, Any]]:
    url = f"http://127.0.0.1:{server.port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _connect(server: HealthServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=5)


def test_probes_answer_while_many_idle_connections_are_open(server: HealthServer) -> None:
    """200 idle connections start no thread, keep at most 64 open, and /livez still answers."""
    threads_before = set(threading.enumerate())
    idle = [_connect(server) for _ in range(200)]
    try:
        assert _get(server, "/livez") == (200, {"ok": True, "batches": 7})
        # No thread started (one an earlier test left, such as a DuckDB file's releaser,
        # may end meanwhile: counting them would fail on that).
        assert set(threading.enumerate()) - threads_before == set()
        assert server.open_connections <= 64  # docs/pull-worker.md
    finally:
        for sock in idle:
            sock.close()


def test_an_idle_connection_is_closed_after_the_timeout(server: HealthServer) -> None:
    """A client that connects and sends nothing is disconnected after the request timeout."""
    sock = _connect(server)
    started = time.monotonic()
    try:
        assert sock.recv(1) == b""  # closed by the server, well before the client's 5 s
    finally:
        sock.close()
    assert time.monotonic() - started < 4


def test_a_trickling_client_is_cut_off_at_the_deadline(server: HealthServer) -> None:
    """Sending a byte now and then does not extend a connection past the request timeout."""
    sock = _connect(server)
    deadline = time.monotonic() + 4
    closed = False
    try:
        for byte in b"GET /livez HTTP/1.1\r\nX-Slow: " + b"a" * 100:
            if time.monotonic() > deadline:
                break
            try:
                sock.send(bytes([byte]))
            except OSError:  # reset by the server: cut off
                closed = True
                break
            time.sleep(0.1)
    finally:
        sock.close()
    assert closed


def test_an_oversized_request_head_is_refused(server: HealthServer) -> None:
    """A request head over the bound is answered 431 and closed, never buffered on."""
    sock = _connect(server)
    try:
        sock.sendall(b"GET /livez HTTP/1.1\r\nX-Big: " + b"a" * (MAX_REQUEST_BYTES + 10))
        answer = sock.recv(4096)
    finally:
        sock.close()
    assert answer.startswith(b"HTTP/1.0 431 ")


def test_unknown_paths_and_methods_are_refused(server: HealthServer) -> None:
    """Another path is 404, another method on a probe 405; neither runs a probe."""
    assert _get(server, "/nope") == (404, {"error": "not found"})
    request = urllib.request.Request(f"http://127.0.0.1:{server.port}/livez", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=2)
    assert refused.value.code == 405


def test_a_failing_probe_answers_503() -> None:
    """A probe that raises makes the endpoint answer 503, and it keeps serving."""

    def broken() -> bool:
        raise RuntimeError("probe broke")

    server = HealthServer("127.0.0.1", 0, live=broken, ready=lambda: False).start()
    try:
        assert _get(server, "/livez") == (503, {"ok": False})
        assert _get(server, "/readyz") == (503, {"ok": False})
    finally:
        server.stop()
