"""What one chat turn spent: a tracker its model, embedding and rerank calls record into.

The tracker is bound to the running task (a ``ContextVar``; ``chat_turn_usage()``
and 1.0's functions are in :mod:`il_audit.chat.turn_usage`), so code deep in the
call stack finds it with :func:`active_turn_usage`; a worker thread joins it
with ``with usage.attach(): ...``, and its lock makes calls from several
threads safe. Each call is published at once as its own usage event
(``cost.api.usage``, ``correlation_id`` the turn's id, type ``chat_turn``): its
cost reaches the warehouse even if the turn raises before it is emitted, and
is counted once, since the turn event carries only totals and ``chat_turns``
adds up the calls correlated to it. The subscriber prices each call at its
own rate and tier; the tracker's ``api_cost_usd`` is only an estimate.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Final

from il_audit.chat.calls import (
    ModelCall,
    call_metadata,
    estimated_api_cost,
    latency_or_none,
    modality_metadata,
    publish_call,
    tier_or_standard,
    token_details,
)
from il_audit.chat.retrieval import RetrievalRecorder
from il_audit.chat.token_mapping import resolve_chat_api_usage_fields
from il_audit.chat.tokens import prompt_tokens_by_modality, token_counts
from il_audit.publisher import new_event_id
from il_audit.publisher.context import AuditContext

GEMINI: Final = "vertex_gemini"
EMBEDDING: Final = "vertex_embedding"
RERANK: Final = "vertex_rerank"
DEFAULT_EMBEDDING_MODEL: Final = "gemini-embedding-001"
DEFAULT_RERANK_MODEL: Final = "semantic-ranker-default"
RECORDS_PER_RERANK_QUERY: Final = 100
"""The ranking API bills per query of up to 100 records."""


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
        self._details: dict[str, dict[str, Any]] = {}
        self._sequence = 0
        self._lock = threading.Lock()

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
        metadata: Mapping[str, Any] | None = None,
        **text_details: Any,
    ) -> None:
        """Record one generate call; tokens come from the arguments or ``usage_metadata``.

        ``usage_metadata`` is a response or its usage of OpenAI, Anthropic,
        google-genai / Vertex AI, or a LangChain ``AIMessage`` or its
        ``usage_metadata`` (:func:`~il_audit.chat.usage_readers.token_counts`):
        cached and cache-write tokens go on the item apart from the input. With ``prompt`` /
        ``completion`` and ``IL_AUDIT_STORE_MODEL_CALL_TEXT`` on, a
        ``chat.model_call.text`` event records the text too (``text_details``:
        ``call_id``, ``temperature``, ``finish_reason``, ``attempt``... of that
        event). ``metadata`` is added to the call's usage event.
        """
        call_id = text_details.pop("call_id", None) or new_event_id(time.time_ns())
        counts = token_counts(usage_metadata) if usage_metadata is not None else None
        detail_fields = token_details(counts, input_given=input_tokens is not None)
        if counts is not None and counts.found:
            input_tokens = counts.input if input_tokens is None else input_tokens
            output_tokens = counts.output if output_tokens is None else output_tokens
            text_details.setdefault("thought_tokens", counts.thoughts)
            text_details.setdefault("cached_tokens", counts.cached)
        modality = prompt_tokens_by_modality(usage_metadata) if usage_metadata is not None else {}
        tier = tier_or_standard(pricing_tier)
        details = {key: text_details.get(key) for key in ("thought_tokens", "cached_tokens",
                                                          "finish_reason")}  # fmt: skip
        self._record(
            ModelCall(
                service=service,
                model_id=model_id,
                category=category,
                operation=operation,
                input_tokens=max(0, input_tokens or 0),
                output_tokens=max(0, output_tokens or 0),
                pricing_tier=tier,
                latency_ms=latency_or_none(latency_ms),
                tokens_estimated=tokens_estimated,
                **detail_fields,
            ),
            call_metadata(call_id, tier, self.call_details(call_id), details,
                          {"prompt_tokens_by_modality": modality or None},
                          modality_metadata(counts), metadata),
        )  # fmt: skip
        if prompt is not None or completion is not None:
            self.record_model_call_text(
                category=category,
                operation=operation,
                prompt=prompt or "",
                completion=completion or "",
                model_id=model_id,
                call_id=call_id,
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
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        """Record one embedding call (input tokens only)."""
        if input_tokens is None and usage_metadata is not None:
            input_tokens = token_counts(usage_metadata).input
        tier = tier_or_standard(pricing_tier)
        self._record(
            ModelCall(
                service=service,
                model_id=model_id,
                category="embedding",
                operation="embed_content",
                input_tokens=max(0, input_tokens or 0),
                pricing_tier=tier,
                latency_ms=latency_or_none(latency_ms),
                tokens_estimated=tokens_estimated,
            ),
            call_metadata(new_event_id(time.time_ns()), tier, metadata),
        )

    def record_rerank(
        self,
        *,
        record_count: int | None = None,
        queries: int | None = None,
        model_id: str = DEFAULT_RERANK_MODEL,
        service: str = RERANK,
        latency_ms: float | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        """Record one rerank call, priced per query (a query ranks up to 100 records).

        ``queries`` defaults to ``ceil(record_count / 100)``, at least 1.
        """
        if queries is None:
            queries = max(1, math.ceil((record_count or 0) / RECORDS_PER_RERANK_QUERY))
        # The seed's 1.0 default '...@latest' matches no catalog row: use the rate's key.
        model_id = model_id.removesuffix("@latest")
        count = {"record_count": record_count} if record_count and record_count > 0 else None
        self._record(
            ModelCall(
                service=service,
                model_id=model_id,
                category="rerank",
                operation="semantic_ranker",
                quantity=float(max(0, queries)),
                unit="query",
                latency_ms=latency_or_none(latency_ms),
            ),
            call_metadata(new_event_id(time.time_ns()), "standard", count, metadata),
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

    def _record(self, call: ModelCall, metadata: Mapping[str, Any]) -> None:
        """Keep the call for the totals and publish it now, as its own usage event."""
        with self._lock:
            self._calls.append(call)
            if call.service == GEMINI or (call.operation or "").startswith("generate"):
                self.llm_model = call.model_id
        publish_call(call, context=self.context, turn_id=self.turn_id, metadata=metadata)

    def remember_call_details(self, call_id: str, details: Mapping[str, Any]) -> None:
        """Stash details of a call (``finish_reason``, ``thought_tokens``, ``cached_tokens``)
        for the call recorded later with the same ``call_id`` (1.0.35's API)."""
        with self._lock:
            self._details.setdefault(call_id, {}).update(details)

    def call_details(self, call_id: str | None) -> dict[str, Any]:
        """What :meth:`remember_call_details` stashed for ``call_id`` (``{}`` if nothing)."""
        with self._lock:
            return dict(self._details.get(call_id or "", {}))

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
        """1.0's generic recorder: the chat route of ``category`` (``il_audit.usage``) says what
        the call is; ``ValueError`` for a category chat has no route for. ``metadata`` goes
        on the call's usage event."""
        fields = resolve_chat_api_usage_fields(category=category, model_id=model_id,
                                               pricing_tier=pricing_tier)  # fmt: skip
        if fields.service == RERANK:
            self.record_rerank(record_count=record_count, model_id=fields.model_id,
                               service=fields.service, latency_ms=latency_ms,
                               metadata=metadata)  # fmt: skip
        else:
            self.record_model_call(
                model_id=fields.model_id, input_tokens=input_tokens, output_tokens=output_tokens,
                category=fields.category, service=fields.service, operation=fields.operation,
                pricing_tier=fields.pricing_tier, latency_ms=latency_ms,
                tokens_estimated=tokens_estimated, metadata=metadata,
            )  # fmt: skip

    def record_gemini_response(
        self,
        *,
        category: str,
        usage_metadata: Any,
        model_id: str | None = None,
        latency_ms: float | None = None,
    ) -> None:
        """1.0's name for :meth:`record_model_call` with ``usage_metadata``, routed like
        :meth:`record_api_call` (``ValueError`` for an unknown category)."""
        fields = resolve_chat_api_usage_fields(category=category, model_id=model_id)
        self.record_model_call(
            model_id=fields.model_id, usage_metadata=usage_metadata, category=fields.category,
            service=fields.service, operation=fields.operation, pricing_tier=fields.pricing_tier,
            latency_ms=latency_ms,
        )  # fmt: skip

    def record_embedding_tokens(
        self,
        *,
        input_tokens: int,
        model_id: str | None = None,
        tokens_estimated: bool = False,
        latency_ms: float | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        """1.0's name for an embedding call: :meth:`record_api_call` of category ``embedding``."""
        self.record_api_call(category="embedding", input_tokens=input_tokens, model_id=model_id,
                             tokens_estimated=tokens_estimated, latency_ms=latency_ms,
                             metadata=metadata)  # fmt: skip

    def record_rerank_call(
        self, *, model_id: str, record_count: int, latency_ms: float | None = None
    ) -> None:
        """1.0's name for :meth:`record_rerank` (metadata ``record_count`` when above 0)."""
        self.record_rerank(model_id=model_id, record_count=record_count, latency_ms=latency_ms)

    # ------------------------------------------------------------------- reading

    @property
    def calls(self) -> tuple[ModelCall, ...]:
        """Every call recorded so far, in order."""
        with self._lock:
            return tuple(self._calls)

    @property
    def conversation_id(self) -> str | None:
        """1.0's name for ``conversation_session_id``."""
        return self.conversation_session_id

    @conversation_id.setter
    def conversation_id(self, value: str | None) -> None:
        self.conversation_session_id = value

    @property
    def input_tokens(self) -> int:
        """Prompt tokens of every call so far (embeddings and cache reads / writes included)."""
        return sum(call.prompt_tokens for call in self.calls)

    @property
    def output_tokens(self) -> int:
        """Output tokens of every call so far."""
        return sum(call.output_tokens or 0 for call in self.calls)

    @property
    def latency_ms_llm(self) -> int:
        """The calls' latencies added up, in whole milliseconds."""
        return round(sum(call.latency_ms or 0.0 for call in self.calls))

    @property
    def api_cost_usd(self) -> float:
        """An in-process **estimate** of the token calls' cost, in USD: the bundled seed
        catalog's rates of today, at each call's tier (1.0.35 used standard), to 8 places.

        Not the price of record, which the subscriber computes at ingestion
        (``chat_turns.api_cost_usd``); the two differ when ``cost_rates``
        overrides the seed. Rerank queries are resource cost, as in ``chat_turns``.
        """
        return estimated_api_cost(self.calls)

    def totals(self) -> dict[str, Any]:
        """The turn's rolled-up fields: tokens, latencies, model, calls, retrieval facts.

        Zeros and unknowns are left out, so a caller's own value always wins.
        """
        calls = self.calls
        token_calls = [call for call in calls if call.counts_tokens]
        fields = {
            "input_tokens": sum(call.prompt_tokens for call in token_calls) or None,
            "output_tokens": sum(call.output_tokens or 0 for call in token_calls) or None,
            "latency_ms_llm": round(sum(call.latency_ms or 0.0 for call in calls)) or None,
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
        """1.0's eleven chat_turns fields, every key present (None for 0 or unknown).

        ``api_cost_usd`` and ``total_cost_usd`` are the in-process estimate
        (:attr:`api_cost_usd`); the warehouse prices the calls themselves.
        """
        totals = self.totals()
        cost = self.api_cost_usd or None
        keys = ("input_tokens", "output_tokens", "latency_ms_llm", "latency_ms_retrieval",
                "llm_model", "retrieval_query", "retrieval_hit_count", "no_docs",
                "used_attached_only")  # fmt: skip
        return {**{key: totals.get(key) for key in keys}, "api_cost_usd": cost,
                "total_cost_usd": cost}  # fmt: skip

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


def active_turn_usage() -> ChatTurnUsage | None:
    """The tracker bound to the running thread or task, if any."""
    return _active.get()


def bind_turn_usage(tracker: ChatTurnUsage | None) -> None:
    """Bind ``tracker`` (None: unbind) in this thread or task until changed (1.0's style,
    without a ``with`` block); :mod:`il_audit.chat.turn_usage` builds on it."""
    _active.set(tracker)
