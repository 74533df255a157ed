"""The local stack's moving parts: provisioning Pub/Sub and serving the function.

``provision_pubsub`` creates (idempotently, with the provisioner ``infra
apply`` uses) the topic, the dead-letter topic, the push subscription with
dead-letter and retry policies pointed at the function, and the pull
subscription on the dead-letter topic for inspection.
``FunctionServer`` runs ``functions-framework`` serving ``handle_pubsub`` on
127.0.0.1, as a child process. Used by ``il-audit dev``, the tests and CI.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from il_audit.devtools.errors import FunctionStartError
from il_audit.devtools.ports import free_port, wait_for_http
from il_audit.devtools.processes import ChildProcess, spawn
from il_audit.operations.plan import Change
from il_audit.operations.pubsub_resources import SubscriptionPolicy, provision_layout
from il_audit.schemas.wire import PubSubLayout

__all__ = [
    "FunctionServer",
    "FunctionStartError",
    "PubSubLayout",
    "provision_pubsub",
    "start_function",
]


def provision_pubsub(
    layout: PubSubLayout,
    push_endpoint: str | None,
    *,
    max_delivery_attempts: int = 5,
    min_backoff_seconds: int = 1,
    max_backoff_seconds: int = 10,
    ack_deadline_seconds: int = 60,
) -> list[Change]:
    """Create whatever is missing, with the provisioner ``infra apply`` uses.

    The backoffs default shorter than production's so that failure paths finish
    in seconds; the names are the deployed ones (``TOPIC-sub``, ``DLQ-inspect``).
    Works against Pub/Sub and the emulator (``PUBSUB_EMULATOR_HOST``).
    """
    policy = SubscriptionPolicy(
        max_delivery_attempts=max_delivery_attempts,
        min_backoff_seconds=min_backoff_seconds,
        max_backoff_seconds=max_backoff_seconds,
        ack_deadline_seconds=ack_deadline_seconds,
        push_endpoint=push_endpoint,
    )
    return provision_layout(layout, policy)


@dataclass
class FunctionServer(ChildProcess):
    """A functions-framework child process serving the subscriber function."""

    @property
    def url(self) -> str:
        """Base URL of the function."""
        return f"http://127.0.0.1:{self.port}/"


def start_function(
    env: Mapping[str, str],
    *,
    port: int | None = None,
    timeout: float = 60.0,
    log_path: Path | None = None,
) -> FunctionServer:
    """Start functions-framework serving ``handle_pubsub`` with ``env`` added to ours."""
    from il_audit.subscriber_fn import main as function_main

    port = port or free_port()
    log_path = log_path or Path(tempfile.gettempdir()) / f"il-audit-function-{port}.log"
    process, log = spawn(
        [
            sys.executable,
            "-m",
            "functions_framework",
            "--source",
            str(Path(function_main.__file__)),
            "--target",
            "handle_pubsub",
            "--signature-type",
            "cloudevent",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        log_path,
        {**os.environ, **env},
    )
    server = FunctionServer(port, process, log_path, log)
    if not wait_for_http(server.url, timeout, alive=server.alive):
        server.stop()
        raise FunctionStartError(
            f"functions-framework did not answer on {port}:\n{server.log_text()[-3000:]}"
        )
    return server
