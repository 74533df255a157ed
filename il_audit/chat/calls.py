"""One billable call of a chat turn (:class:`ModelCall`) and how calls become usage items.

A call is a frozen record: the tracker collects them, the turn event carries
them as usage items (one per call, merged per kind only past the envelope's
100 items), and the subscriber prices each at its own rate and tier.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from il_audit.schemas.envelope import STANDARD_TIER


@dataclass(frozen=True, slots=True)
class ModelCall:
    """One billable call of a turn, as its usage item will say it."""

    service: str
    model_id: str
    category: str
    operation: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    quantity: float | None = None
    unit: str | None = None
    pricing_tier: str = STANDARD_TIER
    latency_ms: float | None = None
    tokens_estimated: bool = False

    def usage_item(self) -> dict[str, Any]:
        """The call as an envelope usage item (unset fields left out)."""
        item = {
            "service": self.service,
            "operation": self.operation,
            "model_id": self.model_id,
            "category": self.category,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "quantity": self.quantity,
            "unit": self.unit,
            "tokens_estimated": self.tokens_estimated or None,
            "latency_ms": self.latency_ms,
            "pricing_tier": self.pricing_tier,
        }
        return {key: value for key, value in item.items() if value is not None}


def tier_or_standard(value: str | None) -> str:
    """A pricing tier as the envelope wants it (lowercase, trimmed); blank is standard."""
    return (value or "").strip().lower() or STANDARD_TIER


def latency_or_none(value: float | None) -> float | None:
    """A latency as a float, or None when it is missing, negative or not finite."""
    if value is None or not math.isfinite(value) or value < 0:
        return None
    return float(value)


def merged(calls: tuple[ModelCall, ...]) -> list[ModelCall]:
    """Calls of the same service, model, category, operation, unit, tier and estimate flag
    as one (tokens, quantities and latencies added)."""
    merged: dict[tuple[Any, ...], ModelCall] = {}
    for call in calls:
        key = (call.service, call.model_id, call.category, call.operation, call.unit,
               call.pricing_tier, call.tokens_estimated)  # fmt: skip
        held = merged.get(key)
        merged[key] = call if held is None else replace(
            held,
            input_tokens=_add(held.input_tokens, call.input_tokens),
            output_tokens=_add(held.output_tokens, call.output_tokens),
            quantity=_add(held.quantity, call.quantity),
            latency_ms=_add(held.latency_ms, call.latency_ms),
        )  # fmt: skip
    return list(merged.values())


def _add(left: Any, right: Any) -> Any:
    return right if left is None else left if right is None else left + right
