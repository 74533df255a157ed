"""The LangChain handler and 1.0.35's invoke helpers, through LangChain's own fake models.

No network and no mocks: langchain-core's callback machinery calls the handler;
the models are langchain-core's ``GenericFakeChatModel`` made to report
``usage_metadata``, and two tiny ``BaseChatModel`` / ``BaseRetriever``
subclasses for a failing call and a retriever.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any

import pytest
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel, GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from il_audit.chat import (
    ChatTurnUsage,
    chat_turn_usage,
    invoke_chat_llm,
    invoke_structured_chat_llm,
)
from il_audit.chat.turn_usage import reset_pending_llm_category, set_pending_llm_category
from il_audit.integrations.langchain import AuditCallbackHandler, AuditedEmbeddings
from il_audit.publisher import AuditContext
from il_audit.publisher.testing import capture_events
from il_audit.schemas import taxonomy as T
from tests.support.langchain_fakes import ShelfRetriever

CTX = AuditContext(app="chat", actor_uid="u-1")
USAGE = {
    "input_tokens": 1200,
    "output_tokens": 340,
    "total_tokens": 1540,
    "input_token_details": {"cache_read": 200},
    "output_token_details": {"reasoning": 90},
}


def reply(text: str = "the answer", model: str = "gemini-2.5-flash") -> AIMessage:
    return AIMessage(
        text,
        usage_metadata=USAGE,  # type: ignore[arg-type]
        response_metadata={"model_name": model, "finish_reason": "STOP"},
    )


def fake_model(*replies: AIMessage) -> GenericFakeChatModel:
    return GenericFakeChatModel(messages=iter(replies or [reply()]))


class FlakyChatModel(BaseChatModel):
    """Raises ``TimeoutError`` on its first ``failures`` calls, then answers."""

    failures: int = 1

    @property
    def _llm_type(self) -> str:
        return "flaky"

    def _generate(
        self,
        messages: list[BaseMessage],  # noqa: ARG002 - BaseChatModel's signature
        stop: list[str] | None = None,  # noqa: ARG002
        run_manager: CallbackManagerForLLMRun | None = None,  # noqa: ARG002
        **kwargs: Any,
    ) -> ChatResult:
        if self.failures > 0:
            self.failures -= 1
            raise TimeoutError("upstream timed out")
        return ChatResult(generations=[ChatGeneration(message=reply("ok"))])


class LengthEmbeddings(Embeddings):
    """A vector of one number, the text's length (langchain-core's fake embeddings need numpy)."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [[float(len(text))] for text in texts]

    def embed_query(self, text: str) -> list[float]:
        return [float(len(text))]


def test_a_chat_call_is_one_usage_event_of_the_turn() -> None:
    """Tokens from usage_metadata, the reply's model, the pending category's route, the
    finish reason, cached and reasoning tokens, and a measured latency."""
    token = set_pending_llm_category("contextualizer")
    try:
        with capture_events() as events, chat_turn_usage("turn-1", CTX) as usage:
            answer = fake_model().invoke(
                [HumanMessage("q")], config={"callbacks": [AuditCallbackHandler()]}
            )
    finally:
        reset_pending_llm_category(token)
    assert answer.content == "the answer"
    [event] = events
    assert (event.event_type, event.correlation_id, event.correlation_type) == (
        T.API_USAGE_RECORDED, "turn-1", "chat_turn"
    )  # fmt: skip
    [item] = event.usage
    assert (item.service, item.model_id, item.category, item.operation, item.pricing_tier) == (
        "vertex_gemini", "gemini-2.5-flash", "contextualizer", "generate_content", "standard"
    )  # fmt: skip
    # LangChain's input includes cache reads: the item's input is the rest, cached apart.
    assert (item.input_tokens, item.cached_input_tokens, item.output_tokens) == (1000, 200, 340)
    assert item.latency_ms is not None
    assert item.latency_ms > 0
    metadata = event.metadata or {}
    assert (metadata["finish_reason"], metadata["cached_tokens"], metadata["thought_tokens"]) == (
        "STOP", 200, 90
    )  # fmt: skip
    assert metadata["integration"] == "langchain"
    assert usage.llm_model == "gemini-2.5-flash"
    assert (usage.input_tokens, usage.output_tokens) == (1200, 340)


