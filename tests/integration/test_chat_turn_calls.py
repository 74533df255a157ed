"""A chat turn's calls are priced once and never lost, through the real pipeline, on both engines.

Each call the tracker records is published at once as its own usage event,
correlated to its turn; the turn carries only totals. The scenario: a turn of
four calls on two threads, a turn that raises before it is emitted, a 1.0.35
host's turn (``bind_chat_turn_usage``, ``record_api_call``,
``record_chat_query_turn``) and two out-of-scope queries, one with query text
off. It is loaded through the subscriber's pipeline into the embedded DuckDB
file and, with the Storage Write API, into the BigQuery stand-in, and read
back through the views. Expected costs come from the prices the seed's 1.0
catalog publishes (facts sheet §5.15), never from il-audit's pricing.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from il_audit import (
    chat_turn_usage,
    emit_chat_session,
    emit_chat_turn,
    emit_out_of_scope_query,
    record_chat_query_turn,
)
from il_audit.chat import bind_chat_turn_usage, clear_chat_turn_usage
from il_audit.publisher import AuditContext
from il_audit.publisher.testing import capture_events, reset
from il_audit.schemas import taxonomy as T
from il_audit.sql import for_duckdb
from tests.support.bigquery_standin import BigQueryStandIn
from tests.support.scenario import Workload
from tests.support.warehouses import BigQueryDataset, bigquery_type, load_bigquery, load_duckdb

MILLION = Decimal(1_000_000)
NANO = Decimal("0.000000001")
# USD per 1M tokens (input, output) and per query, in force since 2026-07-05.
LITE_STANDARD = (Decimal("0.1"), Decimal("0.4"))
FLASH_STANDARD = (Decimal("0.15"), Decimal("0.6"))
FLASH_BATCH = (Decimal("0.075"), Decimal("0.3"))
EMBEDDING = Decimal("0.025")  # embeddings have no batch price: standard applies
PER_QUERY = Decimal("0.001")
DAY = datetime(2026, 11, 24, 10, tzinfo=UTC)
CHAT = AuditContext(app="chat", actor_uid="u-1")
QUESTION = "How many days off do I get?"


def tokens(prices: tuple[Decimal, Decimal], tokens_in: int, tokens_out: int = 0) -> Decimal:
    return ((tokens_in * prices[0] + tokens_out * prices[1]) / MILLION).quantize(NANO)


# Turn A's calls (model, category) -> cost; turn B's one call; turn C's two.
TURN_A = {
    ("gemini-2.5-flash-lite", "contextualizer"): tokens(LITE_STANDARD, 1234, 567),
    ("gemini-embedding-001", "embedding"): tokens((EMBEDDING, Decimal(0)), 4096),
    ("semantic-ranker-default", "rerank"): 2 * PER_QUERY,  # 150 records: 2 queries
    ("gemini-2.0-flash", "answer"): tokens(FLASH_BATCH, 250_000, 12_345),
}
TURN_B = tokens(FLASH_STANDARD, 1_000_000, 200_000)  # 0.27, facts sheet 5.15
TURN_C = {
    ("gemini-2.5-flash-lite", "answer"): tokens(LITE_STANDARD, 800, 200),
    ("semantic-ranker-default", "rerank"): PER_QUERY,
}
# 1.0.35's out_of_scope_queries columns (facts sheet 5.6), in order.
OUT_OF_SCOPE_COLUMNS = [
    ("logged_at", "TIMESTAMP"), ("app", "STRING"), ("environment", "STRING"),
    ("actor_uid", "STRING"), ("actor_email", "STRING"), ("trace_id", "STRING"),
    ("turn_id", "STRING"), ("conversation_id", "STRING"), ("session_id", "STRING"),
    ("visit_session_id", "STRING"), ("turn_index", "INT64"), ("question", "STRING"),
    ("question_sha256", "STRING"), ("answer_excerpt", "STRING"), ("signal", "STRING"),
    ("category", "STRING"), ("reason", "STRING"), ("detection_method", "STRING"),
    ("workflow", "STRING"), ("response_type", "STRING"), ("context_mode", "STRING"),
    ("search_scope", "STRING"), ("attached_source_count", "INT64"),
    ("passage_pin_count", "INT64"), ("document_pin_count", "INT64"),
    ("used_attached_only", "BOOL"), ("no_docs", "BOOL"), ("retrieval_hit_count", "INT64"),
    ("sources_returned_count", "INT64"), ("retrieval_query", "STRING"),
    ("summary_scope", "STRING"), ("comparison_focus", "STRING"), ("metadata_json", "STRING"),
]  # fmt: skip


def play_turns() -> tuple[Workload, dict[str, str]]:
    """The scenario through the real API, each envelope given a time on DAY; the turn ids."""
    ids: dict[str, str] = {}
    with capture_events() as captured:
        emit_chat_session(context=CHAT, conversation_session_id="conv-1")
        with chat_turn_usage(context=CHAT, conversation_session_id="conv-1") as usage:
            usage.record_model_call(
                model_id="gemini-2.5-flash-lite", input_tokens=1234, output_tokens=567,
                category="contextualizer", latency_ms=210,
            )  # fmt: skip

            def worker() -> None:
                with usage.attach():
                    usage.record_embedding(input_tokens=4096, pricing_tier="batch")
                    usage.record_rerank(record_count=150)
                    usage.record_model_call(model_id="gemini-2.0-flash", input_tokens=250_000,
                                            output_tokens=12_345, pricing_tier="batch")  # fmt: skip

            thread = threading.Thread(target=worker)
            thread.start()
            thread.join()
            ids["a"] = emit_chat_turn(question=QUESTION, turn_index=0, latency_ms=2400) or ""
        try:
            with chat_turn_usage(context=CHAT, conversation_session_id="conv-1") as failing:
                ids["b"] = failing.turn_id
                failing.record_model_call(model_id="gemini-2.0-flash", input_tokens=1_000_000,
                                          output_tokens=200_000)  # fmt: skip
                raise TimeoutError  # the host's request fails before it records the turn
        except TimeoutError:
            pass
        tracker = bind_chat_turn_usage("turn-c", CHAT, conversation_id="conv-2")
        try:
            tracker.record_api_call(category="answer", input_tokens=800, output_tokens=200)
            tracker.record_rerank_call(model_id="semantic-ranker-default@latest", record_count=12)
            record_chat_query_turn(
                context=CHAT, turn_id="turn-c", question=QUESTION, history=[], succeeded=True,
                conversation_id="conv-2",
            )  # fmt: skip
        finally:
            clear_chat_turn_usage()
        # A tracker made without a context: its call carries the default app, not the
        # turn's, and still counts for the turn.
        with chat_turn_usage("turn-e") as bare:
            bare.record_embedding(input_tokens=1_000_000)
            emit_chat_turn(context=CHAT, question=QUESTION)
        emit_out_of_scope_query(
            context=CHAT, turn_id="turn-c", signal="empty_retrieval", question=QUESTION,
            conversation_id="conv-2", answer_excerpt=" I found nothing on that. ",
            category="hr", detection_method="answer_status", turn_index=0, no_docs=True,
            retrieval_hit_count=0, metadata={"k": "v"},
        )  # fmt: skip
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("IL_AUDIT_STORE_QUERY_TEXT", "false")
        reset()  # the publisher reads its settings when it is made
        with capture_events() as text_off:
            emit_out_of_scope_query(context=CHAT, turn_id="turn-d", signal="soft_refusal",
                                    question=QUESTION, answer_excerpt="Ask HR.",
                                    retrieval_query="days off")  # fmt: skip
    reset()
    workload = Workload()
    for index, envelope in enumerate([*captured, *text_off]):
        at = DAY + timedelta(seconds=index)
        workload.envelopes.append(envelope.model_copy(update={"occurred_at": at}))
        workload.ingested_at[envelope.event_id] = at + timedelta(seconds=2)
    return workload, ids


@pytest.fixture(scope="module")
def scenario() -> tuple[Workload, dict[str, str]]:
    """The scenario, played once."""
    return play_turns()


class Engine:
    """One warehouse holding the scenario, queried in BigQuery SQL (``{ds}`` the dataset)."""

    def __init__(self, name: str, path: Path | None = None, dataset: Any = None) -> None:
        self.name, self.path, self.dataset = name, path, dataset

    def query(self, sql: str) -> list[dict[str, Any]]:
        if self.dataset is None:
            with duckdb.connect(str(self.path), read_only=True) as connection:
                connection.execute("SET TimeZone = 'UTC'")
                cursor = connection.execute(for_duckdb(sql.replace("{ds}.", "")))
                names = [column[0] for column in cursor.description]
                return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        qualified = sql.replace("{ds}", f"`{self.dataset.project}.{self.dataset.dataset}`")
        return [dict(row.items()) for row in self.dataset.client.query(qualified).result()]

    def columns(self, relation: str) -> list[tuple[str, str]]:
        if self.dataset is None:
            with duckdb.connect(str(self.path), read_only=True) as connection:
                cursor = connection.execute(f"SELECT * FROM {relation} LIMIT 0")
                return [(column[0], bigquery_type(str(column[1]))) for column in cursor.description]
        table = f"`{self.dataset.project}.{self.dataset.dataset}.{relation}`"
        result = self.dataset.client.query(f"SELECT * FROM {table} LIMIT 0").result()
        return [(item.name, bigquery_type(item.field_type)) for item in result.schema]


@pytest.fixture(scope="module")
def duckdb_engine(
    scenario: tuple[Workload, dict[str, str]], tmp_path_factory: pytest.TempPathFactory
) -> Engine:
    """The scenario in an embedded file, through the embedded mode's pipeline."""
    path = load_duckdb(tmp_path_factory.mktemp("turn-calls") / "events.duckdb", scenario[0])
    return Engine("duckdb", path=path)


