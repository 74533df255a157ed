"""retrieval_candidates, retrieval_chunks and retrieval_passes on both engines.

A turn's retrieval (two search passes, candidates and chunks at several
stages) is recorded through the tracker's real API; its events go through the
embedded mode's pipeline and sink into DuckDB, and through the function's
pipeline and the Storage Write API into the BigQuery stand-in, where
``infra apply``'s code creates the views. Each view must have 1.0.35's
columns (facts sheet §5.6: names, order, types) and one row per item, whose
values are computed here from what the app passed, not from the events.
A last test runs the whole embedded mode (publisher, local transport) and
joins the rows to the turn in ``chat_turns``.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from il_audit import chat_turn_usage, emit_chat_turn
from il_audit.publisher import AuditContext, AuditPublisher, set_publisher
from il_audit.publisher.testing import capture_events, reset
from il_audit.schemas import taxonomy as T
from il_audit.schemas.envelope import Envelope
from tests.support.duck import read
from tests.support.engine_fixtures import workload_engines
from tests.support.factories import make_settings
from tests.support.scenario import Workload
from tests.support.warehouses import (
    Engine,
    by,
)

CTX = AuditContext(
    app="chat", actor_uid="u-1", actor_email="u1@example.com", trace_id="trace-1",
    environment="dev-local", app_version="2.4.1",
)  # fmt: skip
CHUNK_TEXT = "Bonus rules, 2026 edition: page 4."
QUESTION = "How much is the 2026 bonus?"
PASSES = [
    (1, {"top_k": 50, "rerank": True, "filters": {"year": 2026}}),
    (2, {"top_k": 20, "paraphrase": "Prämie"}),
]
CANDIDATES = [
    # (search pass, stage as the app passes it, items)
    (1, "hybrid_pool", [
        {"rank": 1, "drive_file_id": "f-1", "source_file": "bonus.pdf", "rrf_score": 0.0327,
         "semantic_rank": 1, "keyword_rank": 3, "relevant_year": 2026,
         "content_department": "HR", "content_type": "policy"},
        {"rank": 2, "drive_file_id": "f-2", "source_file": "old.pdf", "rrf_score": 0.0161,
         "semantic_rank": 4, "relevant_year": 0},
    ]),
    (2, "after_rerank (top 1)", [
        {"rank": 1, "drive_file_id": "f-1", "rerank_score": 0.91, "rerank_status": "ran",
         "relevant_year": -1},
    ]),
]  # fmt: skip
CHUNKS = [
    (2, "final", [
        {"rank": 1, "chunk_id": "f-1:4", "drive_file_id": "f-1", "source_file": "bonus.pdf",
         "passage_scope": "page", "passage_index": 4, "semantic_distance": 0.21,
         "semantic_rank": 1, "keyword_score": 7.5, "keyword_rank": 2, "rrf_score": 0.0325,
         "rerank_score": 0.88, "relevance_percentile": 97, "text": CHUNK_TEXT},
        {"rank": 2, "chunk_id": "f-3:2", "drive_file_id": "f-3", "passage_scope": "slide",
         "passage_index": 2, "visible_slide_index": 3, "chunk_text_sha256": "ab" * 32},
    ]),
]  # fmt: skip


def record_turn(usage: Any) -> None:
    """The turn's retrieval, as an app records it through the tracker."""
    for _ in PASSES:
        usage.next_retrieval_search_pass()
    for search_pass, settings in PASSES:
        usage.record_retrieval_pass(search_pass=search_pass, settings=settings)
    for search_pass, stage, candidates in CANDIDATES:
        usage.record_retrieval_candidates(
            search_pass=search_pass, stage=stage, candidates=candidates
        )
    for search_pass, stage, chunks in CHUNKS:
        usage.record_retrieval_chunks(search_pass=search_pass, stage=stage, chunks=chunks)


@pytest.fixture(scope="module")
def workload() -> Workload:
    """The turn's events, captured from the real API with no il-audit variable set."""
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("IL_"):
                patch.delenv(name)
        reset()
        try:
            with (
                capture_events() as events,
                chat_turn_usage("turn-1", CTX, conversation_session_id="conv-1") as usage,
            ):
                record_turn(usage)
                emit_chat_turn(question=QUESTION, retrieval_query="bonus 2026", workflow="qa")
        finally:
            reset()
    return Workload(
        envelopes=list(events),
        ingested_at={e.event_id: e.occurred_at + timedelta(seconds=2) for e in events},
    )


