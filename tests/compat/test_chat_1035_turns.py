"""A chat host written for il-audit 1.0.35 runs unchanged: turns, the tracker, routing, estimates.

Names, signatures, defaults, rules and test vectors come from the facts sheet
of 1.0.35 (`reference-api-facts.md` §5.1, 5.13, 5.14, 5.15, 5.16, 5.17 and
Appendix A), never from il-audit's code. A signature matches when every 1.0.35
parameter is there with its kind and default, the positional ones in 1.0.35's
order (keyword-only ones are called by name); il-audit may add keyword-only
parameters with defaults.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import inspect
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

import il_audit
from il_audit.publisher import AuditContext
from il_audit.publisher.testing import capture_events

P = inspect.Parameter
REQUIRED = P.empty
KW = P.KEYWORD_ONLY
POS = P.POSITIONAL_OR_KEYWORD
CTX = AuditContext(app="chat", actor_uid="u-1")

# name -> [(parameter, kind, default)], Appendix A and §5.1 / 5.13 / 5.14.
SIGNATURES: dict[str, list[tuple[str, Any, Any]]] = {
    "il_audit.chat.record_chat_query_turn": [
        ("context", KW, REQUIRED), ("turn_id", KW, REQUIRED), ("question", KW, REQUIRED),
        ("history", KW, REQUIRED), ("succeeded", KW, REQUIRED), ("conversation_id", KW, None),
        ("visit_session_id", KW, None), ("conversation_started_at", KW, None),
        ("sources", KW, None), ("latency_ms_total", KW, None), ("workflow", KW, None),
        ("response_type", KW, None), ("summary_scope", KW, None), ("comparison_focus", KW, None),
        ("include_hidden_slides", KW, None), ("has_format_preference", KW, None),
        ("format_preference_source", KW, None), ("format_instructions", KW, None),
        ("attached_source_count", KW, 0), ("turn_metadata", KW, None),
        ("usage_tracker", KW, None), ("audit_fields", P.VAR_KEYWORD, REQUIRED),
    ],
    "il_audit.emit_out_of_scope_query": [
        ("context", KW, "any"), ("turn_id", KW, REQUIRED), ("signal", KW, REQUIRED),
        ("question", KW, None), ("conversation_id", KW, None), ("session_id", KW, None),
        ("visit_session_id", KW, None), ("metadata", KW, None), ("fields", P.VAR_KEYWORD, REQUIRED),
    ],
    "il_audit.safe_call": [
        ("fn", POS, REQUIRED), ("log_label", KW, REQUIRED), ("kwargs", P.VAR_KEYWORD, REQUIRED),
    ],
    "il_audit.chat.turn_usage.bind_chat_turn_usage": [
        ("turn_id", POS, REQUIRED), ("context", POS, REQUIRED), ("conversation_id", KW, None),
    ],
    "il_audit.chat.turn_usage.attach_chat_turn_usage": [("tracker", POS, REQUIRED)],
    "il_audit.chat.turn_usage.get_active_chat_turn_usage": [],
    "il_audit.chat.turn_usage.clear_chat_turn_usage": [],
    "il_audit.chat.turn_usage.set_pending_llm_category": [("category", POS, REQUIRED)],
    "il_audit.chat.turn_usage.reset_pending_llm_category": [("token", POS, REQUIRED)],
    "il_audit.chat.turn_usage.get_pending_llm_category": [],
    "il_audit.chat.turn_usage.estimate_turn_api_cost_usd": [("tracker", POS, REQUIRED)],
    "il_audit.chat.turn_usage.ChatTurnUsageTracker.record_api_call": [
        ("category", KW, REQUIRED), ("input_tokens", KW, 0), ("output_tokens", KW, 0),
        ("model_id", KW, None), ("tokens_estimated", KW, False), ("latency_ms", KW, None),
        ("metadata", KW, None), ("record_count", KW, 1),
    ],
    "il_audit.chat.turn_usage.ChatTurnUsageTracker.record_gemini_response": [
        ("category", KW, REQUIRED), ("usage_metadata", KW, REQUIRED), ("model_id", KW, None),
        ("latency_ms", KW, None),
    ],
    "il_audit.chat.turn_usage.ChatTurnUsageTracker.record_rerank_call": [
        ("model_id", KW, REQUIRED), ("record_count", KW, REQUIRED), ("latency_ms", KW, None),
    ],
    "il_audit.chat.turn_usage.ChatTurnUsageTracker.record_embedding_tokens": [
        ("input_tokens", KW, REQUIRED), ("model_id", KW, None), ("tokens_estimated", KW, False),
        ("latency_ms", KW, None), ("metadata", KW, None),
    ],
    "il_audit.chat.turn_usage.ChatTurnUsageTracker.record_retrieval": [
        ("retrieval_query", KW, "any"), ("retrieval_hit_count", KW, REQUIRED),
        ("used_attached_only", KW, "any"), ("latency_ms", KW, "any"),
    ],
    "il_audit.chat.turn_usage.ChatTurnUsageTracker.remember_call_details": [
        ("call_id", POS, REQUIRED), ("details", POS, REQUIRED),
    ],
    "il_audit.chat.turn_usage.ChatTurnUsageTracker.call_details": [("call_id", POS, REQUIRED)],
    "il_audit.chat.turn_usage.ChatTurnUsageTracker.rollup_for_chat_turn": [],
    "il_audit.chat.token_mapping.resolve_chat_api_usage_fields": [
        ("category", KW, REQUIRED), ("model_id", KW, None), ("embedding_model_id", KW, None),
        ("rerank_model_id", KW, None), ("pricing_tier", KW, None), ("operation", KW, None),
    ],
    "il_audit.usage.resolve_api_usage_fields": [
        ("app", KW, REQUIRED), ("category", KW, REQUIRED), ("model_id", KW, None),
        ("embedding_model_id", KW, None), ("rerank_model_id", KW, None),
        ("pricing_tier", KW, None), ("operation", KW, None),
    ],
    "il_audit.usage.resolve_ingest_api_usage_fields": [
        ("category", KW, REQUIRED), ("model_id", KW, REQUIRED), ("pricing_tier", KW, None),
        ("operation", KW, None),
    ],
    "il_audit.usage.register_category_route": [
        ("app", POS, REQUIRED), ("category", POS, REQUIRED), ("route", POS, REQUIRED),
    ],
    "il_audit.usage.default_pricing_tier_for": [
        ("app", POS, REQUIRED), ("category", POS, REQUIRED),
    ],
    "il_audit.usage.estimate_token_bucket_api_cost_usd": [
        ("service", KW, REQUIRED), ("model_id", KW, REQUIRED), ("bucket", KW, REQUIRED),
        ("default_pricing_tier", KW, "standard"),
    ],
    "il_audit.vertex_usage.prompt_tokens_by_modality": [("usage_metadata", POS, REQUIRED)],
    "il_audit.vertex_usage.vertex_api_usage_metadata": [("usage_metadata", POS, REQUIRED)],
}  # fmt: skip
"""A default of "any": 1.0.35 requires it (or its default is not in the sheet); ours has one."""


def resolve(path: str) -> Callable[..., Any]:
    """The object at a dotted path: the longest importable module, then attributes."""
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: Any = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for name in parts[cut:]:
            found = getattr(found, name)
        return found  # type: ignore[no-any-return]
    raise AssertionError(path)


@pytest.mark.parametrize("path", sorted(SIGNATURES))
def test_signatures_take_1_0_35_s_parameters(path: str) -> None:
    """Every 1.0.35 parameter, of its kind and with its default, the positional ones in
    order; only keyword-only parameters with defaults added."""
    parameters = [
        parameter
        for name, parameter in inspect.signature(resolve(path)).parameters.items()
        if name != "self"
    ]
    theirs = SIGNATURES[path]
    ours = {p.name: p for p in parameters}
    assert [p.name for p in parameters if p.kind == POS] == [n for n, k, _ in theirs if k == POS]
    for name, kind, default in theirs:
        assert name in ours, (path, name)
        assert ours[name].kind == kind, (path, name)
        if default != "any":
            assert ours[name].default == default, (path, name)
    for extra in (p for p in parameters if p.name not in {n for n, *_ in theirs}):
        assert extra.kind == KW, (path, extra.name)
        assert extra.default is not P.empty, (path, extra.name)


def test_the_1_0_35_root_names_of_chat_turns_and_routing() -> None:
    """§5.1: the constants with their values, and the functions, from the package root."""
    values = {
        "API_CATEGORY_ANSWER": "answer",
        "API_CATEGORY_CONTEXTUALIZER": "contextualizer",
        "API_CATEGORY_FORMAT_PREFERENCE": "format_preference",
        "API_CATEGORY_RERANK": "rerank",
        "IL_APP_CHAT": "chat",
        "IL_APP_INGEST": "ingest",
        "TABLE_OUT_OF_SCOPE_QUERIES": "out_of_scope_queries",
    }
    for name, value in values.items():
        assert name in il_audit.__all__
        assert getattr(il_audit, name) == value, name
    for name in ("ApiUsageFields", "default_pricing_tier_for", "emit_out_of_scope_query",
                 "out_of_scope_queries_schema", "record_chat_query_turn",
                 "resolve_api_usage_fields", "resolve_ingest_api_usage_fields", "safe_call",
                 "bind_chat_turn_usage", "clear_chat_turn_usage",
                 "message_counts_from_history"):  # fmt: skip
        assert name in il_audit.__all__, name
        assert callable(getattr(il_audit, name)), name
    chat = importlib.import_module("il_audit.chat")
    for name in ("ChatTurnUsageTracker", "bind_chat_turn_usage", "clear_chat_turn_usage",
                 "get_active_chat_turn_usage", "message_counts_from_history",
                 "record_chat_query_turn", "resolve_chat_api_usage_fields"):  # fmt: skip
        assert name in chat.__all__, name
    usage = importlib.import_module("il_audit.usage")
    assert {"ApiUsageFields", "CategoryRoute", "default_pricing_tier_for",
            "register_category_route", "resolve_api_usage_fields",
            "resolve_ingest_api_usage_fields"} <= set(usage.__all__)  # fmt: skip


def test_the_routing_dataclasses_are_frozen_slotted_with_1_0_35_s_fields() -> None:
    """ApiUsageFields and CategoryRoute: frozen, slotted, fields in order with defaults."""
    from il_audit.usage import ApiUsageFields, CategoryRoute

    expected = {
        ApiUsageFields: [("service", REQUIRED), ("operation", REQUIRED), ("model_id", REQUIRED),
                         ("category", REQUIRED), ("correlation_type", REQUIRED),
                         ("pricing_tier", "standard")],
        CategoryRoute: [("service", REQUIRED), ("operation", REQUIRED),
                        ("correlation_type", REQUIRED), ("default_pricing_tier", "standard"),
                        ("fallback_model_id", None), ("audit_category", None)],
    }  # fmt: skip
    for cls, fields in expected.items():
        found = [
            (field.name, REQUIRED if field.default is dataclasses.MISSING else field.default)
            for field in dataclasses.fields(cls)
        ]
        assert found == fields, cls
        assert cls.__dataclass_params__.frozen  # type: ignore[attr-defined]
        assert "__slots__" in cls.__dict__


def test_the_built_in_route_table() -> None:
    """§5.14's table: chat's five categories at standard with their fallback models, ingest's
    Gemini categories (and any unknown one) at batch without a fallback, ingest embeddings
    at standard; the tier of an app without routes is standard."""
    from il_audit.usage import default_pricing_tier_for, resolve_api_usage_fields

    chat = {
        "answer": ("vertex_gemini", "generate_content", "gemini-2.5-flash-lite"),
        "format_preference": ("vertex_gemini", "generate_content", "gemini-2.5-flash-lite"),
        "contextualizer": ("vertex_gemini", "generate_content", "gemini-2.5-flash-lite"),
        "embedding": ("vertex_embedding", "embed_content", "gemini-embedding-001"),
        "rerank": ("vertex_rerank", "semantic_ranker", "semantic-ranker-default@latest"),
    }
    for category, (service, operation, model) in chat.items():
        fields = resolve_api_usage_fields(app="chat", category=category)
        assert (fields.service, fields.operation, fields.model_id, fields.correlation_type,
                fields.pricing_tier) == (service, operation, model, "chat_turn",
                                         "standard")  # fmt: skip
    for category in ("vision", "tagging", "summary", "deck_summary", "section_summary", "misc"):
        fields = resolve_api_usage_fields(app="ingest", category=category, model_id="m")
        assert (fields.service, fields.operation, fields.correlation_type,
                fields.pricing_tier) == ("vertex_gemini", "generate_content", "ingest_job",
                                         "batch")  # fmt: skip
        with pytest.raises(ValueError, match="model"):
            resolve_api_usage_fields(app="ingest", category=category)  # no fallback model
    fields = resolve_api_usage_fields(app="ingest", category="embedding", model_id="m")
    assert (fields.service, fields.pricing_tier) == ("vertex_embedding", "standard")
    assert default_pricing_tier_for("nobody", "answer") == "standard"
    with pytest.raises(ValueError, match="qa"):
        resolve_api_usage_fields(app="chat", category="qa")


# §5.15's test vectors, on the catalog as of a day the 1.0.35 rates are in force.
VECTORS = [
    ({"service": "vertex_gemini", "model_id": "gemini-2.0-flash", "input_tokens": 1_000_000,
      "output_tokens": 200_000, "pricing_tier": "standard"}, 0.27),
    ({"service": "vertex_gemini", "model_id": "gemini-2.0-flash", "input_tokens": 1_000_000,
      "output_tokens": 200_000, "pricing_tier": "batch"}, 0.135),
    ({"service": "vertex_gemini", "model_id": "gemini-2.5-flash-lite", "input_tokens": 1234,
      "output_tokens": 567, "pricing_tier": "standard"}, 0.0003502),
    ({"service": "vertex_embedding", "model_id": "gemini-embedding-001",
      "input_tokens": 1_000_000, "pricing_tier": "batch"}, 0.025),
    ({"service": "vertex_rerank", "model_id": "semantic-ranker-default", "quantity": 3}, 0.003),
    ({"service": "cloud_run", "model_id": "cpu_second", "quantity": 142.5}, 0.00342),
    ({"service": "gcs", "model_id": "storage_byte", "quantity": 1e9}, 0.02),
    ({"service": "vertex_gemini", "model_id": "unknown-model", "input_tokens": 1000}, 0.0),
]  # fmt: skip


@pytest.mark.parametrize(("call", "expected"), VECTORS)
def test_the_5_15_vectors_as_estimates(call: dict[str, Any], expected: float) -> None:
    """Each vector from the bundled catalog; the token ones also as a token bucket."""
    from il_audit.subscriber_fn.estimates import estimate_cost_usd
    from il_audit.usage import estimate_token_bucket_api_cost_usd

    day = datetime(2026, 9, 1, tzinfo=UTC)
    assert estimate_cost_usd(**call, at=day) == expected
    if "quantity" not in call:
        bucket = {"prompt_tokens": call["input_tokens"], "output_tokens": call.get("output_tokens")}
        assert estimate_token_bucket_api_cost_usd(
            service=call["service"], model_id=call["model_id"], bucket=bucket,
            default_pricing_tier=call.get("pricing_tier", "standard"),
        ) == expected  # fmt: skip


def test_a_tracker_has_1_0_35_s_public_fields() -> None:
    """§5.13's fields of a fresh tracker, and the 1.0 binding functions around it."""
    from il_audit.chat.turn_usage import (
        ChatTurnUsageTracker,
        bind_chat_turn_usage,
        clear_chat_turn_usage,
        get_active_chat_turn_usage,
        get_pending_llm_category,
    )

    tracker = bind_chat_turn_usage("turn-1", CTX, conversation_id="conv-1")
    try:
        assert isinstance(tracker, ChatTurnUsageTracker)
        assert get_active_chat_turn_usage() is tracker
        fields = {name: getattr(tracker, name) for name in (
            "turn_id", "context", "conversation_id", "input_tokens", "output_tokens",
            "api_cost_usd", "latency_ms_llm", "latency_ms_retrieval", "llm_model",
            "retrieval_query", "retrieval_hit_count", "no_docs", "used_attached_only")}  # fmt: skip
        assert fields == {
            "turn_id": "turn-1", "context": CTX, "conversation_id": "conv-1", "input_tokens": 0,
            "output_tokens": 0, "api_cost_usd": 0.0, "latency_ms_llm": 0,
            "latency_ms_retrieval": 0, "llm_model": None, "retrieval_query": None,
            "retrieval_hit_count": None, "no_docs": None, "used_attached_only": None,
        }  # fmt: skip
        assert get_pending_llm_category() == "answer"
    finally:
        clear_chat_turn_usage()
    assert get_active_chat_turn_usage() is None


