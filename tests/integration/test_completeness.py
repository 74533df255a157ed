"""Completeness (issue 26 §1) end to end: loss before ingestion shows in the warehouse.

Publishers number what ``emit()`` takes and send heartbeats over the Pub/Sub emulator
with the real client; what the subscription received goes through the subscriber's
pipeline into DuckDB, where ``pipeline_completeness`` must tell drops the publisher
reported (no gap) from events lost in a SIGKILLed process (a gap); the demo's healthy
run, invalid events included, has no gap.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from il_audit.cli import cli
from il_audit.publisher import AuditContext, AuditPublisher
from il_audit.schemas import taxonomy as T
from il_audit.subscriber_fn.core import MessageMeta
from il_audit.subscriber_fn.pipeline import build_pipeline
from tests.support import duck
from tests.support.factories import make_settings
from tests.support.pubsub import (
    ReceivedMessage,
    TopicWithSubscription,
    create_topic_with_subscription,
    pull_messages,
)

pytestmark = pytest.mark.usefixtures("pubsub_emulator_host")

ROOT = Path(__file__).resolve().parents[2]
TOTALS = (
    "SELECT expected, stored, dead_lettered, dropped_reported, failed_reported, gap, "
    "heartbeat_final FROM pipeline_completeness WHERE hour IS NULL"
)
CTX = AuditContext(app="ingest", actor_uid="u-1")


def into_duckdb(path: Path, messages: list[ReceivedMessage]) -> Path:
    """The received messages through the subscriber's pipeline into a DuckDB file."""
    pipeline = build_pipeline(make_settings(sink="duckdb", duckdb_path=str(path)), with_topic=False)
    try:
        for message in messages:
            pipeline.handle(message.data, message.attributes, MessageMeta(message.message_id))
    finally:
        pipeline.sink.close()
    return path


def totals(path: Path) -> list[dict[str, Any]]:
    columns = ("expected", "stored", "dead_lettered", "dropped_reported", "failed_reported",
               "gap", "heartbeat_final")  # fmt: skip
    return [dict(zip(columns, row, strict=True)) for row in duck.read(path, TOTALS)]


def test_drops_at_a_full_queue_are_reported_not_a_gap(tmp_path: Path) -> None:
    """A 5-event queue and a burst of 300: the drops reach the warehouse through the final
    heartbeat as dropped_reported, and the gap is 0."""
    target = create_topic_with_subscription("complete")
    settings = make_settings(
        transport="pubsub",
        project=target.project,
        topic=target.topic_id,
        write_queue_max_size=5,
        heartbeat_seconds=60,
    )
    publisher = AuditPublisher(settings)
    for index in range(300):
        publisher.emit(T.INGEST_FILE_INDEXED, context=CTX, n=index)
    publisher.shutdown(10)
    stats = publisher.stats()
    assert stats.dropped > 0
    assert stats.pending == 0
    received = target.pull(expect_events=stats.accepted)
    rows = totals(into_duckdb(tmp_path / "w.duckdb", received))
    assert rows == [
        {
            "expected": 301,  # 300 emitted, then the heartbeat
            "stored": stats.accepted,
            "dead_lettered": 0,
            "dropped_reported": stats.dropped,
            "failed_reported": 0,
            "gap": 0,
            "heartbeat_final": True,
        }
    ]


def test_dead_lettered_events_are_accounted_for_not_a_gap(tmp_path: Path) -> None:
    """An invalid event, an unknown type and an event too large to send (its stand-in) are
    dead-lettered, each with its number: dead_lettered 3, gap 0."""
    target = create_topic_with_subscription("dead")
    settings = make_settings(
        transport="pubsub", project=target.project, topic=target.topic_id, heartbeat_seconds=60
    )
    publisher = AuditPublisher(settings)
    publisher.emit(T.INGEST_FILE_INDEXED, context=CTX)
    publisher.emit(T.INGEST_FILE_INDEXED, context=CTX, usage=[{"service": ""}])
    publisher.emit("no.such.type", context=CTX)
    publisher.emit(T.INGEST_FILE_INDEXED, context=CTX, blob="x" * 1_100_000)
    assert publisher.shutdown(10)
    received = target.pull(expect_events=5)
    database = into_duckdb(tmp_path / "w.duckdb", received)
    classes = duck.read(database, "SELECT error_class FROM dead_letters ORDER BY 1")
    assert classes == [("oversize",), ("schema_violation",), ("unknown_event_type",)]
    assert totals(database) == [
        {
            "expected": 5,
            "stored": 2,
            "dead_lettered": 3,
            "dropped_reported": 0,
            "failed_reported": 0,
            "gap": 0,
            "heartbeat_final": True,
        }
    ]


CHILD = """
import sys
from il_audit import emit
from il_audit.schemas import taxonomy as T
for index in range(10):
    emit(T.INGEST_FILE_INDEXED, n=index)
print("emitted", flush=True)
sys.stdin.readline()  # held open until the test kills this process
"""


def child_env(target: TopicWithSubscription) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "GOOGLE_CLOUD_PROJECT": target.project,
        "IL_AUDIT_TRANSPORT": "pubsub",
        "IL_AUDIT_TOPIC": target.topic_id,
        "IL_AUDIT_HEARTBEAT_SECONDS": "0.3",
        # The ten events wait in the open message (no spool) while heartbeats go out alone.
        "IL_AUDIT_MAX_LATENCY_MS": "60000",
    }


def test_a_process_killed_without_a_spool_shows_as_a_gap(tmp_path: Path) -> None:
    """Ten events accepted and still in memory when the process is SIGKILLed: the heartbeat
    that went ahead of them says how many there were, so the view shows a gap of 10."""
    target = create_topic_with_subscription("killed")
    victim = subprocess.Popen(
        [sys.executable, "-c", CHILD],
        env=child_env(target),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert victim.stdout is not None
        assert victim.stdout.readline().strip() == "emitted"
        received = target.pull(expect_events=1, timeout=20)  # a heartbeat, at 0.3 s
    finally:
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
    received += pull_messages(target.subscription_path, expect_events=0, timeout=1.0)
    kinds = {e["event_type"] for m in received for e in m.envelopes()}
    assert kinds == {T.AUDIT_PUBLISHER_HEARTBEAT}
    heartbeats = sum(m.event_count for m in received)
    rows = totals(into_duckdb(tmp_path / "w.duckdb", received))
    assert rows == [
        {
            "expected": 10 + heartbeats,
            "stored": heartbeats,
            "dead_lettered": 0,
            "dropped_reported": 0,
            "failed_reported": 0,
            "gap": 10,
            "heartbeat_final": False,
        }
    ]


def test_the_demos_healthy_run_has_no_gap(tmp_path: Path) -> None:
    """`il-audit demo` with heartbeats at their default: its deliberately invalid events are
    dead-lettered and accounted for; one instance, gap 0, final heartbeat in."""
    database = tmp_path / "demo.duckdb"
    result = CliRunner().invoke(
        cli,
        ["demo", "--events", "300", "--json", "--database", str(database)],
        env={"IL_AUDIT_HEARTBEAT_SECONDS": "60"},
    )
    assert result.exit_code == 0, result.output
    dead = duck.read(database, "SELECT COUNT(*) FROM dead_letters")[0][0]
    rows = totals(database)
    assert dead > 0
    assert rows == [
        {
            "expected": 301,
            "stored": 301 - dead,
            "dead_lettered": dead,
            "dropped_reported": 0,
            "failed_reported": 0,
            "gap": 0,
            "heartbeat_final": True,
        }
    ]
