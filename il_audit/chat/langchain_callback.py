"""A LangChain callback handler recording a turn's model and retriever calls (``[langchain]``).

::

    from il_audit.integrations.langchain import AuditCallbackHandler

    with chat_turn_usage(context=ctx) as usage:
        answer = model.invoke(messages, config={"callbacks": [AuditCallbackHandler()]})

While a turn's tracker is bound (:func:`~il_audit.chat.usage.active_turn_usage`),
each chat model / LLM call becomes one usage event of the turn through
``record_model_call(usage_metadata=<the AIMessage>)``: the token readers of
:mod:`il_audit.chat.tokens` map LangChain's ``usage_metadata`` (input, output,
``input_token_details.cache_read``, ``output_token_details.reasoning``), so the
handler never counts tokens itself. Latency is measured from the start callback
to the end one; the category is the pending LLM category
(:func:`~il_audit.chat.turn_usage.set_pending_llm_category`, ``answer`` by
default) and routes the call (service, fallback model, tier) as
``record_api_call`` does. A failed call is recorded with no tokens and
``succeeded=False`` / ``error_type`` in its metadata.

A retriever's documents become the turn's retrieval chunks (stage ``final``, one
search pass per retriever call); only each document's SHA-256 is sent, never its
text. LangChain's embedding models have no callbacks: wrap one in
:class:`AuditedEmbeddings` to record its calls (token counts estimated).

Outside a turn the handler does nothing; it never raises into the host's chain.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any, Final
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.outputs import LLMResult

from il_audit.chat.token_mapping import resolve_chat_api_usage_fields
from il_audit.chat.tokens import token_counts
from il_audit.chat.turn_usage import get_pending_llm_category
from il_audit.chat.usage import ChatTurnUsage, active_turn_usage

logger = logging.getLogger(__name__)

RETRIEVAL_STAGE: Final = "final"
"""The stage a retriever's documents are recorded at: what the chain goes on with."""
CHARS_PER_TOKEN: Final = 4
"""Embedding models report no tokens through LangChain: estimated at ~4 characters each."""
_MODEL_KEYS: Final = ("model_name", "model", "model_id")


