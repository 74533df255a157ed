"""The streaming-pull worker: the pipeline behind ``SubscriberClient.subscribe``, in batches.

The client's callbacks only enqueue; one flusher thread closes a batch when
it holds ``max_batch_rows`` events or ``max_batch_seconds`` after its first
message, whichever comes first, and hands it to
:meth:`~il_audit.subscriber_fn.pipeline.Pipeline.handle_batch`: one events
write for every message of the batch. A message is acked only after that
returned (its rows written, its rejects dead-lettered); on a
:class:`~il_audit.subscriber_fn.errors.TransientError` every message of the
batch is nacked and comes back, and keyed writes make the repetition
invisible in ``events_deduped``.

Any other error (a bug some message triggers) never fails the batch: the
batch is bisected, each half written on its own, until the messages that
fail alone are found; each of those is dead-lettered whole as
``internal_error`` and acked, and everything else is written and acked.
Bisecting costs about ``2 log2(n)`` writes for one culprit among ``n``
messages, where retrying one message at a time would cost ``n``.

Flow control keeps about two batches leased: the client stops pulling past
``2 * max_batch_rows`` messages or the bytes of two batches. The client
extends the leases of what it holds; ``lease_seconds`` bounds each extension,
so the messages of a worker that died come back that much later.

:meth:`PullWorker.stop` is the graceful shutdown: new deliveries are set
aside, the open batch is written and acked, then the set-aside messages are
nacked and the streaming pull is cancelled. Nothing is lost; a message whose
ack did not get out before the process ended is delivered again.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from google.cloud import pubsub_v1  # type: ignore[attr-defined]

from il_audit.schemas.wire import envelope_count
from il_audit.subscriber_fn.core import ErrorClass, MessageMeta, Reject
from il_audit.subscriber_fn.errors import PullConfigError, TransientError
from il_audit.subscriber_fn.pipeline import BatchMessage, Outcome, Pipeline
from il_audit.subscriber_fn.pull_client import subscriber_client

logger = logging.getLogger(__name__)

BYTES_PER_ROW_BUDGET: Final = 2048
"""Bytes of message data allowed per batch row in flow control (events are ~1 KiB)."""
MIN_FLOW_BYTES: Final = 10 * 1024 * 1024
"""Never less than one maximal Pub/Sub message."""
_IDLE_POLL_SECONDS: Final = 0.5
FAILED_BATCH_LOG: Final = (
    "il-audit: batch of %d messages failed, nacked for redelivery "
    "(consecutive_failed_batches=%d): %s"
)
"""The WARNING line of a failed batch; infra/terraform's log-based metric reads its count."""


@dataclass(frozen=True, slots=True)
class PullSettings:
    """How the worker batches and leases."""

    subscription: str
    """Full path ``projects/P/subscriptions/S``."""
    max_batch_rows: int = 5000
    max_batch_seconds: float = 0.5
    lease_seconds: int = 60
    """Longest lease extension (and stream ack deadline); 10..600."""
    liveness_seconds: float = 60.0
    """``/livez`` fails when the flusher made no progress for this long."""


def subscription_path(name: str, project: str | None) -> str:
    """``projects/P/subscriptions/S`` from a full path, or a short name and the project."""
    if name.startswith("projects/"):
        parts = name.split("/")
        if len(parts) != 4 or parts[2] != "subscriptions" or not parts[1] or not parts[3]:
            raise PullConfigError(f"not a subscription path: {name!r}")
        return name
    if "/" in name or not name:
        raise PullConfigError(f"not a subscription name: {name!r}")
    if not project:
        raise PullConfigError(
            f"subscription {name!r} needs a project: set GOOGLE_CLOUD_PROJECT "
            "(or IL_BQ_LOGS_PROJECT) or give projects/P/subscriptions/S"
        )
    return f"projects/{project}/subscriptions/{name}"


def flow_control(settings: PullSettings) -> pubsub_v1.types.FlowControl:
    """About two batches leased at a time, whatever the packing of the messages."""
    rows = max(1, settings.max_batch_rows)
    return pubsub_v1.types.FlowControl(
        max_messages=2 * rows,
        max_bytes=max(MIN_FLOW_BYTES, 2 * rows * BYTES_PER_ROW_BUDGET),
        max_duration_per_lease_extension=settings.lease_seconds,
    )


def message_meta(message: Any, subscription: str) -> MessageMeta:
    """The same metadata the function path records, from a pulled message."""
    published = message.publish_time
    publish_time = None
    if published is not None:
        moment = published.astimezone(UTC)
        publish_time = datetime(
            moment.year,
            moment.month,
            moment.day,
            moment.hour,
            moment.minute,
            moment.second,
            moment.microsecond,
            tzinfo=UTC,
        )
    return MessageMeta(
        message_id=message.message_id or None,
        publish_time=publish_time,
        delivery_attempt=message.delivery_attempt,
        subscription=subscription,
    )


