"""Token counts of a model call, read by duck typing from what the SDKs return.

Nothing here imports an SDK. :func:`token_counts` accepts:

- a Vertex AI / google-genai response, or its ``usage_metadata``: attributes
  ``prompt_token_count``, ``candidates_token_count``, ``thoughts_token_count``,
  ``cached_content_token_count``, ``total_token_count`` (objects), or the same
  keys in camelCase (``promptTokenCount``...) in a dict, as the REST API
  returns them;
- a LangChain ``AIMessage``, or its ``usage_metadata`` dict: ``input_tokens``,
  ``output_tokens``, ``total_tokens``, with ``input_token_details.cache_read``
  and ``output_token_details.reasoning``;
- a plain mapping with ``input_tokens`` / ``output_tokens``;
- a Vertex AI embedding response: ``embeddings[i].statistics.token_count``.

Thinking tokens are billed as output, so ``output`` includes them (Gemini
reports them apart from the candidates; LangChain already counts them in
``output_tokens``); Gemini's tool-use prompt tokens are billed as input and
counted in ``input``. Cached input tokens are reported (``cached``) but priced
as ordinary input: a usage item has no cached-token price.

:func:`prompt_tokens_by_modality` and :func:`vertex_api_usage_metadata` are
1.0.35's ``il_audit.vertex_usage``: the prompt's tokens per modality (text,
image...), which a call's usage event carries in its metadata.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

_GEMINI_INPUT: Final = ("prompt_token_count", "promptTokenCount")
_GEMINI_OUTPUT: Final = ("candidates_token_count", "candidatesTokenCount")
_GEMINI_THOUGHTS: Final = ("thoughts_token_count", "thoughtsTokenCount")
_GEMINI_CACHED: Final = ("cached_content_token_count", "cachedContentTokenCount")
_GEMINI_TOOL_USE: Final = ("tool_use_prompt_token_count", "toolUsePromptTokenCount")
"""Input of tool calls and grounding, billed as input besides the prompt."""


@dataclass(frozen=True, slots=True)
class TokenCounts:
    """What one call consumed, as billed: input and output (thinking included)."""

    input: int = 0
    output: int = 0
    thoughts: int | None = None
    """Thinking tokens, part of ``output`` (Gemini 2.5+ ``thoughts_token_count``)."""
    cached: int | None = None
    """Input tokens served from the context cache, part of ``input``."""
    found: bool = False
    """Whether anything readable was there; False means the counts are zeros by default."""


def token_counts(response_or_usage: Any) -> TokenCounts:
    """The token counts of ``response_or_usage`` (a response, a message or usage metadata).

    Never raises: something unreadable gives zero counts with ``found=False``.
    """
    try:
        return _read(response_or_usage)
    except (TypeError, ValueError, AttributeError):
        return TokenCounts()


def _read(value: Any) -> TokenCounts:
    if value is None:
        return TokenCounts()
    usage = _get(value, "usage_metadata", "usageMetadata")
    if usage is not None:  # a response or an AIMessage: read its usage
        value = usage
    embeddings = _get(value, "embeddings")
    if isinstance(embeddings, (list, tuple)):  # an embed_content response
        counts = [
            _int(_get(item, "statistics"), "token_count", "tokenCount") for item in embeddings
        ]
        if any(count is not None for count in counts):
            return TokenCounts(input=sum(count or 0 for count in counts), found=True)
    prompt = _int(value, *_GEMINI_INPUT)
    if prompt is not None or _int(value, *_GEMINI_OUTPUT) is not None:
        thoughts = _int(value, *_GEMINI_THOUGHTS)
        candidates = _int(value, *_GEMINI_OUTPUT) or 0
        return TokenCounts(
            input=(prompt or 0) + (_int(value, *_GEMINI_TOOL_USE) or 0),
            output=candidates + (thoughts or 0),
            thoughts=thoughts,
            cached=_int(value, *_GEMINI_CACHED),
            found=True,
        )
    input_tokens = _int(value, "input_tokens", "inputTokens")
    output_tokens = _int(value, "output_tokens", "outputTokens")
    if input_tokens is None and output_tokens is None:
        return TokenCounts()
    details_in = _get(value, "input_token_details")
    details_out = _get(value, "output_token_details")
    return TokenCounts(
        input=input_tokens or 0,
        output=output_tokens or 0,
        thoughts=_int(details_out, "reasoning") if details_out is not None else None,
        cached=_int(details_in, "cache_read") if details_in is not None else None,
        found=True,
    )


def _get(value: Any, *names: str) -> Any:
    for name in names:
        found = value.get(name) if isinstance(value, Mapping) else getattr(value, name, None)
        if found is not None:
            return found
    return None


def _int(value: Any, *names: str) -> int | None:
    found = _get(value, *names)
    if found is None or isinstance(found, bool):
        return None
    number = int(found)
    return max(0, number)


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
        details = _get(value, "prompt_tokens_details", "promptTokensDetails")
        counts: dict[str, int] = {}
        for detail in details if isinstance(details, (list, tuple)) else ():
            modality = _get(detail, "modality")
            count = _int(detail, "token_count", "tokenCount")
            # An enum (google-genai's MediaModality) or its name as text.
            name = str(getattr(modality, "name", modality) or "").strip().lower()
            name = name.removeprefix("modality_")
            if name and count is not None:
                counts[name] = counts.get(name, 0) + count
        return counts
    except (TypeError, ValueError, AttributeError):
        return {}


def vertex_api_usage_metadata(usage_metadata: Any) -> dict[str, Any] | None:
    """``{"prompt_tokens_by_modality": {...}}`` for a call's usage metadata, or None without any."""
    counts = prompt_tokens_by_modality(usage_metadata)
    return {"prompt_tokens_by_modality": counts} if counts else None
