"""A 1.0.35 chat host's retrieval logging runs unchanged: names, signatures, the setting,
the tracker's methods, the tables' columns and §5.17's rules.

Everything here comes from the facts sheet of 1.0.35 (`reference-api-facts.md` §5.1,
§5.5, §5.6, §5.13, §5.16, §5.17 and Appendix A); the views' columns are checked on
both engines in `tests/integration/test_retrieval_views.py`.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from importlib import resources
from typing import Any

import pytest
import sqlglot

import il_audit
from il_audit.chat import ChatTurnUsageTracker, bind_chat_turn_usage, clear_chat_turn_usage
from il_audit.config.settings import AuditSettings, get_audit_settings
from il_audit.publisher import AuditContext
from il_audit.publisher.testing import capture_events, reset
from il_audit.sql import view

CTX = AuditContext(app="chat", actor_uid="u-1")
KW = inspect.Parameter.KEYWORD_ONLY
EMITTERS = {
    # §5.1: every parameter keyword-only and required; the last one is the items / settings.
    "emit_retrieval_candidates": [
        "context", "conversation_id", "turn_id", "search_pass", "stage", "candidates",
    ],
    "emit_retrieval_chunks": [
        "context", "conversation_id", "turn_id", "search_pass", "stage", "chunks",
    ],
    "emit_retrieval_pass": ["context", "conversation_id", "turn_id", "search_pass", "settings"],
}  # fmt: skip
TRACKER_METHODS = {
    # §5.13 and Appendix A (ChatTurnUsageTracker.*)
    "next_retrieval_search_pass": [],
    "last_retrieval_search_pass": [],
    "record_retrieval_candidates": ["search_pass", "stage", "candidates"],
    "record_retrieval_chunks": ["search_pass", "stage", "chunks"],
    "record_retrieval_pass": ["search_pass", "settings"],
}
TABLES = {
    # §5.6, in order
    "retrieval_candidates": (
        "candidate_id logged_at app environment actor_uid actor_email conversation_id turn_id "
        "search_pass stage rank drive_file_id source_file rrf_score semantic_rank keyword_rank "
        "rerank_score rerank_status app_version relevant_year content_department content_type "
        "trace_id"
    ),
    "retrieval_chunks": (
        "chunk_row_id logged_at app environment actor_uid actor_email app_version "
        "conversation_id turn_id search_pass stage rank chunk_id drive_file_id source_file "
        "passage_scope passage_index visible_slide_index semantic_distance semantic_rank "
        "keyword_score keyword_rank rrf_score rerank_score relevance_percentile "
        "chunk_text_sha256 trace_id"
    ),
    "retrieval_passes": (
        "pass_id logged_at app environment actor_uid actor_email app_version conversation_id "
        "turn_id search_pass settings_json trace_id"
    ),
}
CALL: dict[str, Any] = {"context": CTX, "conversation_id": "c-1", "turn_id": "t-1"}


def shape(function: Callable[..., Any]) -> list[tuple[str, Any, Any]]:
    """(name, kind, default) of each parameter but ``self``."""
    return [
        (p.name, p.kind, p.default)
        for p in inspect.signature(function).parameters.values()
        if p.name != "self"
    ]


@pytest.mark.parametrize("name", sorted(EMITTERS))
def test_the_emitters_are_root_names_with_1_0_35_signatures(name: str) -> None:
    """§5.1: in `il_audit.__all__`, keyword-only, no defaults, returning None."""
    assert name in il_audit.__all__
    function = getattr(il_audit, name)
    assert shape(function) == [(param, KW, inspect.Parameter.empty) for param in EMITTERS[name]]
    assert inspect.signature(function).return_annotation in (None, "None")


@pytest.mark.parametrize("name", sorted(TRACKER_METHODS))
def test_the_tracker_has_1_0_35_retrieval_methods(name: str) -> None:
    """§5.13 / Appendix A: the methods of ChatTurnUsageTracker, keyword-only."""
    method = getattr(ChatTurnUsageTracker, name)
    expected = [(param, KW, inspect.Parameter.empty) for param in TRACKER_METHODS[name]]
    assert shape(method) == expected


def test_store_retrieval_candidates_is_a_1_0_35_setting() -> None:
    """§5.5: bool, IL_AUDIT_STORE_RETRIEVAL_CANDIDATES, JSON key store_retrieval_candidates,
    default true."""
    assert get_audit_settings().store_retrieval_candidates is True
    env = AuditSettings.from_env({"IL_AUDIT_STORE_RETRIEVAL_CANDIDATES": "false"}, lenient=False)
    assert env.store_retrieval_candidates is False
    bundled = json.loads(resources.files("il_audit.config").joinpath("defaults.json").read_text())
    assert bundled["store_retrieval_candidates"] is True


def test_the_table_constants_name_the_retrieval_tables() -> None:
    """§5.6: TABLE_RETRIEVAL_* are the table names."""
    from il_audit.config.stores import audit_schema_store as store

    assert (
        store.TABLE_RETRIEVAL_CANDIDATES,
        store.TABLE_RETRIEVAL_CHUNKS,
        store.TABLE_RETRIEVAL_PASSES,
    ) == ("retrieval_candidates", "retrieval_chunks", "retrieval_passes")


@pytest.mark.parametrize("name", sorted(TABLES))
def test_each_view_selects_1_0_35_columns_in_order(name: str) -> None:
    """§5.6: the view's SELECT list is the table's columns (23, 27, 12), in order."""
    tree = sqlglot.parse_one(view(name).sql, read="bigquery")
    assert [column.alias_or_name for column in tree.selects] == TABLES[name].split()
    assert len(TABLES[name].split()) == {"retrieval_candidates": 23, "retrieval_chunks": 27,
                                         "retrieval_passes": 12}[name]  # fmt: skip


def test_rule_stage_first_word_and_search_pass_at_least_1() -> None:
    """§5.17: `stage` keeps its first word; `search_pass` is clamped to at least 1."""
    with capture_events() as events:
        il_audit.emit_retrieval_candidates(**CALL, search_pass=0, stage="before_trim pool",
                                           candidates=[{"rank": 1}])  # fmt: skip
        il_audit.emit_retrieval_chunks(**CALL, search_pass=-1, stage="cited  ",
                                       chunks=[{"rank": 1}])  # fmt: skip
    assert [(e.payload or {})["stage"] for e in events] == ["before_trim", "cited"]
    assert [(e.payload or {})["search_pass"] for e in events] == [1, 1]


def test_rule_one_row_per_item_with_a_fresh_id() -> None:
    """§5.17: one row per item, each with its own id."""
    with capture_events() as events:
        il_audit.emit_retrieval_chunks(**CALL, search_pass=1, stage="final",
                                       chunks=[{"rank": n} for n in range(1, 6)])  # fmt: skip
    assert len(events) == 5
    assert len({event.event_id for event in events}) == 5


def test_rule_only_schema_keys_strings_stripped_blanks_null() -> None:
    """§5.17: only the schema's keys are read; strings are stripped; a blank one is null."""
    with capture_events() as events:
        il_audit.emit_retrieval_candidates(**CALL, search_pass=1, stage="final", candidates=[
            {"rank": 1, "drive_file_id": "  f-1  ", "source_file": " ", "note": "x",
             "rerank_status": "skipped\n"},
        ])  # fmt: skip
    assert events[0].payload == {"search_pass": 1, "stage": "final", "rank": 1,
                                 "drive_file_id": "f-1", "rerank_status": "skipped"}  # fmt: skip


