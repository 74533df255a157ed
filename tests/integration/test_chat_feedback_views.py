"""chat_feedback_scores on both engines, and its join to chat_turns.

Feedback is emitted through the real API; its events go through the embedded
mode's pipeline and sink into DuckDB, and through the function's pipeline and
the Storage Write API into the BigQuery stand-in, where ``infra apply``'s code
creates the views. The columns (names, order, types) are the design's; the
values are computed here from what the app passed. A last test runs the whole
embedded mode (publisher, local transport) and joins the rows to their turn.
"""

from __future__ import annotations

import hashlib
import os
from datetime import timedelta
from pathlib import Path

import pytest

from il_audit import chat_turn_usage, emit_chat_feedback, emit_chat_turn
from il_audit.publisher import AuditContext, AuditPublisher, set_publisher
from il_audit.publisher.testing import capture_events, reset
from tests.support.duck import read
from tests.support.engine_fixtures import workload_engines
from tests.support.factories import make_settings
from tests.support.scenario import Workload
from tests.support.warehouses import (
    Engine,
    by,
)

CTX = AuditContext(app="chat", actor_uid="u-1", environment="dev-local")
COMMENT = "Quoted the 2025 rule, not 2026's."
FEEDBACK = [
    # (turn, name, value, comment, conversation)
    ("turn-1", "thumbs", False, COMMENT, "conv-1"),
    ("turn-1", "correct", 0.25, None, "conv-1"),
    ("turn-2", "helpful", "partly", None, None),
]
COLUMNS = [
    ("logged_at", "TIMESTAMP"), ("feedback_id", "STRING"), ("app", "STRING"),
    ("environment", "STRING"), ("actor_uid", "STRING"), ("source", "STRING"),
    ("turn_id", "STRING"), ("conversation_id", "STRING"), ("name", "STRING"),
    ("value_type", "STRING"), ("value_number", "FLOAT64"), ("value_bool", "BOOL"),
    ("value_label", "STRING"), ("score", "FLOAT64"), ("is_negative", "BOOL"),
    ("comment", "STRING"), ("comment_length", "INT64"), ("comment_sha256", "STRING"),
    ("comment_hmac", "STRING"), ("metadata_json", "STRING"),
]  # fmt: skip


@pytest.fixture(scope="module")
def workload() -> Workload:
    """The feedback events, captured from the real API with no il-audit variable set."""
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("IL_"):
                patch.delenv(name)
        reset()
        try:
            with capture_events() as events:
                for turn, name, value, comment, conversation in FEEDBACK:
                    metadata = {"widget": "inline"} if comment else None
                    emit_chat_feedback(context=CTX, turn_id=turn, name=name, value=value,
                                       comment=comment, conversation_id=conversation,
                                       metadata=metadata)  # fmt: skip
        finally:
            reset()
    return Workload(
        envelopes=list(events),
        ingested_at={e.event_id: e.occurred_at + timedelta(seconds=2) for e in events},
    )


duckdb_engine, bigquery_engine, engine = workload_engines("feedback")


def test_chat_feedback_scores_has_a_row_per_verdict(engine: Engine, workload: Workload) -> None:
    """The design's columns in order and types; each value in its typed column, score and
    is_negative derived; the comment's text (query text on by default), length and hash."""
    digest = hashlib.sha256(COMMENT.encode()).hexdigest()
    first, second, third = workload.envelopes
    base = {"app": "chat", "environment": "dev-local", "actor_uid": "u-1", "source": "api",
            "value_number": None, "value_bool": None, "value_label": None, "comment": None,
            "comment_length": None, "comment_sha256": None, "comment_hmac": None,
            "metadata_json": None}  # fmt: skip
    expected = [
        {**base, "logged_at": first.occurred_at, "feedback_id": first.event_id,
         "turn_id": "turn-1", "conversation_id": "conv-1", "name": "thumbs",
         "value_type": "boolean", "value_bool": False, "score": 0.0, "is_negative": True,
         "comment": COMMENT, "comment_length": len(COMMENT), "comment_sha256": digest,
         "metadata_json": '{"widget":"inline"}'},
        {**base, "logged_at": second.occurred_at, "feedback_id": second.event_id,
         "turn_id": "turn-1", "conversation_id": "conv-1", "name": "correct",
         "value_type": "number", "value_number": 0.25, "score": 0.25, "is_negative": False},
        {**base, "logged_at": third.occurred_at, "feedback_id": third.event_id,
         "turn_id": "turn-2", "conversation_id": None, "name": "helpful",
         "value_type": "label", "value_label": "partly", "score": None, "is_negative": None},
    ]  # fmt: skip

    rows = engine.rows("chat_feedback_scores")

    assert engine.columns("chat_feedback_scores") == COLUMNS
    for row in rows:
        if row["metadata_json"] is not None:  # one engine spaces JSON text, one does not
            row["metadata_json"] = row["metadata_json"].replace(" ", "")
    key = ("turn_id", "name")
    assert by(rows, *key) == by([{n: e[n] for n, _t in COLUMNS} for e in expected], *key)


def test_the_embedded_mode_writes_rows_that_join_their_turn(tmp_path: Path) -> None:
    """Through the default publisher's local transport: feedback joins its turn in
    chat_turns by turn_id, and the refused call writes nothing."""
    path = tmp_path / "chat.duckdb"
    publisher = AuditPublisher(make_settings(transport="local", duckdb_path=str(path)))
    previous = set_publisher(publisher)
    try:
        with chat_turn_usage(context=CTX, conversation_session_id="conv-9"):
            turn_id = emit_chat_turn(question="q", turn_index=0)
        assert turn_id is not None
        emit_chat_feedback(context=CTX, turn_id=turn_id, name="thumbs", value=True,
                           conversation_id="conv-9")  # fmt: skip
        emit_chat_feedback(context=CTX, turn_id=turn_id, name="thumbs", value=None)  # type: ignore[arg-type]
    finally:
        set_publisher(previous)
        assert publisher.shutdown(30)

    joined = read(
        path,
        "SELECT f.name, f.score, f.is_negative, t.conversation_id FROM chat_feedback_scores AS f"
        " JOIN chat_turns AS t ON t.turn_id = f.turn_id",
    )
    assert joined == [("thumbs", 1.0, False, "conv-9")]
