"""IL_AUDIT_STORE_QUERY_TEXT=false end to end: the question is nowhere, checked three ways.

The retrieval query and chunk text neither: the turn also records its retrieval
(a search pass whose settings carry the query, a candidate that carries it, a
chunk that carries its text), and only the chunk text's SHA-256 may be stored.
Nor a feedback comment (``emit_chat_feedback``): only its length and SHA-256.

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
    emit_chat_feedback,
    emit_chat_session,
    emit_chat_turn,
    emit_model_call_text,
    emit_out_of_scope_query,
)
from il_audit.publisher import AuditContext, set_publisher
from il_audit.schemas import taxonomy as T
from tests.support import duck
from tests.support.pubsub import PROJECT, pull_messages
from tests.support.stack import Stack
from tests.support.waiting import wait_until

QUESTION = "Which bonus does Zyxwvut-4821 get after the März restructuring?"
CHUNK_TEXT = "Vertraulich: Qwerty-7734 erhält nach der Umstrukturierung 12 % Bonus."
COMMENT = "Falsch: Plugh-9157 bekommt nach der Umstrukturierung keinen Bonus."
FRAGMENTS = (QUESTION, "Zyxwvut-4821", "restructuring", CHUNK_TEXT, "Qwerty-7734", COMMENT,
             "Plugh-9157")  # fmt: skip
"""The question, a retrieved chunk's text and a feedback comment, and pieces of them that a
partial leak would show."""


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
    """Turns (and their call's usage event), a plain emit, a failed and an invalid turn, an
    out-of-scope query, feedback with a comment (and a refused one): no text anywhere, hash
    and length everywhere a turn or a comment is."""
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
            search_pass = usage.next_retrieval_search_pass()
            usage.record_retrieval_pass(
                search_pass=search_pass, settings={"top_k": 50, "retrieval_query": QUESTION}
            )
            usage.record_retrieval_candidates(
                search_pass=search_pass, stage="final", candidates=[{"rank": 1, "query": QUESTION}]
            )
            usage.record_retrieval_chunks(search_pass=search_pass, stage="final",
                                          chunks=[{"rank": 1, "text": CHUNK_TEXT,
                                                   "query": QUESTION}])  # fmt: skip
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
        # An out-of-scope query: its answer quotes the question; both stay in the process.
        emit_out_of_scope_query(context=ctx, turn_id="turn-9", signal="soft_refusal",
                                question=QUESTION, answer_excerpt=f"I cannot say: {QUESTION}",
                                retrieval_query=QUESTION)  # fmt: skip
        # Feedback: its comment stays in the process, as does a refused call's.
        emit_chat_feedback(context=ctx, turn_id="turn-9", name="thumbs", value=False,
                           comment=COMMENT, conversation_id="conv-1")  # fmt: skip
        emit_chat_feedback(context=ctx, turn_id="turn-9", name="thumbs", value=None,  # type: ignore[arg-type]
                           comment=COMMENT)  # fmt: skip
        # Invalid (app over 128 characters): dead-lettered, with its raw line kept.
        emit_chat_turn(context=AuditContext(app="x" * 200), question=QUESTION)
        assert publisher.flush(30).complete
    finally:
        set_publisher(previous)
        publisher.shutdown(5)

    def stored() -> bool:
        turns = stack.count("SELECT count(*) FROM events WHERE event_type LIKE 'chat.turn.%'")
        found = stack.count("SELECT count(*) FROM events WHERE event_type LIKE 'chat.retrieval.%'")
        dead = stack.count("SELECT count(*) FROM dead_letters")
        rated = stack.count("SELECT count(*) FROM events WHERE event_type = 'chat.feedback'")
        return (turns, found, dead, rated) == (3, 3, 1, 1)

    wait_until(stored, 60, "3 turns, 3 retrieval events, 1 feedback and 1 dead letter")

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
    # The retrieval rows made it, with the chunk text's hash and the settings without the query.
    chunk_digest = hashlib.sha256(CHUNK_TEXT.encode()).hexdigest()
    assert duck.read(stack.database, "SELECT chunk_text_sha256 FROM retrieval_chunks") == [
        (chunk_digest,)
    ]
    assert duck.read(stack.database, "SELECT settings_json FROM retrieval_passes") == [
        ('{"top_k": 50}',)
    ]
    assert stack.count("SELECT count(*) FROM retrieval_candidates WHERE rank = 1") == 1
    comment_digest = hashlib.sha256(COMMENT.encode()).hexdigest()
    assert duck.read(
        stack.database,
        "SELECT turn_id, comment, comment_length, comment_sha256 FROM chat_feedback_scores",
    ) == [("turn-9", None, len(COMMENT), comment_digest)]

    # 2. The bytes of every message on both topics.
    # Eleven events (a session, a call, three retrieval events, three turns, an
    # out-of-scope query, a feedback and the invalid turn), one dead letter.
    messages = pull_messages(events_tap, expect_events=11)
    messages += pull_messages(dead_tap, expect_events=1)
    assert sum(message.event_count for message in messages) == 12
    for message in messages:
        wire = message.body + repr(message.attributes).encode()  # inflated: gzip hides text
        assert not [f for f in FRAGMENTS if f.encode() in wire], "the question is on the wire"
        assert any(marker in wire for marker in (b"question_sha256", b"chat.session",
                                                 b"cost.api.usage", b"chat.retrieval"))  # fmt: skip

    # 3. Every log line, here and in the function.
    assert caplog.records, "nothing logged: the check below would prove nothing"
    lines = [record.getMessage() for record in caplog.records] + caplog.text.splitlines()
    assert stack.server is not None
    lines += stack.server.log_text().splitlines()
    assert [line for line in lines if leaks(line)] == []