def test_the_handler_s_tier_wins_and_nothing_is_recorded_outside_a_turn() -> None:
    """A batch handler's calls carry the batch tier; with no turn bound nothing is emitted."""
    with capture_events() as events:
        fake_model().invoke("q", config={"callbacks": [AuditCallbackHandler()]})
        assert len(events) == 0
        with chat_turn_usage(context=CTX):
            fake_model().invoke(
                "q", config={"callbacks": [AuditCallbackHandler(pricing_tier="batch")]}
            )
    [event] = events
    assert event.usage[0].pricing_tier == "batch"


def test_a_failed_call_is_recorded_with_its_error_and_still_raises() -> None:
    """The host sees its exception; the turn keeps a zero-token call with succeeded=False."""
    with (
        capture_events() as events,
        chat_turn_usage(context=CTX) as usage,
        pytest.raises(TimeoutError),
    ):
        FlakyChatModel().invoke("q", config={"callbacks": [AuditCallbackHandler()]})
    [event] = events
    assert (event.usage[0].input_tokens, event.usage[0].output_tokens) == (0, 0)
    metadata = event.metadata or {}
    assert (metadata["succeeded"], metadata["error_type"]) == (False, "TimeoutError")
    assert len(usage.calls) == 1


def test_retrieved_documents_become_chunks_with_their_hash_only() -> None:
    """One search pass per retriever call; each document a chunk whose text is only hashed."""
    secret = "Quarterly revenue was 4.2 million"
    documents = [
        Document(secret, id="c-1", metadata={"source": "report.pdf"}),
        Document("second passage", metadata={"drive_file_id": "f-2"}),
    ]
    with capture_events() as events, chat_turn_usage("turn-r", CTX) as usage:
        found = ShelfRetriever(documents=documents).invoke(
            "revenue?", config={"callbacks": [AuditCallbackHandler()]}
        )
    assert found == documents
    chunks = events.of_type(T.CHAT_RETRIEVAL_CHUNK)
    assert [chunk.payload for chunk in chunks] == [
        {"search_pass": 1, "stage": "final", "rank": 1, "chunk_id": "c-1",
         "source_file": "report.pdf",
         "chunk_text_sha256": hashlib.sha256(secret.encode()).hexdigest()},
        {"search_pass": 1, "stage": "final", "rank": 2, "drive_file_id": "f-2",
         "chunk_text_sha256": hashlib.sha256(b"second passage").hexdigest()},
    ]  # fmt: skip
    assert {chunk.correlation_id for chunk in chunks} == {"turn-r"}
    assert secret not in json.dumps([event.model_dump(mode="json") for event in events])
    assert (usage.retrieval_hit_count, usage.no_docs, usage.retrieval_query) == (
        2,
        False,
        "revenue?",
    )
    assert usage.latency_ms_retrieval > 0


def test_a_wrapped_embedding_model_records_estimated_tokens() -> None:
    """LangChain embeddings have no callbacks: the wrapper records each call, ~4 chars a token."""
    embeddings = AuditedEmbeddings(LengthEmbeddings())
    with capture_events() as events, chat_turn_usage(context=CTX):
        assert embeddings.embed_documents(["a" * 10, "b" * 4]) == [[10.0], [4.0]]
        assert embeddings.embed_query("c" * 8) == [8.0]
    first, second = events
    assert [first.usage[0].input_tokens, second.usage[0].input_tokens] == [3 + 1, 2]
    assert first.usage[0].category == "embedding"
    assert first.usage[0].tokens_estimated is True