duckdb_engine, bigquery_engine, engine = workload_engines("retrieval")


def shared(event: Envelope, search_pass: int) -> dict[str, Any]:
    """The columns every retrieval row takes from its event and its call."""
    return {
        "logged_at": event.occurred_at, "app": "chat", "environment": "dev-local",
        "actor_uid": "u-1", "actor_email": "u1@example.com", "conversation_id": "conv-1",
        "turn_id": "turn-1", "search_pass": search_pass, "app_version": "2.4.1",
        "trace_id": "trace-1",
    }  # fmt: skip


def in_order(row: dict[str, Any], columns: list[tuple[str, str]]) -> dict[str, Any]:
    return {name: row.get(name) for name, _type in columns}


def test_retrieval_candidates_has_1_0_35_columns_and_a_row_per_candidate(
    engine: Engine, workload: Workload
) -> None:
    """23 columns in 1.0.35's order and types; one row per candidate with its own id, the
    stage's first word, and null where the app gave nothing."""
    events = iter(workload.of_type(T.CHAT_RETRIEVAL_CANDIDATE))
    expected = []
    for search_pass, stage, candidates in CANDIDATES:
        for item in candidates:
            event = next(events)
            row = {**shared(event, search_pass), **item, "candidate_id": event.event_id,
                   "stage": stage.split()[0]}  # fmt: skip
            expected.append(in_order(row, CANDIDATE_COLUMNS))

    rows = engine.rows("retrieval_candidates")

    assert engine.columns("retrieval_candidates") == CANDIDATE_COLUMNS
    assert by(rows, "search_pass", "rank") == by(expected, "search_pass", "rank")
    assert len({row["candidate_id"] for row in rows}) == 3


def test_retrieval_chunks_has_1_0_35_columns_and_never_the_text(
    engine: Engine, workload: Workload
) -> None:
    """27 columns in 1.0.35's order and types; one row per chunk; chunk text only as its
    SHA-256 (computed from the text the app passed, or the hash it gave)."""
    events = iter(workload.of_type(T.CHAT_RETRIEVAL_CHUNK))
    expected = []
    for search_pass, stage, chunks in CHUNKS:
        for item in chunks:
            event = next(events)
            digest = (
                item.get("chunk_text_sha256") or hashlib.sha256(item["text"].encode()).hexdigest()
            )
            row = {**shared(event, search_pass), **item, "chunk_row_id": event.event_id,
                   "stage": stage, "chunk_text_sha256": digest}  # fmt: skip
            expected.append(in_order(row, CHUNK_COLUMNS))

    rows = engine.rows("retrieval_chunks")

    assert engine.columns("retrieval_chunks") == CHUNK_COLUMNS
    assert by(rows, "rank") == by(expected, "rank")
    assert CHUNK_TEXT not in repr(rows)


def test_retrieval_passes_has_1_0_35_columns_and_the_settings(
    engine: Engine, workload: Workload
) -> None:
    """12 columns in 1.0.35's order and types; settings_json as 1.0.35 dumped the settings."""
    events = workload.of_type(T.CHAT_RETRIEVAL_PASS)
    expected = [
        in_order({**shared(event, search_pass), "pass_id": event.event_id,
                  "settings_json": json.dumps(settings, ensure_ascii=False, default=str)},
                 PASS_COLUMNS)
        for event, (search_pass, settings) in zip(events, PASSES, strict=True)
    ]  # fmt: skip

    rows = engine.rows("retrieval_passes")

    assert engine.columns("retrieval_passes") == PASS_COLUMNS
    assert by(rows, "search_pass") == expected


@pytest.mark.parametrize(
    ("helper", "base", "added"),
    [
        ("v_chat_retrieval_candidates", "retrieval_candidates",
         {"question": QUESTION, "retrieval_query": "bonus 2026", "workflow": "qa"}),
        ("v_chat_retrieval_chunks", "retrieval_chunks", {"question": QUESTION}),
        ("v_chat_retrieval_passes", "retrieval_passes", {"question": QUESTION}),
    ],
)  # fmt: skip
def test_1_0_35_helper_views_add_the_turn_to_each_row(
    engine: Engine, helper: str, base: str, added: dict[str, Any]
) -> None:
    """v_chat_retrieval_*: the table's columns, then its turn's question (and, for the
    candidates, retrieval query and workflow), on every row."""
    from il_audit.schemas.descriptions import described_columns

    rows = engine.rows(helper)

    assert engine.columns(helper) == [(c.name, c.type) for c in described_columns(helper)]
    key = next(iter(engine.rows(base)[0]))
    assert by(rows, key) == by([{**row, **added} for row in engine.rows(base)], key)


