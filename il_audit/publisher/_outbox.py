"""The worker side of the publisher: queued captures in, published (or spooled) messages out.

Everything here runs on the publisher's own thread: creating the transport
(with backoff), encoding and packing events, sending messages, settling their
outcomes and retrying; with a spool (``IL_AUDIT_SPOOL_DIR``) the
:class:`~il_audit.publisher._spool_lane.SpoolLane` decides what goes to disk.
Transports report completions from their own threads only by appending to
:attr:`Outbox.completions`, so the state below has one writer; the condition
variable guards what other threads read (``flush()``, ``stats()``, and the
caller's pending bound through ``held``).

Without a spool, a message that fails transiently waits in memory and is
retried with backoff for as long as it takes. Memory pressure (half the
pending bound) spools too, so a burst never drops what the disk can hold.
"""

from __future__ import annotations

import functools
import heapq
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Final

from il_audit._ratelimit import RateLimitedLog
from il_audit.config.settings import AuditSettings, Compression
from il_audit.publisher._batch import OutgoingMessage
from il_audit.publisher._encode import Captured, ContextDefaults, encode
from il_audit.publisher._spool import Spool
from il_audit.publisher._spool_lane import DROPPED, SpoolLane
from il_audit.publisher._spool_records import SpoolRecord
from il_audit.publisher._transports.base import PublishFuture
from il_audit.publisher._transports.base import Transport as TransportProtocol
from il_audit.publisher.errors import (
    InvalidEventError,
    PublisherError,
    PublishFailedError,
    TransportUnavailableError,
)
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


