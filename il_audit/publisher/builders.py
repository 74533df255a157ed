"""Custom row builders (0.1.3's ``register_builder``), mapped onto the envelope.

0.1.3 let a host replace the row written for an event type:
``register_builder(event_type, builder)``, where ``builder(*, context,
event_type, metadata, **fields)`` returns the row. il-audit keeps that API.
The builder runs on the caller's thread inside ``emit()`` (only types with a
builder pay for it), and its row becomes the event:

- envelope field names (``action``, ``status``, ``resource_id``...) go to the
  top level;
- 0.1.3's row names map to ours: ``logged_at`` becomes ``occurred_at``, and the
  JSON strings ``metadata_json`` / ``before_json`` / ``after_json`` are parsed
  into ``metadata`` / ``before`` / ``after``;
- any other key goes into ``payload``.

A builder that raises never reaches the app: the raw fields are published
with ``build_error`` set, counted as invalid here, and dead-lettered by the
subscriber (``builder_failed``) so that nothing is lost.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

from il_audit._ratelimit import RateLimitedLog
from il_audit.publisher.context import AuditContext, current_context
from il_audit.schemas.taxonomy import check_name

logger = logging.getLogger(__name__)

BuilderFn = Callable[..., dict[str, Any]]
"""``builder(*, context, event_type, metadata, **fields) -> row``."""

_JSON_COLUMNS = {"metadata_json": "metadata", "before_json": "before", "after_json": "after"}
_lock = threading.Lock()
_builders: dict[str, BuilderFn] = {}
BUILDERS: Mapping[str, BuilderFn] = MappingProxyType(_builders)
"""The registered builders by event type, read-only and live: ``emit()`` tests it on every
call (a name, not a function call: the hot path is microseconds)."""
_failures = RateLimitedLog(logger, 10.0)


def register_builder(event_type: str, builder: BuilderFn) -> None:
    """Build the events of ``event_type`` with ``builder`` (0.1.3's API; replaces any earlier)."""
    check_name(event_type)
    if not callable(builder):
        raise TypeError(f"the builder for {event_type!r} is not callable")
    with _lock:
        _builders[event_type] = builder


def get_builder(event_type: str) -> BuilderFn | None:
    """The builder registered for ``event_type``, if any."""
    return _builders.get(event_type)


def clear_builders() -> None:
    """Forget every registered builder (tests)."""
    with _lock:
        _builders.clear()


def build_fields(
    builder: BuilderFn, event_type: str, context: AuditContext | None, fields: dict[str, Any]
) -> dict[str, Any]:
    """The ``emit()`` keywords the builder's row stands for (never raises)."""
    metadata = fields.pop("metadata", None)
    try:
        row = builder(
            context=context or current_context() or AuditContext(),
            event_type=event_type,
            metadata=metadata,
            **fields,
        )
        if not isinstance(row, dict):
            raise TypeError(f"returned a {type(row).__name__}, not a dict")
        return row_to_fields(row)
    except Exception as exc:  # noqa: BLE001 - a host's bug must not reach its caller
        _failures.log(
            logging.ERROR,
            "il-audit: the builder for %s raised %s; the raw fields go to dead_letters",
            event_type,
            type(exc).__name__,
        )
        if metadata is not None:
            fields["metadata"] = metadata
        fields["build_error"] = type(exc).__name__
        return fields


def row_to_fields(row: dict[str, Any]) -> dict[str, Any]:
    """A 0.1.3 row as ``emit()`` keywords (see the module docstring)."""
    fields: dict[str, Any] = {}
    for key, value in row.items():
        if key == "logged_at":
            fields["occurred_at"] = _timestamp(value)
        elif key in _JSON_COLUMNS:
            fields[_JSON_COLUMNS[key]] = json.loads(value) if isinstance(value, str) else value
        elif key != "event_type":  # the type is the one emitted
            fields[key] = value
    return fields


def _timestamp(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value  # invalid: the event is dead-lettered with the reason
    return value
