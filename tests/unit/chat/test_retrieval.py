"""Retrieval logging: one event per candidate and chunk, search passes, the gate, no chunk text."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from il_audit.chat import (
    ChatTurnUsage,
    chat_turn_usage,
    emit_retrieval_candidates,
    emit_retrieval_chunks,
    emit_retrieval_pass,
)
from il_audit.publisher import AuditContext, InvalidEventError
from il_audit.publisher.testing import capture_events, reset
from il_audit.schemas import taxonomy as T

CTX = AuditContext(app="chat", actor_uid="u-1")
CALL = {"context": CTX, "conversation_id": "conv-1", "turn_id": "turn-1", "search_pass": 2}


def payloads(events: list[Any]) -> list[dict[str, Any]]:
    return [event.payload or {} for event in events]


def test_each_candidate_is_one_event_sharing_turn_pass_and_stage() -> None:
    """Three candidates make three chat.retrieval.candidate events with their own ids; the
    turn (correlation_id), the conversation (session_id), the pass and the stage are the call's."""
    with capture_events() as events:
        emit_retrieval_candidates(**CALL, stage="hybrid_pool", candidates=[
            {"rank": 1, "drive_file_id": "f-1"}, {"rank": 2}, {"rank": 3},
        ])  # fmt: skip
    assert events.event_types == [T.CHAT_RETRIEVAL_CANDIDATE] * 3
    assert len({event.event_id for event in events}) == 3
    for event in events:
        assert (event.correlation_id, event.correlation_type) == ("turn-1", "chat_turn")
        assert (event.session_id, event.actor_uid, event.app) == ("conv-1", "u-1", "chat")
    assert payloads(events) == [
        {"search_pass": 2, "stage": "hybrid_pool", "rank": 1, "drive_file_id": "f-1"},
        {"search_pass": 2, "stage": "hybrid_pool", "rank": 2},
        {"search_pass": 2, "stage": "hybrid_pool", "rank": 3},
    ]


def test_only_the_first_word_of_the_stage_is_kept() -> None:
    """'  after_rerank (top 20)' is stored as 'after_rerank'."""
    with capture_events() as events:
        emit_retrieval_chunks(**CALL, stage="  after_rerank (top 20)", chunks=[{"rank": 1}])
    assert payloads(events)[0]["stage"] == "after_rerank"


@pytest.mark.parametrize("search_pass", [0, -3, None, "x"])
def test_search_pass_is_at_least_1(search_pass: Any) -> None:
    """A pass below 1 (or not a number) is stored as 1; '4' as 4."""
    with capture_events() as events:
        emit_retrieval_candidates(**{**CALL, "search_pass": search_pass}, stage="final",
                                  candidates=[{"rank": 1}])  # fmt: skip
        emit_retrieval_pass(**{**CALL, "search_pass": search_pass}, settings={"k": 1})
        emit_retrieval_candidates(**{**CALL, "search_pass": "4"}, stage="final",
                                  candidates=[{"rank": 1}])  # fmt: skip
    assert [p["search_pass"] for p in payloads(events)] == [1, 1, 4]


@pytest.mark.parametrize(
    "change",
    [
        {"stage": "   "},
        {"stage": ""},
        {"turn_id": "  "},
        {"turn_id": ""},
        {"candidates": []},
    ],
)
def test_a_blank_stage_or_turn_or_an_empty_list_writes_nothing(change: dict[str, Any]) -> None:
    """1.0.35's rule: nothing is written, and nothing raises."""
    call = {**CALL, "stage": "final", "candidates": [{"rank": 1}], **change}
    items = call.pop("candidates")
    with capture_events() as events:
        emit_retrieval_candidates(**call, candidates=items)
        emit_retrieval_chunks(**call, chunks=items)
    assert list(events) == []


def test_a_pass_with_a_blank_turn_or_empty_settings_writes_nothing() -> None:
    """emit_retrieval_pass writes nothing for a blank turn or empty settings."""
    with capture_events() as events:
        emit_retrieval_pass(**{**CALL, "turn_id": " "}, settings={"k": 1})
        emit_retrieval_pass(**CALL, settings={})
    assert list(events) == []


def test_only_the_item_columns_are_read_stripped_and_typed() -> None:
    """Keys outside the table's columns are ignored (the item's own turn, pass and stage
    too), strings are stripped, blank ones dropped (null), and values take their column's
    type: numeric text and numbers are converted, what does not fit is null."""
    item = {
        "rank": "3", "drive_file_id": "  f-9 ", "source_file": "   ", "rrf_score": Decimal("0.25"),
        "semantic_rank": 2.0, "keyword_rank": 7.6, "rerank_score": "nan",
        "rerank_status": " ran ", "relevant_year": True, "content_department": 42,
        "content_type": ["deck"], "turn_id": "other", "search_pass": 9, "stage": "cited",
        "question": "secret?", "query": "secret?", "candidate_id": "mine",
    }  # fmt: skip
    with capture_events() as events:
        emit_retrieval_candidates(**CALL, stage="final", candidates=[item])
    assert payloads(events) == [
        {"search_pass": 2, "stage": "final", "rank": 3, "drive_file_id": "f-9",
         "rrf_score": 0.25, "semantic_rank": 2, "keyword_rank": 8, "rerank_status": "ran",
         "content_department": "42"},
    ]  # fmt: skip
    assert events[0].correlation_id == "turn-1"
    assert events[0].event_id != "mine"


