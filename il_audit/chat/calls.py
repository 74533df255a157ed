"""One billable call of a chat turn (:class:`ModelCall`) and the usage event it becomes.

A call is a frozen record. The tracker keeps them for the turn's totals and
publishes each one at once, as its own usage event correlated to the turn
(:func:`publish_call`), so a call's cost reaches the warehouse even when its
turn never completes, and the subscriber prices each call at its own rate and
tier, once.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from il_audit.chat.usage_readers import TokenCounts
from il_audit.config.cost_catalog import CORRELATION_CHAT_TURN
from il_audit.publisher import emit, emit_api_usage
from il_audit.publisher.context import AuditContext
from il_audit.schemas import taxonomy as T
from il_audit.schemas.envelope import STANDARD_TIER

METADATA_KEYS: Final = ("thought_tokens", "cached_tokens", "finish_reason")
"""Per-call details a usage event's metadata carries when known (1.0.35's)."""


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
    cached_input_tokens: int | None = None
    """Prompt tokens read from a cache, not part of ``input_tokens``."""
    cache_write_input_tokens: int | None = None
    """Prompt tokens written to a cache, not part of ``input_tokens``."""
    reasoning_tokens: int | None = None
    """Reasoning tokens, part of ``output_tokens`` (noted only)."""

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
            "cached_input_tokens": self.cached_input_tokens,
            "cache_write_input_tokens": self.cache_write_input_tokens,
            "reasoning_tokens": self.reasoning_tokens,
        }
        return {key: value for key, value in item.items() if value is not None}

    @property
    def counts_tokens(self) -> bool:
        """Whether the call is priced by tokens (a rerank is priced per query instead)."""
        return self.input_tokens is not None or self.output_tokens is not None

    @property
    def prompt_tokens(self) -> int:
        """Every prompt token of the call: input plus cache reads and writes (a turn's
        ``input_tokens`` counts them all, as the prompt did; the item keeps them apart)."""
        cached = (self.cached_input_tokens or 0) + (self.cache_write_input_tokens or 0)
        return (self.input_tokens or 0) + cached

    @property
    def has_token_details(self) -> bool:
        """Whether the call carries cache or reasoning counts (item fields emit_api_usage lacks)."""
        details = (self.cached_input_tokens, self.cache_write_input_tokens, self.reasoning_tokens)
        return any(count is not None for count in details)


def publish_call(
    call: ModelCall,
    *,
    context: AuditContext | None,
    turn_id: str,
    metadata: Mapping[str, Any],
) -> str | None:
    """Publish ``call`` as its own ``cost.api.usage`` event, correlated to its turn
    (``correlation_type`` ``chat_turn``); returns the event id.

    A token call goes through ``emit_api_usage``; a call with cache or
    reasoning counts, or a rerank (priced per query), is the same event with
    its item as :meth:`ModelCall.usage_item` gives it. ``metadata`` becomes the event's.
    """
    if call.counts_tokens and not call.has_token_details:
        return emit_api_usage(
            context=context,
            correlation_id=turn_id,
            correlation_type=CORRELATION_CHAT_TURN,
            service=call.service,
            operation=call.operation or "",
            model_id=call.model_id,
            category=call.category,
            input_tokens=call.input_tokens or 0,
            output_tokens=call.output_tokens or 0,
            tokens_estimated=call.tokens_estimated,
            latency_ms=call.latency_ms,
            pricing_tier=call.pricing_tier,
            metadata=metadata or None,
        )
    return emit(
        T.API_USAGE_RECORDED,
        context=context,
        correlation_id=turn_id,
        correlation_type=CORRELATION_CHAT_TURN,
        action=call.operation,
        metadata=dict(metadata) or None,
        usage=[call.usage_item()],
    )


def token_details(counts: TokenCounts | None, *, input_given: bool) -> dict[str, Any]:
    """A call's cache and reasoning fields from what a reader found.

    The cache counts go with the reader's ``input`` only: a caller's own
    ``input_tokens`` may include the cached tokens, and adding them again
    would bill them twice.
    """
    if counts is None or not counts.found:
        return {}
    fields: dict[str, Any] = {"reasoning_tokens": counts.thoughts}
    if not input_given:
        fields["cached_input_tokens"] = counts.cached
        fields["cache_write_input_tokens"] = counts.cache_write
    return fields


def modality_metadata(counts: TokenCounts | None) -> dict[str, Any]:
    """google-genai's per-modality counts besides the prompt's (``candidates_tokens_by_modality``,
    ``cached_tokens_by_modality``...) for a call's usage-event metadata."""
    if counts is None:
        return {}
    return {f"{kind}_tokens_by_modality": dict(by_kind)
            for kind, by_kind in counts.by_modality.items() if kind != "prompt"}  # fmt: skip


def call_metadata(call_id: str, tier: str, *details: Mapping[str, Any] | None) -> dict[str, Any]:
    """A call's usage-event metadata: ``call_id``, ``pricing_tier``, then ``details`` in order
    (later ones win), None values left out."""
    metadata: dict[str, Any] = {"call_id": call_id, "pricing_tier": tier}
    for part in details:
        metadata.update({k: v for k, v in (part or {}).items() if v is not None})
    return metadata


def estimated_api_cost(calls: Iterable[ModelCall]) -> float:
    """An in-process estimate of the token calls' cost in USD, at each call's tier, from the
    bundled seed catalog (:mod:`il_audit.subscriber_fn.estimates`); rerank queries excluded."""
    from il_audit.subscriber_fn.estimates import estimate_cost_usd

    total = sum(
        estimate_cost_usd(service=call.service, model_id=call.model_id,
                          input_tokens=call.input_tokens or 0,
                          output_tokens=call.output_tokens or 0, pricing_tier=call.pricing_tier,
                          cached_input_tokens=call.cached_input_tokens or 0,
                          cache_write_input_tokens=call.cache_write_input_tokens or 0)
        for call in calls
        if call.counts_tokens
    )  # fmt: skip
    return round(total, 8)


def tier_or_standard(value: str | None) -> str:
    """A pricing tier as the envelope wants it (lowercase, trimmed); blank is standard."""
    return (value or "").strip().lower() or STANDARD_TIER


def latency_or_none(value: float | None) -> float | None:
    """A latency as a float, or None when it is missing, negative or not finite."""
    if value is None or not math.isfinite(value) or value < 0:
        return None
    return float(value)