class Outbox:
    """Encodes, packs, sends and retries; driven by :meth:`step` on one thread."""

    def __init__(
        self,
        settings: AuditSettings,
        *,
        queue: deque[Captured],
        cond: Any,
        wake: Any,
        make_transport: Callable[[], TransportProtocol],
        transport_kind: str,
        report: Reporter,
        drop: DropHook,
    ) -> None:
        self.settings = settings
        self.queue = queue
        self.cond = cond
        self.wake = wake
        self._make_transport = make_transport
        self.transport_kind = transport_kind
        self._report = report
        self._drop = drop
        self._defaults = ContextDefaults.from_settings(settings)
        self._max_events = settings.max_events_per_message
        self._max_bytes = settings.max_message_bytes
        self.compress = settings.compression is Compression.GZIP and transport_kind == "pubsub"
        self._linger = settings.max_latency_seconds
        self._pressure_at = max(1, settings.write_queue_max_size // 2)
        spool = Spool(settings.spool_dir, settings.spool_max_bytes) if settings.spool_dir else None
        self.lane = SpoolLane(self, spool) if spool is not None else None
        self.completions: deque[Completion] = deque()
        # Read by the caller's thread (the pending bound) and by flush()/stats().
        self.held = 0  # events off the queue, not yet published, failed, dropped or spooled
        self.held_bytes = 0
        self.claimed = 0  # events taken off the queue
        self.sequenced = 0  # events given a sequence number (placed in a message)
        self.open: OutgoingMessage | None = None
        self.inflight: dict[int, OutgoingMessage] = {}
        self.retry_heap: list[tuple[float, int, OutgoingMessage]] = []
        self.in_spool: dict[Any, int] = {}  # own spooled messages not yet drained: first_seq
        self.flush_waiters = 0
        self.stopping = False
        self.spill_all = False  # shutting down: whatever is not published goes to the spool
        self.abandoned = False  # shutdown's deadline passed: stop, whatever is left
        self.idle = False
        self.transport: TransportProtocol | None = None
        self.published = self.failed = self.invalid = self.retries = 0
        self.spooled = self.drained = self.spool_dropped = 0
        self._transport_retry_at = 0.0
        self._transport_failures = 0
        self._invalid_log = RateLimitedLog(logger, _LOG_INTERVAL_SECONDS)
        self._transport_log = RateLimitedLog(logger, _LOG_INTERVAL_SECONDS)

    @property
    def spool(self) -> Spool | None:
        """The disk spool, when one is configured."""
        return self.lane.spool if self.lane is not None else None

    @property
    def degraded(self) -> bool:
        """Whether Pub/Sub looks unreachable (only tracked with a spool)."""
        return self.lane is not None and self.lane.degraded

    # ------------------------------------------------------------------ the loop

    def step(self) -> bool:
        """One round of work; True when a shutdown has completed (or was given up on)."""
        if self.abandoned:
            return True
        now = time.monotonic()
        transport = self.transport or self._open_transport(now)
        self._settle_completions()
        lane = self.lane
        if lane is not None:
            lane.adopt_if_due(now)
        blocked = False
        if transport is not None or lane is not None:
            self._send_due_retries(transport, now)
            blocked = self._drain(transport)
            message = self.open
            if message is not None and (
                self.flush_waiters or self.stopping or now - message.opened_at >= self._linger
            ):
                self._dispatch(transport, message)
        if lane is not None:
            lane.watch_for_stalls(now, self.inflight.values())
            if lane.degraded or self.spill_all or self._under_pressure():
                lane.spill(list(self.inflight.values()), final=self.spill_all)
            lane.write_pending()
            lane.sync()
            if transport is not None:
                allowed = not (self.stopping or self._under_pressure())
                lane.drain(transport, now, allowed=allowed)
        if self.stopping and not self.queue and self.held == 0:
            return True
        timeout = self._next_deadline(now, transport)
        self.idle = True
        self.wake.clear()
        if (blocked or not self.queue) and not self.completions:
            self.wake.wait(timeout)
        self.idle = False
        return False

    def _next_deadline(self, now: float, transport: TransportProtocol | None) -> float | None:
        deadlines = []
        if transport is None:
            deadlines.append(self._transport_retry_at)
        if self.open is not None:
            deadlines.append(self.open.opened_at + self._linger)
        if self.retry_heap:
            deadlines.append(self.retry_heap[0][0])
        if self.lane is not None:
            deadlines.append(now + 1.0)  # stall checks, probes and adoption
        if not deadlines:
            return None
        return max(0.0, min(deadlines) - now)

    def _under_pressure(self) -> bool:
        return len(self.queue) + self.held >= self._pressure_at

    def _spooling(self, transport: TransportProtocol | None) -> bool:
        return self.lane is not None and (
            transport is None or self.lane.degraded or self.spill_all or self._under_pressure()
        )

    # ------------------------------------------------------------- the transport

    def _open_transport(self, now: float) -> TransportProtocol | None:
        if now < self._transport_retry_at:
            return None
        try:
            self.transport = self._make_transport()
        except Exception as exc:  # noqa: BLE001 - any failure: back off, report, keep events
            self._transport_failures += 1
            delay = backoff_seconds(
                self._transport_failures,
                self.settings.retry_initial_seconds,
                self.settings.retry_max_seconds,
            )
            self._transport_retry_at = now + delay
            waiting = "events are spooled" if self.lane is not None else "events stay queued"
            error = TransportUnavailableError(
                f"cannot create the {self.transport_kind} transport: {exc}; "
                f"retrying in {delay:.1f}s, {waiting}"
            )
            error.__cause__ = exc
            self._transport_log.log(logging.ERROR, "il-audit: %s", error)
            self._report(error)
            if self.lane is not None:
                self.lane.enter_degraded("the transport cannot be created")
            return None
        self._transport_failures = 0
        return self.transport

    # ------------------------------------------------------------ encode and pack

    def _drain(self, transport: TransportProtocol | None) -> bool:
        """Encode queued events into messages; True when in-flight bytes are at their cap."""
        queue = self.queue
        count = min(len(queue), DRAIN_PER_STEP)
        if not count:
            return False
        if self.held_bytes >= MAX_INFLIGHT_BYTES and not self._spooling(transport):
            return True
        # Count as held first, then pop at once: for these few microseconds the
        # caller's bound (queue + held) counts the events twice, so it can drop
        # early but never let the pending total exceed the limit.
        with self.cond:
            self.held += count
            self.claimed += count
            batch = [queue.popleft() for _ in range(count)]
        for captured in batch:
            encoded = encode(captured, self._defaults)  # never raises: a stand-in at worst
            if (problem := encoded.problem) is not None:
                self.invalid += 1
                event_id, kind = encoded.event_id, encoded.event_type
                self._invalid_log.warning(
                    "il-audit: invalid event %s (%s), published for dead-lettering: %s",
                    event_id,
                    kind,
                    problem,
                )
                self._report(InvalidEventError(problem, event_id=event_id, event_type=kind))
            seq = self.sequenced + 1
            message = self.open
            if message is not None and not message.fits(
                encoded.line, self._max_events, self._max_bytes
            ):
                self._dispatch(transport, message)
                message = None
            if message is None:
                message = self.open = OutgoingMessage(seq)
            message.add(encoded.line, seq, encoded.app, encoded.event_type)
            self.sequenced = seq
            if message.count >= self._max_events or message.size >= self._max_bytes:
                self._dispatch(transport, message)
        return False

    def _dispatch(self, transport: TransportProtocol | None, message: OutgoingMessage) -> None:
        """A sealed message leaves memory: to the transport, or to the spool."""
        with self.cond:
            if self.open is message:
                self.open = None
        if transport is None or self._spooling(transport):
            assert self.lane is not None
            self.lane.add(message)
            self.lane.write_pending()
            return
        self._send(transport, message)

    def _send(self, transport: TransportProtocol, message: OutgoingMessage) -> None:
        with self.cond:
            self.inflight[id(message)] = message
            self.held_bytes += message.size
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
        self.completions.append((item, future.exception()))
        self.wake.set()

    # ------------------------------------------------------------------ outcomes

    def _settle_completions(self) -> None:
        while self.completions:
            item, error = self.completions.popleft()
            if isinstance(item, SpoolRecord):
                assert self.lane is not None
                self.lane.settle(item, error)
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
        with self.cond:
            self.inflight.pop(id(message), None)
            if message.spool_key is not None:  # a copy is in the spool already (or dropped)
                self._unhold_bytes(message)
                if error is None and message.spool_key is not DROPPED:
                    self.published += message.count
                    assert self.lane is not None
                    self.lane.skip.add(message.spool_key)
                    self.in_spool.pop(message.spool_key, None)
            elif error is None:
                self.published += message.count
                self._release(message)
            elif not retry:
                self.failed += message.count
                self._release(message)
            else:
                self.retries += 1
                if self.lane is not None:
                    self._unhold_bytes(message)
                    self.lane.add(message)
                else:
                    delay = backoff_seconds(
                        message.attempts,
                        self.settings.retry_initial_seconds,
                        self.settings.retry_max_seconds,
                    )
                    message.retry_at = time.monotonic() + delay
                    heapq.heappush(self.retry_heap, (message.retry_at, id(message), message))
            self.cond.notify_all()
        if self.lane is not None:
            if error is None:
                self.lane.healthy()  # Pub/Sub answers again
            elif retry:
                self.lane.enter_degraded(f"publishing failed ({type(error).__name__})")
        if retry:
            logger.warning(
                "il-audit: publishing %d event(s) failed (attempt %d: %s); will retry",
                message.count,
                message.attempts,
                type(error).__name__,
            )

    def _release(self, message: OutgoingMessage) -> None:
        """Stop counting ``message`` against the pending bound (call under the condition)."""
        self.held -= message.count
        self._unhold_bytes(message)

    def _unhold_bytes(self, message: OutgoingMessage) -> None:
        if message.bytes_held:
            self.held_bytes -= message.size
            message.bytes_held = False

    def _send_due_retries(self, transport: TransportProtocol | None, now: float) -> None:
        while True:
            with self.cond:
                if not self.retry_heap or (
                    self.retry_heap[0][0] > now and not self._spooling(transport)
                ):
                    return
                _, _, message = heapq.heappop(self.retry_heap)
                # _send counts the bytes again; they stayed held while waiting.
                self._unhold_bytes(message)
            if transport is None or self._spooling(transport):
                assert self.lane is not None
                self.lane.add(message)
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
        assert self.lane is not None
        with self.cond:
            self.spooled += message.count
            # An in-flight copy keeps its bytes held until Pub/Sub answers it.
            self.held -= message.count
            if key not in self.lane.skip:
                self.in_spool[key] = message.first_seq
            self.cond.notify_all()

    def spool_refused(self, message: OutgoingMessage) -> None:
        """The spool is at its byte bound: drop and count, unless Pub/Sub may still take it."""
        with self.cond:
            if id(message) in self.inflight:
                if not self.spill_all:
                    message.spill_refused = True  # still on its way: its outcome settles it
                    return
                # Shutting down: the publish in flight is abandoned with the process.
                message.spool_key = DROPPED
            self.spool_dropped += message.count
            self.held -= message.count
            if message.spool_key is None:
                self._unhold_bytes(message)
            self.cond.notify_all()
        self._drop("spool_full", message.event_type_label, message.count)

    def drained_from_spool(self, record: SpoolRecord) -> None:
        """A spooled message was published."""
        with self.cond:
            self.drained += record.count
            self.in_spool.pop(record.key, None)
            self.cond.notify_all()

    # -------------------------------------------------------------------- flush

    def settled(self) -> int:
        """Events published (from memory or the spool), failed or dropped by a full spool."""
        return self.published + self.drained + self.failed + self.spool_dropped

    def finalized_through(self) -> int:
        """Highest sequence number up to which every event is published, failed or dropped.

        Call under the condition. Spooled events are not final until drained.
        """
        outstanding = [message.first_seq for message in self.inflight.values()]
        outstanding.extend(entry[2].first_seq for entry in self.retry_heap)
        if self.lane is not None:
            outstanding.extend(message.first_seq for message in self.lane.pending.values())
        outstanding.extend(self.in_spool.values())
        if self.open is not None:
            outstanding.append(self.open.first_seq)
        if outstanding:
            return min(outstanding) - 1
        return self.sequenced

    def close(self, timeout: float | None) -> None:
        """Close the transport and release the spool."""
        if self.transport is not None:
            self.transport.close(timeout)
        if self.lane is not None:
            self.lane.close()
