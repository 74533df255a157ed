"""The per-turn usage tracker: bound per task, joined by threads, items and totals."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest

from il_audit.chat import (
    ChatTurnUsage,
    ChatTurnUsageTracker,
    active_turn_usage,
    attach_chat_turn_usage,
    bind_chat_turn_usage,
    chat_turn_usage,
    clear_chat_turn_usage,
    get_active_chat_turn_usage,
)
from il_audit.chat.turn_usage import (
    estimate_turn_api_cost_usd,
    get_pending_llm_category,
    reset_pending_llm_category,
    set_pending_llm_category,
)
from il_audit.publisher import AuditContext
from il_audit.publisher.testing import capture_events
from il_audit.schemas import taxonomy as T

CTX = AuditContext(app="chat", actor_uid="u-1")


def test_the_tracker_is_bound_for_the_block_only() -> None:
    """chat_turn_usage binds a tracker with a fresh id; leaving the block unbinds it."""
    assert active_turn_usage() is None
    with chat_turn_usage(context=CTX) as usage:
        assert active_turn_usage() is usage
        assert usage.turn_id
    assert active_turn_usage() is None


def test_threads_join_with_attach_and_record_concurrently() -> None:
    """Worker threads do not inherit the binding; attach() joins them, and every call
    recorded from several threads at once is kept."""
    seen: list[ChatTurnUsage | None] = []
    with chat_turn_usage("turn-1", CTX) as usage:

        def worker() -> None:
            seen.append(active_turn_usage())
            with usage.attach():
                for _ in range(200):
                    usage.record_embedding(input_tokens=1)

        threads = [threading.Thread(target=worker) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert seen == [None] * 4
    assert len(usage.calls) == 800
    assert usage.totals()["input_tokens"] == 800


def test_each_call_is_published_at_once_as_a_usage_event_of_its_turn() -> None:
    """Model, embedding and rerank calls each become a cost.api.usage event the moment they
    are recorded: one valid item, correlated to the turn, metadata with the call's id and
    tier, thinking and cached tokens, and the prompt's tokens per modality. The cached
    tokens are apart from the input on the item (input = prompt - cached)."""
    with capture_events() as events:
        usage = ChatTurnUsage("t-1", CTX)
        usage.record_model_call(
            model_id="gemini-2.5-flash-lite",
            usage_metadata=SimpleNamespace(
                prompt_token_count=100, candidates_token_count=20, thoughts_token_count=5,
                cached_content_token_count=40,
                prompt_tokens_details=[SimpleNamespace(modality="TEXT", token_count=70),
                                       SimpleNamespace(modality="IMAGE", token_count=30)],
            ),
            latency_ms=812.4, call_id="call-1", finish_reason="STOP",
        )  # fmt: skip
        assert len(events) == 1  # published before the turn, which may never come
        usage.record_model_call(
            model_id="gemini-2.0-flash", input_tokens=10, output_tokens=2, pricing_tier="batch",
            category="contextualizer",
        )  # fmt: skip
        usage.record_embedding(input_tokens=64)
        usage.record_rerank(record_count=250, model_id="semantic-ranker-default@latest")
    assert {(e.event_type, e.correlation_id, e.correlation_type, e.app) for e in events} == {
        (T.API_USAGE_RECORDED, "t-1", "chat_turn", "chat")
    }
    assert [e.usage[0].model_dump(exclude_none=True) for e in events] == [
        {"service": "vertex_gemini", "operation": "generate_content",
         "model_id": "gemini-2.5-flash-lite", "category": "answer", "input_tokens": 60,
         "output_tokens": 25, "tokens_estimated": False, "latency_ms": 812.4,
         "pricing_tier": "standard", "cached_input_tokens": 40, "reasoning_tokens": 5},
        {"service": "vertex_gemini", "operation": "generate_content",
         "model_id": "gemini-2.0-flash", "category": "contextualizer", "input_tokens": 10,
         "output_tokens": 2, "tokens_estimated": False, "pricing_tier": "batch"},
        {"service": "vertex_embedding", "operation": "embed_content",
         "model_id": "gemini-embedding-001", "category": "embedding", "input_tokens": 64,
         "output_tokens": 0, "tokens_estimated": False, "pricing_tier": "standard"},
        {"service": "vertex_rerank", "operation": "semantic_ranker",
         "model_id": "semantic-ranker-default", "category": "rerank", "quantity": 3.0,
         "unit": "query", "tokens_estimated": False, "pricing_tier": "standard"},
    ]  # fmt: skip
    assert events[0].metadata == {
        "call_id": "call-1", "pricing_tier": "standard", "thought_tokens": 5,
        "cached_tokens": 40, "finish_reason": "STOP",
        "prompt_tokens_by_modality": {"text": 70, "image": 30},
    }  # fmt: skip
    assert [(e.metadata or {})["pricing_tier"] for e in events] == [
        "standard", "batch", "standard", "standard"
    ]  # fmt: skip
    assert len({(e.metadata or {})["call_id"] for e in events}) == 4
    assert (events[3].metadata or {})["record_count"] == 250
    assert usage.llm_model == "gemini-2.0-flash"  # the last generate call's model


def test_totals_roll_up_tokens_latency_and_retrieval() -> None:
    """Totals: tokens of the token calls, latency of every call, the retrieval facts."""
    usage = ChatTurnUsage("t", CTX)
    usage.record_model_call(model_id="m", input_tokens=5, output_tokens=1, latency_ms=10.4)
    usage.record_embedding(input_tokens=7, latency_ms=2.2)
    usage.record_retrieval(retrieval_hit_count=0, retrieval_query="q", latency_ms=30)
    assert usage.totals() == {
        "input_tokens": 12,
        "output_tokens": 1,
        "latency_ms_llm": 13,
        "latency_ms_retrieval": 30,
        "llm_model": "m",
        "model_calls": 2,
        "retrieval_query": "q",
        "retrieval_hit_count": 0,
        "no_docs": True,
    }
    assert ChatTurnUsage().totals() == {}


def test_the_seed_1_0_functions_and_names() -> None:
    """bind/attach/get/clear and record_gemini_response, record_api_call work as in 1.0."""
    tracker = bind_chat_turn_usage("turn-9", CTX, conversation_id="conv-1")
    try:
        assert active_turn_usage() is tracker
        tracker.record_gemini_response(
            category="answer", usage_metadata={"promptTokenCount": 3, "candidatesTokenCount": 2}
        )
        tracker.record_api_call(category="embedding", input_tokens=4)
        tracker.record_api_call(category="rerank", model_id="semantic-ranker-default",
                                record_count=10)  # fmt: skip
        tracker.record_embedding_tokens(input_tokens=1)
        tracker.record_rerank_call(model_id="semantic-ranker-default", record_count=1)
        assert [call.category for call in tracker.calls] == [
            "answer",
            "embedding",
            "rerank",
            "embedding",
            "rerank",
        ]
        assert tracker.rollup_for_chat_turn()["input_tokens"] == 8
        clear_chat_turn_usage()
        assert active_turn_usage() is None
        attach_chat_turn_usage(tracker)
        assert active_turn_usage() is tracker
    finally:
        clear_chat_turn_usage()


def test_a_tier_is_normalized_as_emit_api_usage_does() -> None:
    """' Batch ' is batch and a blank tier is standard: an oddly cased tier must not make the
    call an invalid envelope (a dead letter)."""
    with capture_events() as events:
        usage = ChatTurnUsage("t", CTX)
        usage.record_model_call(model_id="m", input_tokens=1, output_tokens=1,
                                pricing_tier=" Batch ")  # fmt: skip
        usage.record_embedding(input_tokens=1, pricing_tier="")
        usage.record_api_call(category="embedding", input_tokens=1, pricing_tier="BATCH")
    assert [event.usage[0].pricing_tier for event in events] == ["batch", "standard", "batch"]


def test_the_seed_1_0_aliases_name_the_same_things() -> None:
    """ChatTurnUsageTracker is the tracker class, get_active_chat_turn_usage the lookup."""
    with chat_turn_usage(context=CTX) as usage:
        assert get_active_chat_turn_usage() is usage
    assert ChatTurnUsageTracker is ChatTurnUsage


def test_rerank_queries_and_retrieval_facts() -> None:
    """A rerank is ceil(records / 100) queries, at least 1, unless queries= says; retrieval
    adds no usage item, only the turn's retrieval fields."""
    usage = ChatTurnUsage("t", CTX)
    for records in (0, 100, 101):
        usage.record_rerank(record_count=records)
    usage.record_rerank(queries=5)
    usage.record_retrieval(retrieval_hit_count=2, used_attached_only=True)
    assert [call.quantity for call in usage.calls] == [1.0, 1.0, 2.0, 5.0]
    assert usage.totals()["used_attached_only"] is True
    assert usage.totals()["no_docs"] is False


