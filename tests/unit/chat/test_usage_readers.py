"""The provider usage readers on responses the SDKs' own models validate (no network).

One test vector per row of the token-semantics table in docs/chat-integration.md,
each read from the SDK object, its ``model_dump()`` and (for google-genai) the
REST JSON; then the same responses through the tracker and the subscriber's pricing.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from anthropic.types import Message
from google.genai import types as genai_types
from langchain_core.messages import AIMessage
from openai.types.chat import ChatCompletion
from openai.types.responses import Response

from il_audit.chat import ChatTurnUsage
from il_audit.chat.usage_readers import (
    TokenCounts,
    read_anthropic_usage,
    read_genai_usage,
    read_langchain_usage,
    read_openai_usage,
    token_counts,
)
from il_audit.publisher.context import AuditContext
from il_audit.publisher.testing import capture_events
from il_audit.schemas.envelope import UsageItem
from il_audit.subscriber_fn.pricing import PricingCatalog, Rate, price_usage

CTX = AuditContext(actor_uid="u-1")

OPENAI_CHAT = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1767225600,
    "model": "gpt-5-mini",
    "choices": [
        {
            "index": 0,
            "finish_reason": "stop",
            "message": {"role": "assistant", "content": "Paris."},
        }
    ],
    "usage": {
        "prompt_tokens": 1200,
        "completion_tokens": 300,
        "total_tokens": 1500,
        "prompt_tokens_details": {"cached_tokens": 1000, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 100, "audio_tokens": 0},
    },
}
OPENAI_RESPONSE = {
    "id": "resp_1",
    "object": "response",
    "created_at": 1767225600,
    "model": "gpt-5-mini",
    "output": [],
    "parallel_tool_calls": True,
    "tool_choice": "auto",
    "tools": [],
    "usage": {
        "input_tokens": 1500,
        "input_tokens_details": {"cached_tokens": 1024, "cache_write_tokens": 0},
        "output_tokens": 400,
        "output_tokens_details": {"reasoning_tokens": 256},
        "total_tokens": 1900,
    },
}
ANTHROPIC_MESSAGE = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5",
    "content": [{"type": "text", "text": "Paris."}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 50,
        "output_tokens": 200,
        "cache_read_input_tokens": 3000,
        "cache_creation_input_tokens": 1200,
    },
}
GENAI_REST = {
    "candidates": [
        {"content": {"role": "model", "parts": [{"text": "Paris."}]}, "finishReason": "STOP"}
    ],
    "modelVersion": "gemini-2.5-flash",
    "usageMetadata": {
        "promptTokenCount": 2000,
        "candidatesTokenCount": 150,
        "thoughtsTokenCount": 350,
        "cachedContentTokenCount": 1500,
        "totalTokenCount": 2500,
        "promptTokensDetails": [
            {"modality": "TEXT", "tokenCount": 1742},
            {"modality": "IMAGE", "tokenCount": 258},
        ],
        "cacheTokensDetails": [{"modality": "TEXT", "tokenCount": 1500}],
        "candidatesTokensDetails": [{"modality": "TEXT", "tokenCount": 150}],
    },
}
LANGCHAIN_USAGE = {
    "input_tokens": 1350,
    "output_tokens": 240,
    "total_tokens": 1590,
    "input_token_details": {"cache_read": 1000, "cache_creation": 200},
    "output_token_details": {"reasoning": 90},
}


def forms(model: Any) -> list[Any]:
    """The SDK object, and its dict form."""
    return [model, model.model_dump()]


def test_openai_prompt_tokens_include_the_cached_ones() -> None:
    """Row 1: input = prompt - cached, cached apart (chat completions and responses)."""
    for value in forms(ChatCompletion.model_validate(OPENAI_CHAT)):
        counts = token_counts(value)
        assert (counts.input, counts.cached, counts.provider) == (200, 1000, "openai")
        assert read_openai_usage(value) == counts
    for value in forms(Response.model_validate(OPENAI_RESPONSE)):
        counts = token_counts(value)
        assert (counts.input, counts.cached, counts.cache_write) == (476, 1024, 0)
        assert read_openai_usage(value) == counts


def test_openai_completion_tokens_include_reasoning_noted_not_added() -> None:
    """Row 2: output as given; reasoning noted in thoughts, never added to it again."""
    chat = token_counts(ChatCompletion.model_validate(OPENAI_CHAT))
    assert (chat.output, chat.thoughts) == (300, 100)
    responses = token_counts(Response.model_validate(OPENAI_RESPONSE).model_dump())
    assert (responses.output, responses.thoughts) == (400, 256)


def test_anthropic_input_excludes_cache_reads_and_writes() -> None:
    """Row 3: input as given; cache reads and cache writes apart."""
    expected = TokenCounts(input=50, output=200, cached=3000, cache_write=1200, found=True,
                           provider="anthropic")  # fmt: skip
    for value in forms(Message.model_validate(ANTHROPIC_MESSAGE)):
        assert token_counts(value) == expected
        assert read_anthropic_usage(value) == expected
    assert token_counts(ANTHROPIC_MESSAGE["usage"]) == expected


def test_genai_thoughts_are_apart_and_cached_is_part_of_the_prompt() -> None:
    """Row 4: output = candidates + thoughts; input = prompt - cached; counts per modality."""
    response = genai_types.GenerateContentResponse.model_validate(GENAI_REST)
    for value in [*forms(response), GENAI_REST]:
        counts = token_counts(value)
        assert (counts.input, counts.output, counts.thoughts, counts.cached) == (
            500, 500, 350, 1500
        )  # fmt: skip
        assert counts.by_modality == {
            "prompt": {"text": 1742, "image": 258},
            "candidates": {"text": 150},
            "cached": {"text": 1500},
        }
        assert read_genai_usage(value) == counts


def test_langchain_input_tokens_include_cache_reads() -> None:
    """Row 5: as OpenAI. LangChain's input_tokens is the sum of every input token type, so
    cache creation comes off it too (its documentation; the issue names only cache_read)."""
    message = AIMessage(content="Paris.", usage_metadata=LANGCHAIN_USAGE)  # type: ignore[arg-type]
    expected = TokenCounts(input=150, output=240, thoughts=90, cached=1000, cache_write=200,
                           found=True, provider="langchain")  # fmt: skip
    for value in (message, message.usage_metadata, LANGCHAIN_USAGE):
        assert token_counts(value) == expected
        assert read_langchain_usage(value) == expected


def test_never_counted_twice() -> None:
    """Across providers, input + cached + cache writes is every prompt token exactly once."""
    chat = token_counts(ChatCompletion.model_validate(OPENAI_CHAT))
    assert chat.input + (chat.cached or 0) == OPENAI_CHAT["usage"]["prompt_tokens"]  # type: ignore[index]
    genai = token_counts(GENAI_REST)
    assert genai.input + (genai.cached or 0) + genai.output == 2500  # totalTokenCount
    lc = token_counts(LANGCHAIN_USAGE)
    assert lc.input + (lc.cached or 0) + (lc.cache_write or 0) == LANGCHAIN_USAGE["input_tokens"]


@pytest.mark.parametrize(
    ("response", "item_fields"),
    [
        (ChatCompletion.model_validate(OPENAI_CHAT),
         {"input_tokens": 200, "output_tokens": 300, "cached_input_tokens": 1000,
          "reasoning_tokens": 100}),
        (Message.model_validate(ANTHROPIC_MESSAGE),
         {"input_tokens": 50, "output_tokens": 200, "cached_input_tokens": 3000,
          "cache_write_input_tokens": 1200}),
        (genai_types.GenerateContentResponse.model_validate(GENAI_REST),
         {"input_tokens": 500, "output_tokens": 500, "cached_input_tokens": 1500,
          "reasoning_tokens": 350}),
        (AIMessage(content="x", usage_metadata=LANGCHAIN_USAGE),  # type: ignore[arg-type]
         {"input_tokens": 150, "output_tokens": 240, "cached_input_tokens": 1000,
          "cache_write_input_tokens": 200, "reasoning_tokens": 90}),
    ],
    ids=["openai", "anthropic", "google-genai", "langchain"],
)  # fmt: skip
def test_the_tracker_records_each_provider_per_the_table(
    response: Any, item_fields: dict[str, int]
) -> None:
    """record_model_call(usage_metadata=response) puts the counts on the call's usage item."""
    with capture_events() as events:
        ChatTurnUsage("t-1", CTX).record_model_call(model_id="m-1", usage_metadata=response)
    (event,) = events
    item = event.usage[0].model_dump(exclude_none=True)
    assert {key: item.get(key) for key in item_fields} == item_fields


