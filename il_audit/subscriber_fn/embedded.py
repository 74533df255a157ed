"""The embedded mode: ``emit()`` feeds the subscriber's pipeline in-process, into DuckDB.

``IL_AUDIT_TRANSPORT=local`` (or ``auto`` without a GCP project) makes the
publisher's background thread hand each packed message to the same pipeline
the Cloud Function runs: same validation, pricing, tables and dead-lettering
(into the ``dead_letters`` table; there is no topic). The file is
``IL_AUDIT_DUCKDB_PATH`` (default ``./il_audit.duckdb``); other processes can
read it between writes (``il-audit query``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from datetime import UTC, datetime

import duckdb  # noqa: F401 - imported here, on the thread that builds the publisher
import sqlglot  # noqa: F401 - (see il_audit.publisher._transports.factory)

from il_audit.config.settings import AuditSettings, SinkKind
from il_audit.subscriber_fn.core import MessageMeta
from il_audit.subscriber_fn.pipeline import Pipeline, build_pipeline


def make_factory(settings: AuditSettings) -> Callable[[], LocalTransport]:
    """The ``local`` entry point of the ``il_audit.transports`` group.

    Loading this module (on the thread that builds the publisher) imports DuckDB
    and sqlglot; the constructor only builds the pipeline.
    """
    return lambda: LocalTransport(settings)


class LocalTransport:
    """A publisher transport that runs the pipeline synchronously on the publisher's thread."""

    name = "local"

    def __init__(self, settings: AuditSettings) -> None:
        embedded = settings.model_copy(update={"sink": SinkKind.DUCKDB})
        self.pipeline: Pipeline = build_pipeline(embedded, with_topic=False)

    def publish(self, data: bytes, attributes: Mapping[str, str]) -> Future[str]:
        """Process one message now; the future fails with TransientError to be retried."""
        # A content-derived id: a retried message keeps it, so its dead letters do not double.
        message_id = "local-" + hashlib.sha256(data).hexdigest()[:24]
        meta = MessageMeta(message_id=message_id, publish_time=datetime.now(UTC))
        future: Future[str] = Future()
        try:
            self.pipeline.handle(data, attributes, meta)
        except Exception as exc:  # noqa: BLE001 - the future carries it; retrying decides
            future.set_exception(exc)
        else:
            future.set_result(message_id)
        return future

    def close(self, _timeout: float | None) -> None:
        """Release the warehouse (at once: nothing is in flight)."""
        self.pipeline.sink.close()