@pytest.mark.parametrize(
    "call",
    [
        {"stage": " ", "candidates": [{"rank": 1}]},
        {"stage": "final", "candidates": []},
        {"stage": "final", "candidates": [{"rank": 1}], "turn_id": ""},
    ],
)
def test_rule_blank_stage_blank_turn_or_empty_list_writes_nothing(call: dict[str, Any]) -> None:
    """§5.17: nothing is written."""
    with capture_events() as events:
        il_audit.emit_retrieval_candidates(**{**CALL, "search_pass": 1, **call})
    assert list(events) == []


def test_rule_settings_json() -> None:
    """§5.17: settings_json is json.dumps(dict(settings), ensure_ascii=False, default=str);
    empty settings write nothing."""
    settings = {"top_k": 40, "mode": "hybrid \u2013 rrf", "cutoff": object}
    with capture_events() as events:
        il_audit.emit_retrieval_pass(**CALL, search_pass=3, settings=settings)
        il_audit.emit_retrieval_pass(**CALL, search_pass=4, settings={})
    assert len(events) == 1
    assert (events[0].payload or {})["settings_json"] == json.dumps(
        dict(settings), ensure_ascii=False, default=str
    )


@pytest.mark.parametrize("on", [True, False])
def test_rule_the_setting_gates_all_three(monkeypatch: pytest.MonkeyPatch, on: bool) -> None:
    """§5.5: store_retrieval_candidates gates candidates, chunks and passes."""
    monkeypatch.setenv("IL_AUDIT_STORE_RETRIEVAL_CANDIDATES", "true" if on else "false")
    reset()
    with capture_events() as events:
        il_audit.emit_retrieval_candidates(**CALL, search_pass=1, stage="final",
                                           candidates=[{"rank": 1}])  # fmt: skip
        il_audit.emit_retrieval_chunks(**CALL, search_pass=1, stage="final", chunks=[{"rank": 1}])
        il_audit.emit_retrieval_pass(**CALL, search_pass=1, settings={"k": 1})
    assert len(events) == (3 if on else 0)


def test_the_tracker_counts_passes_and_never_raises() -> None:
    """§5.13: next_ gives 1, 2, ...; last_ the last issued or 0; the record_* methods call
    the emitters for the bound turn and never raise."""
    tracker = bind_chat_turn_usage("t-9", CTX, conversation_id="c-9")
    try:
        assert tracker.last_retrieval_search_pass() == 0
        assert [tracker.next_retrieval_search_pass() for _ in range(3)] == [1, 2, 3]
        assert tracker.last_retrieval_search_pass() == 3
        with capture_events() as events:
            tracker.record_retrieval_candidates(search_pass=3, stage="final",
                                                candidates=[{"rank": 1}])  # fmt: skip
            tracker.record_retrieval_chunks(search_pass=3, stage="final", chunks=[{"rank": 1}])
            tracker.record_retrieval_pass(search_pass=3, settings={"k": 1})
            tracker.record_retrieval_chunks(search_pass=3, stage="final", chunks=None)  # type: ignore[arg-type]
        assert {(e.correlation_id, e.session_id) for e in events} == {("t-9", "c-9")}
        assert len(events) == 3
    finally:
        clear_chat_turn_usage()


def test_retrieval_rows_hold_no_chunk_text() -> None:
    """§5.16: chunk text appears only as chunk_text_sha256."""
    with capture_events() as events:
        il_audit.emit_retrieval_chunks(
            **CALL, search_pass=1, stage="final", chunks=[{"rank": 1, "text": "Quarterly numbers"}]
        )
    assert "Quarterly numbers" not in events[0].model_dump_json()
    assert len((events[0].payload or {})["chunk_text_sha256"]) == 64
