"""0.1.3's and 1.0.35's ``schedule_row`` / ``schedule_rows``: a table's row, as an event.

The seed library queued rows for a BigQuery table and inserted them from the
host. Here the host never writes BigQuery: each row is published as the event
it stands for, and the warehouse's view of that table's name reads it back.

- A row with a cost spec is a usage event: ``api_cost`` makes a
  ``cost.api.usage`` event (its tokens, tier, and the row's operation,
  category, correlation and metadata), ``unit_cost`` a ``cost.resource.usage``
  one (its quantity, and the row's resource type and unit). The subscriber
  prices it: the price of record, where 1.0.35 priced on the writer thread.
- A row with an ``event_type`` (the envelope tables' rows, which
  ``build_envelope_row`` builds) is emitted as that event, mapped as a
  builder's row is (``logged_at`` → ``occurred_at``, ``*_json`` parsed, other
  keys to ``payload``).
- Any other row has no event to become: it is dropped with a warning naming
  the table (at most one per 10 s).

The row's ``app``, actor and correlation columns are its context, over the
bound one. Nothing here raises into the host, as ``emit()`` does not.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from il_audit._ratelimit import RateLimitedLog
from il_audit.publisher._default import emit, emit_api_usage, emit_resource_usage
from il_audit.publisher.builders import row_to_fields
from il_audit.publisher.context import CONTEXT_FIELDS, AuditContext, current_context
from il_audit.schemas.cost_specs import ApiCostSpec, UnitCostSpec

__all__ = ["schedule_row", "schedule_rows"]

logger = logging.getLogger(__name__)
_unroutable = RateLimitedLog(logger, 10.0)


def schedule_rows(
    *,
    table_id: str,
    rows: Sequence[Mapping[str, Any]],
    api_cost: ApiCostSpec | None = None,
    unit_cost: UnitCostSpec | None = None,
) -> None:
    """Publish each row as its event (see the module docstring); the specs apply to each."""
    for row in rows:
        schedule_row(table_id=table_id, row=row, api_cost=api_cost, unit_cost=unit_cost)


def schedule_row(
    *,
    table_id: str,
    row: Mapping[str, Any],
    api_cost: ApiCostSpec | None = None,
    unit_cost: UnitCostSpec | None = None,
) -> None:
    """Publish one row as its event (see the module docstring)."""
    data = dict(row)
    if api_cost is not None:
        emit_api_usage(
            context=_context(data),
            correlation_id=data.get("correlation_id"),
            correlation_type=data.get("correlation_type"),
            service=api_cost.service,
            operation=str(data.get("operation") or ""),
            model_id=api_cost.model_id,
            category=data.get("category"),
            input_tokens=api_cost.input_tokens,
            output_tokens=api_cost.output_tokens,
            tokens_estimated=bool(data.get("tokens_estimated")),
            latency_ms=data.get("latency_ms"),
            pricing_tier=api_cost.pricing_tier,
            metadata=_json_object(data.get("metadata_json")),
        )
    elif unit_cost is not None:
        emit_resource_usage(
            context=_context(data),
            correlation_id=data.get("correlation_id"),
            correlation_type=data.get("correlation_type"),
            resource_type=str(data.get("resource_type") or ""),
            quantity=unit_cost.quantity,
            unit=str(data.get("unit") or ""),
            metadata=_json_object(data.get("metadata_json")),
            service=unit_cost.service,
            model_id=unit_cost.model_id,
        )
    elif isinstance(event_type := data.get("event_type"), str) and event_type:
        emit(event_type, **row_to_fields(data))
    else:
        _unroutable.warning(
            "il-audit: a row for table %s has neither an event_type nor a cost spec, so it "
            "has no event to become; dropped (emit() the event instead)",
            table_id,
        )


def _context(row: Mapping[str, Any]) -> AuditContext:
    """The bound context, with the row's own context columns over it."""
    base = current_context() or AuditContext()
    changes = {
        name: value
        for name in CONTEXT_FIELDS
        if name != "source" and isinstance(value := row.get(name), str) and value
    }
    return base.replace(**changes) if changes else base


def _json_object(value: Any) -> dict[str, Any] | None:
    """A row's ``metadata_json`` as a dict (None when absent or not a JSON object)."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, str) and value:
        try:
            parsed = json.loads(value)
        except ValueError:
            return None
        return parsed if isinstance(parsed, dict) else None
    return None
