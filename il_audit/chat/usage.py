"""What one chat turn spent: a tracker its model, embedding and rerank calls record into.

::

    with chat_turn_usage(context=ctx, conversation_session_id=conv) as usage:
        answer = model.generate_content(prompt)
        usage.record_model_call(model_id="gemini-2.5-flash-lite", usage_metadata=answer)
        emit_chat_turn(question=q, latency_ms=elapsed)   # carries every recorded call

The tracker is bound to the running task (a ``ContextVar``), so code deep in
the call stack finds it with :func:`active_turn_usage`. A worker thread joins
it with ``with usage.attach(): ...``; the tracker's lock makes calls from
several threads safe. A call recorded after the turn was emitted is in no
event: it is logged (at most every 10 s), so a worker that outlived its turn
shows up.

The publisher never prices: the turn event carries one usage item per call
(service, model, category, tokens, tier, latency), and the subscriber prices
each at its own rate, exactly. The names of the seed's 1.0 tracker
(``bind_chat_turn_usage``, ``record_gemini_response``...) work too.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Final

from il_audit._ratelimit import RateLimitedLog
from il_audit.chat.calls import ModelCall, latency_or_none, merged, tier_or_standard
from il_audit.chat.retrieval import RetrievalRecorder
from il_audit.chat.tokens import token_counts
from il_audit.publisher import new_event_id
from il_audit.publisher.context import AuditContext
from il_audit.schemas.envelope import MAX_USAGE_ITEMS

GEMINI: Final = "vertex_gemini"
EMBEDDING: Final = "vertex_embedding"
RERANK: Final = "vertex_rerank"
DEFAULT_EMBEDDING_MODEL: Final = "gemini-embedding-001"
DEFAULT_RERANK_MODEL: Final = "semantic-ranker-default"
RECORDS_PER_RERANK_QUERY: Final = 100
"""The ranking API bills per query of up to 100 records."""
_LATE: Final = (
    "il-audit: a call was recorded on chat turn %s after the turn was emitted; it is in no event"
)
_late_log = RateLimitedLog(logging.getLogger(__name__), 10.0)


class ChatTurnUsage(RetrievalRecorder):
    """The calls of one chat turn and its retrieval facts, safe to record from many threads."""

    def __init__(
        self,
        turn_id: str | None = None,
        context: AuditContext | None = None,
        *,
        conversation_session_id: str | None = None,
    ) -> None:
        self.turn_id = turn_id or new_event_id(time.time_ns())
        """The turn's id: the ``event_id`` of the turn event."""
        self.context = context
        self.conversation_session_id = conversation_session_id
        self.retrieval_query: str | None = None
        self.retrieval_hit_count: int | None = None
        self.used_attached_only: bool | None = None
        self.no_docs: bool | None = None
        self.latency_ms_retrieval: float = 0.0
        self.llm_model: str | None = None
        """The model of the last generate call (``chat_turns.llm_model``)."""
        self._calls: list[ModelCall] = []
        self._sequence = 0
        self._lock = threading.Lock()
        self.emitted = False
        """Set by ``emit_chat_turn``: calls recorded later are in no event."""

    # ------------------------------------------------------------------ recording

    def record_model_call(
        self,
        *,
        model_id: str,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        usage_metadata: Any = None,
        category: str = "answer",
        service: str = GEMINI,
        operation: str = "generate_content",
        pricing_tier: str | None = None,
        latency_ms: float | None = None,
        tokens_estimated: bool = False,
        prompt: str | None = None,
        completion: str | None = None,
        **text_details: Any,
    ) -> None:
        """Record one generate call; tokens come from the arguments or ``usage_metadata``.

        ``usage_metadata`` is a Vertex AI / google-genai response or its
        ``usage_metadata``, or a LangChain ``AIMessage`` or its
        ``usage_metadata`` (read by duck typing). With ``prompt`` /
        ``completion`` and ``IL_AUDIT_STORE_MODEL_CALL_TEXT`` on, a
        ``chat.model_call.text`` event records the text too (``text_details``:
        ``temperature``, ``finish_reason``, ``attempt``... of that event).
        """
        counts = token_counts(usage_metadata) if usage_metadata is not None else None
        if counts is not None and counts.found:
            input_tokens = counts.input if input_tokens is None else input_tokens
            output_tokens = counts.output if output_tokens is None else output_tokens
            text_details.setdefault("thought_tokens", counts.thoughts)
            text_details.setdefault("cached_tokens", counts.cached)
        call = ModelCall(
            service=service,
            model_id=model_id,
            category=category,
            operation=operation,
            input_tokens=max(0, input_tokens or 0),
            output_tokens=max(0, output_tokens or 0),
            pricing_tier=tier_or_standard(pricing_tier),
            latency_ms=latency_or_none(latency_ms),
            tokens_estimated=tokens_estimated,
        )
        with self._lock:
            self._calls.append(call)
            if service == GEMINI or operation.startswith("generate"):
                self.llm_model = model_id
        if self.emitted:
            _late_log.warning(_LATE, self.turn_id)
        if prompt is not None or completion is not None:
            self.record_model_call_text(
                category=category,
                operation=operation,
                prompt=prompt or "",
                completion=completion or "",
                model_id=model_id,
                **text_details,
            )

    def record_embedding(
        self,
        *,
        input_tokens: int | None = None,
        usage_metadata: Any = None,
        model_id: str = DEFAULT_EMBEDDING_MODEL,
        service: str = EMBEDDING,
        pricing_tier: str | None = None,
        latency_ms: float | None = None,
        tokens_estimated: bool = False,
    ) -> None:
        """Record one embedding call (input tokens only)."""
        if input_tokens is None and usage_metadata is not None:
            input_tokens = token_counts(usage_metadata).input
        self._append(
            ModelCall(
                service=service,
                model_id=model_id,
                category="embedding",
                operation="embed_content",
                input_tokens=max(0, input_tokens or 0),
                pricing_tier=tier_or_standard(pricing_tier),
                latency_ms=latency_or_none(latency_ms),
                tokens_estimated=tokens_estimated,
            )
        )

    def record_rerank(
        self,
        *,
        record_count: int | None = None,
        queries: int | None = None,
        model_id: str = DEFAULT_RERANK_MODEL,
        service: str = RERANK,
        latency_ms: float | None = None,
    ) -> None:
        """Record one rerank call, priced per query (a query ranks up to 100 records).

        ``queries`` defaults to ``ceil(record_count / 100)``, at least 1.
        """
        if queries is None:
            queries = max(1, math.ceil((record_count or 0) / RECORDS_PER_RERANK_QUERY))
        # The seed's 1.0 default '...@latest' matches no catalog row: use the rate's key.
        model_id = model_id.removesuffix("@latest")
        self._append(
            ModelCall(
                service=service,
                model_id=model_id,
                category="rerank",
                operation="semantic_ranker",
                quantity=float(max(0, queries)),
                unit="query",
                latency_ms=latency_or_none(latency_ms),
            )
        )

    def record_retrieval(
        self,
        *,
        retrieval_hit_count: int,
        retrieval_query: str | None = None,
        used_attached_only: bool | None = None,
        latency_ms: float | None = None,
    ) -> None:
        """Record the turn's retrieval: hits (``no_docs`` when none), query and time.

        The query is dropped by the publisher when ``IL_AUDIT_STORE_QUERY_TEXT`` is off.
        """
        with self._lock:
            self.retrieval_query = retrieval_query
            self.retrieval_hit_count = retrieval_hit_count
            self.no_docs = retrieval_hit_count <= 0
            self.used_attached_only = used_attached_only
            self.latency_ms_retrieval += latency_or_none(latency_ms) or 0.0

    def record_model_call_text(
        self,
        *,
        category: str,
        operation: str,
        prompt: str,
        completion: str = "",
        model_id: str | None = None,
        **details: Any,
    ) -> str | None:
        """Emit the prompt and completion of one call (``chat.model_call.text``), when
        ``IL_AUDIT_STORE_MODEL_CALL_TEXT`` is on; numbered within the turn."""
        from il_audit.chat.model_call_text import emit_model_call_text

        with self._lock:
            self._sequence += 1
            sequence = self._sequence
        return emit_model_call_text(
            context=self.context,
            conversation_id=self.conversation_session_id,
            correlation_id=self.turn_id,
            sequence=sequence,
            category=category,
            operation=operation,
            model_id=model_id,
            prompt=prompt,
            completion=completion,
            **details,
        )

    def _append(self, call: ModelCall) -> None:
        with self._lock:
            self._calls.append(call)
        if self.emitted:
            _late_log.warning(_LATE, self.turn_id)

    # ---------------------------------------------------------- the seed's 1.0 names

    def record_api_call(
        self,
        *,
        category: str,
        input_tokens: int = 0,
        output_tokens: int = 0,
        model_id: str | None = None,
        tokens_estimated: bool = False,
        latency_ms: float | None = None,
        metadata: Mapping[str, Any] | None = None,
        record_count: int = 1,
        pricing_tier: str | None = None,
    ) -> None:
        """1.0's generic recorder: ``embedding`` and ``rerank`` by category, else a model call."""
        del metadata  # 1.0 kept it on its api_usage row; a usage item has no room for it
        if category == "embedding":
            self.record_embedding(
                input_tokens=input_tokens,
                model_id=model_id or DEFAULT_EMBEDDING_MODEL,
                tokens_estimated=tokens_estimated,
                latency_ms=latency_ms,
                pricing_tier=pricing_tier,
            )
        elif category == "rerank":
            self.record_rerank(
                record_count=record_count,
                model_id=model_id or DEFAULT_RERANK_MODEL,
                latency_ms=latency_ms,
            )
        else:
            self.record_model_call(
                model_id=model_id or "gemini-2.5-flash-lite",
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                category=category,
                tokens_estimated=tokens_estimated,
                latency_ms=latency_ms,
                pricing_tier=pricing_tier,
            )

    def record_gemini_response(
        self,
        *,
        category: str,
        usage_metadata: Any,
        model_id: str | None = None,
        latency_ms: float | None = None,
    ) -> None:
        """1.0's name for :meth:`record_model_call` with ``usage_metadata``."""
        self.record_model_call(
            model_id=model_id or "gemini-2.5-flash-lite",
            usage_metadata=usage_metadata,
            category=category,
            latency_ms=latency_ms,
        )

    def record_embedding_tokens(
        self,
        *,
        input_tokens: int,
        model_id: str | None = None,
        tokens_estimated: bool = False,
        latency_ms: float | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        """1.0's name for :meth:`record_embedding`."""
        del metadata
        self.record_embedding(
            input_tokens=input_tokens,
            model_id=model_id or DEFAULT_EMBEDDING_MODEL,
            tokens_estimated=tokens_estimated,
            latency_ms=latency_ms,
        )

    def record_rerank_call(
        self, *, model_id: str, record_count: int, latency_ms: float | None = None
    ) -> None:
        """1.0's name for :meth:`record_rerank`."""
        self.record_rerank(model_id=model_id, record_count=record_count, latency_ms=latency_ms)

    # ------------------------------------------------------------------- reading

    @property
    def calls(self) -> tuple[ModelCall, ...]:
        """Every call recorded so far, in order."""
        with self._lock:
            return tuple(self._calls)

    def usage_items(self) -> list[dict[str, Any]]:
        """The calls as usage items, one per call.

        Above the envelope's 100 items, calls with the same service, model,
        category, tier and estimate flag are merged (tokens, quantities and
        latencies added), so totals and cost stay exact.
        """
        calls = self.calls
        kept = merged(calls) if len(calls) > MAX_USAGE_ITEMS else calls
        return [call.usage_item() for call in kept]

    def totals(self) -> dict[str, Any]:
        """The turn's rolled-up fields: tokens, latencies, model, calls, retrieval facts.

        Zeros and unknowns are left out, so a caller's own value always wins.
        """
        calls = self.calls
        token_calls = [call for call in calls if call.input_tokens is not None]
        llm_latency = sum(call.latency_ms or 0.0 for call in calls)
        fields = {
            "input_tokens": sum(call.input_tokens or 0 for call in token_calls) or None,
            "output_tokens": sum(call.output_tokens or 0 for call in token_calls) or None,
            "latency_ms_llm": round(llm_latency) or None,
            "latency_ms_retrieval": round(self.latency_ms_retrieval) or None,
            "llm_model": self.llm_model,
            "model_calls": len(calls) or None,
            "retrieval_query": self.retrieval_query,
            "retrieval_hit_count": self.retrieval_hit_count,
            "no_docs": self.no_docs,
            "used_attached_only": self.used_attached_only,
        }
        return {key: value for key, value in fields.items() if value is not None}

    def rollup_for_chat_turn(self) -> dict[str, Any]:
        """1.0's name for :meth:`totals` (costs come from the subscriber, not from here)."""
        return self.totals()

    # ------------------------------------------------------------------ binding

    @contextmanager
    def attach(self) -> Iterator[ChatTurnUsage]:
        """Bind this tracker in the current thread or task for the ``with`` block."""
        token = _active.set(self)
        try:
            yield self
        finally:
            _active.reset(token)


_active: ContextVar[ChatTurnUsage | None] = ContextVar("il_audit_chat_turn_usage", default=None)


@contextmanager
def chat_turn_usage(
    turn_id: str | None = None,
    context: AuditContext | None = None,
    *,
    conversation_session_id: str | None = None,
) -> Iterator[ChatTurnUsage]:
    """A tracker for one turn, bound for the ``with`` block (a fresh ``turn_id`` if none)."""
    tracker = ChatTurnUsage(turn_id, context, conversation_session_id=conversation_session_id)
    with tracker.attach():
        yield tracker


def active_turn_usage() -> ChatTurnUsage | None:
    """The tracker bound to the running thread or task, if any."""
    return _active.get()


# ------------------------------------------------------------ the seed's 1.0 functions


def bind_chat_turn_usage(
    turn_id: str, context: AuditContext, *, conversation_id: str | None = None
) -> ChatTurnUsage:
    """Bind a new tracker until :func:`clear_chat_turn_usage` (1.0's API)."""
    tracker = ChatTurnUsage(turn_id, context, conversation_session_id=conversation_id)
    _active.set(tracker)
    return tracker


def attach_chat_turn_usage(tracker: ChatTurnUsage) -> None:
    """Bind an existing tracker in this thread, e.g. a worker's (1.0's API)."""
    _active.set(tracker)


def get_active_chat_turn_usage() -> ChatTurnUsage | None:
    """1.0's name for :func:`active_turn_usage`."""
    return _active.get()


def clear_chat_turn_usage() -> None:
    """Unbind the tracker of this thread or task (1.0's API)."""
    _active.set(None)


ChatTurnUsageTracker = ChatTurnUsage
"""1.0's name of the tracker class."""
