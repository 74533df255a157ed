"""The pipeline: the pure core plus its I/O (sink, catalog, dead-letter topic).

``Pipeline.handle()`` is what every edge calls (the Cloud Function, the
embedded transport): it returns when the message may be acknowledged and
raises :class:`~il_audit.subscriber_fn.errors.TransientError` when it must be
retried. Order of work for one message:

1. the core validates and prices every line;
2. accepted rows go to the events table (rows the warehouse refuses for good
   become rejects of class ``sink_rejected``);
3. rejects go to the dead_letters table and to the dead-letter topic.

A failure in 2 or 3 raises, and the redelivered message repeats the steps;
keyed inserts make the repetition invisible in the tables. The one exception
is a dead letter Pub/Sub can never take (too large, attributes it refuses):
its row is written, it is logged and counted (``Outcome.unpublished``), and
the message is acknowledged, since retrying could not help.

A message with more rejected lines than ``max_rejects`` (sink refusals
included) is dead-lettered once, whole, as ``too_many_rejects``; its accepted
rows are still stored.

``Pipeline.handle_batch()`` does the same for many messages at once (the
streaming-pull worker): the rows of every message go to the sink in one
write, the dead letters of every message in another, and a refused row
becomes a reject of the message it came from. It succeeds or raises for the
whole batch, so the caller acks or nacks every message of it.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from il_audit.config.settings import AuditSettings
from il_audit.subscriber_fn.catalogs import CatalogProvider, catalog_provider
from il_audit.subscriber_fn.core import (
    DEFAULT_MAX_REJECTS,
    ErrorClass,
    MessageMeta,
    ProcessResult,
    Reject,
    dead_letter_row,
    process_message,
    too_many_rejects,
)
from il_audit.subscriber_fn.sinks import Sink, create_sink

logger = logging.getLogger(__name__)


class DeadLetterChannel(Protocol):
    """Somewhere to publish rejects so they can be inspected and replayed."""

    def publish(
        self, rejects: list[Reject], attributes: Mapping[str, str], meta: MessageMeta
    ) -> list[str | None]:
        """Publish every reject: its id, or None for one that can never be published
        (logged by the channel); raise a TransientError for anything that may pass later."""
        ...


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one message."""

    accepted: int
    rejected: int
    error_classes: tuple[str, ...]
    unpublished: int = 0
    """Dead letters the topic can never take: only in the dead_letters table."""


@dataclass(frozen=True, slots=True)
class BatchMessage:
    """One message of a batch: its data, attributes and metadata.

    ``reject`` is set when the edge found the message itself unreadable: then
    the whole message is dead-lettered and ``data`` is not processed.
    """

    data: bytes
    attributes: Mapping[str, str]
    meta: MessageMeta
    reject: Reject | None = None


def utc_now() -> datetime:
    """The current time in UTC (the pipeline's default clock)."""
    return datetime.now(UTC)


