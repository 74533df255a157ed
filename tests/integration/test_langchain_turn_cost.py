"""A chat turn run through LangChain's fake model, priced exactly in chat_turns (DuckDB).

The handler records the call from LangChain's own callbacks, the embedded
pipeline prices it at the seed catalog's rate (facts sheet §5.15), and
chat_turns reads the cost back from the call correlated to the turn. No cached
or reasoning tokens here: how they are priced is the token readers' and the
catalog's business, tested with them.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from langchain_core.documents import Document
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage

from il_audit import chat_turn_usage, emit_chat_turn
from il_audit.integrations.langchain import AuditCallbackHandler
from il_audit.publisher import AuditContext, AuditPublisher, set_publisher
from tests.support.duck import read
from tests.support.factories import make_settings
from tests.support.langchain_fakes import ShelfRetriever

MILLION = Decimal(1_000_000)
LITE_STANDARD = (Decimal("0.1"), Decimal("0.4"))  # USD per 1M tokens, in and out


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


def test_a_langchain_turn_is_priced_exactly_in_chat_turns(database: Path) -> None:
    """Retriever and model through one handler: the call priced, the chunks hashed."""
    reply = AIMessage(
        "It was 4.2 million.",
        usage_metadata={"input_tokens": 4321, "output_tokens": 765, "total_tokens": 5086},
        response_metadata={"model_name": "gemini-2.5-flash-lite", "finish_reason": "STOP"},
    )
    model = GenericFakeChatModel(messages=iter([reply]))
    retriever = ShelfRetriever(documents=[Document("Revenue: 4.2 million", id="c-1")])
    config = {"callbacks": [AuditCallbackHandler()]}
    with chat_turn_usage(context=AuditContext(app="chat", actor_uid="u-1")) as usage:
        documents = retriever.invoke("revenue?", config=config)  # type: ignore[arg-type]
        model.invoke([HumanMessage(documents[0].page_content)], config=config)  # type: ignore[arg-type]
        turn_id = emit_chat_turn(question="revenue?", turn_index=0, latency_ms=900)
    publisher = set_publisher(None)
    assert publisher is not None
    assert publisher.shutdown(30)

    cost = (4321 * LITE_STANDARD[0] + 765 * LITE_STANDARD[1]) / MILLION
    [row] = read(
        database,
        "SELECT turn_id, input_tokens, output_tokens, api_cost_usd, total_cost_usd, llm_model, "
        "model_calls, retrieval_hit_count, pricing_status FROM chat_turns",
    )
    assert row == (turn_id, 4321, 765, float(cost), float(cost), "gemini-2.5-flash-lite", 1, 1,
                   "priced")  # fmt: skip
    assert usage.api_cost_usd == float(cost)  # the in-process estimate agrees with the seed
    [chunk] = read(
        database, "SELECT turn_id, rank, chunk_id, chunk_text_sha256 FROM retrieval_chunks"
    )
    assert chunk[:3] == (turn_id, 1, "c-1")
    assert len(chunk[3]) == 64