@pytest.fixture(scope="module")
def bigquery_engine(
    scenario: tuple[Workload, dict[str, str]], standin: BigQueryStandIn
) -> Iterator[Engine]:
    """The scenario in a dataset of the stand-in, through the function's pipeline."""
    dataset: BigQueryDataset = load_bigquery(
        standin.url, standin.project, scenario[0], standin.grpc_address
    )
    try:
        yield Engine("bigquery", dataset=dataset)
    finally:
        dataset.close()


@pytest.fixture(params=["duckdb", "bigquery"])
def engine(request: pytest.FixtureRequest) -> Engine:
    """Each engine in turn."""
    found: Engine = request.getfixturevalue(f"{request.param}_engine")
    return found


def test_the_calls_are_usage_events_and_the_turn_carries_none(
    scenario: tuple[Workload, dict[str, str]],
) -> None:
    """Eight calls, eight cost.api.usage events correlated to their turns, published as they
    were made; the turn events carry no usage items, only totals."""
    workload, ids = scenario
    calls = workload.of_type(T.API_USAGE_RECORDED)
    assert sorted(str(call.correlation_id) for call in calls) == sorted(
        [ids["a"]] * 4 + [ids["b"]] + ["turn-c"] * 2 + ["turn-e"]
    )
    assert {call.correlation_type for call in calls} == {"chat_turn"}
    turns = workload.of_type(T.CHAT_TURN_SUCCEEDED, T.CHAT_TURN_FAILED)
    assert [(turn.event_id, turn.usage) for turn in turns] == [
        (ids["a"], []), ("turn-c", []), ("turn-e", [])
    ]  # fmt: skip


