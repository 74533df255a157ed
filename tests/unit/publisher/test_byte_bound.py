"""write_queue_max_bytes (1.0.35's IL_AUDIT_WRITE_QUEUE_MAX_BYTES): a bound on the encoded
bytes the publisher holds, enforced by its worker, next to the caller's count bound.

The transport here holds each publish until the test releases it, as a slow Pub/Sub would;
the publisher, its queue, worker and outbox are the real ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Future

from il_audit.publisher import AuditContext, AuditPublisher, MemoryTransport
from il_audit.schemas import taxonomy as T
from tests.support.factories import make_settings
from tests.support.waiting import wait_until

CTX = AuditContext(app="ingest", actor_uid="u-1")
PAD = "x" * 900
"""An event's line is then ~1.3 KB."""


class HeldTransport(MemoryTransport):
    """Stores each message at once but confirms it only on :meth:`release`."""

    def __init__(self) -> None:
        super().__init__(max_messages=None)
        self.held: list[tuple[Future[str], str]] = []

    def publish(self, data: bytes, attributes: Mapping[str, str]) -> Future[str]:
        message_id = super().publish(data, attributes).result()
        future: Future[str] = Future()
        self.held.append((future, message_id))
        return future

    def release(self) -> None:
        for future, message_id in self.held:
            future.set_result(message_id)
        self.held.clear()


def held_publisher(
    max_bytes: int, drops: list[tuple[str, str]]
) -> tuple[AuditPublisher, HeldTransport]:
    transport = HeldTransport()
    publisher = AuditPublisher(
        make_settings(write_queue_max_bytes=max_bytes, max_events_per_message=1),
        transport=transport,
        on_drop=lambda *drop: drops.append(drop),
    )
    return publisher, transport


def test_events_past_the_byte_bound_are_dropped_counted_and_reported() -> None:
    """With 4,000 bytes allowed and every publish unconfirmed, three ~1.3 KB events are held
    and the other seventeen are dropped as `queue_bytes_full`, counted in `dropped`, and the
    flush says the batch is not complete; the held three are published once confirmed."""
    drops: list[tuple[str, str]] = []
    publisher, transport = held_publisher(4000, drops)
    for index in range(20):
        publisher.emit(T.UI_TAB_VIEWED, context=CTX, element_id=str(index), metadata={"p": PAD})
    wait_until(
        lambda: publisher.stats().pending == 3, 5, "the worker to settle the queue", interval=0.01
    )
    assert len(transport.messages) == 3
    assert all(1000 < len(message.data) < 1400 for message in transport.messages)
    stats = publisher.stats()
    assert (stats.accepted, stats.dropped) == (20, 17)
    assert drops == [("queue_bytes_full", T.UI_TAB_VIEWED)] * 17
    transport.release()
    result = publisher.flush(5)
    assert (int(result), result.complete) == (3, False)  # the 17 dropped are not out
    stats = publisher.stats()
    assert (stats.published, stats.pending) == (3, 0)
    assert [e["payload"]["element_id"] for e in transport.envelopes()] == ["0", "1", "2"]
    publisher.emit(T.UI_TAB_VIEWED, context=CTX, element_id="later")
    wait_until(lambda: len(transport.held) == 1, 5, "the next event to be sent", interval=0.01)
    transport.release()
    assert publisher.flush(5).complete  # the bound frees as publishes are confirmed
    publisher.shutdown(1)


def test_a_single_event_larger_than_the_bound_goes_out_when_nothing_is_held() -> None:
    """As in 1.0.35, one oversize event is taken when the publisher holds nothing else."""
    drops: list[tuple[str, str]] = []
    publisher, transport = held_publisher(500, drops)
    publisher.emit(T.UI_TAB_VIEWED, context=CTX, metadata={"p": PAD})
    wait_until(lambda: len(transport.held) == 1, 5, "the oversize event to be sent", interval=0.01)
    publisher.emit(T.UI_TAB_VIEWED, context=CTX, metadata={"p": PAD})
    wait_until(
        lambda: publisher.stats().dropped == 1, 5, "the second event to be dropped", interval=0.01
    )
    transport.release()
    assert publisher.flush(5).complete is False
    assert (publisher.stats().published, drops) == (1, [("queue_bytes_full", T.UI_TAB_VIEWED)])
    publisher.shutdown(1)


def test_a_bound_of_zero_turns_the_byte_check_off() -> None:
    """`0` (or less) is no byte bound: twenty held events, none dropped."""
    drops: list[tuple[str, str]] = []
    publisher, transport = held_publisher(0, drops)
    for _ in range(20):
        publisher.emit(T.UI_TAB_VIEWED, context=CTX, metadata={"p": PAD})
    wait_until(lambda: len(transport.held) == 20, 5, "every event to be sent", interval=0.01)
    transport.release()
    assert publisher.flush(5).complete
    assert (publisher.stats().published, drops) == (20, [])
    publisher.shutdown(1)
