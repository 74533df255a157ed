"""The background publisher: ``emit()`` costs microseconds, one thread does the rest.

On the caller's thread an event is a timestamp, an id and a tuple appended to
a bounded deque; nothing there blocks or raises. The publisher's daemon thread
builds and validates envelopes, packs them into NDJSON messages, hands those
to the transport and retries what fails transiently. Everything accepted and
not yet published counts against ``write_queue_max_size``, so an outage
cannot grow memory without bound: once full, new events are dropped, counted,
logged at a bounded rate and reported to ``on_drop``.
"""

from __future__ import annotations

import heapq
import logging
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from time import time_ns as _time_ns
from typing import Any, NamedTuple

from il_audit._ratelimit import RateLimitedLog
from il_audit.config.settings import AuditSettings, Transport, get_audit_settings
from il_audit.publisher import _lifecycle
from il_audit.publisher._batch import OutgoingMessage
from il_audit.publisher._encode import Captured, ContextDefaults, encode
from il_audit.publisher._ids import new_event_id
from il_audit.publisher._transports.base import PublishFuture
from il_audit.publisher._transports.base import Transport as TransportProtocol
from il_audit.publisher._transports.factory import transport_factory
from il_audit.publisher.context import AuditContext, _current
from il_audit.publisher.errors import (
    InvalidEventError,
    PublisherError,
    PublishFailedError,
    QueueFullError,
    TransportUnavailableError,
)
from il_audit.retrying import backoff_seconds, is_retryable
from il_audit.schemas import taxonomy

logger = logging.getLogger(__name__)

ErrorCallback = Callable[[PublisherError], None]
DropCallback = Callable[[str, str], None]
"""``on_drop(reason, event_type)``; reason is ``queue_full`` or ``shut_down``."""

_DRAIN_PER_STEP = 2000
_LOG_INTERVAL_SECONDS = 10.0
_MAX_INFLIGHT_BYTES = 64 * 1024 * 1024


class PublisherStats(NamedTuple):
    """Counters since the publisher started (per process: a forked child starts at zero)."""

    accepted: int
    """Events taken by ``emit()``."""
    published: int
    """Events the transport confirmed."""
    dropped: int
    """Events refused by ``emit()`` (queue full, or after shutdown)."""
    failed: int
    """Events given up on after a permanent transport error."""
    invalid: int
    """Events that failed validation here (published anyway, for dead-lettering)."""
    pending: int
    """Events accepted and not yet published or failed."""
    retries: int
    """Message publish attempts that were retried."""


