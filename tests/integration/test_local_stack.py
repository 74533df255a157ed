"""End to end on the local stack: publisher -> emulator -> push -> functions-framework -> DuckDB.

Every part is real: the official Pub/Sub emulator with a push subscription
carrying dead-letter and retry policies, functions-framework serving the
production entry point in its own process, and a DuckDB file. A warehouse
outage on this stack (retried, then dead-lettered by Pub/Sub itself, then
replayed) is one scenario in ``test_dlq.py``:
``test_outage_then_replay_lands_every_event_once``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from il_audit.devtools.local_stack import (
    FunctionServer,
    PubSubLayout,
    provision_pubsub,
    start_function,
)
from il_audit.publisher import AuditContext, AuditPublisher
from il_audit.schemas import taxonomy as T
from tests.support.duck import peek
from tests.support.factories import make_settings, seed_token_cost
from tests.support.pubsub import PROJECT, pull_messages
from tests.support.waiting import wait_until

_names = itertools.count(1)


@pytest.fixture
def stack(
    pubsub_emulator_host: str, tmp_path: Path
) -> Iterator[tuple[PubSubLayout, FunctionServer, Path]]:
    """A provisioned layout and a function writing to tmp_path/stack.duckdb."""
    database = tmp_path / "stack.duckdb"
    layout = PubSubLayout.for_topic(PROJECT, f"stack-{next(_names)}")
    server = start_function(
        {
            "PUBSUB_EMULATOR_HOST": pubsub_emulator_host,
            "GOOGLE_CLOUD_PROJECT": PROJECT,
            "IL_AUDIT_DLQ_TOPIC": layout.dlq_topic,
            "IL_AUDIT_SINK": "duckdb",
            "IL_AUDIT_DUCKDB_PATH": str(database),
        }
    )
    try:
        provision_pubsub(layout, server.url, max_delivery_attempts=5)
        yield layout, server, database
    finally:
        server.stop()


def test_events_flow_into_duckdb_and_poison_into_the_dead_letter_topic(
    stack: tuple[PubSubLayout, FunctionServer, Path],
) -> None:
    """Valid events become rows once each; invalid ones land in dead_letters and on the DLQ."""
    layout, server, database = stack
    publisher = AuditPublisher(
        make_settings(transport="pubsub", project=PROJECT, topic=layout.topic)
    )
    ctx = AuditContext(app="ingest", actor_uid="u-1")
    now = datetime.now(UTC)
    sent = [
        publisher.emit(
            T.API_USAGE_RECORDED,
            context=ctx,
            usage=[{"service": "vertex_gemini", "model_id": "gemini-2.0-flash",
                    "input_tokens": 1_000_000, "output_tokens": 0}],
        )
        for _ in range(150)
    ]  # fmt: skip
    bad = publisher.emit("not.in.taxonomy", context=ctx)
    assert publisher.flush(30).complete
    publisher.shutdown(5)
    wait_until(
        lambda: peek(database, "SELECT count(*) FROM events") == [(150,)], 60, "150 event rows"
    )
    rows = peek(database, "SELECT event_id, cost_usd, pricing_source, message_id FROM events")
    assert sorted(row[0] for row in rows) == sorted(sent)
    assert {row[1] for row in rows} == {seed_token_cost("gemini-2.0-flash", 1_000_000, at=now)}
    assert {row[2] for row in rows} == {"seed_catalog"}
    assert all(row[3] for row in rows)
    wait_until(
        lambda: len(peek(database, "SELECT * FROM dead_letters")) == 1, 30, "the dead letter"
    )
    [(event_id, error_class)] = peek(database, "SELECT event_id, error_class FROM dead_letters")
    assert (event_id, error_class) == (bad, "unknown_event_type")
    [message] = pull_messages(
        f"projects/{PROJECT}/subscriptions/{layout.dlq_subscription}", expect_events=1
    )
    assert message.attributes["il_audit_error_class"] == "unknown_event_type"
    assert "not.in.taxonomy" in message.attributes["il_audit_error_detail"]
    assert message.envelopes()[0]["event_id"] == bad
    assert "Traceback" not in server.log_text()
