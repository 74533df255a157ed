"""What the publisher holds and how far it got: the state other threads read, under one lock.

:class:`Ledger` owns the queue of captured events, the condition variable and
the counters; the :class:`~il_audit.publisher._outbox.Outbox` that moves events
through it is its subclass and runs on the publisher's thread. Callers (the
:class:`~il_audit.publisher.client.AuditPublisher` on the app's threads) use
the named operations below and nothing else: :meth:`~Ledger.offer` (the
``emit()`` hot path), :meth:`~Ledger.begin_flush` / :meth:`~Ledger.wait_finalized`
/ :meth:`~Ledger.end_flush`, :meth:`~Ledger.snapshot`, :meth:`~Ledger.request_stop`,
:meth:`~Ledger.abandon` and :meth:`~Ledger.forget_after_fork`.

Events are numbered as the worker places them in messages; an event is final
once it is published, failed or dropped (spooled events are final only once
drained), and :meth:`~Ledger.wait_finalized` waits for a sequence number.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, NamedTuple

from il_audit.config.settings import AuditSettings
from il_audit.publisher import _lifecycle
from il_audit.publisher._batch import OutgoingMessage
from il_audit.publisher._capture import Queued
from il_audit.publisher._spool import Spool
from il_audit.publisher._spool_lane import SpoolLane
from il_audit.publisher._transports.base import Transport as TransportProtocol


class FlushTicket(NamedTuple):
    """What :meth:`Outbox.begin_flush` saw: the sequence to wait for, and where counts stood."""

    target: int
    """Every event accepted so far is final once this sequence number is."""
    settled_before: int
    needs_worker: bool
    """Something is queued or packed that the worker has yet to send."""
    prepended: int = 0
    """Items queued ahead of the others (heartbeats) so far."""


class OutboxCounts(NamedTuple):
    """A consistent snapshot of the outbox's counters (see ``PublisherStats``)."""

    accepted: int
    published: int
    failed: int
    invalid: int
    pending: int
    retries: int
    spooled: int
    drained: int
    spool_corrupt: int
    settled: int
    """Published (from memory or the spool), failed, or dropped by a full spool or the byte
    bound."""
    lost: int
    """Failed, or dropped by a full spool or the byte bound."""


