"""Chat turns and what they cost: turns, sessions, a per-turn usage tracker, model-call text.

::

    from il_audit.chat import chat_turn_usage, emit_chat_turn

    with chat_turn_usage(context=ctx, conversation_session_id=conv) as usage:
        response = model.generate_content(prompt)
        usage.record_model_call(model_id="gemini-2.5-flash-lite", usage_metadata=response)
        emit_chat_turn(question=question, turn_index=n, latency_ms=elapsed)

See docs/chat-integration.md. The seed's 1.0 names (``bind_chat_turn_usage``,
``ChatTurnUsageTracker``, ``record_gemini_response``, ``record_chat_query_turn``...)
are kept; 1.0.35's module paths ``il_audit.chat.turn_usage`` and
``il_audit.chat.token_mapping`` too.
"""

from il_audit.chat.calls import ModelCall
from il_audit.chat.feedback import emit_chat_feedback
from il_audit.chat.helpers import safe_call
from il_audit.chat.llm_usage import invoke_chat_llm, invoke_structured_chat_llm
from il_audit.chat.model_call_text import MODEL_CALL_TEXT_MAX_BYTES, emit_model_call_text
from il_audit.chat.out_of_scope import emit_out_of_scope_query
from il_audit.chat.query_turn import record_chat_query_turn
from il_audit.chat.retrieval import (
    emit_retrieval_candidates,
    emit_retrieval_chunks,
    emit_retrieval_pass,
)
from il_audit.chat.token_mapping import resolve_chat_api_usage_fields
from il_audit.chat.tokens import (
    TokenCounts,
    prompt_tokens_by_modality,
    token_counts,
    vertex_api_usage_metadata,
)
from il_audit.chat.turn_usage import (
    ChatTurnUsageTracker,
    attach_chat_turn_usage,
    bind_chat_turn_usage,
    chat_turn_usage,
    clear_chat_turn_usage,
    estimate_turn_api_cost_usd,
    get_active_chat_turn_usage,
)
from il_audit.chat.turns import emit_chat_session, emit_chat_turn, message_counts_from_history
from il_audit.chat.usage import ChatTurnUsage, active_turn_usage
from il_audit.chat.usage_readers import (
    read_anthropic_usage,
    read_genai_usage,
    read_langchain_usage,
    read_openai_usage,
)
from il_audit.chat.visits import emit_chat_visit_session

__all__ = [
    "MODEL_CALL_TEXT_MAX_BYTES",
    "ChatTurnUsage",
    "ChatTurnUsageTracker",
    "ModelCall",
    "TokenCounts",
    "active_turn_usage",
    "attach_chat_turn_usage",
    "bind_chat_turn_usage",
    "chat_turn_usage",
    "clear_chat_turn_usage",
    "emit_chat_feedback",
    "emit_chat_session",
    "emit_chat_turn",
    "emit_chat_visit_session",
    "emit_model_call_text",
    "emit_out_of_scope_query",
    "emit_retrieval_candidates",
    "emit_retrieval_chunks",
    "emit_retrieval_pass",
    "estimate_turn_api_cost_usd",
    "get_active_chat_turn_usage",
    "invoke_chat_llm",
    "invoke_structured_chat_llm",
    "message_counts_from_history",
    "prompt_tokens_by_modality",
    "read_anthropic_usage",
    "read_genai_usage",
    "read_langchain_usage",
    "read_openai_usage",
    "record_chat_query_turn",
    "resolve_chat_api_usage_fields",
    "safe_call",
    "token_counts",
    "vertex_api_usage_metadata",
]
