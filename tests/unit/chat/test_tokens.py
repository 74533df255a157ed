"""Token counts read by duck typing from the shapes the SDKs return (no SDK imported)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from il_audit.chat import TokenCounts, token_counts


def genai_usage(**counts: int | None) -> SimpleNamespace:
    """google-genai / Vertex AI ``GenerateContentResponseUsageMetadata``: attributes, None
    for what the model did not report."""
    names = ("prompt_token_count", "candidates_token_count", "thoughts_token_count",
             "cached_content_token_count", "total_token_count")  # fmt: skip
    return SimpleNamespace(**{name: counts.get(name) for name in names})


def test_a_genai_response_and_its_usage_metadata_read_the_same() -> None:
    """Thinking tokens are billed as output, so output = candidates + thoughts; the cached
    content is part of the prompt, so input = prompt - cached (the table's Gemini row)."""
    usage = genai_usage(prompt_token_count=1200, candidates_token_count=300,
                        thoughts_token_count=50, cached_content_token_count=200)  # fmt: skip
    response = SimpleNamespace(text="hi", usage_metadata=usage)
    expected = TokenCounts(input=1000, output=350, thoughts=50, cached=200, found=True,
                           provider="google_genai")  # fmt: skip
    assert token_counts(usage) == expected
    assert token_counts(response) == expected


def test_the_rest_api_camel_case_dict() -> None:
    """The REST API's JSON (usageMetadata with camelCase keys) reads the same."""
    response = {"usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 4}}
    expected = TokenCounts(input=10, output=4, found=True, provider="google_genai")
    assert token_counts(response) == expected


def test_a_langchain_ai_message_and_its_usage_metadata() -> None:
    """LangChain's usage_metadata already counts reasoning inside output_tokens, and cache
    reads inside input_tokens (input = input_tokens - cache_read)."""
    usage = {
        "input_tokens": 900,
        "output_tokens": 120,
        "total_tokens": 1020,
        "input_token_details": {"cache_read": 100},
        "output_token_details": {"reasoning": 20},
    }
    message = SimpleNamespace(content="answer", usage_metadata=usage)
    expected = TokenCounts(input=800, output=120, thoughts=20, cached=100, found=True,
                           provider="langchain")  # fmt: skip
    assert token_counts(message) == expected
    assert token_counts(usage) == expected


@pytest.mark.parametrize(
    "value",
    [None, object(), {"other": 1}, SimpleNamespace(usage_metadata=None), genai_usage(),
     {"input_tokens": "many"}],
)  # fmt: skip
def test_unreadable_values_give_zeros_without_raising(value: object) -> None:
    """Whatever the object, reading it never raises into the host's model call."""
    assert token_counts(value) == TokenCounts()


def test_negative_counts_are_clamped() -> None:
    """A nonsensical negative count reads as zero, never as a credit."""
    assert token_counts({"input_tokens": -5, "output_tokens": 3}).input == 0


def test_tool_use_prompt_tokens_are_input() -> None:
    """Gemini bills tool-use / grounding prompt tokens as input, besides the prompt."""
    usage = genai_usage(prompt_token_count=100, candidates_token_count=5)
    usage.tool_use_prompt_token_count = 40
    assert token_counts(usage).input == 140


def test_an_embedding_response_reports_its_tokens() -> None:
    """Vertex AI embed_content: each embedding's statistics.token_count, summed."""
    response = SimpleNamespace(
        embeddings=[
            SimpleNamespace(values=[0.1], statistics=SimpleNamespace(token_count=7)),
            SimpleNamespace(values=[0.2], statistics=SimpleNamespace(token_count=5)),
        ]
    )
    assert token_counts(response) == TokenCounts(input=12, found=True)
    assert token_counts({"embeddings": [{"statistics": {"tokenCount": 3}}]}).input == 3


def test_prompt_tokens_by_modality_reads_sdk_objects_and_rest_json() -> None:
    """1.0.35's vertex_usage: per-modality prompt tokens from google-genai objects (an enum
    named MODALITY_*, or its text) and from the REST JSON; names lower-cased, prefix dropped."""
    from enum import Enum

    from il_audit.vertex_usage import prompt_tokens_by_modality, vertex_api_usage_metadata

    class MediaModality(Enum):
        TEXT = "TEXT"
        IMAGE = "IMAGE"

    sdk = SimpleNamespace(
        usage_metadata=SimpleNamespace(
            prompt_tokens_details=[
                SimpleNamespace(modality=MediaModality.TEXT, token_count=120),
                SimpleNamespace(modality="MODALITY_IMAGE", token_count=258),
                SimpleNamespace(modality="IMAGE", token_count=2),
            ]
        )
    )
    rest = {"usageMetadata": {"promptTokensDetails": [{"modality": "AUDIO", "tokenCount": 9}]}}
    assert prompt_tokens_by_modality(sdk) == {"text": 120, "image": 260}
    assert vertex_api_usage_metadata(rest) == {"prompt_tokens_by_modality": {"audio": 9}}
    for nothing in (None, {}, SimpleNamespace(prompt_tokens_details=None), "text"):
        assert prompt_tokens_by_modality(nothing) == {}
        assert vertex_api_usage_metadata(nothing) is None
