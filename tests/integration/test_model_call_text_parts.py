"""Model-call text up to 10 MiB: split into parts by the publisher, joined by model_call_text.

The texts are emitted through the publisher (its real encoder and packing; the
transport keeps the messages in memory). Every published message then goes
through the embedded transport (``IL_AUDIT_TRANSPORT=local``) into a DuckDB
file, and through the function's pipeline (``build_pipeline``, in batches as
the pull worker runs it) into the BigQuery stand-in (Storage Write API). The
view then reads each text back whole, on both engines, however its characters
grow in JSON: ASCII (escapes included), control characters (six bytes each)
and 4-byte emoji. A part that never arrived shows as a truncated text, and a
part delivered twice counts once. Texts are compared by length, SHA-256 and
their ends, so a wrong order or a doubled part shows.
"""

from __future__ import annotations

import hashlib
import json
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from il_audit.chat import emit_model_call_text
from il_audit.chat.model_call_text import PART_TEXT_BYTES
from il_audit.chat.text_parts import (
    MODEL_CALL_TEXT_MAX_BYTES,
    TRUNCATION_MARKER,
    text_json_size,
)
from il_audit.operations.infra import BigQueryProvisioner, apply_warehouse
from il_audit.publisher import AuditContext, AuditPublisher, MemoryTransport, set_publisher
from il_audit.schemas import taxonomy as T
from il_audit.schemas.envelope import MAX_ENVELOPE_BYTES
from il_audit.schemas.wire import ATTR_COUNT, message_body, split_lines
from il_audit.sql import for_duckdb
from il_audit.subscriber_fn.core import MessageMeta
from il_audit.subscriber_fn.embedded import LocalTransport
from il_audit.subscriber_fn.pipeline import BatchMessage, Pipeline, build_pipeline
from tests.integration.test_analytics_views import MODEL_CALL_TEXT_COLUMNS
from tests.support.bigquery_standin import BigQueryStandIn
from tests.support.factories import make_settings
from tests.support.warehouses import bigquery_type

MiB = 1 << 20
CONTEXT = AuditContext(app="chat", actor_uid="u-1", trace_id="t-1")
WHEN = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
LOAD_BATCH = 50


def random_text(characters: str, length: int, seed: int) -> str:
    """``length`` characters drawn from ``characters`` (deterministic, no two parts alike)."""
    table = {byte: characters[byte % len(characters)] for byte in range(256)}
    return random.Random(seed).randbytes(length).decode("latin-1").translate(table)


