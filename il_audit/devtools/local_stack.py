"""The local stack's moving parts: provisioning Pub/Sub and serving the function.

``provision_pubsub`` creates (idempotently) the topic, the dead-letter topic,
a push subscription with dead-letter and retry policies pointed at the
function, and a pull subscription on the dead-letter topic for inspection.
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
from typing import Any

from google.api_core import exceptions as core_exceptions
from google.protobuf import duration_pb2

from il_audit.devtools.ports import free_port, wait_for_http
from il_audit.devtools.processes import ChildProcess, spawn
from il_audit.errors import AuditError


class FunctionStartError(AuditError, RuntimeError):
    """functions-framework did not come up."""


@dataclass(frozen=True)
class PubSubLayout:
    """Names of everything the pipeline needs in one project."""

    project: str
    topic: str
    dlq_topic: str
    subscription: str
    dlq_subscription: str

    @classmethod
    def for_topic(cls, project: str, topic: str, dlq_topic: str | None = None) -> PubSubLayout:
        """The conventional names derived from the topic id."""
        dlq = dlq_topic or f"{topic}-dlq"
        return cls(project, topic, dlq, f"{topic}-push", f"{dlq}-inspect")


def provision_pubsub(
    layout: PubSubLayout,
    push_endpoint: str | None,
    *,
    max_delivery_attempts: int = 5,
    min_backoff_seconds: int = 1,
    max_backoff_seconds: int = 10,
    ack_deadline_seconds: int = 60,
) -> dict[str, str]:
    """Create whatever is missing; returns ``{name: "created" | "exists"}``.

    Works against Pub/Sub and the emulator (``PUBSUB_EMULATOR_HOST``).
    """
    from google.cloud import pubsub_v1  # type: ignore[attr-defined]

    publisher = pubsub_v1.PublisherClient()
    subscriber = pubsub_v1.SubscriberClient()
    report: dict[str, str] = {}
    topic_path = publisher.topic_path(layout.project, layout.topic)
    dlq_path = publisher.topic_path(layout.project, layout.dlq_topic)
    for path in (topic_path, dlq_path):
        report[path] = _create(lambda p=path: publisher.create_topic(name=p))
    push_path = subscriber.subscription_path(layout.project, layout.subscription)
    request: dict[str, Any] = {
        "name": push_path,
        "topic": topic_path,
        "ack_deadline_seconds": ack_deadline_seconds,
        "dead_letter_policy": {
            "dead_letter_topic": dlq_path,
            "max_delivery_attempts": max_delivery_attempts,
        },
        "retry_policy": {
            "minimum_backoff": duration_pb2.Duration(seconds=min_backoff_seconds),
            "maximum_backoff": duration_pb2.Duration(seconds=max_backoff_seconds),
        },
    }
    if push_endpoint:
        request["push_config"] = {"push_endpoint": push_endpoint}
    report[push_path] = _create(lambda: subscriber.create_subscription(request=request))
    inspect_path = subscriber.subscription_path(layout.project, layout.dlq_subscription)
    report[inspect_path] = _create(
        lambda: subscriber.create_subscription(
            # Short: the dlq tools extend their leases right after pulling, and anything a
            # crashed run had pulled should come back quickly.
            request={"name": inspect_path, "topic": dlq_path, "ack_deadline_seconds": 10}
        )
    )
    subscriber.close()
    return report


def _create(call: Any) -> str:
    try:
        call()
    except core_exceptions.AlreadyExists:
        return "exists"
    return "created"


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