@pytest.mark.parametrize("store_text", [True, False])
def test_invoke_chat_llm_writes_the_usage_and_text_rows_with_one_call_id(
    monkeypatch: pytest.MonkeyPatch, store_text: bool
) -> None:
    """One usage event and, when model-call text is on, one text row sharing a uuid4 call_id."""
    monkeypatch.setenv("IL_AUDIT_STORE_MODEL_CALL_TEXT", str(store_text).lower())
    messages = [SystemMessage("be brief"), HumanMessage("q?")]
    with capture_events() as events, chat_turn_usage(context=CTX):
        result = invoke_chat_llm(fake_model(), messages, category="format_preference")
    assert result.content == "the answer"
    [call] = events.of_type(T.API_USAGE_RECORDED)
    assert call.usage[0].category == "format_preference"
    texts = events.of_type(T.CHAT_MODEL_CALL_TEXT)
    if not store_text:
        assert texts == []
        return
    [text] = texts
    # The text row's id is the call_id (model_call_text.call_id), the usage event's metadata too.
    assert text.event_id == (call.metadata or {})["call_id"]
    assert len(text.event_id) == 36
    assert {key: text.payload.get(key) for key in (
        "category", "model_id", "attempt", "succeeded", "prompt", "completion",
        "finish_reason", "thought_tokens", "cached_tokens")} == {
        "category": "format_preference", "model_id": "gemini-2.5-flash", "attempt": 1,
        "succeeded": True, "prompt": "system: be brief\n\nhuman: q?",
        "completion": "the answer", "finish_reason": "STOP", "thought_tokens": 90,
        "cached_tokens": 200,
    }  # fmt: skip


def test_invoke_structured_chat_llm_retries_and_writes_a_row_per_attempt(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Attempt 1 fails (its row says so), attempt 2 succeeds; after the last failure the
    exception is re-raised. Without a turn the runner is just invoked."""
    monkeypatch.setenv("IL_AUDIT_STORE_MODEL_CALL_TEXT", "true")
    with capture_events() as events, chat_turn_usage(context=CTX):
        result = invoke_structured_chat_llm(
            FlakyChatModel(failures=1), ["q"], category="answer", label="plan"
        )
        with pytest.raises(TimeoutError):
            invoke_structured_chat_llm(
                FlakyChatModel(failures=5), ["q"], category="answer", label="plan", max_attempts=2
            )
    assert result.content == "ok"
    rows = [(t.payload["attempt"], t.payload["succeeded"], t.payload.get("error_type"),
             t.payload["completion"]) for t in events.of_type(T.CHAT_MODEL_CALL_TEXT)]  # fmt: skip
    failed = (False, "TimeoutError", "TimeoutError: upstream timed out")
    assert rows == [(1, *failed), (2, True, None, "ok"), (1, *failed), (2, *failed)]
    assert len(events.of_type(T.API_USAGE_RECORDED)) == 4
    with capture_events() as outside:
        assert invoke_chat_llm(fake_model(), ["q"], category="answer").content == "the answer"
    assert len(outside) == 0


def test_an_async_call_is_recorded_on_the_turn_of_its_task() -> None:
    """ainvoke runs the sync handler on an executor thread with the task's context copied,
    so it finds the task's tracker; two concurrent turns keep their own calls."""

    async def turn(turn_id: str, model: str) -> ChatTurnUsage:
        with chat_turn_usage(turn_id, CTX) as usage:
            await fake_model(reply(model=model)).ainvoke(
                "q", config={"callbacks": [AuditCallbackHandler()]}
            )
        return usage

    async def both() -> list[ChatTurnUsage]:
        return list(await asyncio.gather(turn("t-a", "model-a"), turn("t-b", "model-b")))

    with capture_events() as events:
        first, second = asyncio.run(both())
    assert [call.model_id for call in first.calls] == ["model-a"]
    assert [call.model_id for call in second.calls] == ["model-b"]
    assert {event.correlation_id for event in events} == {"t-a", "t-b"}