ASCII = random_text('abcdefghijklmnopqrstuvwxyz .,"\\\n\t{}0123456789', 10 * MiB, 1)
CONTROL = random_text("".join(map(chr, range(0x20))), 10 * MiB, 2)
EMOJI = random_text("".join(map(chr, range(0x1F600, 0x1F650))), 10 * MiB // 4 + 1, 3)
"""One emoji over 10 MiB: cut to 10 MiB with the marker, between two emoji."""
SPLIT = random_text('abcdefghij "\n\x01', 3 * MiB // 2, 4)
"""About 2.4 MB of JSON (1.5 bytes a character): three parts."""


Message = tuple[bytes, dict[str, str]]


@dataclass(frozen=True)
class Call:
    """One emitted call and the texts the view must show for it."""

    call_id: str
    prompt: str
    completion: str
    prompt_truncated: bool = False
    completion_truncated: bool = False


@dataclass
class Published:
    """The calls and every message the publisher sent, in order."""

    calls: dict[str, Call]
    messages: list[Message]


def emit_call(name: str, prompt: str, completion: str) -> str:
    call_id = emit_model_call_text(
        context=CONTEXT, conversation_id="conv-1", correlation_id="turn-1", sequence=1,
        category="qa", operation="generate_content", model_id="gemini-2.5-flash-lite",
        prompt=prompt, completion=completion, call_id=f"call-{name}",
    )  # fmt: skip
    assert call_id == f"call-{name}"
    return call_id


def envelopes(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for _, line in split_lines(message_body(data))]


def body(lines: list[dict[str, Any]]) -> bytes:
    return b"\n".join(
        json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode() for line in lines
    )


def every_line(messages: list[Message]) -> list[dict[str, Any]]:
    return [envelope for data, _ in messages for envelope in envelopes(data)]


def parts_of(every: list[dict[str, Any]], call_id: str) -> list[dict[str, Any]]:
    """The part envelopes of ``call_id``'s texts among ``every`` line, in publish order."""
    [text_id] = [e["payload"]["text_id"] for e in every if e["event_id"] == call_id]
    return [
        e for e in every
        if e["event_type"] == T.CHAT_MODEL_CALL_TEXT_PART and e["payload"]["text_id"] == text_id
    ]  # fmt: skip


def without(messages: list[Message], event_id: str) -> list[Message]:
    """``messages`` with the line of ``event_id`` left out: an event lost on the way."""
    kept = []
    for data, attributes in messages:
        lines = [envelope for envelope in envelopes(data) if envelope["event_id"] != event_id]
        if lines:
            kept.append((body(lines), {**attributes, ATTR_COUNT: str(len(lines))}))
    return kept


@pytest.fixture(scope="module")
def published() -> Published:
    """The calls, emitted once: three 10 MiB texts, a text whose second part is lost on
    the way, one whose parts arrive twice, and a short one (one event)."""
    transport = MemoryTransport(max_messages=None)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("IL_AUDIT_STORE_MODEL_CALL_TEXT", "true")
        publisher = AuditPublisher(make_settings(store_model_call_text=True), transport=transport)
        previous = set_publisher(publisher)
        try:
            kept_emoji = EMOJI[: MODEL_CALL_TEXT_MAX_BYTES // 4 - 4] + TRUNCATION_MARKER
            calls = {
                "ascii": Call(emit_call("ascii", ASCII, "short answer"), ASCII, "short answer"),
                "control": Call(emit_call("control", "Q?", CONTROL), "Q?", CONTROL),
                "emoji": Call(emit_call("emoji", EMOJI, ""), kept_emoji, "", True),
                "lost": Call(emit_call("lost", SPLIT, "ok"), "", "ok"),
                "twice": Call(emit_call("twice", SPLIT, SPLIT[:5]), SPLIT, SPLIT[:5]),
                "short": Call(emit_call("short", "hello", "world"), "hello", "world"),
            }
            assert publisher.flush(60).complete
        finally:
            set_publisher(previous)
            publisher.shutdown(10)
    messages = [(message.data, dict(message.attributes)) for message in transport.messages]
    # The lost prompt keeps its first part only: the view shows it, then the marker.
    lost = [
        e for e in parts_of(every_line(messages), "call-lost")
        if e["payload"]["text_field"] == "prompt"
    ]  # fmt: skip
    assert [e["payload"]["part_index"] for e in lost] == list(range(len(lost)))
    assert len(lost) > 2
    messages = without(messages, lost[1]["event_id"])
    calls["lost"] = Call("call-lost", lost[0]["payload"]["text"] + TRUNCATION_MARKER, "ok", True)
    # The doubled text's parts come again: redelivered as they were, then sent again under
    # new event ids (as a publisher that sent them twice would).
    twice = parts_of(every_line(messages), "call-twice")
    assert len(twice) == len(lost) + 1  # the prompt's, and one of the completion
    redelivered = [(body([e]), {}) for e in twice]
    reissued = [(body([{**e, "event_id": str(uuid.uuid4())}]), {}) for e in twice]
    return Published(calls, messages + redelivered + reissued)


def load(pipeline: Pipeline, published: Published) -> None:
    """Every message through the function's pipeline, in batches as the pull worker hands
    them over (one events write per batch: the stand-in snapshots a table on every write)."""
    pipeline.clock = lambda: WHEN  # type: ignore[method-assign]
    batch = [
        BatchMessage(data, attributes, MessageMeta(message_id=f"m-{index}", publish_time=WHEN))
        for index, (data, attributes) in enumerate(published.messages)
    ]
    try:
        for start in range(0, len(batch), LOAD_BATCH):
            outcomes = pipeline.handle_batch(batch[start : start + LOAD_BATCH])
            assert [outcome.rejected for outcome in outcomes] == [0] * len(outcomes)
    finally:
        pipeline.sink.close()


QUERY = """
SELECT call_id, LENGTH(prompt) AS prompt_length, TO_HEX(SHA256(prompt)) AS prompt_sha256,
  SUBSTR(prompt, 1, 12) AS prompt_start, SUBSTR(prompt, -16) AS prompt_end,
  LENGTH(completion) AS completion_length, TO_HEX(SHA256(completion)) AS completion_sha256,
  prompt_truncated, completion_truncated, category, sequence, conversation_id, trace_id
FROM {ds}.model_call_text ORDER BY call_id
"""


def expected_rows(published: Published) -> list[dict[str, Any]]:
    def sha(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    return [
        {
            "call_id": call.call_id,
            "prompt_length": len(call.prompt),
            "prompt_sha256": sha(call.prompt),
            "prompt_start": call.prompt[:12],
            "prompt_end": call.prompt[-16:],
            "completion_length": len(call.completion),
            "completion_sha256": sha(call.completion),
            "prompt_truncated": call.prompt_truncated,
            "completion_truncated": call.completion_truncated,
            "category": "qa",
            "sequence": 1,
            "conversation_id": "conv-1",
            "trace_id": "t-1",
        }
        for call in sorted(published.calls.values(), key=lambda call: call.call_id)
    ]


class DuckDB:
    """The embedded file, read as ``il-audit query`` reads it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _cursor(self, connection: duckdb.DuckDBPyConnection, sql: str) -> Any:
        return connection.execute(for_duckdb(sql.replace("{ds}.", "")))

    def query(self, sql: str) -> list[dict[str, Any]]:
        with duckdb.connect(str(self.path), read_only=True) as connection:
            cursor = self._cursor(connection, sql)
            names = [column[0] for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def columns(self) -> list[tuple[str, str]]:
        with duckdb.connect(str(self.path), read_only=True) as connection:
            cursor = self._cursor(connection, "SELECT * FROM {ds}.model_call_text LIMIT 0")
            return [(column[0], bigquery_type(str(column[1]))) for column in cursor.description]


class BigQuery:
    """A dataset of the stand-in."""

    def __init__(self, client: Any, dataset: str) -> None:
        self.client = client
        self.dataset = dataset

    def query(self, sql: str) -> list[dict[str, Any]]:
        qualified = sql.replace("{ds}", f"`{self.client.project}.{self.dataset}`")
        return [dict(row.items()) for row in self.client.query(qualified).result(timeout=120)]

    def columns(self) -> list[tuple[str, str]]:
        relation = f"`{self.client.project}.{self.dataset}.model_call_text`"
        result = self.client.query(f"SELECT * FROM {relation} LIMIT 0").result(timeout=60)
        return [(item.name, bigquery_type(item.field_type)) for item in result.schema]


@pytest.fixture(scope="module")
def duckdb_engine(published: Published, tmp_path_factory: pytest.TempPathFactory) -> DuckDB:
    """The messages through the embedded transport (what ``IL_AUDIT_TRANSPORT=local`` runs),
    one at a time, into a DuckDB file."""
    path = tmp_path_factory.mktemp("parts") / "il_audit.duckdb"
    transport = LocalTransport(make_settings(duckdb_path=str(path)))
    try:
        for data, attributes in published.messages:
            assert transport.publish(data, attributes).result(timeout=60)
    finally:
        transport.close(None)
    return DuckDB(path)


@pytest.fixture(scope="module")
def bigquery_engine(published: Published, standin: BigQueryStandIn) -> Iterator[BigQuery]:
    dataset = f"parts_{uuid.uuid4().hex[:10]}"
    settings = make_settings(
        sink="bigquery", project=standin.project, dataset=dataset, bq_api_endpoint=standin.url,
        bq_storage_api_endpoint=standin.grpc_address,
    )  # fmt: skip
    pipeline = build_pipeline(settings, with_topic=False)
    client = pipeline.sink.client  # type: ignore[attr-defined]
    load(pipeline, published)
    apply_warehouse(BigQueryProvisioner(client, dataset, None), settings, dry_run=False,
                    record=lambda _change: None)  # fmt: skip
    try:
        yield BigQuery(client, dataset)
    finally:
        client.delete_dataset(dataset, delete_contents=True, not_found_ok=True)
        client.close()


@pytest.fixture(params=["duckdb", "bigquery"])
def engine(request: pytest.FixtureRequest) -> DuckDB | BigQuery:
    """Each engine in turn."""
    found: DuckDB | BigQuery = request.getfixturevalue(f"{request.param}_engine")
    return found


def test_the_publisher_sent_each_long_text_in_few_parts_under_the_envelope_limit(
    published: Published,
) -> None:
    """Every line is under 1 MiB, and each 10 MiB text took the parts its JSON size needs
    (11 for ASCII, 62 for control characters, 11 for emoji), or one more."""
    lines = every_line(published.messages)
    assert max(len(body([line])) for line in lines) < MAX_ENVELOPE_BYTES
    for name, field, text in [
        ("ascii", "prompt", ASCII), ("control", "completion", CONTROL),
        ("emoji", "prompt", published.calls["emoji"].prompt),
    ]:  # fmt: skip
        parts = [p for p in parts_of(lines, f"call-{name}")
                 if p["payload"]["text_field"] == field]  # fmt: skip
        needed = -(-text_json_size(text) // PART_TEXT_BYTES)
        assert needed <= len(parts) <= needed + 1, (name, len(parts), needed)


def test_model_call_text_joins_the_parts_on_both_engines(
    engine: DuckDB | BigQuery, published: Published
) -> None:
    """Each text whole and in order (the emoji one cut at 10 MiB with the marker), a lost part
    shown as a truncated text, parts delivered twice counted once, 1.0.35's 28 columns."""
    assert engine.columns() == MODEL_CALL_TEXT_COLUMNS
    rows = engine.query(QUERY)
    assert rows == expected_rows(published)
