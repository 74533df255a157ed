"""Category routing (1.0.35's il_audit.usage) and the in-process estimates from the seed catalog."""

from __future__ import annotations

import pytest

from il_audit.subscriber_fn.estimates import estimate_token_bucket_api_cost_usd
from il_audit.usage import (
    ApiUsageFields,
    CategoryRoute,
    default_pricing_tier_for,
    register_category_route,
    resolve_api_usage_fields,
    resolve_chat_api_usage_fields,
    resolve_ingest_api_usage_fields,
)


def test_ingest_gemini_categories_default_to_batch_and_others_to_standard() -> None:
    """Ingest's Gemini calls (named, or any unknown ingest category) are batch; ingest
    embeddings, every chat category and an app without routes are standard."""
    for category in ("vision", "tagging", "summary", "deck_summary", "section_summary", "other"):
        assert default_pricing_tier_for("ingest", category) == "batch", category
        fields = resolve_ingest_api_usage_fields(category=category, model_id="gemini-2.0-flash")
        assert fields == ApiUsageFields(
            "vertex_gemini", "generate_content", "gemini-2.0-flash", category, "ingest_job", "batch"
        )
    assert default_pricing_tier_for("ingest", "embedding") == "standard"
    assert default_pricing_tier_for(" Chat ", "ANSWER") == "standard"
    assert default_pricing_tier_for("billing", "anything") == "standard"


def test_chat_routes_fall_back_to_their_models() -> None:
    """Chat's five categories resolve without a model, each to its service and fallback."""
    expected = {
        "answer": ("vertex_gemini", "generate_content", "gemini-2.5-flash-lite"),
        "format_preference": ("vertex_gemini", "generate_content", "gemini-2.5-flash-lite"),
        "contextualizer": ("vertex_gemini", "generate_content", "gemini-2.5-flash-lite"),
        "embedding": ("vertex_embedding", "embed_content", "gemini-embedding-001"),
        "rerank": ("vertex_rerank", "semantic_ranker", "semantic-ranker-default@latest"),
    }
    for category, (service, operation, model) in expected.items():
        fields = resolve_chat_api_usage_fields(category=category)
        assert (fields.service, fields.operation, fields.model_id) == (service, operation, model)
        assert (fields.correlation_type, fields.pricing_tier) == ("chat_turn", "standard")


def test_the_model_is_the_first_non_blank_and_overrides_win() -> None:
    """model_id, then embedding_model_id, then rerank_model_id, then the fallback; operation
    and pricing_tier override the route's (the tier normalised)."""
    fields = resolve_api_usage_fields(
        app="chat", category="answer", model_id=" ", embedding_model_id="e-1",
        rerank_model_id="r-1", pricing_tier=" Batch ", operation="generate_content_batch",
    )  # fmt: skip
    assert (fields.model_id, fields.pricing_tier, fields.operation) == (
        "e-1", "batch", "generate_content_batch"
    )  # fmt: skip


def test_what_cannot_be_resolved_raises_value_error() -> None:
    """No route (chat has no catch-all), no model (ingest has no fallback), a blank ingest
    model: ValueError each."""
    with pytest.raises(ValueError, match="no usage route"):
        resolve_api_usage_fields(app="chat", category="qa")
    with pytest.raises(ValueError, match="no model id"):
        resolve_api_usage_fields(app="ingest", category="vision")
    with pytest.raises(ValueError, match="model_id is required"):
        resolve_ingest_api_usage_fields(category="vision", model_id="  ")


def test_a_registered_route_is_found_by_its_normalised_key() -> None:
    """register_category_route keys on the lower-cased, stripped (app, category); the route's
    audit_category is what gets recorded."""
    route = CategoryRoute(
        "vertex_gemini", "generate_content", "chat_turn",
        fallback_model_id="gemini-3.5-flash", audit_category="answer",
    )  # fmt: skip
    register_category_route(" Test-App ", "QA", route)
    fields = resolve_api_usage_fields(app="test-app", category="qa ")
    assert (fields.model_id, fields.category) == ("gemini-3.5-flash", "answer")


def test_a_token_bucket_is_priced_per_tier_or_at_the_default() -> None:
    """tokens_by_pricing_tier sums each tier at its rate; otherwise the bucket's tokens are
    priced at the default tier; an empty bucket costs 0."""
    flash = {"service": "vertex_gemini", "model_id": "gemini-2.0-flash"}
    tiers = {"standard": {"prompt_tokens": 1_000_000, "output_tokens": 200_000},
             "batch": {"prompt_tokens": 1_000_000, "output_tokens": 200_000}}  # fmt: skip
    assert estimate_token_bucket_api_cost_usd(
        **flash, bucket={"tokens_by_pricing_tier": tiers, "prompt_tokens": 9}
    ) == 0.405  # fmt: skip
    plain = {"prompt_tokens": 1_000_000, "output_tokens": 200_000}
    assert estimate_token_bucket_api_cost_usd(**flash, bucket=plain) == 0.27
    assert estimate_token_bucket_api_cost_usd(
        **flash, bucket=plain, default_pricing_tier="batch"
    ) == 0.135  # fmt: skip
    assert estimate_token_bucket_api_cost_usd(**flash, bucket={}) == 0.0
