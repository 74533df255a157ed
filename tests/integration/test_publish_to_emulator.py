"""The publisher against the official Pub/Sub emulator, pulled back through a real subscription."""

from __future__ import annotations

import base64
import json
import os
import threading
from collections import Counter
from datetime import datetime

import pytest

from il_audit.publisher import AuditContext, AuditPublisher
from il_audit.schemas import parse_envelope
from il_audit.schemas import taxonomy as T
from tests.support.factories import make_settings
from tests.support.pubsub import create_topic_with_subscription

THREADS = 4
PER_THREAD = 250


@pytest.mark.parametrize("per_message", [100, 1], ids=["packed", "one-per-message"])
@pytest.mark.usefixtures("pubsub_emulator_host")
def test_every_event_arrives_once_with_every_field(per_message: int) -> None:
    """Four threads emit; after flush every event is pulled exactly once, fields intact."""
    target = create_topic_with_subscription()
    publisher = AuditPublisher(
        make_settings(
            transport="pubsub",
            project=target.project,
            topic=target.topic_id,
            max_events_per_message=per_message,
        )
    )
    sent: dict[str, dict[str, object]] = {}
    lock = threading.Lock()

    def work(thread: int) -> None:
        ctx = AuditContext(app=f"app-{thread % 2}", actor_uid=f"user-{thread}", session_id="s")
        for index in range(PER_THREAD):
            fields = {
                "status": "succeeded",
                "resource_id": f"{thread}-{index}",
                "metadata": {"index": index, "nested": {"ok": True}},
                "usage": [{"service": "vertex_gemini", "model_id": "gemini-2.0-flash",
                           "input_tokens": index, "output_tokens": 2 * index}],
                "surface": "main_nav",
            }  # fmt: skip
            event_id = publisher.emit(T.INGEST_FILE_INDEXED, context=ctx, **fields)
            assert event_id is not None
            with lock:
                sent[event_id] = {"thread": thread, "index": index}

    threads = [threading.Thread(target=work, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert publisher.flush(60).complete
    total = THREADS * PER_THREAD
    messages = target.pull(expect_events=total, timeout=60)
    publisher.shutdown(5)

    envelopes = [envelope for message in messages for envelope in message.envelopes()]
    counts = Counter(envelope["event_id"] for envelope in envelopes)
    assert len(envelopes) == total
    assert set(counts) == set(sent)
    assert max(counts.values()) == 1
    for envelope in envelopes:
        origin = sent[envelope["event_id"]]
        thread, index = origin["thread"], origin["index"]
        assert parse_envelope(json.dumps(envelope)).event_type == T.INGEST_FILE_INDEXED
        assert envelope["app"] == f"app-{thread % 2}"  # type: ignore[operator]
        assert envelope["actor_uid"] == f"user-{thread}"
        assert envelope["session_id"] == "s"
        assert envelope["resource_id"] == f"{thread}-{index}"
        assert envelope["metadata"] == {"index": index, "nested": {"ok": True}}
        assert envelope["usage"][0]["output_tokens"] == 2 * index  # type: ignore[operator]
        assert envelope["payload"] == {"surface": "main_nav"}
        assert datetime.fromisoformat(envelope["occurred_at"]).tzinfo is not None
    assert max(message.event_count for message in messages) <= per_message
    if per_message == 1:
        assert len(messages) == total
    else:
        assert len(messages) < total / 10
    for message in messages:
        assert message.attributes["il_audit_schema"] == "1"
        assert int(message.attributes["il_audit_count"]) == message.event_count
        assert message.attributes["event_type"] == T.INGEST_FILE_INDEXED
        apps = {envelope["app"] for envelope in message.envelopes()}
        assert message.attributes.get("app") == (apps.pop() if len(apps) == 1 else None)
        # Bodies of 1 KiB or more travel as gzip (IL_AUDIT_COMPRESSION's default), smaller plain.
        compressed = len(message.body) >= 1024
        assert message.data.startswith(b"\x1f\x8b") is compressed
        assert ("il_audit_encoding" in message.attributes) is compressed
        if compressed:
            assert message.attributes["il_audit_encoding"] == "gzip"
            assert len(message.data) * 4 < len(message.body)
    assert any("il_audit_encoding" in m.attributes for m in messages) is (per_message > 1)


@pytest.mark.usefixtures("pubsub_emulator_host")
def test_compression_none_sends_plain_ndjson() -> None:
    target = create_topic_with_subscription()
    publisher = AuditPublisher(
        make_settings(
            transport="pubsub", project=target.project, topic=target.topic_id, compression="none"
        )
    )
    for index in range(200):
        publisher.emit(T.AUTH_LOGOUT, context=AuditContext(app="a"), resource_id=str(index))
    assert publisher.flush(30).complete
    messages = target.pull(expect_events=200)
    publisher.shutdown(5)
    assert max(len(message.data) for message in messages) > 4096
    for message in messages:
        assert message.data == message.body
        assert "il_audit_encoding" not in message.attributes


@pytest.mark.usefixtures("pubsub_emulator_host")
def test_stats_after_publishing() -> None:
    """Counters add up: accepted = published, nothing dropped or pending."""
    target = create_topic_with_subscription()
    publisher = AuditPublisher(
        make_settings(transport="pubsub", project=target.project, topic=target.topic_id)
    )
    for _ in range(10):
        publisher.emit(T.AUTH_LOGOUT, context=AuditContext(app="a"))
    assert publisher.flush(30).complete
    stats = publisher.stats()
    assert (stats.accepted, stats.published, stats.dropped, stats.pending) == (10, 10, 0, 0)
    assert len(target.pull(expect_events=10)) >= 1
    publisher.shutdown(5)


@pytest.mark.usefixtures("pubsub_emulator_host")
def test_an_event_over_pubsubs_limit_settles_as_a_stand_in_and_blocks_nothing() -> None:
    """16 MiB of incompressible text is sent as a small stand-in; the events behind it go too.

    Before, the 12 MB gzip message was refused or timed out and retried for ever, holding
    the in-flight byte cap, so five small events emitted after it were never published.
    """
    target = create_topic_with_subscription()
    publisher = AuditPublisher(
        make_settings(transport="pubsub", project=target.project, topic=target.topic_id)
    )
    ctx = AuditContext(app="a", actor_uid="u-1")
    huge = base64.b64encode(os.urandom(12 * 1024 * 1024)).decode()  # 16 MiB, incompressible
    big_id = publisher.emit(T.USER_SETTINGS_UPDATED, context=ctx, blob=huge)
    small_ids = [publisher.emit(T.AUTH_LOGOUT, context=ctx, n=n) for n in range(5)]
    del huge
    assert publisher.flush(30).complete
    stats = publisher.stats()
    assert (stats.accepted, stats.published, stats.invalid, stats.failed, stats.pending) == (
        6, 6, 1, 0, 0
    )  # fmt: skip
    messages = target.pull(expect_events=6)
    publisher.shutdown(5)
    assert max(len(message.data) for message in messages) < 64 * 1024
    envelopes = {envelope["event_id"]: envelope for m in messages for envelope in m.envelopes()}
    assert set(envelopes) == {big_id, *small_ids}
    stand_in = envelopes[big_id]
    assert stand_in["event_type"] == T.USER_SETTINGS_UPDATED
    assert stand_in["actor_uid"] == "u-1"
    assert stand_in["build_error"].startswith("envelope_too_large: ")
    assert "blob" not in json.dumps(stand_in)