def test_a_completed_turn_costs_the_sum_of_its_calls(
    engine: Engine, scenario: tuple[Workload, dict[str, str]]
) -> None:
    """chat_turns has each turn's tokens and costs from its calls' events (API, resource,
    total), every call priced; the calls' rows in api_usage_events add up to it; the
    session totals its turn."""
    ids = scenario[1]
    rows = {
        row["turn_id"]: row
        for row in engine.query(
            "SELECT turn_id, input_tokens, output_tokens, api_cost_usd, resource_cost_usd, "
            "total_cost_usd, model_calls, pricing_status, llm_model FROM {ds}.chat_turns"
        )
    }
    assert set(rows) == {ids["a"], "turn-c", "turn-e"}  # turn B was never recorded
    total_a = sum(TURN_A.values())
    rerank_a = TURN_A[("semantic-ranker-default", "rerank")]
    assert rows[ids["a"]] == {
        "turn_id": ids["a"], "input_tokens": 1234 + 4096 + 250_000,
        "output_tokens": 567 + 12_345, "api_cost_usd": pytest.approx(float(total_a - rerank_a)),
        "resource_cost_usd": pytest.approx(float(rerank_a)),
        "total_cost_usd": pytest.approx(float(total_a)), "model_calls": 4,
        "pricing_status": "priced", "llm_model": "gemini-2.0-flash",
    }  # fmt: skip
    assert rows["turn-c"]["total_cost_usd"] == pytest.approx(float(sum(TURN_C.values())))
    assert (rows["turn-c"]["input_tokens"], rows["turn-c"]["model_calls"]) == (800, 2)
    # Turn E's call went out with the default app ("unknown"): matched on the turn's id.
    assert rows["turn-e"]["total_cost_usd"] == pytest.approx(float(EMBEDDING))
    sums = engine.query(
        "SELECT correlation_id, SUM(estimated_cost_usd) AS usd, COUNT(*) AS calls "
        "FROM {ds}.api_usage_events WHERE correlation_type = 'chat_turn' GROUP BY correlation_id"
    )
    by_turn = {row["correlation_id"]: (row["usd"], row["calls"]) for row in sums}
    assert by_turn[ids["a"]] == (pytest.approx(rows[ids["a"]]["total_cost_usd"]), 4)
    assert by_turn["turn-c"] == (pytest.approx(rows["turn-c"]["total_cost_usd"]), 2)
    [session] = engine.query(
        "SELECT turn_count, total_cost_usd FROM {ds}.chat_sessions WHERE session_id = 'conv-1'"
    )
    assert session == {"turn_count": 1, "total_cost_usd": pytest.approx(float(total_a))}


