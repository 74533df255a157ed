"""The worker side of the publisher: queued captures in, published (or spooled) messages out.

Everything here runs on the publisher's own thread: creating the transport
(with backoff), encoding and packing events, sending messages, settling their
outcomes and retrying; with a spool (``IL_AUDIT_SPOOL_DIR``) the
:class:`~il_audit.publisher._spool_lane.SpoolLane` decides what goes to disk.
The queue, the counters and the lock are the :class:`~il_audit.publisher._ledger.Ledger`'s,
which this class extends; callers use the ledger's named operations only.
Transports report completions from their own threads only by appending to a
deque (:meth:`Outbox.completed`), so the state has one writer; the ledger's
condition variable guards what other threads read.

Without a spool, a message that fails transiently waits in memory and is
retried with backoff for as long as it takes. Memory pressure (half the
pending bound) spools too, so a burst never drops what the disk can hold.

Two bounds keep memory finite. The queue of captured events is bounded by count
(``write_queue_max_size``, checked by the caller). The encoded bytes held here
(the message being packed, messages in flight or waiting to retry) are bounded
by ``write_queue_max_bytes``, checked as each event is encoded on this thread,
so the caller never serialises an event to weigh it: an event whose encoded line
would take the held bytes past the bound is dropped and counted
(``queue_bytes_full``), unless nothing is held, so a single large event still
goes out. (Encoding also pauses while ``MAX_INFLIGHT_BYTES`` are in flight;
events wait in the queue meanwhile. Below that, the byte bound drops.)
"""

from __future__ import annotations

import functools
import heapq
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Final

from il_audit._ratelimit import RateLimitedLog
from il_audit.config.settings import AuditSettings, Compression
from il_audit.publisher._batch import OutgoingMessage
from il_audit.publisher._capture import Queued, unqueue
from il_audit.publisher._encode import ContextDefaults, encode
from il_audit.publisher._heartbeat import HEARTBEAT
from il_audit.publisher._ledger import Ledger
from il_audit.publisher._spool import Spool
from il_audit.publisher._spool_lane import DROPPED, SpoolLane
from il_audit.publisher._spool_records import SpoolRecord
from il_audit.publisher._transport_opener import TransportOpener
from il_audit.publisher._transports.base import PublishFuture
from il_audit.publisher._transports.base import Transport as TransportProtocol
from il_audit.publisher.errors import InvalidEventError, PublisherError, PublishFailedError
from il_audit.retrying import backoff_seconds, is_retryable

logger = logging.getLogger(__name__)

DRAIN_PER_STEP: Final = 2000
MAX_INFLIGHT_BYTES: Final = 8 * 1024 * 1024
"""Message bytes (before gzip) published and not yet confirmed before encoding pauses:
gRPC holds a copy of each in flight. 8 MiB is 90 messages of 500 events, enough for
80,000 events/s at a 100 ms round trip; events wait meanwhile in the smaller form."""
_LOG_INTERVAL_SECONDS: Final = 10.0

Completion = tuple[OutgoingMessage | SpoolRecord, BaseException | None]
Reporter = Callable[[PublisherError], None]
DropHook = Callable[[str, str, int], None]
"""``drop(reason, event_type, count)``."""


