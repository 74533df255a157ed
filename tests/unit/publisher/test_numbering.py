"""Completeness (issue 26 §1), the publisher's side: every event ``emit()`` takes gets the
instance's id and its number on every encode path, and heartbeats carry the counters.

The publisher, its queue, worker and outbox are the real ones; the transport is the
in-memory one (what reaches the warehouse is tests/integration/test_completeness.py).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest

from il_audit.publisher import AuditContext, AuditPublisher, MemoryTransport
from il_audit.publisher._capture import capture
from il_audit.publisher._encode import ContextDefaults, encode
from il_audit.publisher._ledger import Ledger
from il_audit.publisher.errors import InvalidEventError
from il_audit.publisher.testing import capture_events
from il_audit.schemas import taxonomy as T
from il_audit.schemas.envelope import parse_envelope
from tests.support.factories import make_settings
from tests.support.waiting import wait_until

CTX = AuditContext(app="chat", actor_uid="u-1")
INSTANCE = "0123456789abcdef0123456789abcdef"
DEFAULTS = ContextDefaults("app", "test", instance_id=INSTANCE)


def lines(transport: MemoryTransport) -> list[dict[str, Any]]:
    return [envelope for message in transport.messages for envelope in message.envelopes()]


@pytest.mark.parametrize(
    "fields",
    [
        {"count": 1},  # the cached head from the second sighting on
        {"status": "ok"},  # an envelope keyword: the model-derived check and orjson
        {"usage": [{"service": "vertex_gemini", "input_tokens": 3}]},  # pydantic
        {"amount": float("nan")},  # invalid: the lenient line, dead-lettered downstream
        {"blob": "x" * 1_100_000},  # too large: the stand-in
    ],
    ids=["head", "fast_line", "model", "lenient", "stand_in"],
)
def test_every_encode_path_carries_the_instance_and_its_own_number(fields: dict[str, Any]) -> None:
    """Encoded three times (so the head cache is built and used), each line has the instance
    id and the number it was given: the cached head never holds a sequence."""
    for sequence in (1, 2, 3):
        captured = capture(T.AUTH_LOGOUT, CTX, dict(fields))
        encoded = encode(captured, DEFAULTS, sequence=sequence)
        line = json.loads(encoded.line)
        assert (line["publisher_instance_id"], line["publisher_sequence"]) == (INSTANCE, sequence)
        if encoded.problem is None:
            envelope = parse_envelope(encoded.line)
            assert envelope.publisher_sequence == sequence


def test_a_callers_number_never_replaces_the_publishers() -> None:
    """publisher_sequence= and publisher_instance_id= keywords lose to the publisher's own."""
    captured = capture(
        T.AUTH_LOGOUT, CTX, {"publisher_sequence": 99, "publisher_instance_id": "mine"}
    )
    line = json.loads(encode(captured, DEFAULTS, sequence=5).line)
    assert (line["publisher_instance_id"], line["publisher_sequence"]) == (INSTANCE, 5)


def test_emit_numbers_accepted_and_dropped_events_from_one() -> None:
    """Numbers follow emit order from 1; an event dropped at the full queue had its number,
    so the numbers published plus the drops cover 1..n exactly."""
    transport = MemoryTransport()
    publisher = AuditPublisher(make_settings(write_queue_max_size=3), transport=transport)
    for index in range(40):  # a tight loop: the worker cannot keep a 3-event queue empty
        publisher.emit(T.AUTH_LOGOUT, context=CTX, n=index)
    assert publisher.flush(5) is not None
    stats = publisher.stats()
    published = lines(transport)
    numbers = [line["publisher_sequence"] for line in published]
    assert stats.dropped > 0
    assert len(numbers) == stats.accepted == 40 - stats.dropped
    assert numbers == sorted(numbers)
    assert len(set(numbers)) == len(numbers)
    assert set(numbers) <= set(range(1, 41))
    assert {line["publisher_instance_id"] for line in published} == {publisher.instance_id}
    publisher.shutdown(1)


def test_strict_mode_numbers_what_it_accepts() -> None:
    """The slow path (strict mode) numbers too, after its refusals."""
    transport = MemoryTransport()
    publisher = AuditPublisher(make_settings(), transport=transport, strict=True)
    publisher.emit(T.AUTH_LOGOUT, context=CTX)
    with pytest.raises(InvalidEventError):
        publisher.emit(T.AUTH_LOGOUT, context=CTX, usage=[{"service": ""}])
    publisher.emit(T.AUTH_LOGOUT, context=CTX)
    assert publisher.flush(5).complete
    assert [line["publisher_sequence"] for line in lines(transport)] == [1, 2]
    publisher.shutdown(1)


def test_capture_events_does_not_number() -> None:
    """capture_events() envelopes are as the app emitted them: no numbering, no heartbeat."""
    with capture_events() as events:
        from il_audit import emit

        emit(T.AUTH_LOGOUT, context=CTX)
    assert [(e.publisher_instance_id, e.publisher_sequence) for e in events] == [(None, None)]


