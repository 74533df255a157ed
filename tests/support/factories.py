"""Factories for test data: one place that knows what a valid envelope looks like."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

_counter = itertools.count(1)

FROZEN_TIME = datetime(2026, 11, 27, 12, 30, 15, 123456, tzinfo=UTC)
FROZEN_TIME_NS = int(FROZEN_TIME.timestamp()) * 1_000_000_000 + 123_456_000


def make_envelope(**overrides: Any) -> dict[str, Any]:
    """A valid wire envelope as a dict; keyword arguments replace or add fields."""
    envelope: dict[str, Any] = {
        "schema_version": 1,
        "event_id": f"01934e1a-0000-7000-8000-{next(_counter):012x}",
        "event_type": "auth.login.succeeded",
        "occurred_at": "2026-11-27T12:30:15.123456Z",
        "app": "ingest",
        "actor_uid": "user-1",
        "status": "succeeded",
        "source": "api",
    }
    envelope.update(overrides)
    return {key: value for key, value in envelope.items() if value is not None}


def envelope_line(**overrides: Any) -> bytes:
    """:func:`make_envelope` serialized as one NDJSON line (no newline)."""
    return json.dumps(make_envelope(**overrides), separators=(",", ":")).encode()


def make_settings(**overrides: Any) -> Any:
    """Settings from the bundled defaults (no environment), with ``overrides`` applied;
    heartbeats off unless ``heartbeat_seconds`` is given (as the root fixture does)."""
    from il_audit.config.settings import AuditSettings

    base = AuditSettings.from_env({})
    return AuditSettings.model_validate(
        {**base.model_dump(), "transport": "memory", "heartbeat_seconds": 0, **overrides}
    )


def seed_token_cost(
    model_id: str,
    input_tokens: int = 0,
    output_tokens: int = 0,
    *,
    service: str = "vertex_gemini",
    at: datetime = FROZEN_TIME,
    tier: str | None = None,
) -> Decimal:
    """What the bundled catalog charges for these tokens at ``at``: the rate's prices
    through the documented formula (tokens x price per 1M / 1e6, 9 places, half-even).

    For tests about where costs go (sinks, views, the core), so that a new price in
    the bundled catalog does not need new literals; the prices themselves are tested
    against published vectors in test_pricing.
    """
    from il_audit.subscriber_fn.pricing import seed_catalog

    rate = seed_catalog().rate_at(service, model_id, at, tier)
    assert rate is not None, f"the bundled catalog has no rate for {service}/{model_id} at {at}"
    cost = (
        input_tokens * (rate.input_price_per_1m_tokens or 0)
        + output_tokens * (rate.output_price_per_1m_tokens or 0)
    ) / Decimal(1_000_000)
    return cost.quantize(Decimal("0.000000001"), rounding=ROUND_HALF_EVEN)