def test_the_tracker_s_1_0_35_rules() -> None:
    """record_api_call: one usage row per call correlated to the turn, llm_model the Gemini
    model, unknown category ValueError; record_rerank_call: metadata record_count;
    record_retrieval: no_docs when no hits; the rollup's eleven keys, 0 as None."""
    from il_audit.chat.turn_usage import ChatTurnUsageTracker

    tracker = ChatTurnUsageTracker("turn-2", CTX)
    with capture_events() as events:
        tracker.record_api_call(category="answer", input_tokens=1234, output_tokens=567,
                                latency_ms=40, metadata={"call_id": "c-1"})  # fmt: skip
        tracker.record_rerank_call(model_id="semantic-ranker-default@latest", record_count=7)
        with pytest.raises(ValueError, match="no-such-category"):
            tracker.record_api_call(category="no-such-category")
    assert [(e.correlation_id, e.correlation_type) for e in events] == [("turn-2", "chat_turn")] * 2
    assert (events[0].metadata or {})["call_id"] == "c-1"
    assert (events[1].metadata or {})["record_count"] == 7
    tracker.record_retrieval(retrieval_query="q", retrieval_hit_count=0, used_attached_only=False,
                             latency_ms=15)  # fmt: skip
    assert tracker.rollup_for_chat_turn() == {
        "input_tokens": 1234, "output_tokens": 567, "api_cost_usd": tracker.api_cost_usd,
        "total_cost_usd": tracker.api_cost_usd, "latency_ms_llm": 40, "latency_ms_retrieval": 15,
        "llm_model": "gemini-2.5-flash-lite", "retrieval_query": "q", "retrieval_hit_count": 0,
        "no_docs": True, "used_attached_only": False,
    }  # fmt: skip


