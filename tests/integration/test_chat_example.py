"""examples/chat_app run for real: uvicorn, the embedded pipeline, the DuckDB file it writes.

The example is started as a reader would start it (a uvicorn child process)
with ``IL_AUDIT_TRANSPORT=local`` and ``IL_AUDIT_STORE_QUERY_TEXT=false``.
Two turns of one conversation, a turn the model fails and a beacon are posted;
once the app has shut down (its lifespan flushes the publisher), the file is
read back.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from il_audit.cli.query import run_query
from il_audit.devtools.ports import free_port, wait_for_http
from tests.support.duck import read

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "chat_app"
USER = "u-42"
CONVERSATION = "conv-3f1c9"
QUESTIONS = ("How many days off do I get at Zyxwvut-4821?", "Can I carry unused days over?")
TOO_LONG = "Zyxwvut-4821 " * 2500  # over the fake model's input limit: the model call fails
THINKING_TOKENS = 16  # FakeModels.THINKING_TOKENS: billed as output
RERANK_PER_QUERY = Decimal("0.001")  # the 1.0 catalog's semantic ranker price, per query


@dataclass
class ChatApp:
    """The example under uvicorn, writing ``database``."""

    process: subprocess.Popen[bytes]
    url: str
    database: Path
    log: Path

    def stop(self) -> None:
        """SIGTERM, as a platform stops it: the lifespan's shutdown flushes the publisher."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@pytest.fixture