class Ledger:
    """The publisher's queue, counters and lock, and the operations callers may use."""

    def __init__(self, settings: AuditSettings) -> None:
        self._queue: deque[Queued] = deque()
        self._cond = threading.Condition(threading.Lock())
        self._wake = threading.Event()
        self._max_pending = settings.write_queue_max_size
        self._lane: SpoolLane | None = None  # set by the outbox when a spool is configured
        self._transport: TransportProtocol | None = None
        # Read by the caller's thread (the pending bound) and under the condition.
        self._held = 0  # events off the queue, not yet published, failed, dropped or spooled
        self._held_bytes = 0
        self._claimed = 0  # events taken off the queue
        self._sequenced = 0  # events given a sequence number (placed in a message)
        self._open: OutgoingMessage | None = None
        self._inflight: dict[int, OutgoingMessage] = {}
        self._retry_heap: list[tuple[float, int, OutgoingMessage]] = []
        self._in_spool: dict[Any, int] = {}  # own spooled messages not yet drained: first_seq
        self._flush_waiters = 0
        self._prepended = 0  # items queued at the front (offer_first)
        self._stopping = False
        self._spill_all = False  # shutting down: whatever is not published goes to the spool
        self._abandoned = False  # shutdown's deadline passed: stop, whatever is left
        self._idle = False
        self._published = self._failed = self._invalid = self._retries = 0
        self._spooled = self._drained = self._spool_dropped = 0
        self._bytes_dropped = 0  # taken off the queue, then dropped at write_queue_max_bytes

    # ------------------------------------------------------------- caller's side

    def offer(self, item: Queued) -> bool:
        """Queue one captured event (``emit()``'s hot path); False when the bound is reached.

        Lock-free: the worker counts events as held *before* it pops them, so the
        bound can only over-count for a moment, never let the total exceed it.
        """
        queue = self._queue
        if len(queue) + self._held >= self._max_pending:
            return False
        queue.append(item)
        if self._idle:
            self._wake.set()
        return True

    def offer_first(self, item: Queued) -> None:
        """Queue an item ahead of everything queued (the heartbeat), whatever the bound.

        It is drained before events a flush already counted, so every flush begun
        earlier waits for one event more (:meth:`wait_finalized` reads ``_prepended``).
        """
        with self._cond:
            self._queue.appendleft(item)
            self._prepended += 1
        self._wake.set()

    def pending(self) -> int:
        """Events accepted and held in memory: queued, or taken and not yet settled."""
        return len(self._queue) + self._held

    def wake_up(self) -> None:
        """Have the worker take a round of work now."""
        self._wake.set()

    def begin_flush(self) -> FlushTicket:
        """Register a flush and say what it waits for; pair with :meth:`end_flush`.

        Same lock as the worker's pop, so no event is between the two counts.
        """
        with self._cond:
            target = self._claimed + len(self._queue)
            self._flush_waiters += 1
            waiting = target > self._sequenced or self._open is not None
            return FlushTicket(target, self._settled(), waiting, self._prepended)

    def end_flush(self) -> None:
        """The flush that :meth:`begin_flush` registered is over."""
        with self._cond:
            self._flush_waiters -= 1

    def wait_finalized(
        self,
        target: int,
        deadline: float | None,
        gone: Callable[[], bool],
        prepended: int | None = None,
    ) -> bool:
        """Wait until every event up to ``target`` is final; False at ``deadline`` or ``gone()``.

        ``prepended``: the ticket's count of items queued at the front; each one queued
        since moved the flush's events one place back.
        """
        with self._cond:
            while self._finalized_through() < target + (
                0 if prepended is None else self._prepended - prepended
            ):
                remaining = None if deadline is None else deadline - time.monotonic()
                if (remaining is not None and remaining <= 0) or gone():
                    return False
                # Wake-ups come from completions; the cap covers a sleeping worker.
                self._cond.wait(0.05 if remaining is None else min(remaining, 0.05))
                self._wake.set()
            return True

    def snapshot(self) -> OutboxCounts:
        """The counters, read together under the lock."""
        spool = self.spool
        with self._cond:
            return OutboxCounts(
                accepted=self._claimed + len(self._queue),
                published=self._published,
                failed=self._failed,
                invalid=self._invalid,
                pending=len(self._queue) + self._held,
                retries=self._retries,
                spooled=self._spooled,
                drained=self._drained,
                spool_corrupt=spool.corrupt if spool is not None else 0,
                settled=self._settled(),
                lost=self._failed + self._spool_dropped + self._bytes_dropped,
            )

    def request_stop(self, *, spill: bool) -> None:
        """Finish what is held and stop; ``spill``: write what is unpublished to the spool."""
        self._spill_all = spill and self._lane is not None
        self._stopping = True
        self._wake.set()

    def abandon(self) -> None:
        """Stop now, whatever is left (shutdown's deadline passed); held events stay pending."""
        self._abandoned = True
        self._wake.set()

    def forget_after_fork(self) -> None:
        """In a forked child: never touch the parent's transport or spool files again.

        The transport (gRPC channel, threads) is kept referenced forever, so that
        its finalizers never run in this process.
        """
        if self._transport is not None:
            _lifecycle.abandon(self._transport)
        if self._lane is not None:
            self._lane.spool.forget_after_fork()

    @property
    def transport(self) -> TransportProtocol | None:
        """The transport, once the worker has created it."""
        return self._transport

    @property
    def spool(self) -> Spool | None:
        """The disk spool, when one is configured."""
        return self._lane.spool if self._lane is not None else None

    @property
    def degraded(self) -> bool:
        """Whether Pub/Sub looks unreachable (only tracked with a spool)."""
        return self._lane is not None and self._lane.degraded

    # ---------------------------------------------------------- for the worker

    def _release(self, message: OutgoingMessage) -> None:
        """Stop counting ``message`` against the pending bound (call under the condition)."""
        self._held -= message.count
        self._unhold_bytes(message)

    def _unhold_bytes(self, message: OutgoingMessage) -> None:
        if message.bytes_held:
            self._held_bytes -= message.size
            message.bytes_held = False

    def _settled(self) -> int:
        """Events published (from memory or the spool), failed, or dropped by a full spool or
        the byte bound."""
        return (
            self._published
            + self._drained
            + self._failed
            + self._spool_dropped
            + self._bytes_dropped
        )

    def _finalized_through(self) -> int:
        """Highest sequence number up to which every event is published, failed or dropped.

        Call under the condition. Spooled events are not final until drained.
        """
        outstanding = [message.first_seq for message in self._inflight.values()]
        outstanding.extend(entry[2].first_seq for entry in self._retry_heap)
        if self._lane is not None:
            outstanding.extend(message.first_seq for message in self._lane.pending.values())
        outstanding.extend(self._in_spool.values())
        if self._open is not None:
            outstanding.append(self._open.first_seq)
        if outstanding:
            return min(outstanding) - 1
        return self._sequenced
