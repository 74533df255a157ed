"""The record of an erasure: an ``audit.erasure.completed`` event, written like any other.

The event goes through the subscriber's pipeline (validation, the sink) into ``events`` of
the warehouse that was erased, so it is kept, priced (at nothing) and read like every
event. It names the subject only by its keyed hash; its ``event_id`` is the erasure id
that the pseudonyms ``erased:<erasure id>`` point at.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from il_audit.operations.errors import ErasureError
from il_audit.publisher import new_event_id
from il_audit.schemas import taxonomy
from il_audit.schemas.envelope import Envelope, envelope_json
from il_audit.schemas.wire import ATTR_APP, ATTR_COUNT, ATTR_EVENT_TYPE, ATTR_SCHEMA

APP: Final = "il_audit"
"""The ``app`` of the erasure records: il-audit's own operator CLI."""


def new_erasure_id() -> str:
    """A fresh event id (UUIDv7) for the erasure record."""
    return new_event_id(time.time_ns())


def erasure_event(
    erasure_id: str,
    *,
    subject_hash: str,
    subject_kind: str,
    operator: str,
    reason: str | None,
    pseudonym: str,
    engine: str,
    rows_by_table: Mapping[str, int],
    rows_pending: Mapping[str, int],
    environment: str | None = None,
) -> bytes:
    """The envelope line of the erasure record (no subject in clear: its keyed hash)."""
    envelope = Envelope(
        event_id=erasure_id,
        event_type=taxonomy.AUDIT_ERASURE_COMPLETED,
        occurred_at=datetime.now(UTC),
        app=APP,
        environment=environment,
        module="erase",
        action="erase",
        status="partial" if any(rows_pending.values()) else "succeeded",
        resource_type="person",
        source="job",
        payload={
            "erasure_id": erasure_id,
            "subject_hash": subject_hash,
            "subject_kind": subject_kind,
            "operator": operator,
            "reason": reason,
            "pseudonym": pseudonym,
            "engine": engine,
            "rows_by_table": dict(rows_by_table),
            "rows_pending": dict(rows_pending),
        },
    )
    return envelope_json(envelope)


def write_through_pipeline(sink: Any, line: bytes) -> None:
    """Write one envelope line into ``sink`` through the subscriber's pipeline.

    Raises :class:`ErasureError` when the pipeline does not accept it.
    """
    from il_audit.config.settings import get_audit_settings
    from il_audit.subscriber_fn.catalogs import catalog_provider
    from il_audit.subscriber_fn.core import MessageMeta
    from il_audit.subscriber_fn.pipeline import Pipeline

    sink.ensure_tables()
    pipeline = Pipeline(
        sink, catalog_provider(get_audit_settings(strict=True), sink.read_cost_rates)
    )
    attributes = {
        ATTR_SCHEMA: "1",
        ATTR_COUNT: "1",
        ATTR_APP: APP,
        ATTR_EVENT_TYPE: taxonomy.AUDIT_ERASURE_COMPLETED,
    }
    outcome = pipeline.handle(line, attributes, MessageMeta())
    if outcome.accepted != 1:
        raise ErasureError(
            "the erasure record was refused by the pipeline "
            f"({', '.join(outcome.error_classes) or 'no reason given'}); the rows are erased"
        )
