"""Workloads as data: the steps of a scenario, played through the real API.

A workload is a tuple of :class:`Step` values (what to emit with ``emit``,
``emit_api_usage`` or ``emit_resource_usage``, when it happened, and how long
after that the subscriber took it in) and the raw lines the subscriber must
reject. :func:`play` emits the steps in order under ``capture_events`` (so
the envelopes are validated exactly as an app's are), gives each envelope its
time, and returns a :class:`Workload`. The data live in
``tests/support/view_workload.py`` and ``tests/support/report_workload.py``;
loading a workload into a warehouse is ``tests/support/warehouses.py``.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest

from il_audit.publisher import emit, emit_api_usage, emit_resource_usage
from il_audit.publisher.context import AuditContext
from il_audit.publisher.testing import capture_events, reset
from il_audit.schemas.envelope import Envelope, envelope_json

HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)


@dataclass(frozen=True)
class Step:
    """One call of the API at a time of the scenario; made with :func:`event` and its kin."""

    at: datetime
    """``occurred_at`` of the event."""
    call: Callable[..., str | None]
    args: tuple[Any, ...]
    fields: Mapping[str, Any]
    ingested_after: float = 2.0
    """Seconds from ``at`` to when the subscriber took the event in."""


def event(
    at: datetime,
    event_type: str,
    context: AuditContext,
    *,
    ingested_after: float = 2.0,
    **fields: Any,
) -> Step:
    """``emit(event_type, context=context, **fields)`` at ``at``."""
    return Step(at, emit, (event_type,), {"context": context, **fields}, ingested_after)


def api_usage(
    at: datetime, context: AuditContext, *, ingested_after: float = 2.0, **fields: Any
) -> Step:
    """``emit_api_usage(context=context, **fields)`` at ``at``."""
    return Step(at, emit_api_usage, (), {"context": context, **fields}, ingested_after)


def resource_usage(
    at: datetime, context: AuditContext, *, ingested_after: float = 2.0, **fields: Any
) -> Step:
    """``emit_resource_usage(context=context, **fields)`` at ``at``."""
    return Step(at, emit_resource_usage, (), {"context": context, **fields}, ingested_after)


def raw_line(**fields: Any) -> bytes:
    """A raw envelope line that skips the publisher's checks (for lines that must be rejected);
    datetimes are written as ISO text, and a fresh ``event_id`` is added unless given."""
    envelope = {
        "schema_version": 1,
        "event_id": f"bad-{uuid.uuid4().hex[:8]}",
        **{k: v.isoformat() if isinstance(v, datetime) else v for k, v in fields.items()},
    }
    return json.dumps(envelope).encode()


@dataclass
class Workload:
    """The emitted envelopes in emit order, their ingestion times, and the rejected lines."""

    envelopes: list[Envelope] = field(default_factory=list)
    ingested_at: dict[str, datetime] = field(default_factory=dict)
    """event_id -> when the subscriber processed it."""
    rejected: list[tuple[bytes, datetime]] = field(default_factory=list)
    """(line, when it was rejected)."""

    def of_type(self, *event_types: str) -> list[Envelope]:
        """The envelopes of these types, in emit order."""
        return [envelope for envelope in self.envelopes if envelope.event_type in event_types]

    def messages(self) -> list[tuple[bytes, datetime]]:
        """Every envelope, then every rejected line, as (message data, ingestion time)."""
        accepted = [
            (envelope_json(envelope), self.ingested_at[envelope.event_id])
            for envelope in self.envelopes
        ]
        return [*accepted, *self.rejected]


def play(steps: Iterable[Step], rejected: Iterable[tuple[bytes, datetime]] = ()) -> Workload:
    """Emit ``steps`` in order with no il-audit variable set and collect the workload.

    Module-scoped fixtures call this outside the root fixture's isolation, so it
    clears the ``IL_*`` variables and il-audit's state itself, and resets again after.
    """
    workload = Workload(rejected=list(rejected))
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("IL_"):
                patch.delenv(name)
        reset()
        try:
            with capture_events() as captured:
                for index, step in enumerate(steps):
                    step.call(*step.args, **step.fields)
                    assert len(captured) == index + 1, step  # one event per step
                    envelope = captured[-1].model_copy(update={"occurred_at": step.at})
                    workload.envelopes.append(envelope)
                    ingested = step.at + timedelta(seconds=step.ingested_after)
                    workload.ingested_at[envelope.event_id] = ingested
        finally:
            reset()
    return workload