def test_a_call_recorded_after_its_turn_was_emitted_still_counts() -> None:
    """A late call (a worker that outlived its turn) is published like any other, correlated
    to the turn, so the warehouse still prices it and chat_turns still counts it."""
    from il_audit import emit_chat_turn

    with capture_events() as events, chat_turn_usage("turn-late", CTX) as usage:
        usage.record_embedding(input_tokens=1)
        emit_chat_turn(question="q")
        usage.record_embedding(input_tokens=2)
    _first, turn, late = events
    assert turn.event_type == T.CHAT_TURN_SUCCEEDED
    assert (late.correlation_id, late.usage[0].input_tokens) == ("turn-late", 2)


def test_the_1_0_35_attributes_a_host_reads() -> None:
    """conversation_id, input/output tokens, latency_ms_llm and the api_cost_usd estimate:
    the seed catalog's rates of today at each call's tier, rerank queries left out."""
    usage = ChatTurnUsage("t", CTX, conversation_session_id="conv-1")
    assert (usage.conversation_id, usage.input_tokens, usage.api_cost_usd) == ("conv-1", 0, 0.0)
    usage.record_model_call(model_id="gemini-2.0-flash", input_tokens=1_000_000,
                            output_tokens=200_000, latency_ms=100.4)  # fmt: skip
    usage.record_model_call(model_id="gemini-2.0-flash", input_tokens=1_000_000,
                            output_tokens=200_000, pricing_tier="batch", latency_ms=50)  # fmt: skip
    usage.record_rerank(record_count=3)
    usage.conversation_id = "conv-2"
    assert (usage.conversation_id, usage.conversation_session_id) == ("conv-2", "conv-2")
    assert (usage.input_tokens, usage.output_tokens, usage.latency_ms_llm) == (
        2_000_000, 400_000, 150
    )  # fmt: skip
    assert usage.api_cost_usd == 0.405  # 0.27 standard + 0.135 batch (facts sheet 5.15)
    assert estimate_turn_api_cost_usd(usage) == usage.api_cost_usd


