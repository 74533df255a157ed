"""The background publisher: ``emit()`` costs microseconds, one thread does the rest.

This module is the caller's side. On the caller's thread an event is a
timestamp and an id filed in the call's own keywords dict, appended to a
bounded deque; nothing there blocks or raises. The publisher's daemon thread
runs the :class:`~il_audit.publisher._outbox.Outbox`,
which builds and validates envelopes, packs them into NDJSON messages, hands
those to the transport, retries what fails transiently and, with a spool,
writes what cannot be published to disk. Everything accepted and held in
memory counts against ``write_queue_max_size``, so an outage cannot grow
memory without bound: once full, new events are dropped, counted, logged at a
bounded rate and reported to ``on_drop``.
"""

from __future__ import annotations

import itertools
import logging
import os
import secrets
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from il_audit.config.settings import AuditSettings, Transport, get_audit_settings
from il_audit.publisher import _lifecycle
from il_audit.publisher._capture import capture, queue_form, queued_form
from il_audit.publisher._drops import DropTally
from il_audit.publisher._encode import ContextDefaults, encode
from il_audit.publisher._heartbeat import HEARTBEAT, Heartbeat
from il_audit.publisher._outbox import Outbox
from il_audit.publisher._transports.base import Transport as TransportProtocol
from il_audit.publisher._transports.factory import transport_factory
from il_audit.publisher.context import AuditContext
from il_audit.publisher.errors import InvalidEventError, PublisherError, QueueFullError
from il_audit.schemas import taxonomy

logger = logging.getLogger(__name__)

ErrorCallback = Callable[[PublisherError], None]
DropCallback = Callable[[str, str], None]
"""``on_drop(reason, event_type)``; reason is ``queue_full``, ``shut_down`` or ``spool_full``."""

_LOG_INTERVAL_SECONDS = 10.0
_SPILL_RESERVE_SECONDS = 1.0
_ABANDON_JOIN_SECONDS = 0.5
_NO_DROPS: Mapping[str, int] = MappingProxyType({})

_last_error: tuple[float, str] | None = None


def last_publish_error() -> tuple[float, str] | None:
    """The last publish error any publisher in this process met: (epoch seconds, message).

    A refused message or a transport that could not be created; invalid events are not
    publish errors. None when there was none. ``il_audit.doctor()`` reports it.
    """
    return _last_error


class PublisherStats(NamedTuple):
    """Counters since the publisher started (per process: a forked child starts at zero)."""

    accepted: int
    """Events taken by ``emit()``."""
    published: int
    """Events the transport confirmed."""
    dropped: int
    """Events lost on purpose and counted: queue full (events or encoded bytes), after
    shutdown, or spool full."""
    failed: int
    """Events given up on after a permanent transport error."""
    invalid: int
    """Events that failed validation here (published anyway, for dead-lettering)."""
    pending: int
    """Events accepted and held in memory, not yet published, failed or spooled."""
    retries: int
    """Message publish attempts that were retried."""
    spooled: int = 0
    """Events written to the disk spool (they survive a crash)."""
    drained: int = 0
    """Events published from the disk spool (this process's and adopted ones)."""
    spool_corrupt: int = 0
    """Spool records skipped because they were torn or corrupt (counted, never fatal)."""
    dropped_by_reason: Mapping[str, int] = _NO_DROPS
    """``dropped`` per reason: ``queue_full``, ``queue_bytes_full``, ``shut_down`` or
    ``spool_full``."""


