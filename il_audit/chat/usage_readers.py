"""Token counts of a model call, read from what the provider SDKs return.

Nothing here imports an SDK: each reader takes the SDK's own object (a pydantic
model, read by attribute) or its dict form (``model_dump()`` or the REST JSON,
snake_case or camelCase). :func:`token_counts` picks the reader by shape; the
``read_*`` functions read one provider's usage when the caller knows it.

Every count is mapped so that nothing is billed twice (the token-semantics
table in ``docs/chat-integration.md``, one test vector per row):

- ``input``: prompt tokens billed at the input rate. It excludes cache reads
  (``cached``) and cache writes (``cache_write``), which are counted apart
  because they have prices of their own;
- ``output``: everything billed at the output rate, reasoning included;
- ``thoughts``: reasoning / thinking tokens, already part of ``output``.

OpenAI's ``prompt_tokens`` / ``input_tokens`` include the cached tokens, so
input = prompt - cached (- cache writes, which SDK 3.x reports too); Anthropic's
``input_tokens`` excludes cache reads and writes; Gemini's
``prompt_token_count`` includes the cached content and its thoughts are apart
from the candidates; LangChain's ``input_tokens`` is the sum of all input token
types (cache reads and cache creation included).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

_GEMINI_INPUT: Final = ("prompt_token_count", "promptTokenCount")
_GEMINI_OUTPUT: Final = ("candidates_token_count", "candidatesTokenCount")
_GEMINI_THOUGHTS: Final = ("thoughts_token_count", "thoughtsTokenCount")
_GEMINI_CACHED: Final = ("cached_content_token_count", "cachedContentTokenCount")
_GEMINI_TOOL_USE: Final = ("tool_use_prompt_token_count", "toolUsePromptTokenCount")
"""Input of tool calls and grounding, billed as input besides the prompt."""
_GEMINI_MODALITIES: Final = {
    "prompt": ("prompt_tokens_details", "promptTokensDetails"),
    "candidates": ("candidates_tokens_details", "candidatesTokensDetails"),
    "cached": ("cache_tokens_details", "cacheTokensDetails"),
    "tool_use_prompt": ("tool_use_prompt_tokens_details", "toolUsePromptTokensDetails"),
}


@dataclass(frozen=True, slots=True)
class TokenCounts:
    """What one call consumed, as billed; ``input``, ``cached`` and ``cache_write`` are disjoint."""

    input: int = 0
    """Prompt tokens at the input rate: cache reads and cache writes excluded."""
    output: int = 0
    """Output tokens, reasoning / thinking included."""
    thoughts: int | None = None
    """Reasoning / thinking tokens, part of ``output`` (noted, never added again)."""
    cached: int | None = None
    """Input tokens read from a cache; not part of ``input``."""
    found: bool = False
    """Whether anything readable was there; False means the counts are zeros by default."""
    cache_write: int | None = None
    """Input tokens written to a cache (Anthropic's cache creation); not part of ``input``."""
    provider: str | None = None
    """Which mapping read them: openai, anthropic, google_genai, langchain or None."""
    by_modality: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    """google-genai's counts per modality: ``{"prompt": {"text": 10, "image": 258}, ...}``."""


def token_counts(response_or_usage: Any) -> TokenCounts:
    """The token counts of ``response_or_usage``: a response, a message or its usage, of
    OpenAI (chat completions or responses), Anthropic, google-genai / Vertex AI or LangChain.

    Never raises: something unreadable gives zero counts with ``found=False``.
    """
    try:
        return _read(response_or_usage)
    except (TypeError, ValueError, AttributeError):
        return TokenCounts()


def read_openai_usage(response_or_usage: Any) -> TokenCounts:
    """An OpenAI ``ChatCompletion`` / ``Response`` or its ``usage`` (object or dict)."""
    usage = _unwrap(response_or_usage, "usage")
    if _int(usage, "prompt_tokens", "completion_tokens") is not None:
        prompt, completion = _int(usage, "prompt_tokens"), _int(usage, "completion_tokens")
        details_in = _get(usage, "prompt_tokens_details")
        details_out = _get(usage, "completion_tokens_details")
    else:
        prompt, completion = _int(usage, "input_tokens"), _int(usage, "output_tokens")
        details_in = _get(usage, "input_tokens_details")
        details_out = _get(usage, "output_tokens_details")
    if prompt is None and completion is None:
        return TokenCounts()
    cached = _int(details_in, "cached_tokens")
    cache_write = _int(details_in, "cache_write_tokens")
    return TokenCounts(
        input=max(0, (prompt or 0) - (cached or 0) - (cache_write or 0)),
        output=completion or 0,
        thoughts=_int(details_out, "reasoning_tokens"),
        cached=cached,
        cache_write=cache_write,
        found=True,
        provider="openai",
    )


def read_anthropic_usage(response_or_usage: Any) -> TokenCounts:
    """An Anthropic ``Message`` or its ``usage`` (object or dict)."""
    usage = _unwrap(response_or_usage, "usage")
    input_tokens, output_tokens = _int(usage, "input_tokens"), _int(usage, "output_tokens")
    if input_tokens is None and output_tokens is None:
        return TokenCounts()
    return TokenCounts(
        input=input_tokens or 0,
        output=output_tokens or 0,
        thoughts=_int(_get(usage, "output_tokens_details"), "thinking_tokens"),
        cached=_int(usage, "cache_read_input_tokens"),
        cache_write=_int(usage, "cache_creation_input_tokens"),
        found=True,
        provider="anthropic",
    )


def read_genai_usage(response_or_usage: Any) -> TokenCounts:
    """A google-genai / Vertex AI ``GenerateContentResponse`` or its ``usage_metadata``
    (object, dict or the REST API's camelCase JSON), counts per modality included."""
    usage = _unwrap(response_or_usage, "usage_metadata", "usageMetadata")
    prompt, candidates = _int(usage, *_GEMINI_INPUT), _int(usage, *_GEMINI_OUTPUT)
    if prompt is None and candidates is None:
        return TokenCounts()
    thoughts = _int(usage, *_GEMINI_THOUGHTS)
    cached = _int(usage, *_GEMINI_CACHED)
    prompt_billed = (prompt or 0) + (_int(usage, *_GEMINI_TOOL_USE) or 0)
    modalities = {kind: _modalities(_get(usage, *names)) for kind, names in
                  _GEMINI_MODALITIES.items()}  # fmt: skip
    return TokenCounts(
        input=max(0, prompt_billed - (cached or 0)),
        output=(candidates or 0) + (thoughts or 0),
        thoughts=thoughts,
        cached=cached,
        found=True,
        provider="google_genai",
        by_modality={kind: counts for kind, counts in modalities.items() if counts},
    )


def read_langchain_usage(message_or_usage: Any) -> TokenCounts:
    """A LangChain ``AIMessage`` or its ``usage_metadata`` (a ``UsageMetadata`` dict)."""
    usage = _unwrap(message_or_usage, "usage_metadata")
    input_tokens, output_tokens = _int(usage, "input_tokens"), _int(usage, "output_tokens")
    if input_tokens is None and output_tokens is None:
        return TokenCounts()
    details_in = _get(usage, "input_token_details")
    cached = _int(details_in, "cache_read")
    cache_write = _int(details_in, "cache_creation")
    return TokenCounts(
        input=max(0, (input_tokens or 0) - (cached or 0) - (cache_write or 0)),
        output=output_tokens or 0,
        thoughts=_int(_get(usage, "output_token_details"), "reasoning"),
        cached=cached,
        cache_write=cache_write,
        found=True,
        provider="langchain",
    )


def _read(value: Any) -> TokenCounts:
    if value is None:
        return TokenCounts()
    if _get(value, "usage_metadata", "usageMetadata") is not None:
        inner = _get(value, "usage_metadata", "usageMetadata")
        # An AIMessage's usage_metadata is LangChain's dict; a response's is Gemini's.
        if _int(inner, *_GEMINI_INPUT, *_GEMINI_OUTPUT) is not None:
            return read_genai_usage(inner)
        return read_langchain_usage(inner)
    embeddings = _get(value, "embeddings")
    if isinstance(embeddings, (list, tuple)):  # an embed_content response
        counts = [
            _int(_get(item, "statistics"), "token_count", "tokenCount") for item in embeddings
        ]
        if any(count is not None for count in counts):
            return TokenCounts(input=sum(count or 0 for count in counts), found=True)
    usage = _get(value, "usage")
    if usage is not None and not isinstance(usage, (int, float, str)):
        value = usage  # an OpenAI or Anthropic response: read its usage
    return _read_usage(value)


def _read_usage(value: Any) -> TokenCounts:
    """A usage object or dict of any provider, told apart by its field names."""
    if _int(value, *_GEMINI_INPUT, *_GEMINI_OUTPUT) is not None:
        return read_genai_usage(value)
    if _int(value, "prompt_tokens", "completion_tokens") is not None:
        return read_openai_usage(value)
    if _get(value, "input_tokens_details", "output_tokens_details") is not None:
        return read_openai_usage(value)
    if _get(value, "input_token_details", "output_token_details") is not None:
        return read_langchain_usage(value)
    if _int(value, "input_tokens", "inputTokens", "output_tokens", "outputTokens") is None:
        return TokenCounts()
    if _int(value, "input_tokens", "output_tokens") is None:  # camelCase: a plain mapping
        return TokenCounts(input=_int(value, "inputTokens") or 0,
                           output=_int(value, "outputTokens") or 0, found=True)  # fmt: skip
    # Anthropic's fields, or a plain mapping: input as given, cache counts apart.
    counts = read_anthropic_usage(value)
    if counts.cached is None and counts.cache_write is None and counts.thoughts is None:
        return TokenCounts(input=counts.input, output=counts.output, found=True)
    return counts


def _unwrap(value: Any, *names: str) -> Any:
    inner = _get(value, *names)
    return value if inner is None else inner


def _modalities(details: Any) -> dict[str, int]:
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


def _get(value: Any, *names: str) -> Any:
    if value is None:
        return None
    for name in names:
        found = value.get(name) if isinstance(value, Mapping) else getattr(value, name, None)
        if found is not None:
            return found
    return None


def _int(value: Any, *names: str) -> int | None:
    """The first of ``names`` that holds a count, at least 0; None when none does."""
    found = _get(value, *names)
    if found is None or isinstance(found, bool):
        return None
    return max(0, int(found))