def test_a_callers_own_input_tokens_get_no_cache_fields() -> None:
    """Given input_tokens, the tracker cannot know whether they include the cached tokens:
    it records them as given and adds no cache counts (no double count)."""
    with capture_events() as events:
        ChatTurnUsage("t-1", CTX).record_model_call(
            model_id="m-1", input_tokens=1200, usage_metadata=OPENAI_CHAT
        )
    item = events[0].usage[0]
    assert (item.input_tokens, item.cached_input_tokens, item.reasoning_tokens) == (
        1200, None, 100
    )  # fmt: skip


def _catalog(**prices: str) -> PricingCatalog:
    rate = Rate.from_mapping(
        {"service": "llm", "model_id": "m-1", "effective_from": "2026-01-01",
         "input_price_per_1m_tokens": "1.00", "output_price_per_1m_tokens": "4.00", **prices}
    )  # fmt: skip
    return PricingCatalog([rate], source="test")


AT = datetime(2026, 9, 1, tzinfo=UTC)
CACHED_ITEM = UsageItem(service="llm", model_id="m-1", input_tokens=1_000_000,
                        output_tokens=1_000_000, cached_input_tokens=2_000_000,
                        cache_write_input_tokens=1_000_000)  # fmt: skip


def test_cached_and_cache_write_tokens_are_priced_at_their_own_prices() -> None:
    """1M input at 1 + 1M output at 4 + 2M cached at 0.10 + 1M writes at 1.25 = 6.45."""
    catalog = _catalog(cached_input_price_per_1m_tokens="0.10",
                       cache_write_price_per_1m_tokens="1.25")  # fmt: skip
    priced = price_usage([CACHED_ITEM], AT, catalog)
    assert priced.cost_usd == Decimal("6.450000000")
    assert priced.usage[0]["cache_priced_as_input"] is False


def test_without_cache_prices_they_are_priced_as_input_and_the_item_says_so() -> None:
    """No cache price in the catalog: as before (input price), flagged on the item."""
    priced = price_usage([CACHED_ITEM], AT, _catalog(cached_input_price_per_1m_tokens="0.10"))
    assert priced.cost_usd == Decimal("6.200000000")  # 1 + 4 + 0.2 + 1 (writes as input)
    assert priced.usage[0]["cache_priced_as_input"] is True
    plain = UsageItem(service="llm", model_id="m-1", input_tokens=10, output_tokens=1)
    assert price_usage([plain], AT, _catalog()).usage[0]["cache_priced_as_input"] is None


def test_cost_rates_rows_round_trip_the_cache_prices() -> None:
    """A rate's cache prices survive to_row / from_mapping (the cost_rates table, rates load)."""
    rate = _catalog(cached_input_price_per_1m_tokens="0.10").rates[0]
    row = rate.to_row()
    assert row["cached_input_price_per_1m_tokens"] == Decimal("0.10")
    assert row["cache_write_price_per_1m_tokens"] is None
    assert Rate.from_mapping(row) == rate
    assert rate.effective_from == date(2026, 1, 1)
