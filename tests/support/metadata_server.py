"""A fake GCE metadata server on 127.0.0.1: what Cloud Run answers google-auth, and no more.

google-auth finds it through ``GCE_METADATA_HOST`` / ``GCE_METADATA_IP``. It
answers the ping (``/`` with ``Metadata-Flavor: Google``), the project id, and
the default service account's description and token, which is all
``google.auth.default()`` and a credentials refresh ask for.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from il_audit.devtools.ports import free_port


class MetadataServer:
    """Serves ``project_id`` on ``port`` (a free one unless given) until :meth:`stop`."""

    def __init__(self, project_id: str, port: int | None = None) -> None:
        self.project_id = project_id
        self.port = port or free_port()
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                body, kind = server.answer(self.path)
                if body is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Metadata-Flavor", "Google")
                self.send_header("Content-Type", kind)
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        # A short poll: stop() waits for the loop to notice, 0.5 s per server by default.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``, for GCE_METADATA_HOST and GCE_METADATA_IP."""
        return f"127.0.0.1:{self.port}"

    def answer(self, path: str) -> tuple[str | None, str]:
        """The body and content type for ``path`` (None: 404)."""
        route = path.split("?", 1)[0].rstrip("/")
        if route == "":
            return "", "text/plain"
        if route == "/computeMetadata/v1/project/project-id":
            return self.project_id, "text/plain"
        if route == "/computeMetadata/v1/instance/service-accounts/default":
            account = {
                "email": f"app@{self.project_id}.iam.gserviceaccount.com",
                "scopes": ["https://www.googleapis.com/auth/cloud-platform"],
                "aliases": ["default"],
            }
            return json.dumps(account), "application/json"
        if route == "/computeMetadata/v1/instance/service-accounts/default/token":
            token = {"access_token": "fake-token", "expires_in": 3600, "token_type": "Bearer"}
            return json.dumps(token), "application/json"
        return None, "text/plain"

    def stop(self) -> None:
        """Stop serving."""
        self._httpd.shutdown()
        self._httpd.server_close()


class NotAMetadataServer(MetadataServer):
    """An address that answers, but not as Google's metadata server: 404 to everything.

    google-auth's ping then decides "not on GCE" at once. A dead address gets the same
    verdict after three attempts with backoff (about 3 s), so only the test that stands for
    the user's path (``test_doctor_command``'s no-credentials test) pays for the dead one.
    """

    def __init__(self) -> None:
        super().__init__("no-project")

    def answer(self, path: str) -> tuple[str | None, str]:  # noqa: ARG002
        """Nothing: 404."""
        return None, "text/plain"
