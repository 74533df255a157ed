"""Token counts of a model call (re-exported from :mod:`il_audit.chat.usage_readers`) and
1.0.35's ``il_audit.vertex_usage``.

:func:`token_counts` reads OpenAI (chat completions and responses), Anthropic,
google-genai / Vertex AI and LangChain usage, their SDK objects or dict forms,
and maps each provider's counts so that ``input``, ``cached`` and
``cache_write`` are disjoint (the token-semantics table in
``docs/chat-integration.md``); it also reads a Vertex AI embedding response
(``embeddings[i].statistics.token_count``).

:func:`prompt_tokens_by_modality` and :func:`vertex_api_usage_metadata` are
1.0.35's ``il_audit.vertex_usage``: the prompt's tokens per modality (text,
image...), which a call's usage event carries in its metadata.
"""

from __future__ import annotations

from typing import Any

from il_audit.chat.usage_readers import TokenCounts, _get, _modalities, token_counts

__all__ = ["TokenCounts", "prompt_tokens_by_modality", "token_counts", "vertex_api_usage_metadata"]


def prompt_tokens_by_modality(usage_metadata: Any) -> dict[str, int]:
    """Prompt tokens per modality of a Vertex AI / google-genai response or its usage metadata.

    Reads ``prompt_tokens_details`` (``promptTokensDetails``), each with a
    ``modality`` and ``token_count`` (``tokenCount``); names are lower-cased
    without their ``MODALITY_`` prefix (``MODALITY_IMAGE`` -> ``image``).
    Something unreadable gives ``{}``; never raises.
    """
    try:
        usage = _get(usage_metadata, "usage_metadata", "usageMetadata")
        value = usage if usage is not None else usage_metadata
        return _modalities(_get(value, "prompt_tokens_details", "promptTokensDetails"))
    except (TypeError, ValueError, AttributeError):
        return {}


def vertex_api_usage_metadata(usage_metadata: Any) -> dict[str, Any] | None:
    """``{"prompt_tokens_by_modality": {...}}`` for a call's usage metadata, or None without any."""
    counts = prompt_tokens_by_modality(usage_metadata)
    return {"prompt_tokens_by_modality": counts} if counts else None
