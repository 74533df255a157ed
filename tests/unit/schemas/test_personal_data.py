"""The personal-data inventory covers every column of every table and view, and scrubs JSON."""

from __future__ import annotations

import pytest

from il_audit.operations.privacy_inventory import payload_reads, relation_columns
from il_audit.schemas.personal_data import (
    COLUMN_TAGS,
    Category,
    OnErase,
    Stored,
    UntaggedColumnError,
    personal_data,
    scrub_json,
)
from il_audit.schemas.seed_tables import LATER_TABLES, SEED_TABLES


def _warehouse_columns() -> set[tuple[str, str]]:
    """(relation, column) of every table and view, as DuckDB reports them once created."""
    return {
        (relation, column) for relation, columns in relation_columns().items() for column in columns
    }


def test_every_table_and_view_column_is_tagged() -> None:
    """A new view column (or row-model field) without a tag fails here: classify it."""
    columns = _warehouse_columns()
    assert len({relation for relation, _ in columns}) > 40  # tables and every view
    untagged = sorted(f"{r}.{c}" for r, c in columns if c not in COLUMN_TAGS)
    assert untagged == []


@pytest.mark.parametrize("tables", [SEED_TABLES, LATER_TABLES], ids=["0.1.3", "1.0.35"])
def test_every_legacy_table_column_is_tagged(tables: dict) -> None:
    """What a migration keeps in legacy_<name> is classified too (erase reads it)."""
    for name, spec in tables.items():
        for column in spec.columns:
            personal_data(f"legacy_{name}", column.name)


def test_an_untagged_column_names_the_file_to_fix() -> None:
    with pytest.raises(UntaggedColumnError, match=r"personal_data\.py"):
        personal_data("events", "shoe_size")


def test_who_acted_is_personal_and_what_it_cost_is_not() -> None:
    assert personal_data("events", "actor_email").on_erase is OnErase.NULL
    assert personal_data("events", "actor_uid").on_erase is OnErase.PSEUDONYMISE
    assert personal_data("events", "payload").on_erase is OnErase.SCRUB
    assert personal_data("legacy_chat_turns", "question").category is Category.FREE_TEXT
    for kept in ("event_id", "event_type", "occurred_at", "app", "status", "cost_usd"):
        assert not personal_data("events", kept).personal, kept


def test_scrub_keeps_only_keys_tagged_not_personal() -> None:
    payload = {
        "question": "is Ann Smith on leave?",
        "question_sha256": "ab" * 32,
        "path": "/people/ann",
        "turn_index": 3,
        "input_tokens": 120,
        "my_app_field": "whatever",  # nobody tagged it: removed
    }
    assert scrub_json(payload) == {"turn_index": 3, "input_tokens": 120}
    assert scrub_json(["a list"]) is None
    assert scrub_json(None) is None


def test_every_payload_key_a_view_reads_is_tagged_like_its_column() -> None:
    """Erasure scrubs payloads by key name, so each key a view reads is classified, and a key
    read straight into a personal column is personal too (``feedback_comment`` -> comment)."""
    reads = [(read.view, read.key, read.column) for read in payload_reads()]
    assert len(reads) > 100
    assert sorted({key for _, key, _ in reads if key not in COLUMN_TAGS}) == []
    into_personal = [
        (view, key, column)
        for view, key, column in reads
        if column in COLUMN_TAGS
        and personal_data(view, column).personal
        and not COLUMN_TAGS[key].personal
    ]
    assert into_personal == []
    assert ("chat_feedback_scores", "feedback_comment", "comment") in reads


def test_a_relation_tag_overrides_the_name_s_tag() -> None:
    """1.0.35's content_reports texts were written by the host app: plain, not by a setting
    (and their legacy table reads the same)."""
    assert personal_data("chat_feedback_scores", "comment").stored is Stored.TEXT_IF_ENABLED
    for relation in ("content_reports", "legacy_content_reports"):
        tag = personal_data(relation, "comment")
        assert (tag.category, tag.stored, tag.setting) == (Category.FREE_TEXT, Stored.PLAIN, None)