def test_rollup_for_chat_turn_has_all_eleven_keys() -> None:
    """1.0.35's rollup: every key present, None where 0 or unknown; the cost is the estimate."""
    empty = ChatTurnUsage("t", CTX).rollup_for_chat_turn()
    assert empty == dict.fromkeys(
        ("input_tokens", "output_tokens", "api_cost_usd", "total_cost_usd", "latency_ms_llm",
         "latency_ms_retrieval", "llm_model", "retrieval_query", "retrieval_hit_count",
         "no_docs", "used_attached_only")
    )  # fmt: skip
    usage = ChatTurnUsage("t", CTX)
    usage.record_model_call(model_id="gemini-2.5-flash-lite", input_tokens=1234,
                            output_tokens=567)  # fmt: skip
    usage.record_retrieval(retrieval_hit_count=0, latency_ms=12)
    rollup = usage.rollup_for_chat_turn()
    assert rollup["api_cost_usd"] == rollup["total_cost_usd"] == 0.0003502
    assert rollup["input_tokens"] == 1234
    assert (rollup["latency_ms_llm"], rollup["no_docs"]) == (None, True)


def test_record_api_call_routes_keeps_metadata_and_refuses_unknown_categories() -> None:
    """record_api_call resolves the chat route of its category (fallback models, rerank per
    query), keeps the caller's metadata on the call's event, and raises ValueError for a
    category chat has no route for, recording nothing."""
    with capture_events() as events:
        usage = ChatTurnUsage("t", CTX)
        usage.record_api_call(category="format_preference", input_tokens=7, output_tokens=3,
                              metadata={"prompt": "v2", "pricing_tier": "mine"})  # fmt: skip
        usage.record_api_call(category="rerank", record_count=120)
        usage.record_embedding_tokens(input_tokens=9, metadata={"chunks": 3})
        with pytest.raises(ValueError, match="qa"):
            usage.record_api_call(category="qa", input_tokens=1)
        with pytest.raises(ValueError, match="summary"):
            usage.record_gemini_response(category="summary", usage_metadata={})
    model, rerank, embedding = events
    assert (model.usage[0].model_id, model.usage[0].category) == ("gemini-2.5-flash-lite",
                                                                  "format_preference")  # fmt: skip
    assert model.metadata is not None
    assert (model.metadata["prompt"], model.metadata["pricing_tier"]) == ("v2", "mine")
    assert (rerank.usage[0].model_id, rerank.usage[0].quantity) == ("semantic-ranker-default", 2.0)
    assert (rerank.metadata or {})["record_count"] == 120
    assert (embedding.usage[0].model_id, (embedding.metadata or {})["chunks"]) == (
        "gemini-embedding-001", 3
    )  # fmt: skip
    assert len(usage.calls) == 3


def test_call_details_stashed_for_a_call_reach_its_event() -> None:
    """remember_call_details(call_id, ...) before the call is recorded: its usage event's
    metadata has them (what 1.0.35's LangChain callback stashes)."""
    usage = ChatTurnUsage("t", CTX)
    usage.remember_call_details("c-9", {"finish_reason": "MAX_TOKENS"})
    usage.remember_call_details("c-9", {"thought_tokens": 4})
    assert usage.call_details("c-9") == {"finish_reason": "MAX_TOKENS", "thought_tokens": 4}
    assert usage.call_details(None) == {}
    with capture_events() as events:
        usage.record_model_call(model_id="m", input_tokens=1, call_id="c-9")
    assert (events[0].metadata or {})["finish_reason"] == "MAX_TOKENS"


def test_the_pending_llm_category_and_clearing() -> None:
    """The pending category defaults to answer, resets by token, and clear_chat_turn_usage
    forgets it with the tracker."""
    assert get_pending_llm_category() == "answer"
    token = set_pending_llm_category("contextualizer")
    assert get_pending_llm_category() == "contextualizer"
    reset_pending_llm_category(token)
    assert get_pending_llm_category() == "answer"
    bind_chat_turn_usage("turn-1", CTX)
    set_pending_llm_category("rerank")
    clear_chat_turn_usage()
    assert (active_turn_usage(), get_pending_llm_category()) == (None, "answer")