def test_the_shutdown_heartbeat_counts_everything_and_numbers_itself_last() -> None:
    """At shutdown one heartbeat, final, with the counters and last_sequence = its number =
    accepted + dropped before it, plus itself."""
    transport = MemoryTransport()
    settings = make_settings(write_queue_max_size=3, heartbeat_seconds=3600)
    publisher = AuditPublisher(settings, transport=transport)
    for index in range(20):
        publisher.emit(T.AUTH_LOGOUT, context=CTX, n=index)
    assert publisher.shutdown(5) is False  # drops make shutdown() False
    stats = publisher.stats()
    beats = [e for e in lines(transport) if e["event_type"] == T.AUDIT_PUBLISHER_HEARTBEAT]
    assert len(beats) == 1
    payload = beats[0]["payload"]
    assert payload["final"] is True
    assert payload["last_sequence"] == beats[0]["publisher_sequence"] == 21
    assert payload["accepted"] + payload["dropped"] == 20 == stats.accepted - 1 + stats.dropped
    assert payload["dropped"] == stats.dropped > 0


def test_a_publisher_that_never_emitted_sends_no_heartbeat() -> None:
    """Nothing emitted: no heartbeat, not even at shutdown."""
    transport = MemoryTransport()
    publisher = AuditPublisher(make_settings(heartbeat_seconds=0.05), transport=transport)
    assert publisher.flush(1).complete
    publisher.shutdown(1)
    assert transport.messages == []
    assert publisher.stats().accepted == 0


def test_periodic_heartbeats_overtake_what_lingers_and_stop_when_idle() -> None:
    """A heartbeat travels alone, ahead of events still in the open message; once nothing
    is pending and nothing new is emitted, heartbeats stop."""
    transport = MemoryTransport()
    settings = make_settings(heartbeat_seconds=0.1, max_latency_ms=1000)
    publisher = AuditPublisher(settings, transport=transport)
    for index in range(3):
        publisher.emit(T.AUTH_LOGOUT, context=CTX, n=index)
    wait_until(lambda: len(transport.messages) >= 1, 5, "the first heartbeat")
    first = transport.messages[0].envelopes()
    assert [e["event_type"] for e in first] == [T.AUDIT_PUBLISHER_HEARTBEAT]
    assert first[0]["payload"]["pending"] == 3
    assert first[0]["payload"]["last_sequence"] == 4
    wait_until(lambda: publisher.stats().published >= 4, 5, "the lingering events")
    wait_until(
        lambda: transport.messages[-1].envelopes()[0]["payload"].get("pending") == 0,
        5,
        "a heartbeat that saw nothing pending",
    )
    settled = len(transport.messages)
    due = publisher._heartbeat.due_at
    assert due is not None
    # Three more ticks come and go (each moves due_at on); none sends: nothing changed.
    wait_until(lambda: (publisher._heartbeat.due_at or 0) >= due + 0.3, 5, "three more ticks")
    assert len(transport.messages) == settled
    publisher.shutdown(1)


@pytest.mark.subprocess
def test_a_forked_child_is_a_new_instance_numbered_from_one() -> None:
    """After fork the child numbers from 1 under a new instance id; the parent goes on."""
    transport = MemoryTransport()
    publisher = AuditPublisher(make_settings(), transport=transport)
    publisher.emit(T.AUTH_LOGOUT, context=CTX)
    assert publisher.flush(5).complete
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read_end)
        publisher.emit(T.AUTH_LOGOUT, context=CTX)
        publisher.flush(5)
        child = [e for m in publisher.transport.messages[1:] for e in m.envelopes()]  # type: ignore[union-attr]
        os.write(write_end, json.dumps(child).encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        child_lines = json.loads(pipe.read() or b"[]")
    os.waitpid(pid, 0)
    publisher.emit(T.AUTH_LOGOUT, context=CTX)
    assert publisher.flush(5).complete
    parent = lines(transport)
    assert [e["publisher_sequence"] for e in parent] == [1, 2]
    assert [e["publisher_sequence"] for e in child_lines] == [1]
    assert child_lines[0]["publisher_instance_id"] != parent[0]["publisher_instance_id"]
    publisher.shutdown(1)


def test_a_flush_waits_for_the_events_a_heartbeat_put_back() -> None:
    """A heartbeat queued in front after a flush counted the queue moves the flush's events
    one place back: the flush waits for one event more (white-box, on the ledger)."""
    ledger = Ledger(make_settings())
    ledger.offer({"n": 1})
    ledger.offer({"n": 2})
    ticket = ledger.begin_flush()
    ledger.offer_first({"heartbeat": True})
    ledger._sequenced = 2  # the heartbeat and the first event drained and final
    now = time.monotonic()
    assert ledger.wait_finalized(ticket.target, now, lambda: False, ticket.prepended) is False
    ledger._sequenced = 3  # the second event too
    assert ledger.wait_finalized(ticket.target, now, lambda: False, ticket.prepended) is True
    ledger.end_flush()


def test_shutdown_without_a_deadline_to_spare_sends_no_heartbeat() -> None:
    """shutdown(0) waits for nothing, so it queues no final heartbeat to abandon."""
    transport = MemoryTransport()
    publisher = AuditPublisher(make_settings(heartbeat_seconds=3600), transport=transport)
    publisher.emit(T.AUTH_LOGOUT, context=CTX)
    assert publisher.flush(5).complete
    publisher.shutdown(0)
    assert [e["event_type"] for e in lines(transport)] == [T.AUTH_LOGOUT]
    assert publisher.stats().pending == 0