class AuditPublisher:
    """A publisher with its own queue, thread and transport.

    Most apps use the module-level ``emit()``, which forwards to a default
    instance built from the environment; create one yourself to inject a
    transport or callbacks (tests, several topics in one process).
    """

    def __init__(
        self,
        settings: AuditSettings | None = None,
        *,
        transport: TransportProtocol | None = None,
        on_error: ErrorCallback | None = None,
        on_drop: DropCallback | None = None,
        strict: bool | None = None,
    ) -> None:
        self.settings = settings if settings is not None else get_audit_settings()
        self.strict = self.settings.strict if strict is None else strict
        self.on_error = on_error
        self.on_drop = on_drop
        self._transport_spec = transport
        # Imports happen here, on the constructing thread (see _transports.factory).
        self._transport_factory = transport_factory(self.settings)
        resolved = self.settings.resolved_transport
        self.transport_kind = "custom" if transport is not None else resolved.value
        self._off = transport is None and resolved is Transport.OFF
        self._max_pending = self.settings.write_queue_max_size
        self._max_events = self.settings.max_events_per_message
        self._max_bytes = self.settings.max_message_bytes
        self._linger = self.settings.max_latency_seconds
        self._defaults = ContextDefaults(self.settings.app, self.settings.environment)
        taxonomy.register_many(self.settings.extra_event_types)
        self._reset_state()
        _lifecycle.track(self)
        _lifecycle.install_multiprocessing_hook(self)
        os.register_at_fork(after_in_child=_after_fork_in_child_hook(weakref.ref(self)))

    # ------------------------------------------------------------------ state

    def _reset_state(self) -> None:
        """Fresh queue, locks and counters: at construction and in a forked child."""
        self._queue: deque[Captured] = deque()
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._wake = threading.Event()
        self._start_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._running = False
        self._plain = False  # True: submit() may take its hot path (see _start)
        self._stopping = False
        self._closed = False
        self._idle = False
        self._transport: TransportProtocol | None = None
        self._transport_retry_at = 0.0
        self._transport_failures = 0
        # Worker-side bookkeeping; changed under self._lock where other threads read it.
        self._held = 0
        self._held_bytes = 0
        self._dequeued = 0  # events given a sequence number (placed in a message)
        self._claimed = 0  # events taken off the queue (>= _dequeued)
        self._open: OutgoingMessage | None = None
        self._inflight: dict[int, OutgoingMessage] = {}
        self._retry_heap: list[tuple[float, int, OutgoingMessage]] = []
        self._flush_waiters = 0
        self._published = 0
        self._failed = 0
        self._invalid = 0
        self._retries = 0
        self._dropped = 0
        self._failed_seen_by_flush = 0
        self._drop_log = RateLimitedLog(logger, _LOG_INTERVAL_SECONDS)
        self._invalid_log = RateLimitedLog(logger, _LOG_INTERVAL_SECONDS)

    def _after_fork_in_child(self) -> None:
        # The parent keeps publishing what it had queued; the child's copy of the
        # queue would duplicate it, and its copy of the transport (gRPC channel,
        # threads) is unusable. Keep the old transport referenced so that its
        # finalizers never run in this process.
        if self._transport is not None:
            _lifecycle.abandon(self._transport)
        self._reset_state()
        _lifecycle.track(self)

    # ------------------------------------------------------------ caller side

    def emit(
        self, event_type: str, *, context: AuditContext | None = None, **fields: Any
    ) -> str | None:
        """Queue one event; returns its ``event_id`` (``None`` when auditing is off).

        Never raises unless the publisher is strict. Keywords that are not
        envelope fields go into ``payload``.
        """
        return self.submit(event_type, context, fields)

    def submit(
        self, event_type: str, context: AuditContext | None, fields: dict[str, Any]
    ) -> str | None:
        """:meth:`emit` with ``fields`` as a dict that the publisher may keep (not copied)."""
        if not self._plain:
            return self._submit_slow(event_type, context, fields)
        # The hot path: one flag says "running, enabled, not strict, not closed".
        now = _time_ns()
        event_id = fields.pop("event_id", None) or new_event_id(now)
        if context is None:
            context = _current.get()
        queue = self._queue
        if len(queue) + self._held >= self._max_pending:
            self._drop("queue_full", event_type)
            return event_id
        queue.append((event_id, now, event_type, context, fields))
        if self._idle:
            self._wake.set()
        return event_id

    def _submit_slow(
        self, event_type: str, context: AuditContext | None, fields: dict[str, Any]
    ) -> str | None:
        """Everything the hot path leaves out: off, not started yet, strict, shut down."""
        if self._off:
            return None
        if not self._running and not self._closed:
            self._start()  # sets _plain unless strict
            if self._plain:
                return self.submit(event_type, context, fields)
        now = _time_ns()
        event_id = fields.pop("event_id", None) or new_event_id(now)
        if context is None:
            context = _current.get()
        if self.strict:
            self._check_strict(event_id, now, event_type, context, fields)
        if self._closed:
            self._drop("shut_down", event_type)
            return event_id
        queue = self._queue
        if len(queue) + self._held >= self._max_pending:
            self._drop("queue_full", event_type)
            return event_id
        queue.append((event_id, now, event_type, context, fields))
        if self._idle:
            self._wake.set()
        return event_id

    def _check_strict(
        self,
        event_id: str,
        now: int,
        event_type: str,
        context: AuditContext | None,
        fields: dict[str, Any],
    ) -> None:
        encoded = encode((event_id, now, event_type, context, fields), self._defaults)
        if encoded.problem is not None:
            raise InvalidEventError(encoded.problem, event_id=event_id, event_type=event_type)
        if len(self._queue) + self._held >= self._max_pending:
            raise QueueFullError(f"audit queue full ({self._max_pending} events pending)")

    def _drop(self, reason: str, event_type: str) -> None:
        with self._lock:
            self._dropped += 1
            total = self._dropped
        self._drop_log.warning(
            "il-audit dropped an event (%s; %d pending, limit %d); %d dropped in total",
            reason,
            self._held + len(self._queue),
            self._max_pending,
            total,
        )
        if self.on_drop is not None:
            try:
                self.on_drop(reason, event_type)
            except Exception:
                logger.warning("il-audit on_drop callback raised", exc_info=True)
        if self.strict and reason == "shut_down":
            raise QueueFullError("the audit publisher is shut down")

    def _start(self) -> None:
        with self._start_lock:
            if self._running or self._closed:
                return
            thread = threading.Thread(target=self._run, name="il-audit-publisher", daemon=True)
            self._thread = thread
            self._running = True
            thread.start()
            self._plain = not (self._off or self.strict or self._closed)

    # ------------------------------------------------------------ worker side

    def _run(self) -> None:
        while True:
            try:
                if self._step():
                    return
            except Exception:  # the loop must survive anything, or events pile up unseen
                logger.exception("il-audit publisher loop error; continuing")
                time.sleep(0.05)

    def _step(self) -> bool:
        """One round of work; returns True when a shutdown has completed."""
        now = time.monotonic()
        transport = self._transport or self._open_transport(now)
        blocked = False
        if transport is not None:
            self._send_due_retries(transport, now)
            blocked = self._drain(transport)
            message = self._open
            if message is not None and (
                self._flush_waiters or self._stopping or now - message.opened_at >= self._linger
            ):
                self._send(transport, message)
        if self._stopping and not self._queue and self._held == 0:
            return True
        timeout = self._next_deadline(now, transport)
        self._idle = True
        self._wake.clear()
        if blocked or not self._queue:
            self._wake.wait(timeout)
        self._idle = False
        return False

    def _next_deadline(self, now: float, transport: TransportProtocol | None) -> float | None:
        deadlines = []
        if transport is None:
            deadlines.append(self._transport_retry_at)
        if self._open is not None:
            deadlines.append(self._open.opened_at + self._linger)
        if self._retry_heap:
            deadlines.append(self._retry_heap[0][0])
        if not deadlines:
            return None
        return max(0.0, min(deadlines) - now)

    def _open_transport(self, now: float) -> TransportProtocol | None:
        if now < self._transport_retry_at:
            return None
        try:
            self._transport = self._make_transport()
            self._transport_failures = 0
            return self._transport
        except Exception as exc:
            self._transport_failures += 1
            delay = backoff_seconds(
                self._transport_failures,
                self.settings.retry_initial_seconds,
                self.settings.retry_max_seconds,
            )
            self._transport_retry_at = now + delay
            error = TransportUnavailableError(
                f"cannot create the {self.transport_kind} transport: {exc}; "
                f"retrying in {delay:.1f}s, events stay queued"
            )
            error.__cause__ = exc
            logger.error("il-audit: %s", error)
            self._report(error)
            return None

    def _make_transport(self) -> TransportProtocol:
        if self._transport_spec is not None:
            return self._transport_spec
        return self._transport_factory()

    def _drain(self, transport: TransportProtocol) -> bool:
        """Encode queued events into messages; True when in-flight bytes are at their cap."""
        queue = self._queue
        count = min(len(queue), _DRAIN_PER_STEP)
        if not count:
            return False
        if self._held_bytes >= _MAX_INFLIGHT_BYTES:
            return True
        # Count as held first, then pop at once: for these few microseconds the
        # caller's bound (queue + held) counts the events twice, so it can drop
        # early but never let the pending total exceed the limit.
        with self._lock:
            self._held += count
            self._claimed += count
            batch = [queue.popleft() for _ in range(count)]
        for captured in batch:
            encoded = encode(captured, self._defaults)
            if encoded.problem is not None:
                self._invalid += 1
                self._invalid_log.warning(
                    "il-audit: invalid event %s (%s), published for dead-lettering: %s",
                    encoded.event_id,
                    encoded.event_type,
                    encoded.problem,
                )
                self._report(
                    InvalidEventError(
                        encoded.problem, event_id=encoded.event_id, event_type=encoded.event_type
                    )
                )
            seq = self._dequeued + 1
            message = self._open
            if message is not None and not message.fits(
                encoded.line, self._max_events, self._max_bytes
            ):
                self._send(transport, message)
                message = None
            if message is None:
                message = self._open = OutgoingMessage(seq)
            message.add(encoded.line, seq, encoded.app, encoded.event_type)
            self._dequeued = seq
            if message.count >= self._max_events or message.size >= self._max_bytes:
                self._send(transport, message)
        return False

    def _send(self, transport: TransportProtocol, message: OutgoingMessage) -> None:
        with self._lock:
            if self._open is message:
                self._open = None
            self._inflight[id(message)] = message
            self._held_bytes += message.size
        message.attempts += 1
        try:
            future = transport.publish(message.data(), message.attributes())
        except Exception as exc:
            self._completed(message, None, exc)
            return
        future.add_done_callback(lambda done: self._completed(message, done, None))

    def _completed(
        self,
        message: OutgoingMessage,
        future: PublishFuture | None,
        raised: BaseException | None,
    ) -> None:
        """Runs on the transport's thread when a publish attempt finishes."""
        error = raised
        if error is None and future is not None:
            error = future.exception()
        retry = error is not None and is_retryable(error)
        if error is not None and not retry:
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
            if error is None:
                self._published += message.count
            elif retry:
                self._retries += 1
                delay = backoff_seconds(
                    message.attempts,
                    self.settings.retry_initial_seconds,
                    self.settings.retry_max_seconds,
                )
                message.retry_at = time.monotonic() + delay
                heapq.heappush(self._retry_heap, (message.retry_at, id(message), message))
            else:
                self._failed += message.count
            if not retry:
                self._held -= message.count
                self._held_bytes -= message.size
            self._cond.notify_all()
        if self._idle:
            self._wake.set()  # the worker may be waiting for in-flight bytes to drain
        if retry:
            logger.warning(
                "il-audit: publishing %d event(s) failed (attempt %d: %s); will retry",
                message.count,
                message.attempts,
                type(error).__name__,
            )

    def _send_due_retries(self, transport: TransportProtocol, now: float) -> None:
        while True:
            with self._lock:
                if not self._retry_heap or self._retry_heap[0][0] > now:
                    return
                _, _, message = heapq.heappop(self._retry_heap)
                # _send counts the bytes again; they stayed held while waiting.
                self._held_bytes -= message.size
            self._send(transport, message)

    def _report(self, error: PublisherError) -> None:
        if self.on_error is None:
            return
        try:
            self.on_error(error)
        except Exception:
            logger.warning("il-audit on_error callback raised", exc_info=True)

    # --------------------------------------------------------------- control

    def _finalized_through(self) -> int:
        """Highest sequence number up to which every event is published or failed."""
        outstanding = [message.first_seq for message in self._inflight.values()]
        outstanding.extend(entry[2].first_seq for entry in self._retry_heap)
        if self._open is not None:
            outstanding.append(self._open.first_seq)
        if outstanding:
            return min(outstanding) - 1
        return self._dequeued

    def flush(self, timeout: float | None = None) -> bool:
        """Publish everything accepted so far, waiting at most ``timeout`` seconds.

        Returns True when all of it was published and no event failed
        permanently since the previous flush; False on timeout or failure
        (events not yet published stay queued and keep being retried).
        """
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        with self._cond:
            # Same lock as the worker's pop, so no event is between the two counts.
            target = self._claimed + len(self._queue)
            self._flush_waiters += 1
        try:
            if target > self._dequeued or self._open is not None:
                if not self._running:
                    self._start()
                self._wake.set()
            with self._cond:
                while self._finalized_through() < target:
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        return False
                    if self._closed and not (self._thread and self._thread.is_alive()):
                        return False  # nobody is left to publish the rest
                    # Wake-ups come from completions; the cap covers a sleeping worker.
                    self._cond.wait(0.05 if remaining is None else min(remaining, 0.05))
                    self._wake.set()
                failed = self._failed
                ok = failed == self._failed_seen_by_flush
                self._failed_seen_by_flush = failed
                return ok
        finally:
            with self._cond:
                self._flush_waiters -= 1

    def shutdown(self, timeout: float | None = None) -> bool:
        """Flush with a deadline, stop the thread and close the transport.

        Events emitted afterwards are dropped (and counted). Returns what the
        flush returned. Safe to call more than once.
        """
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        ok = self.flush(timeout)
        self._closed = True
        self._plain = False
        self._stopping = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            thread.join(remaining)
        if self._transport is not None:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            self._transport.close(remaining)
        _lifecycle.untrack(self)
        return ok

    def stats(self) -> PublisherStats:
        """A consistent snapshot of the counters."""
        with self._lock:
            queued = len(self._queue)
            return PublisherStats(
                accepted=self._claimed + queued,
                published=self._published,
                dropped=self._dropped,
                failed=self._failed,
                invalid=self._invalid,
                pending=queued + self._held,
                retries=self._retries,
            )

    @property
    def transport(self) -> TransportProtocol | None:
        """The transport in use, once the background thread has created it."""
        return self._transport


def _after_fork_in_child_hook(ref: weakref.ref[AuditPublisher]) -> Callable[[], None]:
    def hook() -> None:
        publisher = ref()
        if publisher is not None:
            publisher._after_fork_in_child()

    return hook
