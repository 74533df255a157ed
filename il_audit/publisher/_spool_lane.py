"""The outbox's way to disk: when to spool, writing it, probing Pub/Sub, draining it back.

With ``IL_AUDIT_SPOOL_DIR`` the outbox turns *degraded* when publishing fails,
when the transport cannot be created, or when a message stays unanswered for
``STALL_SECONDS``; from then on every sealed message, retry and in-flight
message is written to the spool, so at most about ``max_latency_ms`` of
events is only in memory. One spooled message at a time probes the
transport; when a probe succeeds the spool drains in order, a few records in
flight at once. Runs on the publisher's thread only; the outbox keeps the
accounting (``held``, the counters) and this lane calls back into it through
the small :class:`SpoolOwner` protocol.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Iterable
from typing import Final, Protocol

from il_audit._ratelimit import RateLimitedLog
from il_audit.publisher._batch import OutgoingMessage
from il_audit.publisher._spool import Spool
from il_audit.publisher._spool_records import RecordKey, SpoolRecord
from il_audit.publisher._transports.base import PublishFuture
from il_audit.publisher._transports.base import Transport as TransportProtocol
from il_audit.retrying import backoff_seconds, is_retryable

logger = logging.getLogger(__name__)

STALL_SECONDS: Final = 3.0
"""An unanswered message this old means Pub/Sub is unreachable (the client retries for 20 s)."""
SPOOL_INFLIGHT: Final = 4
"""Spooled messages published at once while draining."""
ADOPT_INTERVAL_SECONDS: Final = 30.0
DROPPED: Final = RecordKey("", -1, -1)
"""The spool key of an in-flight message dropped at shutdown (its late outcome changes nothing)."""


class SpoolOwner(Protocol):
    """What the lane needs of the outbox it serves: how it sends, and where to account."""

    compress: bool
    transport_kind: str

    def written(self, message: OutgoingMessage) -> None:
        """``message`` reached the spool file."""
        ...

    def spool_refused(self, message: OutgoingMessage) -> None:
        """The spool is full: ``message`` could not be written."""
        ...

    def drained_from_spool(self, record: SpoolRecord) -> None:
        """A spooled message was published."""
        ...

    def completed(self, item: OutgoingMessage | SpoolRecord, future: PublishFuture) -> None:
        """Runs on the transport's thread: a publish finished."""
        ...


class SpoolLane:
    """Spool state and decisions for one outbox."""

    def __init__(
        self,
        owner: SpoolOwner,
        spool: Spool,
        *,
        retry_initial_seconds: float,
        retry_max_seconds: float,
    ) -> None:
        self.owner = owner
        self.spool = spool
        self._retry_initial = retry_initial_seconds
        self._retry_max = retry_max_seconds
        self.degraded = False
        self.pending: dict[int, OutgoingMessage] = {}  # to be written, by id(), in order
        self.skip: set[RecordKey] = set()  # spooled copies already published from memory
        self._inflight: dict[RecordKey, SpoolRecord] = {}
        self._probe_at = 0.0
        self._probe_failures = 0
        self._adopt_at = 0.0
        self._refused_log = RateLimitedLog(logger, 10.0)

    # -------------------------------------------------------------- deciding

    def enter_degraded(self, why: str) -> None:
        """Pub/Sub looks unreachable: spool from now on, and probe after a first backoff."""
        if self.degraded:
            return
        self.degraded = True
        self._probe_failures = 0
        self._probe_at = time.monotonic() + self._retry_initial
        logger.warning("il-audit: %s; spooling to %s until Pub/Sub answers", why, self.spool.root)

    def healthy(self) -> None:
        """Pub/Sub answered."""
        self.degraded = False
        self._probe_failures = 0

    def watch_for_stalls(self, now: float, inflight: Iterable[OutgoingMessage]) -> None:
        """Degrade when a message has waited ``STALL_SECONDS`` for an answer."""
        if self.degraded:
            return
        sent = [message.sent_at for message in inflight]
        if sent and now - min(sent) >= STALL_SECONDS:
            self.enter_degraded(f"a message has waited {now - min(sent):.0f}s for Pub/Sub")

    def adopt_if_due(self, now: float) -> None:
        """Take over the spools of processes that have gone (at start, then every 30 s)."""
        if now >= self._adopt_at:
            self._adopt_at = now + ADOPT_INTERVAL_SECONDS
            self.spool.adopt()

    # --------------------------------------------------------------- writing

    def add(self, message: OutgoingMessage) -> None:
        """Queue ``message`` to be written (once, however often it is added)."""
        if message.spool_key is None:
            self.pending.setdefault(id(message), message)

    def spill(self, inflight: Iterable[OutgoingMessage], *, final: bool = False) -> None:
        """Copy unanswered messages to the spool, so memory no longer holds the only copy.

        A message the full spool refused is not offered again until ``final`` (the
        shutdown), when a refusal drops and counts it.
        """
        for message in inflight:
            if final or not message.spill_refused:
                self.add(message)

    def write_pending(self) -> None:
        """Append every queued message; tell the outbox what was written or refused."""
        if not self.pending:
            return
        pending, self.pending = self.pending, {}
        for message in pending.values():
            if message.spool_key is not None:
                continue
            key = self.spool.append(message.data(self.owner.compress), message.attributes())
            if key is None:
                self.owner.spool_refused(message)
            else:
                message.spool_key = key
                self.owner.written(message)

    def sync(self) -> None:
        """Make this round's writes durable (one fsync for the group)."""
        if self.spool.unsynced:
            self.spool.sync()

    # -------------------------------------------------------------- draining

    def drain(self, transport: TransportProtocol, now: float, *, allowed: bool) -> None:
        """Publish spooled messages: a probe while degraded, a few at once when healthy."""
        if not allowed:
            return
        if self.degraded:
            if self._inflight or now < self._probe_at:
                return
            limit = 1  # a probe
        else:
            limit = SPOOL_INFLIGHT
        while len(self._inflight) < limit:
            record = self.spool.next_record()
            if record is None:
                if self.degraded and not self._inflight:
                    self.degraded = False  # nothing to probe with: try the next message live
                return
            if record.key in self.skip:
                self.skip.discard(record.key)
                self.spool.confirm(record.key)
                continue
            self._inflight[record.key] = record
            try:
                future = transport.publish(record.data, record.attributes)
            except Exception as exc:  # noqa: BLE001 - settled as that publish's outcome
                self.settle(record, exc)
                return
            future.add_done_callback(functools.partial(self.owner.completed, record))

    def settle(self, record: SpoolRecord, error: BaseException | None) -> None:
        """The outcome of publishing a spooled message."""
        if self._inflight.pop(record.key, None) is None:
            return  # rewound after an earlier failure: it will be read again
        if error is None:
            self.spool.confirm(record.key)
            self.owner.drained_from_spool(record)
            self.healthy()
            return
        if not is_retryable(error):
            # Refused for good (e.g. the topic is gone): it stays spooled and is retried
            # like an outage, never silently dropped.
            self._refused_log.log(
                logging.ERROR,
                "il-audit: a spooled message was refused by %s (%s); it stays spooled",
                self.owner.transport_kind,
                error,
            )
        self._inflight.clear()
        self.spool.rewind()
        self.enter_degraded(f"publishing from the spool failed ({type(error).__name__})")
        self._probe_failures += 1
        self._probe_at = time.monotonic() + backoff_seconds(
            self._probe_failures,
            self._retry_initial,
            self._retry_max,
        )

    def close(self) -> None:
        """Release the spool's files and locks."""
        self.spool.close()
