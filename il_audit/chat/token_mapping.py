"""Chat's category routes (1.0.35's ``il_audit.chat.token_mapping``).

:func:`resolve_chat_api_usage_fields` is
:func:`~il_audit.subscriber_fn.usage_routes.resolve_api_usage_fields` for the
chat app: ``answer``, ``format_preference`` and ``contextualizer`` are Gemini
calls (fallback model ``gemini-2.5-flash-lite``), ``embedding`` and ``rerank``
the embedding and ranking APIs, all at the ``standard`` tier and correlated to
the turn. The tracker's 1.0 recorders (``record_api_call``...) route through it.
"""

from __future__ import annotations

from il_audit.subscriber_fn.usage_routes import APP_CHAT, ApiUsageFields, resolve_api_usage_fields


def resolve_chat_api_usage_fields(
    *,
    category: str,
    model_id: str | None = None,
    embedding_model_id: str | None = None,
    rerank_model_id: str | None = None,
    pricing_tier: str | None = None,
    operation: str | None = None,
) -> ApiUsageFields:
    """The fields a chat call of ``category`` is recorded with; ``ValueError`` when chat has
    no route for the category (register one with ``il_audit.usage.register_category_route``)."""
    return resolve_api_usage_fields(
        app=APP_CHAT,
        category=category,
        model_id=model_id,
        embedding_model_id=embedding_model_id,
        rerank_model_id=rerank_model_id,
        pricing_tier=pricing_tier,
        operation=operation,
    )
