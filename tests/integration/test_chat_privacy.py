"""IL_AUDIT_STORE_QUERY_TEXT=false end to end: the question is nowhere, checked three ways.

A chat app (this process) publishes turns to the Pub/Sub emulator; the real
function (functions-framework, a child process) stores them in DuckDB and
republishes the one invalid event to the dead-letter topic. The question must
not appear:

1. in any column of any table or view of the DuckDB file, each cast to text
   and searched with SQL (a byte search of the file proves nothing: DuckDB
   compresses strings);
2. in the bytes of any message on the events or the dead-letter topic, pulled
   from tap subscriptions the test adds;
3. in any log line of this process (every logger, DEBUG and up) or of the function.

Its length and SHA-256 are there, which shows the turns made it through.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from google.cloud import pubsub_v1

from il_audit import (
    chat_turn_usage,
    emit,
    emit_chat_session,
    emit_chat_turn,
    emit_model_call_text,
)
from il_audit.publisher import AuditContext, set_publisher
from il_audit.schemas import taxonomy as T
from tests.support import duck
from tests.support.pubsub import PROJECT, pull_messages
from tests.support.stack import Stack
from tests.support.waiting import wait_until

QUESTION = "Which bonus does Zyxwvut-4821 get after the März restructuring?"
FRAGMENTS = (QUESTION, "Zyxwvut-4821", "restructuring")
"""The question, and pieces of it that a partial leak would show."""


@pytest.fixture
def stack(pubsub_emulator_host: str, tmp_path: Path) -> Iterator[Stack]:
    created = Stack(pubsub_emulator_host, tmp_path, "privacy")
    created.start_function(IL_AUDIT_STORE_QUERY_TEXT="false")
    created.provision(max_delivery_attempts=5)
    try:
        yield created
    finally:
        created.stop_function()


def tap(topic: str, name: str) -> str:
    """A pull subscription on ``topic`` that sees every message published from now on."""
    subscriber = pubsub_v1.SubscriberClient()
    path = subscriber.subscription_path(PROJECT, name)
    subscriber.create_subscription(
        name=path, topic=f"projects/{PROJECT}/topics/{topic}", ack_deadline_seconds=60
    )
    subscriber.close()
    return path


def leaks(text: str) -> list[str]:
    return [fragment for fragment in FRAGMENTS if fragment in text]


def test_the_question_is_nowhere_with_query_text_off(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    """Turns, a plain emit, a failed and an invalid turn: no text anywhere, hash and length
    everywhere a turn is."""
    caplog.set_level(logging.DEBUG)
    events_tap = tap(stack.layout.topic, f"{stack.layout.topic}-tap")
    dead_tap = tap(stack.layout.dlq_topic, f"{stack.layout.dlq_topic}-tap")
    publisher = stack.publisher(store_query_text=False)
    previous = set_publisher(publisher)
    ctx = AuditContext(app="chat", actor_uid="u-1")
    try:
        emit_chat_session(context=ctx, conversation_session_id="conv-1")
        with chat_turn_usage(context=ctx, conversation_session_id="conv-1") as usage:
            usage.record_retrieval(retrieval_hit_count=3, retrieval_query=QUESTION)
            # Prompt text is opt-in and off: the call is recorded, its text is not.
            usage.record_model_call(model_id="gemini-2.5-flash-lite", input_tokens=40,
                                    output_tokens=9, prompt=f"Answer: {QUESTION}",
                                    completion="It depends.")  # fmt: skip
            emit_chat_turn(question=QUESTION, turn_index=0, latency_ms=900)
        emit_chat_turn(context=ctx, question=QUESTION, conversation_session_id="conv-1",
                       turn_index=1, status="failed", error_class="TimeoutError")  # fmt: skip
        emit(T.CHAT_TURN_SUCCEEDED, context=ctx, session_id="conv-1", question=QUESTION)
        emit_model_call_text(context=ctx, category="qa", operation="generate_content",
                             model_id="m", prompt=QUESTION)  # fmt: skip
        # Invalid (app over 128 characters): dead-lettered, with its raw line kept.
        emit_chat_turn(context=AuditContext(app="x" * 200), question=QUESTION)
        assert publisher.flush(30).complete
    finally:
        set_publisher(previous)
        publisher.shutdown(5)

    def stored() -> bool:
        turns = stack.count("SELECT count(*) FROM events WHERE event_type LIKE 'chat.turn.%'")
        return turns == 3 and stack.count("SELECT count(*) FROM dead_letters") == 1

    wait_until(stored, 60, "3 turns and 1 dead letter in DuckDB")

    # 1. Every column of every table and view, cast to text: one scan per relation, a count
    # per column (a view is computed once, not once per column).
    with duckdb.connect(str(stack.database), read_only=True) as connection:
        relations = connection.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'main' ORDER BY table_name, ordinal_position"
        ).fetchall()
        columns: dict[str, list[str]] = {}
        for table, column in relations:
            columns.setdefault(table, []).append(column)
        found = []
        for table, names in columns.items():
            counts = connection.execute(
                "SELECT "
                + ", ".join(
                    "count(*) FILTER (WHERE "
                    + " OR ".join(f"CAST(\"{column}\" AS VARCHAR) LIKE '%{f}%'" for f in FRAGMENTS)
                    + ")"
                    for column in names
                )
                + f' FROM "{table}"'
            ).fetchone()
            assert counts is not None
            found += [f"{table}.{column}" for column, n in zip(names, counts, strict=True) if n]
    assert {"events", "dead_letters", "cost_rates"} <= {table for table, _ in relations}
    assert len(relations) > 100  # every view's columns too
    assert found == [], f"the question is stored in {found}"
    digest = hashlib.sha256(QUESTION.encode()).hexdigest()
    hashed = duck.read(
        stack.database,
        "SELECT payload->>'$.question_sha256', CAST(payload->>'$.question_length' AS INT) "
        "FROM events WHERE event_type LIKE 'chat.turn.%'",
    )
    assert hashed == [(digest, len(QUESTION))] * 3
    assert stack.count(f"SELECT count(*) FROM dead_letters WHERE raw_line LIKE '%{digest}%'") == 1

    # 2. The bytes of every message on both topics.
    # Five events (a session, three turns and the invalid one), one dead letter.
    messages = pull_messages(events_tap, expect_events=5) + pull_messages(dead_tap, expect_events=1)
    assert sum(message.event_count for message in messages) == 6
    for message in messages:
        wire = message.body + repr(message.attributes).encode()  # inflated: gzip hides text
        assert not [f for f in FRAGMENTS if f.encode() in wire], "the question is on the wire"
        assert b"question_sha256" in wire or b"chat.session" in wire

    # 3. Every log line, here and in the function.
    assert caplog.records, "nothing logged: the check below would prove nothing"
    lines = [record.getMessage() for record in caplog.records] + caplog.text.splitlines()
    assert stack.server is not None
    lines += stack.server.log_text().splitlines()
    assert [line for line in lines if leaks(line)] == []
