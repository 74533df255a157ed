"""What a row's cost is computed from (il-audit 1.0.35's ``il_audit.writer`` specs).

1.0.35 attached these to a queued row and priced it on its writer thread. Here
``il_audit.writer.schedule_rows`` turns a row with a spec into a usage event the
subscriber prices, and ``finalize_write_item`` gives an in-process estimate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from il_audit.schemas.envelope import STANDARD_TIER

__all__ = ["ApiCostSpec", "UnitCostSpec", "WriteQueueItem"]


@dataclass(frozen=True, slots=True)
class ApiCostSpec:
    """Tokens of one API call, priced per ``(service, model_id, pricing_tier)``."""

    service: str
    model_id: str
    input_tokens: int
    output_tokens: int
    pricing_tier: str = STANDARD_TIER


@dataclass(frozen=True, slots=True)
class UnitCostSpec:
    """A unit-priced quantity (CPU seconds, bytes...), priced at the standard tier."""

    service: str
    model_id: str
    quantity: float


@dataclass(frozen=True, slots=True)
class WriteQueueItem:
    """A row for ``table_id`` with what prices it (1.0.35's queue item)."""

    table_id: str
    row: dict[str, Any]
    api_cost: ApiCostSpec | None = None
    unit_cost: UnitCostSpec | None = None
    payload_bytes: int = 0