def chat_app(tmp_path: Path) -> Iterator[ChatApp]:
    """The example app on a free 127.0.0.1 port, question text off."""
    port = free_port()
    database = tmp_path / "chat.duckdb"
    log = tmp_path / "uvicorn.log"
    env = {name: value for name, value in os.environ.items() if not name.startswith("IL_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--app-dir", str(EXAMPLE), "app:app",
         "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path,
        env={
            **env,
            "PYTHONPATH": str(ROOT),
            "IL_AUDIT_TRANSPORT": "local",
            "IL_AUDIT_DUCKDB_PATH": str(database),
            "IL_AUDIT_STORE_QUERY_TEXT": "false",
        },
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    app = ChatApp(process, f"http://127.0.0.1:{port}", database, log)
    try:
        if not wait_for_http(app.url + "/docs", 60, alive=lambda: process.poll() is None):
            raise AssertionError(f"the example did not start:\n{log.read_text('utf-8')}")
        yield app
    finally:
        app.stop()


def post_turns_and_a_beacon(app: ChatApp) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Two answered turns, one failed, one beacon; returns the answers and the beacon's."""
    user = {"X-User-Id": USER}
    with httpx.Client(base_url=app.url, timeout=30) as http:
        assert http.post("/query", json={"question": "q", "conversation_session_id": "c"}
                         ).status_code == 401  # fmt: skip
        answers = []
        for index, question in enumerate(QUESTIONS):
            body = {"question": question, "conversation_session_id": CONVERSATION,
                    "turn_index": index}  # fmt: skip
            response = http.post("/query", json=body, headers=user)
            assert response.status_code == 200, response.text
            answers.append(response.json())
        failed = {"question": TOO_LONG, "conversation_session_id": CONVERSATION, "turn_index": 2}
        assert http.post("/query", json=failed, headers=user).status_code == 502
        # What audit_beacon.js sends from the app's own page: same origin, logged in.
        beacon = {
            "events": [{"event_type": "ui.chat.new_chat.clicked", "surface": "chat_panel",
                        "element_id": "new-chat", "interaction": "click"}],
            "session_id": "tab-7",
        }  # fmt: skip
        page = {**user, "Origin": app.url, "Sec-Fetch-Site": "same-origin"}
        assert http.post("/api/audit/beacon", json=beacon).status_code == 401
        accepted = http.post("/api/audit/beacon", json=beacon, headers=page)
        assert accepted.status_code == 200, accepted.text
    return answers, accepted.json()


def chat_events(database: Path) -> list[dict[str, Any]]:
    """The chat.* events, oldest first, payload decoded."""
    columns = ("event_id", "event_type", "app", "actor_uid", "request_id", "session_id",
               "status", "payload", "cost_usd", "pricing_status")  # fmt: skip
    rows = read(
        database,
        f"SELECT {', '.join(columns)} FROM events WHERE event_type LIKE 'chat.%' "
        "ORDER BY occurred_at",
    )
    events = [dict(zip(columns, row, strict=True)) for row in rows]
    for event in events:
        event["payload"] = json.loads(event["payload"] or "{}")
    return events


TURN_USAGE_SQL = """
SELECT e.correlation_id AS turn_id, u.category, u.service, u.model_id, u.input_tokens,
  u.output_tokens, u.quantity, u.unit, u.pricing_tier, u.rate_tier, u.cost_usd
FROM events AS e, UNNEST(e.usage) AS u
WHERE e.event_type = 'cost.api.usage' AND e.correlation_type = 'chat_turn'
"""
"""docs/chat-integration.md's query (BigQuery SQL, as ``il-audit query`` takes it)."""


def usage_items(database: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """Each turn's usage items, by category."""
    columns, rows = run_query(TURN_USAGE_SQL, database)
    turns: dict[str, dict[str, dict[str, Any]]] = {}
    for row in rows:
        item = dict(zip(columns, row, strict=True))
        turns.setdefault(item["turn_id"], {})[item["category"]] = item
    return turns


def test_the_chat_example_records_priced_turns_without_the_question(chat_app: ChatApp) -> None:
    """Each call is one priced usage event of its turn; chat_turns prices the turn from them;
    turns carry the client's conversation id, the hash of the question and never its text;
    the session starts once; the beacon is the chat app's."""
    answers, beacon = post_turns_and_a_beacon(chat_app)
    assert beacon == {"status": "ok", "accepted": 1}
    chat_app.stop()
    log = chat_app.log.read_text("utf-8")
    assert "Application shutdown complete" in log  # the lifespan ran: the publisher flushed
    assert "Zyxwvut" not in log
    assert read(chat_app.database, "SELECT count(*) FROM dead_letters") == [(0,)]

    started, *turns, failed = chat_events(chat_app.database)
    usage = usage_items(chat_app.database)
    priced = {
        turn_id: (status, cost)
        for turn_id, status, cost in read(
            chat_app.database, "SELECT turn_id, pricing_status, total_cost_usd FROM chat_turns"
        )
    }
    assert (started["event_type"], started["session_id"]) == ("chat.session.started", CONVERSATION)
    assert [turn["event_id"] for turn in turns] == [answer["turn_id"] for answer in answers]
    for event in (started, *turns, failed):
        assert (event["app"], event["actor_uid"], event["session_id"]) == (
            "chat", USER, CONVERSATION
        )  # fmt: skip
        assert event["request_id"]  # bound by the example's AuditContextMiddleware

    for index, (turn, question, answer) in enumerate(zip(turns, QUESTIONS, answers, strict=True)):
        payload = turn["payload"]
        assert "question" not in payload
        assert "retrieval_query" not in payload
        assert "Zyxwvut" not in json.dumps(payload)
        assert payload["question_sha256"] == hashlib.sha256(question.encode()).hexdigest()
        assert payload["question_length"] == len(question)
        assert (turn["event_type"], payload["turn_index"], payload["response_type"]) == (
            "chat.turn.succeeded", index, "answer"
        )  # fmt: skip
        assert (payload["model_calls"], payload["llm_model"]) == (3, "gemini-2.5-flash-lite")
        assert (payload["sources_returned_count"], payload["retrieval_hit_count"]) == (3, 3)

        items = usage[turn["event_id"]]
        assert set(items) == {"answer", "embedding", "rerank"}
        model, embedding, rerank = items["answer"], items["embedding"], items["rerank"]
        assert (model["service"], model["model_id"]) == ("vertex_gemini", "gemini-2.5-flash-lite")
        assert model["output_tokens"] == len(answer["answer"].split()) + THINKING_TOKENS
        assert (embedding["service"], embedding["model_id"], embedding["input_tokens"]) == (
            "vertex_embedding", "gemini-embedding-001", len(question.split())
        )  # fmt: skip
        # 12 records ranked: one query of up to 100 records.
        assert (rerank["service"], rerank["model_id"], rerank["quantity"], rerank["unit"]) == (
            "vertex_rerank", "semantic-ranker-default", 1.0, "query"
        )  # fmt: skip
        assert rerank["cost_usd"] == RERANK_PER_QUERY
        for item in items.values():
            assert (item["pricing_tier"], item["rate_tier"]) == ("standard", "standard")
            assert item["cost_usd"] is not None
            assert item["cost_usd"] > 0
        assert (turn["pricing_status"], turn["cost_usd"]) == (None, None)  # no items of its own
        assert priced[turn["event_id"]] == (
            "priced", pytest.approx(float(sum(item["cost_usd"] for item in items.values())))
        )  # fmt: skip

    # The model refused the long question: a failed turn with the calls made before it, priced.
    assert (failed["event_type"], failed["status"]) == ("chat.turn.failed", "failed")
    assert failed["payload"]["error_class"] == "ValueError"
    assert "question" not in failed["payload"]
    assert failed["payload"]["question_length"] == len(TOO_LONG)
    # The LangChain handler records the refused call too: no tokens, nothing to pay.
    assert set(usage[failed["event_id"]]) == {"embedding", "rerank", "answer"}
    refused = usage[failed["event_id"]]["answer"]
    assert (refused["input_tokens"], refused["output_tokens"], refused["cost_usd"]) == (0, 0, 0)
    assert priced[failed["event_id"]][0] == "priced"

    assert read(
        chat_app.database,
        "SELECT event_type, app, source, actor_uid, session_id FROM events "
        "WHERE event_type LIKE 'ui.%'",
    ) == [("ui.chat.new_chat.clicked", "chat", "beacon", USER, "tab-7")]
