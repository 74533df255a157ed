"""The publisher with a disk spool: outages, stalls, bounds and shutdown lose nothing uncounted.

A switchable in-process transport drives exact outage sequences; the same
paths run against the real emulator behind a TCP proxy in tests/integration.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
from google.api_core import exceptions as core_exceptions

from il_audit.publisher import AuditContext, AuditPublisher, MemoryTransport, _spool_lane
from il_audit.publisher._spool import Spool
from il_audit.schemas import taxonomy as T
from tests.support.factories import make_settings
from tests.support.waiting import wait_until

CTX = AuditContext(app="spool")


class Switchable(MemoryTransport):
    """Fails every publish while down (or never answers while stuck); stores messages when up."""

    def __init__(self) -> None:
        super().__init__(max_messages=None)
        self.down = False
        self.stuck = False
        self.hanging: list[Future[str]] = []
        self.lock = threading.Lock()

    def publish(self, data: bytes, attributes: Mapping[str, str]) -> Future[str]:
        with self.lock:
            if self.stuck:
                future: Future[str] = Future()
                self.hanging.append(future)
                return future
            if self.down:
                future = Future()
                future.set_exception(core_exceptions.ServiceUnavailable("unreachable"))
                return future
        return super().publish(data, attributes)

    def event_ids(self) -> list[str]:
        return [envelope["event_id"] for envelope in self.envelopes()]


def spooled_event_ids(root: Path) -> list[str]:
    """Every event id in the spool files under ``root`` (read by a fresh spool)."""
    reader = Spool(root, 1 << 30)
    reader.adopt()
    ids = []
    while (record := reader.next_record()) is not None:
        ids.extend(json.loads(line)["event_id"] for line in record.data.split(b"\n"))
        reader.confirm(record.key)
    return ids


@pytest.fixture
def transport() -> Switchable:
    return Switchable()


@pytest.fixture
def make(tmp_path: Path, transport: Switchable) -> Iterator[Any]:
    """Builds publishers spooling to tmp_path/spool; shuts them all down afterwards."""
    made: list[AuditPublisher] = []

    def build(**settings: Any) -> AuditPublisher:
        values = {
            "spool_dir": str(tmp_path / "spool"),
            "write_queue_max_size": 1000,
            "retry_initial_seconds": 0.05,
            "retry_max_seconds": 0.2,
            "max_latency_ms": 20,
            **settings,
        }
        publisher = AuditPublisher(make_settings(**values), transport=transport)
        made.append(publisher)
        return publisher

    yield build
    for publisher in made:
        publisher.shutdown(1)


def emit_steadily(publisher: AuditPublisher, count: int, per_second: float) -> list[str]:
    ids = []
    for _ in range(count):
        event_id = publisher.emit(T.AUTH_LOGOUT, context=CTX)
        assert event_id is not None
        ids.append(event_id)
        time.sleep(1 / per_second)  # pacing: the producer's rate is the scenario
    return ids


def test_an_outage_longer_than_the_queue_loses_nothing(make: Any, transport: Switchable) -> None:
    """Three times the pending bound emitted during an outage: all spooled, all delivered."""
    publisher = make()
    transport.down = True
    ids = emit_steadily(publisher, 3000, per_second=2000)
    assert publisher.flush(0.5).complete is False  # spooled is not published
    stats = publisher.stats()
    assert stats.dropped == 0
    assert stats.spooled == 3000
    transport.down = False
    assert publisher.flush(20).complete
    assert sorted(set(transport.event_ids())) == sorted(ids)
    stats = publisher.stats()
    assert (stats.drained, stats.pending, stats.dropped) == (3000, 0, 0)


def test_an_unanswered_publish_counts_as_an_outage(
    make: Any, transport: Switchable, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Messages that hang (a cut network) are copied to the spool after the stall time."""
    monkeypatch.setattr(_spool_lane, "STALL_SECONDS", 0.3)
    publisher = make()
    transport.stuck = True
    ids = emit_steadily(publisher, 200, per_second=2000)
    wait_until(lambda: publisher.stats().spooled >= 200, 10, "200 spooled events", interval=0.05)
    assert publisher.stats().spooled == 200
    assert publisher.stats().pending == 0
    transport.stuck = False
    for future in transport.hanging:  # the cut connections finally fail
        future.set_exception(core_exceptions.DeadlineExceeded("gone"))
    assert publisher.flush(20).complete
    assert sorted(set(transport.event_ids())) == sorted(ids)


