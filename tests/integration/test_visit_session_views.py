"""Visits and conversations from a page's beacons: chat_visit_sessions and chat_sessions.

A 1.0.35 page's visit and conversation beacons go through the real beacon
router (its handlers emit the visit and session events), and a host calls
``emit_chat_visit_session`` itself; the events go through the embedded mode's
pipeline into DuckDB and through the function's pipeline into the BigQuery
stand-in, where ``infra apply``'s code creates the views. chat_visit_sessions
must have 1.0.35's 11 columns (facts sheet §5.6: names, order, types) and one
row per visit, start and end combined; chat_sessions gets the conversation.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest

from il_audit import emit_chat_visit_session
from il_audit.publisher import AuditContext
from il_audit.publisher.testing import capture_events, reset
from il_audit.schemas import taxonomy as T
from tests.support.beacon import beacon_client, item
from tests.support.engine_fixtures import workload_engines
from tests.support.scenario import Workload
from tests.support.warehouses import (
    Engine,
    by,
)

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
ALICE = {"X-Test-User": "alice"}
HOST = AuditContext(app="chat", actor_uid="bob", actor_email="bob@example.com")
CONVERSATION_STARTED_AT = "2026-12-01T08:59:58Z"
POSTS = [
    # A page's beacons, as visit_session.js and the chat page send them.
    [item(event_type="ui.visit.started", interaction="view",
          metadata={"visit_session_id": "v-1", "duration_seconds": 0, "turn_count": 0,
                    "conversation_count": 0}),
     item(event_type="ui.chat.conversation.started", resource_id="c-1",
          metadata={"visit_session_id": "v-1", "turn_count": 0,
                    "conversation_started_at": CONVERSATION_STARTED_AT})],
    [item(event_type="ui.chat.conversation.ended", interaction="new_chat",
          metadata={"conversation_id": "c-1", "visit_session_id": "v-1", "turn_count": 2,
                    "message_count": 4}),
     item(event_type="ui.visit.ended", interaction="logout",
          metadata={"visit_session_id": "v-1", "duration_seconds": 95.5, "turn_count": 2,
                    "conversation_count": 1}),
     # A conversation whose start beacon was lost: its end says when it started.
     item(event_type="ui.chat.session.ended", resource_id="c-2", interaction="page_unload",
          metadata={"started_at": CONVERSATION_STARTED_AT, "turn_count": 1})],
]  # fmt: skip


@pytest.fixture(scope="module")
def workload() -> Workload:
    """The router's and the host's events, each 10 s after the one before."""
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("IL_"):
                patch.delenv(name)
        reset()
        try:
            client = beacon_client(app_name="chat")
            with capture_events() as events:
                for batch in POSTS:
                    response = client.post("/api/audit/beacon", json={"events": batch},
                                           headers=ALICE)  # fmt: skip
                    assert response.json()["accepted"] == len(batch)
                emit_chat_visit_session(context=HOST, visit_session_id="v-2",
                                        started_at="2026-12-01T08:00:00Z")  # fmt: skip
                emit_chat_visit_session(context=HOST, visit_session_id="v-3")
                emit_chat_visit_session(context=HOST, visit_session_id="v-3", started=False)
        finally:
            reset()
    timed = [e.model_copy(update={"occurred_at": T0 + timedelta(seconds=10 * n)})
             for n, e in enumerate(events)]  # fmt: skip
    return Workload(
        envelopes=timed,
        ingested_at={e.event_id: e.occurred_at + timedelta(seconds=2) for e in timed},
    )


duckdb_engine, bigquery_engine, engine = workload_engines("visits")


def _at(workload: Workload, event_type: str, key: str, value: str) -> datetime:
    """When the (only) event of that type with payload[key] == value happened."""
    (found,) = [e for e in workload.of_type(event_type) if (e.payload or {}).get(key) == value]
    return found.occurred_at


def test_chat_visit_sessions_has_1_0_35_columns_and_a_row_per_visit(
    engine: Engine, workload: Workload
) -> None:
    """11 columns in 1.0.35's order and types; start and end in one row; the end's reason,
    reported duration and counts; a visit not ended yet, its start time given by the host;
    an end without a reason or a duration."""
    environment = workload.envelopes[0].environment
    v1 = {
        "started_at": _at(workload, T.CHAT_VISIT_STARTED, "visit_session_id", "v-1"),
        "ended_at": _at(workload, T.CHAT_VISIT_ENDED, "visit_session_id", "v-1"),
    }
    v3 = {
        "started_at": _at(workload, T.CHAT_VISIT_STARTED, "visit_session_id", "v-3"),
        "ended_at": _at(workload, T.CHAT_VISIT_ENDED, "visit_session_id", "v-3"),
    }
    expected = [
        {"visit_session_id": "v-1", "app": "chat", "environment": environment,
         "actor_uid": "alice", "actor_email": "alice@example.com", **v1,
         "duration_seconds": 95.5, "turn_count": 2, "conversation_count": 1,
         "ended_reason": "logout"},
        {"visit_session_id": "v-2", "app": "chat", "environment": environment,
         "actor_uid": "bob", "actor_email": "bob@example.com",
         "started_at": datetime(2026, 12, 1, 8, 0, tzinfo=UTC),
         "ended_at": None, "duration_seconds": None, "turn_count": None,
         "conversation_count": None, "ended_reason": None},
        {"visit_session_id": "v-3", "app": "chat", "environment": environment,
         "actor_uid": "bob", "actor_email": "bob@example.com", **v3,
         "duration_seconds": (v3["ended_at"] - v3["started_at"]).total_seconds(),
         "turn_count": None, "conversation_count": None, "ended_reason": "unknown"},
    ]  # fmt: skip

    assert engine.columns("chat_visit_sessions") == VISIT_COLUMNS
    assert by(engine.rows("chat_visit_sessions"), "visit_session_id") == expected


def test_conversation_beacons_feed_chat_sessions(engine: Engine, workload: Workload) -> None:
    """A conversation's row: started_at from the page, ended by new_chat, its turn and
    message counts, and the visit it belongs to; one whose start beacon was lost takes
    started_at from its end."""
    ended_at = _at(workload, T.CHAT_SESSION_ENDED, "ended_reason", "new_chat")
    lost_start_ended_at = _at(workload, T.CHAT_SESSION_ENDED, "ended_reason", "page_unload")
    started_at = datetime(2026, 12, 1, 8, 59, 58, tzinfo=UTC)
    rows = by(engine.rows("chat_sessions"), "session_id")

    assert [{key: row[key] for key in SESSION_KEYS} for row in rows] == [
        {"session_id": "c-1", "app": "chat", "actor_uid": "alice", "started_at": started_at,
         "ended_at": ended_at, "duration_seconds": (ended_at - started_at).total_seconds(),
         "turn_count": 2, "ended_reason": "new_chat", "had_multi_turn": True,
         "conversation_id": "c-1", "visit_session_id": "v-1", "user_message_count": 2,
         "message_count": 4},
        {"session_id": "c-2", "app": "chat", "actor_uid": "alice", "started_at": started_at,
         "ended_at": lost_start_ended_at,
         "duration_seconds": (lost_start_ended_at - started_at).total_seconds(),
         "turn_count": 1, "ended_reason": "page_unload", "had_multi_turn": False,
         "conversation_id": "c-2", "visit_session_id": None, "user_message_count": 1,
         "message_count": None},
    ]  # fmt: skip


# il-audit 1.0.35's chat_visit_sessions (facts sheet §5.6), with BigQuery's type names
VISIT_COLUMNS: list[tuple[str, str]] = [
    ("visit_session_id", "STRING"), ("app", "STRING"), ("environment", "STRING"),
    ("actor_uid", "STRING"), ("actor_email", "STRING"), ("started_at", "TIMESTAMP"),
    ("ended_at", "TIMESTAMP"), ("duration_seconds", "FLOAT64"), ("turn_count", "INT64"),
    ("conversation_count", "INT64"), ("ended_reason", "STRING"),
]  # fmt: skip
SESSION_KEYS = (
    "session_id", "app", "actor_uid", "started_at", "ended_at", "duration_seconds",
    "turn_count", "ended_reason", "had_multi_turn", "conversation_id", "visit_session_id",
    "user_message_count", "message_count",
)  # fmt: skip