class Outbox(Ledger):
    """Encodes, packs, sends and retries; driven by :meth:`step` on one thread."""

    def __init__(
        self,
        settings: AuditSettings,
        *,
        make_transport: Callable[[], TransportProtocol],
        transport_kind: str,
        report: Reporter,
        drop: DropHook,
        instance_id: str | None = None,
        tick: Callable[[float], float | None] | None = None,
    ) -> None:
        super().__init__(settings)
        self.settings = settings
        self.transport_kind = transport_kind
        self._report = report
        self._drop = drop
        self._instance_id = instance_id
        self._tick = tick  # the heartbeat's check: run each round, returns when it is due next
        self._tick_at: float | None = None
        self._defaults = ContextDefaults.from_settings(settings, instance_id=instance_id)
        self._max_events = settings.max_events_per_message
        self._max_bytes = settings.max_message_bytes
        self.compress = settings.compression is Compression.GZIP and transport_kind == "pubsub"
        self._linger = settings.max_latency_seconds
        self._pressure_at = max(1, settings.write_queue_max_size // 2)
        cap = settings.write_queue_max_bytes
        self._max_held_bytes = cap if cap > 0 else None
        spool = Spool(settings.spool_dir, settings.spool_max_bytes) if settings.spool_dir else None
        if spool is not None:
            self._lane = SpoolLane(
                self,
                spool,
                retry_initial_seconds=settings.retry_initial_seconds,
                retry_max_seconds=settings.retry_max_seconds,
            )
        self._opener = TransportOpener(
            make_transport,
            transport_kind,
            report=report,
            initial_seconds=settings.retry_initial_seconds,
            max_seconds=settings.retry_max_seconds,
        )
        self._completions: deque[Completion] = deque()
        self._invalid_log = RateLimitedLog(logger, _LOG_INTERVAL_SECONDS)

    # ------------------------------------------------------------------ the loop

    def step(self) -> bool:
        """One round of work; True when a shutdown has completed (or was given up on)."""
        if self._abandoned:
            return True
        now = time.monotonic()
        transport = self._transport or self._open_transport(now)
        self._settle_completions()
        if self._tick is not None:
            self._tick_at = self._tick(now)
        lane = self._lane
        if lane is not None:
            lane.adopt_if_due(now)
        blocked = False
        if transport is not None or lane is not None:
            self._send_due_retries(transport, now)
            # Read before the drain: a flush (or stop) begun while this round drains is served
            # by the next round, after the events emitted before it are packed, so a flush
            # never closes a message half full while its own events wait in the queue.
            closing = self._flush_waiters or self._stopping
            blocked = self._drain(transport)
            message = self._open
            if message is not None and (closing or now - message.opened_at >= self._linger):
                self._dispatch(transport, message)
        if lane is not None:
            lane.watch_for_stalls(now, self._inflight.values())
            if lane.degraded or self._spill_all or self._under_pressure():
                lane.spill(list(self._inflight.values()), final=self._spill_all)
            lane.write_pending()
            lane.sync()
            if transport is not None:
                allowed = not (self._stopping or self._under_pressure())
                lane.drain(transport, now, allowed=allowed)
        if self._stopping and not self._queue and self._held == 0:
            return True
        timeout = self._next_deadline(now, transport)
        self._idle = True
        self._wake.clear()
        if (blocked or not self._queue) and not self._completions:
            self._wake.wait(timeout)
        self._idle = False
        return False

    def _next_deadline(self, now: float, transport: TransportProtocol | None) -> float | None:
        deadlines = []
        if transport is None:
            deadlines.append(self._opener.retry_at)
        if self._open is not None:
            deadlines.append(self._open.opened_at + self._linger)
        if self._retry_heap:
            deadlines.append(self._retry_heap[0][0])
        if self._lane is not None:
            deadlines.append(now + 1.0)  # stall checks, probes and adoption
        if self._tick_at is not None:
            deadlines.append(self._tick_at)
        if not deadlines:
            return None
        return max(0.0, min(deadlines) - now)

    def _under_pressure(self) -> bool:
        return len(self._queue) + self._held >= self._pressure_at

    def _spooling(self, transport: TransportProtocol | None) -> bool:
        return self._lane is not None and (
            transport is None or self._lane.degraded or self._spill_all or self._under_pressure()
        )

    # ------------------------------------------------------------- the transport

    def _open_transport(self, now: float) -> TransportProtocol | None:
        self._transport = self._opener.open(now, spooling=self._lane is not None)
        project = getattr(self._transport, "project", None)
        if isinstance(project, str) and project:  # the environment map may name it
            self._defaults = ContextDefaults.from_settings(
                self.settings, project=project, instance_id=self._instance_id
            )
        if self._transport is None and self._lane is not None:
            self._lane.enter_degraded("the transport cannot be created")
        return self._transport

    # ------------------------------------------------------------ encode and pack

    def _drain(self, transport: TransportProtocol | None) -> bool:
        """Encode queued events into messages; True when in-flight bytes are at their cap."""
        queue = self._queue
        count = min(len(queue), DRAIN_PER_STEP)
        if not count:
            return False
        if self._held_bytes >= MAX_INFLIGHT_BYTES and not self._spooling(transport):
            return True
        # Count each event as held just before popping it: the caller's bound
        # (queue + held) may then count one event twice, never zero times, so the
        # pending total never exceeds the limit. (Counting the whole round first let
        # a caller that ran mid-round see up to 2,000 events twice and drop early.)
        batch: list[Queued] = []
        take = batch.append
        with self._cond:
            self._claimed += count
            for _ in range(count):
                self._held += 1
                take(queue.popleft())
        for queued in batch:
            captured, number = unqueue(queued)
            # encode never raises: a stand-in at worst
            encoded = encode(captured, self._defaults, sequence=number)
            if self._past_byte_bound(len(encoded.line)):
                self._drop_for_bytes(encoded.event_type or "")
                continue
            if (problem := encoded.problem) is not None:
                self._invalid += 1
                event_id, kind = encoded.event_id, encoded.event_type
                self._invalid_log.warning(
                    "il-audit: invalid event %s (%s), published for dead-lettering: %s",
                    event_id,
                    kind,
                    problem,
                )
                self._report(InvalidEventError(problem, event_id=event_id, event_type=kind))
            seq = self._sequenced + 1
            if encoded.event_type == HEARTBEAT:
                # In a message of its own, sent now: it overtakes what it counts that is
                # still in memory (the open message lingers on), so a crash shows as a gap.
                solo = OutgoingMessage(seq)
                solo.add(encoded.line, seq, encoded.app, encoded.event_type)
                self._sequenced = seq
                self._dispatch(transport, solo)
                continue
            message = self._open
            if message is not None and not message.fits(
                encoded.line, self._max_events, self._max_bytes
            ):
                self._dispatch(transport, message)
                message = None
            if message is None:
                message = self._open = OutgoingMessage(seq)
            message.add(encoded.line, seq, encoded.app, encoded.event_type)
            self._sequenced = seq
            if message.count >= self._max_events or message.size >= self._max_bytes:
                self._dispatch(transport, message)
        return False

    def _past_byte_bound(self, size: int) -> bool:
        """Whether a line of ``size`` bytes would take the held encoded bytes past the bound."""
        cap = self._max_held_bytes
        if cap is None:
            return False
        held = self._held_bytes + (self._open.size if self._open is not None else 0)
        return held > 0 and held + size > cap

    def _drop_for_bytes(self, event_type: str) -> None:
        """Drop one taken event at the byte bound: final at once, counted like a queue drop."""
        with self._cond:
            self._sequenced += 1  # numbered, so flushes waiting for it see it final
            self._held -= 1
            self._bytes_dropped += 1
            self._cond.notify_all()
        self._drop("queue_bytes_full", event_type, 1)

    def _dispatch(self, transport: TransportProtocol | None, message: OutgoingMessage) -> None:
        """A sealed message leaves memory: to the transport, or to the spool."""
        with self._cond:
            if self._open is message:
                self._open = None
        if transport is None or self._spooling(transport):
            assert self._lane is not None
            self._lane.add(message)
            self._lane.write_pending()
            return
        self._send(transport, message)

    def _send(self, transport: TransportProtocol, message: OutgoingMessage) -> None:
        with self._cond:
            self._inflight[id(message)] = message
            self._held_bytes += message.size
            message.bytes_held = True
        message.attempts += 1
        message.sent_at = time.monotonic()
        try:
            future = transport.publish(message.data(self.compress), message.attributes())
        except Exception as exc:  # noqa: BLE001 - settled as that publish's outcome
            self._settle(message, exc)
            return
        future.add_done_callback(functools.partial(self.completed, message))

    def completed(self, item: OutgoingMessage | SpoolRecord, future: PublishFuture) -> None:
        """Runs on the transport's thread: hand the outcome to the worker."""
        self._completions.append((item, future.exception()))
        self._wake.set()

    # ------------------------------------------------------------------ outcomes

    def _settle_completions(self) -> None:
        while self._completions:
            item, error = self._completions.popleft()
            if isinstance(item, SpoolRecord):
                assert self._lane is not None
                self._lane.settle(item, error)
            else:
                self._settle(item, error)

    def _settle(self, message: OutgoingMessage, error: BaseException | None) -> None:
        retry = error is not None and is_retryable(error)
        if error is not None and not retry and message.spool_key is None:
            # Report before the state changes, so that a flush() woken by this
            # completion returns only after on_error has seen the failure.
            logger.error(
                "il-audit: %d event(s) refused permanently by %s: %s",
                message.count,
                self.transport_kind,
                error,
            )
            self._report(PublishFailedError(message.count, error))
        with self._cond:
            self._inflight.pop(id(message), None)
            if message.spool_key is not None:  # a copy is in the spool already (or dropped)
                self._unhold_bytes(message)
                if error is None and message.spool_key is not DROPPED:
                    self._published += message.count
                    assert self._lane is not None
                    self._lane.skip.add(message.spool_key)
                    self._in_spool.pop(message.spool_key, None)
            elif error is None:
                self._published += message.count
                self._release(message)
            elif not retry:
                self._failed += message.count
                self._release(message)
            else:
                self._retries += 1
                if self._lane is not None:
                    self._unhold_bytes(message)
                    self._lane.add(message)
                else:
                    delay = backoff_seconds(
                        message.attempts,
                        self.settings.retry_initial_seconds,
                        self.settings.retry_max_seconds,
                    )
                    message.retry_at = time.monotonic() + delay
                    heapq.heappush(self._retry_heap, (message.retry_at, id(message), message))
            self._cond.notify_all()
        if self._lane is not None:
            if error is None:
                self._lane.healthy()  # Pub/Sub answers again
            elif retry:
                self._lane.enter_degraded(f"publishing failed ({type(error).__name__})")
        if retry:
            logger.warning(
                "il-audit: publishing %d event(s) failed (attempt %d: %s); will retry",
                message.count,
                message.attempts,
                type(error).__name__,
            )

    def _send_due_retries(self, transport: TransportProtocol | None, now: float) -> None:
        while True:
            with self._cond:
                if not self._retry_heap or (
                    self._retry_heap[0][0] > now and not self._spooling(transport)
                ):
                    return
                _, _, message = heapq.heappop(self._retry_heap)
                # _send counts the bytes again; they stayed held while waiting.
                self._unhold_bytes(message)
            if transport is None or self._spooling(transport):
                assert self._lane is not None
                self._lane.add(message)
            else:
                self._send(transport, message)

    # --------------------------------------------- accounting for the spool lane

    def written(self, message: OutgoingMessage) -> None:
        """A message reached the spool file: memory no longer holds the only copy.

        It is released at once (a process crash cannot lose what the kernel has);
        the group is made durable against an OS crash by the fsync at the end of
        this round of work, so that releasing never waits for the disk.
        """
        key = message.spool_key
        assert key is not None
        assert self._lane is not None
        with self._cond:
            self._spooled += message.count
            # An in-flight copy keeps its bytes held until Pub/Sub answers it.
            self._held -= message.count
            if key not in self._lane.skip:
                self._in_spool[key] = message.first_seq
            self._cond.notify_all()

    def spool_refused(self, message: OutgoingMessage) -> None:
        """The spool is at its byte bound: drop and count, unless Pub/Sub may still take it."""
        with self._cond:
            if id(message) in self._inflight:
                if not self._spill_all:
                    message.spill_refused = True  # still on its way: its outcome settles it
                    return
                # Shutting down: the publish in flight is abandoned with the process.
                message.spool_key = DROPPED
            self._spool_dropped += message.count
            self._held -= message.count
            if message.spool_key is None:
                self._unhold_bytes(message)
            self._cond.notify_all()
        self._drop("spool_full", message.event_type_label, message.count)

    def drained_from_spool(self, record: SpoolRecord) -> None:
        """A spooled message was published."""
        with self._cond:
            self._drained += record.count
            self._in_spool.pop(record.key, None)
            self._cond.notify_all()

    # -------------------------------------------------------------------- flush

    def close(self, timeout: float | None, *, release_spool: bool = True) -> None:
        """Close the transport; release the spool (not while the worker may still use it)."""
        if self._transport is not None:
            self._transport.close(timeout)
        if release_spool and self._lane is not None:
            self._lane.close()