class AuditCallbackHandler(BaseCallbackHandler):
    """Records every chat model, LLM and retriever call made while a turn's tracker is bound.

    Constructible with no arguments. ``pricing_tier`` overrides the tier the
    category's route gives (e.g. ``batch``); ``call_id`` ties the call's usage
    event to other rows (``invoke_chat_llm`` uses it), else the run id is used.
    """

    raise_error = False  # an audit failure must never break the host's chain

    def __init__(self, *, pricing_tier: str | None = None, call_id: str | None = None) -> None:
        super().__init__()
        self.pricing_tier = pricing_tier
        self.call_id = call_id
        self.last_model: str | None = None
        """The model of the last call recorded."""
        self._runs: dict[UUID, _Run] = {}

    # ------------------------------------------------------------ model calls

    def on_chat_model_start(
        self,
        serialized: dict[str, Any],  # noqa: ARG002 - LangChain's signature
        messages: list[list[Any]],  # noqa: ARG002
        *,
        run_id: UUID,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Note the call's start, its category and the model its run says it uses."""
        self._start(run_id, metadata, kwargs.get("invocation_params"))

    def on_llm_start(
        self,
        serialized: dict[str, Any],  # noqa: ARG002 - LangChain's signature
        prompts: list[str],  # noqa: ARG002
        *,
        run_id: UUID,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """A completion-style LLM's start: as :meth:`on_chat_model_start`."""
        self._start(run_id, metadata, kwargs.get("invocation_params"))

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        """Record the call: tokens from the message's ``usage_metadata``, model, finish reason."""
        run = self._runs.pop(run_id, None)
        tracker = active_turn_usage()
        if tracker is None or run is None:
            return
        try:
            generation = _first_generation(response)
            message = getattr(generation, "message", None)
            response_metadata = dict(getattr(message, "response_metadata", None) or {})
            info = dict(getattr(generation, "generation_info", None) or {})
            model = _model(response_metadata) or _model(response.llm_output or {}) or run.model
            finish = info.get("finish_reason") or response_metadata.get("finish_reason")
            usage = getattr(message, "usage_metadata", None)
            if usage is None:  # a completion LLM: token usage in llm_output, if anywhere
                usage = (response.llm_output or {}).get("token_usage")
            self._record(tracker, run, run_id, model=model, usage=usage,
                         finish_reason=str(finish) if finish is not None else None)  # fmt: skip
        except Exception:  # the host's chain must not fail because of its audit
            logger.warning("il-audit: could not record a LangChain model call", exc_info=True)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """Record the failed call: no tokens, ``succeeded=False`` and the error's class."""
        run = self._runs.pop(run_id, None)
        tracker = active_turn_usage()
        if tracker is None or run is None:
            return
        try:
            self._record(tracker, run, run_id, model=run.model, usage=None,
                         error_type=type(error).__name__)  # fmt: skip
        except Exception:
            logger.warning("il-audit: could not record a failed LangChain call", exc_info=True)

    # ---------------------------------------------------------------- retrievers

    def on_retriever_start(
        self,
        serialized: dict[str, Any],  # noqa: ARG002 - LangChain's signature
        query: str,
        *,
        run_id: UUID,
        **kwargs: Any,
    ) -> None:
        """Note the retrieval's start and its query (stored only under the question rule)."""
        self._runs[run_id] = _Run(category="retrieval", model=None, query=query)

    def on_retriever_end(
        self, documents: Sequence[Document], *, run_id: UUID, **kwargs: Any
    ) -> None:
        """The documents become the turn's chunks (their hash, never their text)."""
        run = self._runs.pop(run_id, None)
        tracker = active_turn_usage()
        if tracker is None or run is None:
            return
        try:
            tracker.record_retrieval(
                retrieval_hit_count=len(documents),
                retrieval_query=run.query,
                latency_ms=run.elapsed_ms(),
            )
            search_pass = tracker.next_retrieval_search_pass()
            tracker.record_retrieval_chunks(
                search_pass=search_pass,
                stage=RETRIEVAL_STAGE,
                chunks=[_chunk(rank, doc) for rank, doc in enumerate(documents, start=1)],
            )
        except Exception:
            logger.warning("il-audit: could not record LangChain documents", exc_info=True)

    def on_retriever_error(
        self,
        error: BaseException,  # noqa: ARG002 - LangChain's signature
        *,
        run_id: UUID,
        **kwargs: Any,
    ) -> None:
        """Forget the failed retrieval: it found nothing the turn used."""
        self._runs.pop(run_id, None)

    # ------------------------------------------------------------------ helpers

    def _start(
        self, run_id: UUID, metadata: Mapping[str, Any] | None, params: Mapping[str, Any] | None
    ) -> None:
        model = _model(params or {}) or (metadata or {}).get("ls_model_name")
        self._runs[run_id] = _Run(category=get_pending_llm_category(),
                                  model=str(model) if model else None)  # fmt: skip

    def _record(
        self,
        tracker: ChatTurnUsage,
        run: _Run,
        run_id: UUID,
        *,
        model: str | None,
        usage: Any,
        finish_reason: str | None = None,
        error_type: str | None = None,
    ) -> None:
        try:
            fields = resolve_chat_api_usage_fields(category=run.category, model_id=model,
                                                   pricing_tier=self.pricing_tier)  # fmt: skip
            route: dict[str, Any] = {"service": fields.service, "operation": fields.operation,
                                     "pricing_tier": fields.pricing_tier}  # fmt: skip
            model = fields.model_id
        except ValueError:  # a category chat has no route for: the tracker's defaults
            route = {"pricing_tier": self.pricing_tier}
        failed = {"succeeded": False, "error_type": error_type} if error_type else None
        call_id = self.call_id or str(run_id)
        counts = token_counts(usage)
        details = {"finish_reason": finish_reason, "thought_tokens": counts.thoughts,
                   "cached_tokens": counts.cached}  # fmt: skip
        # Stashed for the model-call text row invoke_chat_llm writes with the same call_id.
        tracker.remember_call_details(call_id, {k: v for k, v in details.items() if v is not None})
        self.last_model = model
        tracker.record_model_call(
            model_id=model or "unknown",
            usage_metadata=usage,
            category=run.category,
            latency_ms=run.elapsed_ms(),
            metadata={"integration": "langchain", **(failed or {})},
            call_id=call_id,
            finish_reason=finish_reason,
            **route,
        )


class _Run:
    """What a start callback noted for its end callback."""

    __slots__ = ("category", "model", "query", "started")

    def __init__(self, *, category: str, model: str | None, query: str | None = None) -> None:
        self.category = category
        self.model = model
        self.query = query
        self.started = time.perf_counter()

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000.0


def _first_generation(response: LLMResult) -> Any:
    for batch in response.generations:
        for generation in batch:
            return generation
    return None


def _model(values: Mapping[str, Any]) -> str | None:
    for key in _MODEL_KEYS:
        value = values.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _chunk(rank: int, document: Document) -> dict[str, Any]:
    """A retrieval chunk item: rank, ids and the text (the emitter keeps only its SHA-256)."""
    meta = document.metadata or {}
    return {
        "rank": rank,
        "chunk_id": document.id or meta.get("chunk_id"),
        "drive_file_id": meta.get("drive_file_id"),
        "source_file": meta.get("source_file") or meta.get("source"),
        "text": document.page_content,
    }


class AuditedEmbeddings(Embeddings):
    """An embedding model whose calls are recorded on the bound turn (category ``embedding``).

    LangChain's ``Embeddings`` have no callbacks and report no token counts, so
    the input tokens are estimated (characters / 4, ``tokens_estimated``).
    """

    def __init__(self, inner: Embeddings, *, model_id: str | None = None) -> None:
        self.inner = inner
        self.model_id = model_id

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """The inner model's vectors; the call recorded on the bound turn."""
        started = time.perf_counter()
        vectors = self.inner.embed_documents(texts)
        self._record(texts, started)
        return vectors

    def embed_query(self, text: str) -> list[float]:
        """The inner model's vector; the call recorded on the bound turn."""
        started = time.perf_counter()
        vector = self.inner.embed_query(text)
        self._record([text], started)
        return vector

    def _record(self, texts: list[str], started: float) -> None:
        tracker = active_turn_usage()
        if tracker is None:
            return
        try:
            tokens = sum(math.ceil(len(text) / CHARS_PER_TOKEN) for text in texts)
            tracker.record_embedding_tokens(
                input_tokens=tokens, model_id=self.model_id, tokens_estimated=True,
                latency_ms=(time.perf_counter() - started) * 1000.0,
                metadata={"integration": "langchain"},
            )  # fmt: skip
        except Exception:
            logger.warning("il-audit: could not record a LangChain embedding", exc_info=True)


__all__ = ["AuditCallbackHandler", "AuditedEmbeddings"]