def test_a_full_spool_drops_and_counts_exactly(
    make: Any, transport: Switchable, tmp_path: Path
) -> None:
    """Past the byte bound events are dropped; accepted = spooled + dropped, to the event."""
    drops: list[str] = []
    publisher = make(spool_max_bytes=1024 * 1024, max_events_per_message=10)
    publisher.on_drop = lambda reason, _type: drops.append(reason)
    transport.down = True
    padding = "p" * 2000
    for _ in range(1000):
        publisher.emit(T.AUTH_LOGOUT, context=CTX, note=padding)
        time.sleep(0.0005)  # pacing: slower than the worker spools, so only the spool drops
    publisher.shutdown(2)
    stats = publisher.stats()
    on_disk = spooled_event_ids(tmp_path / "spool")
    assert stats.dropped > 0
    assert len(on_disk) == stats.spooled
    assert stats.accepted == 1000 == stats.spooled + stats.dropped
    assert set(drops) == {"spool_full"}
    assert len(drops) == stats.dropped  # on_drop hears of every dropped event


def test_shutdown_during_an_outage_spools_what_is_in_memory(
    make: Any, transport: Switchable, tmp_path: Path
) -> None:
    """Nothing emitted before shutdown is left only in memory: the next process gets it."""
    publisher = make(max_latency_ms=5000)  # keep a message open in memory
    transport.down = True
    ids = [publisher.emit(T.AUTH_LOGOUT, context=CTX) for _ in range(50)]
    publisher.shutdown(2)
    assert sorted(spooled_event_ids(tmp_path / "spool")) == sorted(ids)


def test_a_new_publisher_adopts_and_delivers_a_dead_ones_spool(
    make: Any, transport: Switchable
) -> None:
    """The spool of a stopped process is drained by the next one on the same directory."""
    first = make()
    transport.down = True
    ids = emit_steadily(first, 300, per_second=3000)
    first.shutdown(1)
    transport.down = False
    transport.clear()
    second = make()
    assert second.flush(10).complete  # nothing of its own

    def drained() -> bool:
        if len(set(transport.event_ids())) >= 300:
            return True
        second.emit(T.AUTH_LOGOUT, context=CTX)  # keep the worker going
        return False

    wait_until(drained, 10, "the dead publisher's 300 events", interval=0.05)
    delivered = set(transport.event_ids())
    assert set(ids) <= delivered
    assert second.stats().drained >= 300


def test_without_a_spool_the_queue_bound_still_drops(transport: Switchable) -> None:
    """The spool is off by default: an outage past the bound drops and counts, as before."""
    publisher = AuditPublisher(
        make_settings(write_queue_max_size=100, retry_initial_seconds=0.05), transport=transport
    )
    try:
        transport.down = True
        for _ in range(300):
            publisher.emit(T.AUTH_LOGOUT, context=CTX)
        stats = publisher.stats()
        assert stats.dropped == 200
        assert stats.spooled == 0
    finally:
        publisher.shutdown(0.5)


def test_a_spooled_chat_turn_holds_no_question_text(
    make: Any, transport: Switchable, tmp_path: Path
) -> None:
    """With IL_AUDIT_STORE_QUERY_TEXT off the question is gone before encoding, so the
    spool files (plain NDJSON records) hold its hash, never its text."""
    from il_audit import emit_chat_turn, question_sha256
    from il_audit.publisher import set_publisher

    question = "Salary band of Qwertz-3317?"
    publisher = make(max_latency_ms=5000, store_query_text=False)
    transport.down = True
    previous = set_publisher(publisher)
    try:
        emit_chat_turn(context=CTX, question=question)
    finally:
        set_publisher(previous)
    publisher.shutdown(2)
    spooled = b"".join(
        path.read_bytes() for path in (tmp_path / "spool").rglob("*") if path.is_file()
    )
    assert question_sha256(question).encode() in spooled
    assert b"Qwertz-3317" not in spooled
