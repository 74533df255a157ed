"""A chat turn through the embedded pipeline: each model call priced at its tier's rate.

The turn's calls are recorded from two threads (the request's and a worker's
that joins with ``attach``), each published at once as its own usage event
correlated to the turn, the turn emitted as one ``chat.turn.succeeded`` with
the totals, and everything priced by the subscriber's core into DuckDB. The
expected costs are computed here from the prices the seed's 1.0 catalog
publishes (facts sheet §5.15), never from il-audit's own pricing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from il_audit import chat_turn_usage, emit_chat_session, emit_chat_turn
from il_audit.publisher import AuditContext, AuditPublisher, set_publisher
from tests.support.duck import read
from tests.support.factories import make_settings

MILLION = Decimal(1_000_000)
NANO = Decimal("0.000000001")
# USD per 1M tokens (input, output) and per query, in force since 2026-07-05.
LITE_STANDARD = (Decimal("0.1"), Decimal("0.4"))
FLASH_BATCH = (Decimal("0.075"), Decimal("0.3"))
EMBEDDING_STANDARD = Decimal("0.025")  # embeddings have no batch price: standard applies
RERANK_PER_QUERY = Decimal("0.001")


def tokens_cost(prices: tuple[Decimal, Decimal], tokens_in: int, tokens_out: int) -> Decimal:
    return ((tokens_in * prices[0] + tokens_out * prices[1]) / MILLION).quantize(NANO)


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Path]:
    """The default publisher writes through the embedded pipeline into this file."""
    path = tmp_path / "chat.duckdb"
    publisher = AuditPublisher(make_settings(transport="local", duckdb_path=str(path)))
    previous = set_publisher(publisher)
    try:
        yield path
    finally:
        set_publisher(previous)
        publisher.shutdown(10)


def test_a_two_thread_turn_is_priced_call_by_call(database: Path) -> None:
    """Four calls on two threads: one usage event each, exact costs per tier, the fallback
    recorded, and rolled-up totals on the turn, which chat_turns prices from its calls."""
    ctx = AuditContext(app="chat", actor_uid="u-1")
    emit_chat_session(context=ctx, conversation_session_id="conv-1")
    with chat_turn_usage(context=ctx, conversation_session_id="conv-1") as usage:
        usage.record_model_call(
            model_id="gemini-2.5-flash-lite", input_tokens=1234, output_tokens=567,
            category="contextualizer", latency_ms=210,
        )  # fmt: skip

        def worker() -> None:
            with usage.attach():
                usage.record_embedding(input_tokens=4096, pricing_tier="batch", latency_ms=35)
                usage.record_rerank(record_count=150, latency_ms=80)
                usage.record_model_call(
                    model_id="gemini-2.0-flash", input_tokens=250_000, output_tokens=12_345,
                    pricing_tier="batch", latency_ms=1900,
                )  # fmt: skip

        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
        turn_id = emit_chat_turn(question="q", turn_index=0, latency_ms=2400.4)
    publisher = set_publisher(None)
    assert publisher is not None
    assert publisher.shutdown(30)

    items = read(
        database,
        "SELECT u.model_id, u.pricing_tier, u.rate_tier, u.cost_usd, u.quantity "
        f"FROM events AS e, UNNEST(e.usage) AS t(u) WHERE e.correlation_id = '{turn_id}' "
        "AND e.event_type = 'cost.api.usage' AND e.correlation_type = 'chat_turn'",
    )
    expected_items = {
        ("gemini-2.5-flash-lite", "standard", "standard",
         tokens_cost(LITE_STANDARD, 1234, 567), None),
        ("gemini-embedding-001", "batch", "standard",
         (4096 * EMBEDDING_STANDARD / MILLION).quantize(NANO), None),
        ("semantic-ranker-default", "standard", "standard", 2 * RERANK_PER_QUERY, 2.0),
        ("gemini-2.0-flash", "batch", "batch", tokens_cost(FLASH_BATCH, 250_000, 12_345), None),
    }  # fmt: skip
    assert set(items) == expected_items
    total = sum(item[3] for item in expected_items)
    [turn] = read(
        database,
        "SELECT cost_usd, pricing_status, session_id, CAST(payload->>'$.input_tokens' AS BIGINT), "
        "CAST(payload->>'$.output_tokens' AS BIGINT), payload->>'$.llm_model', "
        f"CAST(payload->>'$.model_calls' AS BIGINT) FROM events WHERE event_id = '{turn_id}'",
    )
    # The turn event itself carries no items: its calls are priced once, as their own events.
    assert turn == (None, None, "conv-1", 1234 + 4096 + 250_000, 567 + 12_345,
                    "gemini-2.0-flash", 4)  # fmt: skip

    # The views read it back: one chat_turns row in the seed's columns, the tiers apart.
    [row] = read(
        database,
        "SELECT turn_id, session_id, input_tokens, output_tokens, api_cost_usd, "
        "resource_cost_usd, total_cost_usd, llm_model, latency_ms_total, model_calls, status, "
        "pricing_status FROM chat_turns",
    )
    rerank = 2 * RERANK_PER_QUERY
    assert row == (turn_id, "conv-1", 1234 + 4096 + 250_000, 567 + 12_345,
                   float(total - rerank), float(rerank), float(total), "gemini-2.0-flash",
                   2400, 4, "succeeded", "priced")  # fmt: skip
    by_tier = read(
        database,
        "SELECT model_id, pricing_tier, rate_tier, calls, cost_usd, fallback_items "
        "FROM llm_cost_by_model_tier ORDER BY model_id",
    )
    assert by_tier == sorted(
        (model, tier, rate_tier, 1, cost, int(tier != rate_tier))
        for model, tier, rate_tier, cost, _ in expected_items
    )
    [session] = read(database, "SELECT session_id, turn_count, total_cost_usd FROM chat_sessions")
    assert session == ("conv-1", 1, float(total))