class Pipeline:
    """Validate, price, write and dead-letter; safe to call from several threads."""

    def __init__(
        self,
        sink: Sink,
        catalogs: CatalogProvider,
        dead_letters: DeadLetterChannel | None = None,
        *,
        clock: Callable[[], datetime] = utc_now,
        max_rejects: int = DEFAULT_MAX_REJECTS,
    ) -> None:
        self.sink = sink
        self.catalogs = catalogs
        self.dead_letters = dead_letters
        self.clock = clock
        self.max_rejects = max_rejects

    def handle(self, data: bytes, attributes: Mapping[str, str], meta: MessageMeta) -> Outcome:
        """Process one message; returns when it may be acked, raises TransientError otherwise."""
        return self.handle_batch([BatchMessage(data, attributes, meta)])[0]

    def handle_batch(self, messages: Sequence[BatchMessage]) -> list[Outcome]:
        """Process many messages with one events write; an outcome per message, in order.

        Returns when every message may be acked; raises TransientError (and then
        none may be acked) when the write or the dead-lettering failed.
        """
        now = self.clock()
        catalog = self.catalogs.current()
        results: list[ProcessResult] = []
        rejects: list[list[Reject]] = []
        rows: list[dict[str, Any]] = []
        owners: list[tuple[int, int]] = []  # rows[i] is row owners[i][1] of message owners[i][0]
        for position, message in enumerate(messages):
            if message.reject is not None:
                results.append(ProcessResult())
                rejects.append([message.reject])
                continue
            result = process_message(
                message.data, message.meta, catalog, now, max_rejects=self.max_rejects
            )
            results.append(result)
            rejects.append(list(result.rejects))
            owners.extend((position, index) for index in range(len(result.rows)))
            rows.extend(result.rows)
        refused = self.sink.write_events(rows) if rows else {}
        refused_per_message = [0] * len(messages)
        for index, reason in sorted(refused.items()):
            position, row_index = owners[index]
            result = results[position]
            row = result.rows[row_index]
            refused_per_message[position] += 1
            rejects[position].append(
                Reject(
                    ErrorClass.SINK_REJECTED,
                    reason,
                    result.raw_lines[row_index],
                    result.row_lines[row_index],
                    row["event_id"],
                    row["app"],
                    row["event_type"],
                )
            )
        for position, refused_count in enumerate(refused_per_message):
            result = results[position]
            rejected = result.rejected + refused_count
            if refused_count and rejected > self.max_rejects:
                classes = Counter(result.reject_classes)
                classes[ErrorClass.SINK_REJECTED.value] += refused_count
                data, cap = messages[position].data, self.max_rejects
                rejects[position] = [too_many_rejects(data, rejected, result.lines, classes, cap)]
        unpublished = self._dead_letter_batch(messages, rejects, now)
        outcomes = []
        for position, message in enumerate(messages):
            stored = len(results[position].rows) - refused_per_message[position]
            outcome = self._outcome(stored, rejects[position], message.meta, unpublished[position])
            outcomes.append(outcome)
        return outcomes

    def dead_letter_message(
        self, reject: Reject, attributes: Mapping[str, str], meta: MessageMeta
    ) -> Outcome:
        """Dead-letter a whole malformed message (the edge found it unreadable)."""
        return self.handle_batch([BatchMessage(b"", attributes, meta, reject)])[0]

    def _dead_letter_batch(
        self, messages: Sequence[BatchMessage], rejects: list[list[Reject]], now: datetime
    ) -> list[int]:
        """One dead_letters write for the batch, then each message's rejects to the topic.

        Returns, per message, the dead letters the topic can never take.
        """
        unpublished = [0] * len(messages)
        dead_rows = [
            dead_letter_row(reject, message.attributes, message.meta, now)
            for message, message_rejects in zip(messages, rejects, strict=True)
            for reject in message_rejects
        ]
        if not dead_rows:
            return unpublished
        self.sink.write_dead_letters(dead_rows)
        if self.dead_letters is not None:
            for position, (message, message_rejects) in enumerate(
                zip(messages, rejects, strict=True)
            ):
                if message_rejects:
                    ids = self.dead_letters.publish(
                        message_rejects, message.attributes, message.meta
                    )
                    unpublished[position] = sum(1 for published in ids if published is None)
        return unpublished

    @staticmethod
    def _outcome(
        accepted: int, rejects: list[Reject], meta: MessageMeta, unpublished: int = 0
    ) -> Outcome:
        outcome = Outcome(
            accepted=accepted,
            rejected=len(rejects),
            error_classes=tuple(sorted({reject.error_class.value for reject in rejects})),
            unpublished=unpublished,
        )
        if rejects:
            logger.warning(
                "il-audit: message %s: %d accepted, %d dead-lettered (%s)%s",
                meta.message_id,
                outcome.accepted,
                outcome.rejected,
                ", ".join(outcome.error_classes),
                f", {unpublished} only in dead_letters (the topic refused them)"
                if unpublished
                else "",
            )
        return outcome


_default: Pipeline | None = None
_default_lock = threading.Lock()


def build_pipeline(settings: AuditSettings, *, with_topic: bool = True) -> Pipeline:
    """A pipeline from settings: sink, catalog source and (with a project) the DLQ topic.

    Host event types listed in ``IL_AUDIT_EXTRA_EVENT_TYPES`` are registered here,
    so the subscriber accepts what the apps registered.
    """
    from il_audit.schemas import taxonomy

    taxonomy.register_many(settings.extra_event_types)
    sink = create_sink(settings)
    sink.ensure_tables()
    dead_letters: DeadLetterChannel | None = None
    if with_topic and settings.project:
        from il_audit.subscriber_fn.dead_letter import DeadLetterTopic

        dead_letters = DeadLetterTopic(settings.project, settings.dlq_topic)
    return Pipeline(
        sink,
        catalog_provider(settings, sink.read_cost_rates),
        dead_letters,
        max_rejects=settings.max_rejects_per_message,
    )


def default_pipeline() -> Pipeline:
    """The process-wide pipeline, built from the environment on first use."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                from il_audit.config.settings import AuditSettings

                # Strict: a deployed function refuses a bad value instead of guessing.
                _default = build_pipeline(AuditSettings.from_env())
    return _default


def reset_default_pipeline() -> None:
    """Forget the process-wide pipeline (tests, settings reload)."""
    global _default
    with _default_lock:
        if _default is not None:
            _default.sink.close()
        _default = None