def test_a_turn_that_raised_still_has_its_call_priced(
    engine: Engine, scenario: tuple[Workload, dict[str, str]]
) -> None:
    """The turn that raised before it was emitted: its call is an api_usage_events row,
    priced (0.27), with its tier and call id in metadata_json."""
    ids = scenario[1]
    [row] = engine.query(
        "SELECT model_id, input_tokens, estimated_cost_usd, pricing_version, metadata_json "
        f"FROM {{ds}}.api_usage_events WHERE correlation_id = '{ids['b']}'"
    )
    assert (row["model_id"], row["input_tokens"], row["pricing_version"]) == (
        "gemini-2.0-flash", 1_000_000, "2026-08-31"
    )  # fmt: skip
    assert row["estimated_cost_usd"] == pytest.approx(float(TURN_B))
    assert '"pricing_tier":"standard"' in row["metadata_json"].replace(" ", "")
    assert '"call_id"' in row["metadata_json"]


def test_the_cost_views_count_each_call_once(engine: Engine) -> None:
    """cost_by_app_daily and llm_cost_by_model_tier: every call once (the raised turn's
    included), the turn events not at all."""
    everything = sum(TURN_A.values()) + TURN_B + sum(TURN_C.values())
    [day] = engine.query(
        "SELECT priced_events, cost_usd, unpriced_events FROM {ds}.cost_by_app_daily "
        "WHERE app = 'chat'"
    )
    assert day == {"priced_events": 7, "cost_usd": everything, "unpriced_events": 0}
    tiers = engine.query(
        "SELECT model_id, pricing_tier, SUM(calls) AS calls, SUM(cost_usd) AS cost_usd "
        "FROM {ds}.llm_cost_by_model_tier WHERE app = 'chat' GROUP BY model_id, pricing_tier"
    )
    assert sum(row["calls"] for row in tiers) == 7
    assert sum(row["cost_usd"] for row in tiers) == everything
    by_tier = {(row["model_id"], row["pricing_tier"]): row["calls"] for row in tiers}
    assert by_tier[("gemini-2.0-flash", "batch")] == 1
    assert by_tier[("gemini-2.0-flash", "standard")] == 1
    assert by_tier[("semantic-ranker-default", "standard")] == 2


def test_out_of_scope_queries_has_1_0_35_s_columns_and_the_question_rule(engine: Engine) -> None:
    """out_of_scope_queries: 1.0.35's 33 columns in order and type; one row per event, the
    turn and conversation, the hash always, the question and excerpt only with query text
    on, the retrieval query gone with it."""
    assert engine.columns("out_of_scope_queries") == OUT_OF_SCOPE_COLUMNS
    rows = {row["turn_id"]: row for row in engine.query("SELECT * FROM {ds}.out_of_scope_queries")}
    sha = hashlib.sha256(QUESTION.encode()).hexdigest()
    on = rows["turn-c"]
    assert {key: on[key] for key in ("app", "actor_uid", "conversation_id", "session_id",
                                     "question", "question_sha256", "answer_excerpt", "signal",
                                     "category", "detection_method", "turn_index", "no_docs",
                                     "retrieval_hit_count", "reason")} == {
        "app": "chat", "actor_uid": "u-1", "conversation_id": "conv-2", "session_id": "conv-2",
        "question": QUESTION, "question_sha256": sha,
        "answer_excerpt": "I found nothing on that.", "signal": "empty_retrieval",
        "category": "hr", "detection_method": "answer_status", "turn_index": 0,
        "no_docs": True, "retrieval_hit_count": 0, "reason": None,
    }  # fmt: skip
    assert on["metadata_json"].replace(" ", "") == '{"k":"v"}'
    off = rows["turn-d"]
    assert (off["question"], off["answer_excerpt"], off["retrieval_query"]) == (None, None, None)
    assert (off["question_sha256"], off["signal"]) == (sha, "soft_refusal")