def test_record_chat_query_turn_s_rules() -> None:
    """§5.13: turn index from history's user messages, message counts with this question
    (and answer when succeeded), sources_returned_count, the metadata additions, and a
    session row for a successful first turn of a conversation."""
    history = [{"role": "user"}, {"role": "assistant"}]
    with capture_events() as events:
        il_audit.record_chat_query_turn(
            context=CTX, turn_id="t-1", question="q?", history=history, succeeded=True,
            conversation_id="conv-1", sources=[{"id": 1}], comparison_focus="cost",
            format_instructions="bullets", turn_metadata={"comparison_focus": "mine"},
        )  # fmt: skip
        il_audit.record_chat_query_turn(context=CTX, turn_id="t-0", question="q?", history=[],
                                        succeeded=True, conversation_id="conv-2")  # fmt: skip
    later, first, session = events
    payload = later.payload or {}
    assert (payload["turn_index"], payload["history_turn_count"]) == (1, 1)
    counts = ("user_message_count", "assistant_message_count", "message_count",
              "sources_returned_count")  # fmt: skip
    assert [payload[key] for key in counts] == [2, 2, 4, 1]
    assert later.metadata == {"comparison_focus": "mine", "format_instructions": "bullets"}
    assert (first.event_id, session.event_type, session.session_id) == (
        "t-0", "chat.session.started", "conv-2"
    )  # fmt: skip
    assert (session.payload or {})["turn_count"] == 1