def test_values_of_the_usual_type_that_do_not_fit_are_null() -> None:
    """NaN and infinite floats, integers beyond INT64 and booleans are null; the limits fit."""
    with capture_events() as events:
        emit_retrieval_chunks(**CALL, stage="final", chunks=[
            {"rank": 2**63, "passage_index": 2**63 - 1, "visible_slide_index": -(2**63),
             "semantic_distance": float("nan"), "keyword_score": float("inf"),
             "rrf_score": -0.0, "relevance_percentile": False},
        ])  # fmt: skip
    assert payloads(events) == [
        {"search_pass": 2, "stage": "final", "passage_index": 2**63 - 1,
         "visible_slide_index": -(2**63), "rrf_score": -0.0},
    ]  # fmt: skip


def test_every_chunk_column_is_carried() -> None:
    """All fifteen item columns of retrieval_chunks reach the payload."""
    chunk = {
        "rank": 1, "chunk_id": UUID(int=7), "drive_file_id": "f-1", "source_file": "a.pdf",
        "passage_scope": "page", "passage_index": 4, "visible_slide_index": 5,
        "semantic_distance": 0.12, "semantic_rank": 2, "keyword_score": 3.5, "keyword_rank": 6,
        "rrf_score": 0.03, "rerank_score": 0.9, "relevance_percentile": 87,
        "chunk_text_sha256": " " + "a" * 64 + " ",
    }  # fmt: skip
    with capture_events() as events:
        emit_retrieval_chunks(**CALL, stage="final", chunks=[chunk])
    expected = {**chunk, "chunk_id": str(UUID(int=7)), "chunk_text_sha256": "a" * 64}
    assert payloads(events) == [{"search_pass": 2, "stage": "final", **expected}]


def test_chunk_text_is_hashed_and_never_sent() -> None:
    """`text` / `chunk_text` become chunk_text_sha256 (SHA-256 of the UTF-8 text); the text
    is in no envelope; a hash the caller gives wins."""
    text = "Die Prämie für Zyxwvut-4821 steigt."
    digest = hashlib.sha256(text.encode()).hexdigest()
    with capture_events() as events:
        emit_retrieval_chunks(**CALL, stage="final", chunks=[
            {"rank": 1, "text": text}, {"rank": 2, "chunk_text": text},
            {"rank": 3, "text": text, "chunk_text_sha256": "given"},
        ])  # fmt: skip
    assert [p.get("chunk_text_sha256") for p in payloads(events)] == [digest, digest, "given"]
    assert not [event for event in events if "Zyxwvut" in event.model_dump_json()]


def test_items_that_are_not_mappings_are_skipped() -> None:
    """A None or a string in the list is skipped; the other items are written."""
    with capture_events() as events:
        emit_retrieval_candidates(**CALL, stage="final", candidates=[None, {"rank": 1}, "f-2"])  # type: ignore[list-item]
    assert payloads(events) == [{"search_pass": 2, "stage": "final", "rank": 1}]


class Exploding(Mapping[str, Any]):
    """A mapping whose every read raises: a host bug the audit must not turn into an error."""

    def __getitem__(self, key: str) -> Any:
        raise RuntimeError("boom")

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("boom")

    def __len__(self) -> int:
        return 1


def test_the_emitters_never_raise(caplog: pytest.LogCaptureFixture) -> None:
    """Items, lists and settings that raise when read are logged, not raised."""
    with capture_events() as events:
        emit_retrieval_candidates(**CALL, stage="final", candidates=[Exploding()])
        emit_retrieval_chunks(**CALL, stage="final", chunks=42)  # type: ignore[arg-type]
        emit_retrieval_pass(**CALL, settings=Exploding())
    assert list(events) == []
    messages = [record.getMessage() for record in caplog.records]
    assert messages.count("il-audit: could not record retrieval items") == 2
    assert "il-audit: could not record a retrieval pass" in messages


def test_an_invalid_turn_id_is_sent_to_be_dead_lettered_not_raised() -> None:
    """A turn id over the envelope's 256 characters makes an invalid event, which the
    publisher sends to be dead-lettered (strict capture collects it) instead of raising."""
    with capture_events(strict=False) as events:
        emit_retrieval_candidates(**{**CALL, "turn_id": "t" * 300}, stage="final",
                                  candidates=[{"rank": 1}])  # fmt: skip
    assert list(events) == []
    assert len(events.invalid) == 1
    assert isinstance(events.invalid[0], InvalidEventError)