def test_the_embedded_mode_writes_rows_that_join_their_turn(tmp_path: Path) -> None:
    """Through the default publisher's local transport: every item is a row, and each row
    joins its turn in chat_turns by turn_id."""
    path = tmp_path / "chat.duckdb"
    publisher = AuditPublisher(make_settings(transport="local", duckdb_path=str(path)))
    previous = set_publisher(publisher)
    try:
        with chat_turn_usage(context=CTX, conversation_session_id="conv-9") as usage:
            record_turn(usage)
            turn_id = emit_chat_turn(question="q", turn_index=0)
    finally:
        set_publisher(previous)
        assert publisher.shutdown(30)

    joined = read(
        path,
        "SELECT v.kind, count(*), count(DISTINCT v.id) FROM ("
        " SELECT 'candidate' AS kind, candidate_id AS id, turn_id FROM retrieval_candidates"
        " UNION ALL SELECT 'chunk', chunk_row_id, turn_id FROM retrieval_chunks"
        " UNION ALL SELECT 'pass', pass_id, turn_id FROM retrieval_passes) AS v"
        " JOIN chat_turns AS t ON t.turn_id = v.turn_id"
        " WHERE t.conversation_id = 'conv-9' GROUP BY v.kind ORDER BY v.kind",
    )
    assert turn_id is not None
    assert joined == [("candidate", 3, 3), ("chunk", 2, 2), ("pass", 2, 2)]


# il-audit 1.0.35's tables (facts sheet §5.6), with BigQuery's type names
CANDIDATE_COLUMNS = [
    ("candidate_id", "STRING"), ("logged_at", "TIMESTAMP"), ("app", "STRING"),
    ("environment", "STRING"), ("actor_uid", "STRING"), ("actor_email", "STRING"),
    ("conversation_id", "STRING"), ("turn_id", "STRING"), ("search_pass", "INT64"),
    ("stage", "STRING"), ("rank", "INT64"), ("drive_file_id", "STRING"),
    ("source_file", "STRING"), ("rrf_score", "FLOAT64"), ("semantic_rank", "INT64"),
    ("keyword_rank", "INT64"), ("rerank_score", "FLOAT64"), ("rerank_status", "STRING"),
    ("app_version", "STRING"), ("relevant_year", "INT64"), ("content_department", "STRING"),
    ("content_type", "STRING"), ("trace_id", "STRING"),
]  # fmt: skip
CHUNK_COLUMNS = [
    ("chunk_row_id", "STRING"), ("logged_at", "TIMESTAMP"), ("app", "STRING"),
    ("environment", "STRING"), ("actor_uid", "STRING"), ("actor_email", "STRING"),
    ("app_version", "STRING"), ("conversation_id", "STRING"), ("turn_id", "STRING"),
    ("search_pass", "INT64"), ("stage", "STRING"), ("rank", "INT64"), ("chunk_id", "STRING"),
    ("drive_file_id", "STRING"), ("source_file", "STRING"), ("passage_scope", "STRING"),
    ("passage_index", "INT64"), ("visible_slide_index", "INT64"),
    ("semantic_distance", "FLOAT64"), ("semantic_rank", "INT64"), ("keyword_score", "FLOAT64"),
    ("keyword_rank", "INT64"), ("rrf_score", "FLOAT64"), ("rerank_score", "FLOAT64"),
    ("relevance_percentile", "INT64"), ("chunk_text_sha256", "STRING"), ("trace_id", "STRING"),
]  # fmt: skip
PASS_COLUMNS = [
    ("pass_id", "STRING"), ("logged_at", "TIMESTAMP"), ("app", "STRING"),
    ("environment", "STRING"), ("actor_uid", "STRING"), ("actor_email", "STRING"),
    ("app_version", "STRING"), ("conversation_id", "STRING"), ("turn_id", "STRING"),
    ("search_pass", "INT64"), ("settings_json", "STRING"), ("trace_id", "STRING"),
]  # fmt: skip
assert (len(CANDIDATE_COLUMNS), len(CHUNK_COLUMNS), len(PASS_COLUMNS)) == (23, 27, 12)