@dataclass
class Counters:
    """What the worker did so far (reported by the health endpoint and at exit)."""

    received: int = 0
    acked: int = 0
    nacked: int = 0
    batches: int = 0
    failed_batches: int = 0
    consecutive_failed_batches: int = 0
    """Batches failed in a row (transient errors); 0 again after a batch is written."""
    events_stored: int = 0
    dead_lettered: int = 0
    isolated: int = 0
    """Messages that failed alone with an unexpected error, dead-lettered whole."""
    dead_letters_unpublished: int = 0
    """Dead letters the topic refused for good (too large...): only in dead_letters."""
    last_batch_rows: int = 0

    def as_dict(self) -> dict[str, Any]:
        """The counters as a plain dict."""
        return dataclasses.asdict(self)


@dataclass(slots=True)
class _Pending:
    message: Any
    batch: BatchMessage
    rows: int
    settled: bool = False


Subscribe = Callable[..., Any]
"""``SubscriberClient.subscribe``-like: (subscription, callback=, flow_control=) -> future."""


class PullWorker:
    """One streaming pull feeding one flusher thread; see the module docstring."""

    def __init__(
        self,
        pipeline: Pipeline,
        settings: PullSettings,
        *,
        subscribe: Subscribe | None = None,
        retry_pause: float = 1.0,
    ) -> None:
        self.pipeline = pipeline
        self.settings = settings
        self.counters = Counters()
        self._subscribe = subscribe
        self._client: pubsub_v1.SubscriberClient | None = None
        self._future: Any = None
        self._queue: queue.SimpleQueue[_Pending] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._draining = False
        self._set_aside: list[Any] = []
        self._closing = threading.Event()
        self._retry_pause = retry_pause
        self._flusher = threading.Thread(target=self._flush_loop, name="il-audit-flusher")
        self._last_progress = time.monotonic()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Start the flusher, then the streaming pull."""
        self._flusher.start()
        subscribe = self._subscribe
        if subscribe is None:
            self._client = subscriber_client()
            subscribe = self._client.subscribe
        self._future = subscribe(
            self.settings.subscription,
            callback=self.on_message,
            flow_control=flow_control(self.settings),
        )

    def pull_failed(self) -> BaseException | None:
        """The error that ended the streaming pull, if it ended by itself."""
        future = self._future
        if future is None or not future.done() or self._draining:
            return None
        try:
            error: BaseException | None = future.exception(timeout=0)
        except BaseException as exc:  # noqa: BLE001 (a cancelled future raises its reason)
            return exc
        return error or RuntimeError("the streaming pull ended")

    def stop(self, timeout: float = 60.0) -> None:
        """Graceful: set new deliveries aside, write and ack the open batch, cancel the pull."""
        with self._lock:
            self._draining = True
        self._closing.set()
        if self._flusher.is_alive():
            self._flusher.join(timeout)
        with self._lock:
            set_aside, self._set_aside = self._set_aside, []
        for message in set_aside:
            message.nack()
        self.counters.nacked += len(set_aside)
        if self._future is not None:
            self._future.cancel()
            try:
                self._future.result(timeout=timeout)
            except BaseException as exc:  # noqa: BLE001 (cancelled, or the pull's own error)
                logger.debug("il-audit: streaming pull ended: %r", exc)
        with self._lock:
            late, self._set_aside = self._set_aside, []
        for message in late:  # arrived while cancelling; may not get out: they come back anyway
            message.nack()
        if self._client is not None:
            self._client.close()
            self._client = None

    # ------------------------------------------------------------------- probes

    def live(self) -> bool:
        """The flusher runs and made progress within ``liveness_seconds``."""
        recent = time.monotonic() - self._last_progress < self.settings.liveness_seconds
        return self._flusher.is_alive() and recent

    def ready(self) -> bool:
        """Pulling, and not shutting down."""
        future = self._future
        return (
            not self._draining
            and future is not None
            and not future.done()
            and self._flusher.is_alive()
        )

    def status(self) -> dict[str, Any]:
        """Counters and state for the health endpoint."""
        return {**self.counters.as_dict(), "draining": self._draining}

    # ----------------------------------------------------------------- callback

    def on_message(self, message: Any) -> None:
        """The client's callback: only enqueue (or set aside while draining)."""
        data = bytes(message.data)
        attributes = dict(message.attributes)
        pending = _Pending(
            message,
            BatchMessage(data, attributes, message_meta(message, self.settings.subscription)),
            envelope_count(attributes, data),
        )
        with self._lock:
            if self._draining:
                self._set_aside.append(message)
                return
            self.counters.received += 1
            self._queue.put(pending)

    # ------------------------------------------------------------------ flusher

    def _flush_loop(self) -> None:
        while True:
            self._last_progress = time.monotonic()
            closing = self._closing.is_set()
            try:
                first = self._queue.get(timeout=0 if closing else _IDLE_POLL_SECONDS)
            except queue.Empty:
                # Draining is set before closing, so once closing is seen nothing more comes.
                if closing and self._queue.empty():
                    return
                continue
            self._write(self._fill(first))

    def _fill(self, first: _Pending) -> list[_Pending]:
        """The batch opened by ``first``: until max rows, max seconds, or shutdown."""
        batch = [first]
        rows = first.rows
        deadline = time.monotonic() + self.settings.max_batch_seconds
        while rows < self.settings.max_batch_rows:
            if self._closing.is_set():  # shutting down: write what is queued, now
                try:
                    pending = self._queue.get_nowait()
                except queue.Empty:
                    break
            else:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    pending = self._queue.get(timeout=min(remaining, _IDLE_POLL_SECONDS))
                except queue.Empty:
                    continue
            batch.append(pending)
            rows += pending.rows
        return batch

    def _write(self, batch: list[_Pending]) -> None:
        started = time.monotonic()
        try:
            try:
                outcomes = self.pipeline.handle_batch([pending.batch for pending in batch])
            except TransientError:
                raise
            except Exception as exc:  # a bug some message triggers: find it, never fail the batch
                logger.exception(
                    "il-audit: unexpected failure on a batch of %d messages; isolating",
                    len(batch),
                )
                self._isolate(batch, exc)
            else:
                self._settle(batch, outcomes)
        except TransientError as exc:
            self._failed([pending for pending in batch if not pending.settled], exc)
            return
        counters = self.counters
        counters.batches += 1
        counters.consecutive_failed_batches = 0
        counters.last_batch_rows = sum(pending.rows for pending in batch)
        self._last_progress = time.monotonic()
        logger.debug(
            "il-audit: batch of %d messages (%d rows) written in %.3f s",
            len(batch),
            counters.last_batch_rows,
            self._last_progress - started,
        )

    def _settle(self, part: list[_Pending], outcomes: list[Outcome]) -> None:
        """Ack messages whose rows are written and whose rejects are dead-lettered."""
        counters = self.counters  # counted first: whoever sees an ack sees its counts
        counters.acked += len(part)
        counters.events_stored += sum(outcome.accepted for outcome in outcomes)
        counters.dead_lettered += sum(outcome.rejected for outcome in outcomes)
        counters.dead_letters_unpublished += sum(outcome.unpublished for outcome in outcomes)
        for pending in part:
            pending.settled = True
            pending.message.ack()

    def _isolate(self, batch: list[_Pending], error: Exception) -> None:
        """Bisect a batch that failed with ``error``: write every part that passes,
        dead-letter each message that fails alone. A TransientError propagates."""
        if len(batch) == 1:
            self._dead_letter_culprit(batch[0], error)
            return
        parts = [batch[len(batch) // 2 :], batch[: len(batch) // 2]]
        while parts:
            part = parts.pop()
            try:
                outcomes = self.pipeline.handle_batch([pending.batch for pending in part])
            except TransientError:
                raise
            except Exception as exc:  # noqa: BLE001 - narrowed down below
                if len(part) > 1:
                    parts += [part[len(part) // 2 :], part[: len(part) // 2]]
                    continue
                self._dead_letter_culprit(part[0], exc)
                continue
            self._settle(part, outcomes)

    def _dead_letter_culprit(self, pending: _Pending, error: Exception) -> None:
        """The message that fails alone: dead-lettered whole as internal_error, then acked."""
        message = pending.batch
        logger.error(
            "il-audit: message %s fails alone (%s): dead-lettered whole as internal_error",
            message.meta.message_id,
            type(error).__name__,
        )
        reject = Reject(
            ErrorClass.INTERNAL_ERROR,
            f"the subscriber failed on the message: {type(error).__name__}",
            message.data,
            None,
        )
        try:
            outcome = self.pipeline.dead_letter_message(reject, message.attributes, message.meta)
        except TransientError:
            raise
        except Exception:  # dead-lettering itself is broken: Pub/Sub's policy takes over
            logger.exception("il-audit: cannot dead-letter message %s", message.meta.message_id)
            self.counters.nacked += 1
            pending.settled = True
            pending.message.nack()
            return
        self.counters.isolated += 1
        self._settle([pending], [outcome])

    def _failed(self, batch: list[_Pending], error: TransientError) -> None:
        """Count the failed batch, nack what is not settled yet, pause before the next."""
        counters = self.counters
        counters.nacked += len(batch)
        counters.failed_batches += 1
        counters.consecutive_failed_batches += 1
        logger.warning(FAILED_BATCH_LOG, len(batch), counters.consecutive_failed_batches, error)
        for pending in batch:
            pending.message.nack()
        if not self._closing.is_set():
            self._closing.wait(self._retry_pause)
