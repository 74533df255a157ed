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
keyed inserts make the repetition invisible in the tables.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from il_audit.config.settings import AuditSettings
from il_audit.subscriber_fn.catalogs import CatalogProvider, catalog_provider
from il_audit.subscriber_fn.core import (
    ErrorClass,
    MessageMeta,
    Reject,
    dead_letter_row,
    process_message,
)
from il_audit.subscriber_fn.sinks import Sink, create_sink

logger = logging.getLogger(__name__)


class DeadLetterChannel(Protocol):
    """Somewhere to publish rejects so they can be inspected and replayed."""

    def publish(
        self, rejects: list[Reject], attributes: Mapping[str, str], meta: MessageMeta
    ) -> list[str]:
        """Publish every reject or raise a TransientError."""
        ...


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one message."""

    accepted: int
    rejected: int
    error_classes: tuple[str, ...]


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
    ) -> None:
        self.sink = sink
        self.catalogs = catalogs
        self.dead_letters = dead_letters
        self.clock = clock

    def handle(self, data: bytes, attributes: Mapping[str, str], meta: MessageMeta) -> Outcome:
        """Process one message; returns when it may be acked, raises TransientError otherwise."""
        now = self.clock()
        result = process_message(data, meta, self.catalogs.current(), now)
        rejects = list(result.rejects)
        refused = self.sink.write_events(result.rows) if result.rows else {}
        for index, reason in sorted(refused.items()):
            row = result.rows[index]
            rejects.append(
                Reject(
                    ErrorClass.SINK_REJECTED,
                    reason,
                    result.raw_lines[index],
                    result.row_lines[index],
                    row["event_id"],
                    row["app"],
                    row["event_type"],
                )
            )
        self._dead_letter(rejects, attributes, meta, now)
        return self._outcome(len(result.rows) - len(refused), rejects, meta)

    def dead_letter_message(
        self, reject: Reject, attributes: Mapping[str, str], meta: MessageMeta
    ) -> Outcome:
        """Dead-letter a whole malformed message (the edge found it unreadable)."""
        self._dead_letter([reject], attributes, meta, self.clock())
        return self._outcome(0, [reject], meta)

    def _dead_letter(
        self,
        rejects: list[Reject],
        attributes: Mapping[str, str],
        meta: MessageMeta,
        now: datetime,
    ) -> None:
        if not rejects:
            return
        self.sink.write_dead_letters(
            [dead_letter_row(reject, attributes, meta, now) for reject in rejects]
        )
        if self.dead_letters is not None:
            self.dead_letters.publish(rejects, attributes, meta)

    @staticmethod
    def _outcome(accepted: int, rejects: list[Reject], meta: MessageMeta) -> Outcome:
        outcome = Outcome(
            accepted=accepted,
            rejected=len(rejects),
            error_classes=tuple(sorted({reject.error_class.value for reject in rejects})),
        )
        if rejects:
            logger.warning(
                "il-audit: message %s: %d accepted, %d dead-lettered (%s)",
                meta.message_id,
                outcome.accepted,
                outcome.rejected,
                ", ".join(outcome.error_classes),
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
    return Pipeline(sink, catalog_provider(settings, sink.read_cost_rates), dead_letters)


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