class FlushResult(int):
    """What a flush did: an ``int``, the events settled while it waited, and ``complete``.

    The number counts events published (or given up on and counted as failed
    or dropped) during the call, whoever emitted them; 0 with nothing pending
    is success. ``complete`` says whether everything accepted before the call
    is published and nothing failed or was dropped since the previous flush;
    ``dropped`` is how many were dropped since then. The number's value is
    0.1.3's; its truth value is False when the flush is not complete, so a
    flush after drops never reads as success (0 is False, as 0.1.3's was).
    """

    complete: bool
    dropped: int

    def __new__(cls, settled: int, *, complete: bool, dropped: int = 0) -> FlushResult:
        """A result of ``settled`` events; ``complete`` and ``dropped`` as described above."""
        result = super().__new__(cls, max(0, settled))
        result.complete = complete
        result.dropped = dropped
        return result

    def __bool__(self) -> bool:
        return self.complete and int(self) != 0

    def __repr__(self) -> str:
        return f"FlushResult({int(self)}, complete={self.complete}, dropped={self.dropped})"


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
        if settings is None:
            # Strict mode refuses bad settings outright; apps fall back to defaults.
            settings = AuditSettings.from_env() if strict else get_audit_settings()
        self.settings = settings
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
        self._defaults = ContextDefaults.from_settings(self.settings)
        taxonomy.register_many(self.settings.extra_event_types)
        self._reset_state()
        _lifecycle.track(self)
        _lifecycle.install_multiprocessing_hook(self)
        os.register_at_fork(after_in_child=_after_fork_in_child_hook(weakref.ref(self)))

    # ------------------------------------------------------------------ state

    def _reset_state(self) -> None:
        """Fresh flags, counters and outbox: at construction and in a forked child."""
        self._lock = threading.Lock()  # the failure counter flush has seen
        self._start_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._running = False
        self._plain = False  # True: submit() may take its hot path (see _start)
        self._closed = False
        self._drops = DropTally(logger, _LOG_INTERVAL_SECONDS)
        self._failed_seen_by_flush = 0
        # Completeness (docs/completeness.md): a new instance id and numbering per process
        # (this runs again in a forked child); next() on a count is atomic under the GIL.
        self.instance_id = secrets.token_hex(16)
        self._next_sequence = itertools.count(1).__next__
        self._heartbeat = Heartbeat(self.settings.heartbeat_seconds, time.monotonic())
        self._outbox = Outbox(
            self.settings,
            make_transport=self._make_transport,
            transport_kind=self.transport_kind,
            report=self._report,
            drop=self._drop,
            instance_id=self.instance_id,
            tick=self._tick if self._heartbeat.due_at is not None else None,
        )
        self._offer = self._outbox.offer

    def _after_fork_in_child(self) -> None:
        # The parent keeps publishing what it had queued; the child's copy of the
        # queue would duplicate it, and its copies of the transport and the spool
        # files are not its own.
        self._outbox.forget_after_fork()
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
        event_id = queue_form(event_type, context, fields, self._next_sequence())
        if not self._offer(fields):
            self._drop("queue_full", event_type)
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
        captured = capture(event_type, context, fields)
        full = self._outbox.pending() >= self._max_pending
        if self.strict:
            encoded = encode(captured, self._defaults, full=True)
            if encoded.problem is not None:
                raise InvalidEventError(
                    encoded.problem, event_id=captured[0], event_type=event_type
                )
            if full and not self._closed:
                raise QueueFullError(f"audit queue full ({self._max_pending} events pending)")
        # Numbered here, after strict mode's refusals: every number is accepted or dropped.
        sequence = self._next_sequence()
        if self._closed:
            self._drop("shut_down", event_type)
            if self.strict:
                raise PublisherError("the audit publisher is shut down")
        elif not self._outbox.offer(queued_form(captured, sequence)):
            self._drop("queue_full", event_type)
        return captured[0]

    def _drop(self, reason: str, event_type: str, count: int = 1) -> None:
        bytes_bound = reason == "queue_bytes_full"
        limit = (
            f"{self.settings.write_queue_max_bytes} encoded bytes (IL_AUDIT_WRITE_QUEUE_MAX_BYTES)"
            if bytes_bound
            else f"{self._max_pending} events"
        )
        self._drops.add(reason, count, f"{reason}; {self._outbox.pending()} pending, limit {limit}")
        if self.on_drop is not None:
            try:
                for _ in range(count):  # once per event, whatever dropped it
                    self.on_drop(reason, event_type)
            except Exception:
                logger.warning("il-audit on_drop callback raised", exc_info=True)

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
        outbox = self._outbox
        while True:
            try:
                if outbox.step():
                    return
            except Exception:  # the loop must survive anything, or events pile up unseen
                logger.exception("il-audit publisher loop error; continuing")
                time.sleep(0.05)

    def _tick(self, now: float) -> float | None:
        """The worker's heartbeat check, each round; returns when the next one is due."""
        if self._heartbeat.is_due(now):
            self._beat(final=False)
        return self._heartbeat.due_at

    def _beat(self, *, final: bool) -> None:
        """Queue a heartbeat at the front, numbered after everything counted in it."""
        payload = self._heartbeat.payload(self.stats(), final=final)
        if payload is None:
            return
        sequence = self._next_sequence()
        payload["last_sequence"] = sequence
        queue_form(HEARTBEAT, None, payload, sequence)
        self._outbox.offer_first(payload)

    def _make_transport(self) -> TransportProtocol:
        if self._transport_spec is not None:
            return self._transport_spec
        return self._transport_factory()

    def _report(self, error: PublisherError) -> None:
        global _last_error
        if not isinstance(error, InvalidEventError):
            _last_error = (time.time(), str(error))
        if self.on_error is None:
            return
        try:
            self.on_error(error)
        except Exception:
            logger.warning("il-audit on_error callback raised", exc_info=True)

    # --------------------------------------------------------------- control

    def flush(self, timeout: float | None = None) -> FlushResult:
        """Publish everything accepted so far, waiting at most ``timeout`` seconds.

        Returns a :class:`FlushResult`: an ``int``, the events settled
        (published, or given up on and counted) while it waited, as 0.1.3's
        ``flush_audit_writer`` returned the rows it wrote; 0 with nothing
        pending is success. Its ``complete`` is True when everything accepted
        before the call is published and no event failed permanently (or was
        dropped by a full spool) since the previous flush; False on timeout or
        failure. Events not yet published stay queued or spooled and keep
        being retried.
        """
        outbox = self._outbox
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        ticket = outbox.begin_flush()
        try:
            if ticket.needs_worker:
                if not self._running:
                    self._start()
                outbox.wake_up()
            reached = outbox.wait_finalized(
                ticket.target, deadline, self._nobody_left, ticket.prepended
            )
            counts = outbox.snapshot()
        finally:
            outbox.end_flush()
        settled = counts.settled - ticket.settled_before
        drops_total, dropped = self._drops.since_flush()
        if not reached:
            return FlushResult(settled, complete=False, dropped=dropped)
        with self._lock:
            ok = counts.lost == self._failed_seen_by_flush and dropped == 0
            self._failed_seen_by_flush = counts.lost
        self._drops.mark_flushed(drops_total)
        return FlushResult(settled, complete=ok, dropped=dropped)

    def _nobody_left(self) -> bool:
        """Shut down, and the thread that would publish the rest has ended."""
        return self._closed and not (self._thread and self._thread.is_alive())

    def shutdown(self, timeout: float | None = None) -> bool:
        """Flush with a deadline, stop the thread and close the transport.

        With a spool, whatever the flush could not publish (an outage) is
        written to the spool before the thread stops, and the next process on
        the same spool directory publishes it; while the outbox is already
        degraded the flush is not waited for. Events emitted afterwards are
        dropped (and counted). With heartbeats on, a publisher that emitted
        anything first queues its final heartbeat (not with ``timeout=0``). When
        events were dropped, one warning line names them by reason and the fixes.
        Returns the flush's ``complete``: True when everything was published and
        nothing dropped. Safe to call more than once.
        """
        outbox = self._outbox
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        flush_timeout = timeout
        if outbox.spool is not None:
            # Keep time to write what the flush could not publish to the spool; and while
            # Pub/Sub is known to be unreachable, do not wait for it at all.
            reserve = _SPILL_RESERVE_SECONDS if timeout is None else min(1.0, timeout / 2)
            flush_timeout = (
                0.0
                if outbox.degraded
                else (None if timeout is None else max(0.0, timeout - reserve))
            )
        # The instance's last word, ahead of what is still queued (shutdown(0) waits for none).
        if self._running and not self._closed and self._heartbeat.interval > 0 and timeout != 0:
            self._beat(final=True)
        ok = self.flush(flush_timeout).complete
        self._closed = True
        self._plain = False
        outbox.request_stop(spill=not ok)
        thread = self._thread
        finished = True
        if thread is not None and thread is not threading.current_thread():
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            thread.join(remaining)
            if thread.is_alive():
                # The deadline passed with work left (an outage without a spool): stop the
                # thread anyway; what it held stays counted as pending.
                outbox.abandon()
                thread.join(_ABANDON_JOIN_SECONDS)
            finished = not thread.is_alive()
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        outbox.close(remaining if finished else 0.0, release_spool=finished)
        _lifecycle.untrack(self)
        summary = self._drops.summary(self._max_pending)  # the exit hook's path too
        if summary is not None:
            logger.warning("%s", summary)
        return ok

    def stats(self) -> PublisherStats:
        """A consistent snapshot of the counters."""
        counts = self._outbox.snapshot()
        by_reason = self._drops.by_reason()
        return PublisherStats(
            accepted=counts.accepted,
            published=counts.published,
            dropped=sum(by_reason.values()),
            failed=counts.failed,
            invalid=counts.invalid,
            pending=counts.pending,
            retries=counts.retries,
            spooled=counts.spooled,
            drained=counts.drained,
            spool_corrupt=counts.spool_corrupt,
            dropped_by_reason=by_reason,
        )

    @property
    def shutdown_timeout_seconds(self) -> float:
        """How long the exit hook may flush it (``IL_AUDIT_SHUTDOWN_TIMEOUT_SECONDS``)."""
        return self.settings.shutdown_timeout_seconds

    @property
    def transport(self) -> TransportProtocol | None:
        """The transport in use, once the background thread has created it."""
        return self._outbox.transport


def _after_fork_in_child_hook(ref: weakref.ref[AuditPublisher]) -> Callable[[], None]:
    def hook() -> None:
        publisher = ref()
        if publisher is not None:
            publisher._after_fork_in_child()

    return hook
