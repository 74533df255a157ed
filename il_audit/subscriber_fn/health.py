"""A small HTTP health endpoint for long-running workers: ``/livez`` and ``/readyz``.

Stdlib ``http.server`` on a daemon thread. Each probe is a callable returning
whether the worker is live (ready); the answer is 200 or 503 with a JSON body
of the worker's counters (never payloads). Anything else is 404. Requests are
not logged: a probe every few seconds would drown the worker's own lines.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

logger = logging.getLogger(__name__)

Probe = Callable[[], bool]


def default_host(environ: Mapping[str, str]) -> str:
    """``0.0.0.0`` on Cloud Run (``K_SERVICE`` set: its probes come from outside), else loopback."""
    return "0.0.0.0" if environ.get("K_SERVICE") else "127.0.0.1"  # noqa: S104


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
    ) -> None:
        probes = {"/livez": live, "/readyz": ready}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                probe = probes.get(self.path.split("?", 1)[0])
                if probe is None:
                    self._answer(404, {"error": "not found"})
                    return
                try:
                    healthy = probe()
                    body = {"ok": healthy, **status()}
                except Exception:  # a failing probe is an unhealthy worker, not a crash
                    logger.exception("il-audit: health probe %s failed", self.path)
                    healthy, body = False, {"ok": False}
                self._answer(200 if healthy else 503, body)

            def _answer(self, code: int, body: Mapping[str, Any]) -> None:
                data = json.dumps(body, sort_keys=True).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="il-audit-health", daemon=True
        )

    @property
    def host(self) -> str:
        """The address bound."""
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        """The port bound (the free one picked when 0 was asked for)."""
        return int(self._server.server_address[1])

    def start(self) -> HealthServer:
        """Start serving on the background thread; returns self."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(5)
        self._server.server_close()