def test_out_of_scope_queries_follow_the_question_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    """§5.16/5.17: an empty signal raises; with query text off the question and the answer
    excerpt are gone and question_sha256 stays; a blank excerpt is null."""
    with pytest.raises(ValueError, match="signal"):
        il_audit.emit_out_of_scope_query(context=CTX, turn_id="t", signal="")
    monkeypatch.setenv("IL_AUDIT_STORE_QUERY_TEXT", "false")
    with capture_events() as events:
        il_audit.emit_out_of_scope_query(context=CTX, turn_id="t", signal="soft_refusal",
                                         question="Salary?", answer_excerpt="No.")  # fmt: skip
    payload = events[0].payload or {}
    assert "question" not in payload
    assert "answer_excerpt" not in payload
    assert payload["question_sha256"] == hashlib.sha256(b"Salary?").hexdigest()
    assert payload["signal"] == "soft_refusal"


def test_out_of_scope_queries_schema_has_1_0_35_s_33_columns() -> None:
    """§5.6: the builder gives the table's columns, in order, with types and modes."""
    pytest.importorskip("google.cloud.bigquery")
    fields = il_audit.out_of_scope_queries_schema()
    assert len(fields) == 33
    assert [(f.name, f.field_type, f.mode) for f in fields[:7]] == [
        ("logged_at", "TIMESTAMP", "REQUIRED"), ("app", "STRING", "REQUIRED"),
        ("environment", "STRING", "NULLABLE"), ("actor_uid", "STRING", "NULLABLE"),
        ("actor_email", "STRING", "NULLABLE"), ("trace_id", "STRING", "NULLABLE"),
        ("turn_id", "STRING", "REQUIRED"),
    ]  # fmt: skip
    assert [f.name for f in fields if f.mode == "REQUIRED"] == ["logged_at", "app", "turn_id",
                                                                "signal"]  # fmt: skip


def test_vertex_usage_reads_modalities() -> None:
    """§5.1: prompt_tokens_details / promptTokensDetails, modality lower-cased without its
    MODALITY_ prefix, token_count / tokenCount; None without details."""
    from il_audit.vertex_usage import prompt_tokens_by_modality, vertex_api_usage_metadata

    usage = {"promptTokensDetails": [{"modality": "MODALITY_TEXT", "tokenCount": 12},
                                     {"modality": "IMAGE", "tokenCount": 258}]}  # fmt: skip
    assert prompt_tokens_by_modality(usage) == {"text": 12, "image": 258}
    assert vertex_api_usage_metadata(usage) == {
        "prompt_tokens_by_modality": {"text": 12, "image": 258}
    }
    assert vertex_api_usage_metadata({"prompt_token_count": 3}) is None
