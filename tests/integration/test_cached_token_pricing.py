"""Cached tokens through the embedded pipeline: read from the SDKs' responses, priced once.

A turn records a google-genai response with cached content (the seed prices
gemini-2.5-flash-lite's cached input at 10% of input) and an Anthropic message
with cache reads and writes on a model the catalog does not price by cache (so
its cache tokens are priced as input and the item says so). The expected costs
are computed here from the bundled catalog's published prices.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from anthropic.types import Message
from click.testing import CliRunner
from google.genai import types as genai_types

import il_audit
from il_audit import chat_turn_usage, emit_chat_turn
from il_audit.cli import cli
from il_audit.publisher import AuditContext, AuditPublisher, set_publisher
from tests.support.duck import read
from tests.support.factories import make_settings

MILLION = Decimal(1_000_000)
NANO = Decimal("0.000000001")
# gemini-2.5-flash-lite, standard, since 2026-07-05: input, output, cached input (USD per 1M).
LITE = (Decimal("0.1"), Decimal("0.4"), Decimal("0.01"))
# gemini-2.0-flash: no cache prices in the seed, so cache tokens are priced as input.
FLASH = (Decimal("0.15"), Decimal("0.6"))

GENAI = {
    "candidates": [{"content": {"role": "model", "parts": [{"text": "ok"}]}}],
    "usageMetadata": {
        "promptTokenCount": 200_000,
        "candidatesTokenCount": 1_000,
        "thoughtsTokenCount": 500,
        "cachedContentTokenCount": 150_000,
        "totalTokenCount": 201_500,
    },
}
ANTHROPIC = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "m",
    "content": [{"type": "text", "text": "ok"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 40,
        "output_tokens": 300,
        "cache_read_input_tokens": 30_000,
        "cache_creation_input_tokens": 5_000,
    },
}


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Path]:
    """The default publisher writes through the embedded pipeline into this file."""
    path = tmp_path / "cached.duckdb"
    publisher = AuditPublisher(make_settings(transport="local", duckdb_path=str(path)))
    previous = set_publisher(publisher)
    try:
        yield path
    finally:
        set_publisher(previous)
        publisher.shutdown(10)


def test_cached_tokens_are_priced_at_their_own_price_or_as_input_flagged(database: Path) -> None:
    """Each item stores its cache counts and cost; rates load keeps the cache prices; the
    turn counts every prompt token once."""
    ctx = AuditContext(app="chat", actor_uid="u-1")
    with chat_turn_usage(context=ctx, conversation_session_id="conv-1") as usage:
        usage.record_model_call(
            model_id="gemini-2.5-flash-lite",
            usage_metadata=genai_types.GenerateContentResponse.model_validate(GENAI),
        )
        usage.record_model_call(
            model_id="gemini-2.0-flash", usage_metadata=Message.model_validate(ANTHROPIC)
        )
        turn_id = emit_chat_turn(question="q", turn_index=0, latency_ms=900)
    publisher = set_publisher(None)
    assert publisher is not None
    assert publisher.shutdown(30)

    rows = read(
        database,
        "SELECT u.model_id, u.input_tokens, u.output_tokens, u.cached_input_tokens, "
        "u.cache_write_input_tokens, u.reasoning_tokens, u.cost_usd, u.cache_priced_as_input "
        f"FROM events AS e, UNNEST(e.usage) AS t(u) WHERE e.correlation_id = '{turn_id}' "
        "ORDER BY u.model_id",
    )
    lite = (50_000 * LITE[0] + 1_500 * LITE[1] + 150_000 * LITE[2]) / MILLION
    flash = (40 * FLASH[0] + 300 * FLASH[1] + 35_000 * FLASH[0]) / MILLION
    assert rows == [
        ("gemini-2.0-flash", 40, 300, 30_000, 5_000, None, flash.quantize(NANO), True),
        ("gemini-2.5-flash-lite", 50_000, 1_500, 150_000, None, 500, lite.quantize(NANO), False),
    ]
    # `rates load` of the bundled catalog's Gemini rates fills cost_rates, cache prices included.
    seed = json.loads(
        (Path(il_audit.__file__).parent / "subscriber_fn" / "cost_rates_seed.json").read_text()
    )
    rates = database.with_name("gemini_rates.json")
    gemini = [rate for rate in seed["rates"] if rate["service"] == "vertex_gemini"]
    rates.write_text(json.dumps({"rates": gemini}))
    loaded = CliRunner().invoke(
        cli, ["rates", "load", str(rates), "--target", "embedded", "--database", str(database)]
    )
    assert loaded.exit_code == 0, loaded.output
    [(cached_price, write_price)] = read(
        database,
        "SELECT cached_input_price_per_1m_tokens, cache_write_price_per_1m_tokens "
        "FROM cost_rates WHERE model_id = 'gemini-2.5-flash-lite' AND pricing_tier = 'standard' "
        "AND effective_from = DATE '2026-07-05'",
    )
    assert (cached_price, write_price) == (LITE[2], LITE[0])
    [turn] = read(
        database,
        "SELECT CAST(payload->>'$.input_tokens' AS BIGINT), "
        f"CAST(payload->>'$.output_tokens' AS BIGINT) FROM events WHERE event_id = '{turn_id}'",
    )
    assert turn == (200_000 + 40 + 35_000, 1_500 + 300)