def test_settings_json_is_the_settings_as_1_0_35_dumped_them() -> None:
    """json.dumps(dict(settings), ensure_ascii=False, default=str): order, non-ASCII and
    non-JSON values (str()) as 1.0.35 wrote them."""
    settings = {"top_k": 50, "rerank": True, "label": "Prämie", "weights": (0.7, 0.3),
                "since": Decimal("1.5")}  # fmt: skip
    with capture_events() as events:
        emit_retrieval_pass(**CALL, settings=settings)
    assert events.event_types == [T.CHAT_RETRIEVAL_PASS]
    assert payloads(events) == [
        {"search_pass": 2,
         "settings_json": json.dumps(settings, ensure_ascii=False, default=str)},
    ]  # fmt: skip
    assert (events[0].correlation_id, events[0].session_id) == ("turn-1", "conv-1")


def test_settings_query_text_follows_the_question_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    """Query-like keys are kept with query text on; with IL_AUDIT_STORE_QUERY_TEXT=false they
    are left out, nested ones too."""
    settings = {"top_k": 50, "query": "Zyxwvut bonus?", "rewritten_queries": ["a", "b"],
                "hybrid": {"Search_Query": "Zyxwvut", "alpha": 0.5}, "question": "q"}  # fmt: skip
    with capture_events() as events:
        emit_retrieval_pass(**CALL, settings=settings)
    assert json.loads(payloads(events)[0]["settings_json"]) == settings

    monkeypatch.setenv("IL_AUDIT_STORE_QUERY_TEXT", "false")
    reset()
    with capture_events() as events:
        emit_retrieval_pass(**CALL, settings=settings)
    assert json.loads(payloads(events)[0]["settings_json"]) == {
        "top_k": 50, "hybrid": {"alpha": 0.5},
    }  # fmt: skip


def test_the_gate_turns_all_three_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """IL_AUDIT_STORE_RETRIEVAL_CANDIDATES=false: no candidate, chunk or pass event."""
    monkeypatch.setenv("IL_AUDIT_STORE_RETRIEVAL_CANDIDATES", "false")
    reset()
    with capture_events() as events, chat_turn_usage("turn-1", CTX) as usage:
        usage.record_retrieval_pass(search_pass=1, settings={"k": 1})
        usage.record_retrieval_candidates(search_pass=1, stage="final", candidates=[{"rank": 1}])
        usage.record_retrieval_chunks(search_pass=1, stage="final", chunks=[{"rank": 1}])
    assert list(events) == []


def test_the_tracker_numbers_passes_and_records_for_its_turn() -> None:
    """next_retrieval_search_pass gives 1, 2...; last_ gives the last (0 before); the
    record_* methods write with the tracker's turn, conversation and context."""
    with capture_events() as events:
        usage = ChatTurnUsage("turn-7", CTX, conversation_session_id="conv-7")
        assert usage.last_retrieval_search_pass() == 0
        first = usage.next_retrieval_search_pass()
        second = usage.next_retrieval_search_pass()
        assert (first, second, usage.last_retrieval_search_pass()) == (1, 2, 2)
        usage.record_retrieval_pass(search_pass=second, settings={"top_k": 20})
        usage.record_retrieval_candidates(search_pass=second, stage="final",
                                          candidates=[{"rank": 1}])  # fmt: skip
        usage.record_retrieval_chunks(search_pass=second, stage="cited", chunks=[{"rank": 1}])
    assert events.event_types == [
        T.CHAT_RETRIEVAL_PASS, T.CHAT_RETRIEVAL_CANDIDATE, T.CHAT_RETRIEVAL_CHUNK,
    ]  # fmt: skip
    for event in events:
        assert (event.correlation_id, event.session_id, event.actor_uid) == (
            "turn-7", "conv-7", "u-1",
        )  # fmt: skip
        assert (event.payload or {})["search_pass"] == 2
    assert usage.calls == ()  # retrieval rows are no billable calls


def test_search_passes_are_unique_across_threads() -> None:
    """Four threads taking 100 pass numbers each get 1..400, each once."""
    usage = ChatTurnUsage("turn-1", CTX)
    taken: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        numbers = [usage.next_retrieval_search_pass() for _ in range(100)]
        with lock:
            taken.extend(numbers)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(taken) == list(range(1, 401))
    assert usage.last_retrieval_search_pass() == 400


def test_the_tracker_methods_never_raise(caplog: pytest.LogCaptureFixture) -> None:
    """Bad arguments through the tracker are logged, not raised."""
    usage = ChatTurnUsage("turn-1", CTX)
    with capture_events() as events:
        usage.record_retrieval_candidates(search_pass=1, stage="final", candidates=[Exploding()])
        usage.record_retrieval_chunks(search_pass=1, stage="final", chunks=7)  # type: ignore[arg-type]
        usage.record_retrieval_pass(search_pass=1, settings=Exploding())
    assert list(events) == []
    assert len([r for r in caplog.records if r.name == "il_audit.chat.retrieval"]) == 3
