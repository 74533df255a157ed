"""Replay: republish selected dead letters, acknowledging each only after its publish is confirmed.

What happens to one pulled message is decided by one pure function,
:func:`decide_replay`; :func:`replay` pulls, asks it, publishes what it says
to replay, and holds everything else until the end of the run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

from il_audit.operations.dlq._messages import DeadLetter, Selector
from il_audit.operations.dlq._source import Leases, Source, drain
from il_audit.schemas.wire import ATTR_REPLAYED_FROM

DEFAULT_REPLAY_CAP: Final = 3


class ReplayAction(StrEnum):
    """What replay does with one pulled message."""

    SKIP_REDELIVERED = "skip-redelivered"
    """Pulled again within this run: it was decided on already."""
    SKIP_NEWER_THAN_RUN = "skip-newer-than-run"
    """Dead-lettered after the run started (e.g. poison this run replayed, coming back)."""
    SKIP_NOT_SELECTED = "skip-not-selected"
    """The selector does not match it."""
    REFUSE_CUT = "refuse-cut"
    """The subscriber cut its data to fit the dead-letter topic: it holds only a fragment."""
    REFUSE_CAPPED = "refuse-capped"
    """Replayed ``cap`` times already, and the run is not forced."""
    LEAVE_STILL_POISON = "leave-still-poison"
    """Revalidation says it would be rejected again."""
    REPLAY = "replay"

    @property
    def selected(self) -> bool:
        """Whether the message counts as selected (it passed the selector)."""
        return self in _SELECTED


_SELECTED: Final = frozenset(
    {
        ReplayAction.REFUSE_CUT,
        ReplayAction.REFUSE_CAPPED,
        ReplayAction.LEAVE_STILL_POISON,
        ReplayAction.REPLAY,
    }
)


@dataclass(frozen=True)
class ReplayDecision:
    """An action, and for ``leave-still-poison`` the reasons."""

    action: ReplayAction
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReplayRules:
    """What one run replays."""

    started: datetime
    """When the run started; anything dead-lettered later waits for the next run."""
    selector: Selector | None = None
    cap: int = DEFAULT_REPLAY_CAP
    force: bool = False


def decide_replay(
    message: DeadLetter,
    rules: ReplayRules,
    *,
    seen: bool = False,
    revalidate: Callable[[DeadLetter], Sequence[str]] | None = None,
) -> ReplayDecision:
    """What to do with ``message``; the first rule that applies wins.

    ``seen``: this run pulled the same message id before (a redelivery).
    ``revalidate(message)`` lists why it would fail again; it is the costly
    check, so it runs last, only for a message that would otherwise be replayed.
    """
    if seen:
        return ReplayDecision(ReplayAction.SKIP_REDELIVERED)
    # A run replays what was dead-lettered before it started: poison it sends back
    # reappears with a new message id and must wait for the next run, not loop in this one.
    if message.publish_time is not None and message.publish_time > rules.started:
        return ReplayDecision(ReplayAction.SKIP_NEWER_THAN_RUN)
    if rules.selector is not None and not rules.selector.matches(message):
        return ReplayDecision(ReplayAction.SKIP_NOT_SELECTED)
    # A cut letter is a fragment of what was rejected: replaying it would store nothing
    # good and lose the reason. Not even --force sends it.
    if message.cut:
        return ReplayDecision(ReplayAction.REFUSE_CUT)
    if message.replay_count >= rules.cap and not rules.force:
        return ReplayDecision(ReplayAction.REFUSE_CAPPED)
    problems = tuple(revalidate(message)) if revalidate is not None else ()
    if problems:
        return ReplayDecision(ReplayAction.LEAVE_STILL_POISON, problems)
    return ReplayDecision(ReplayAction.REPLAY)


@dataclass
class ReplayReport:
    """What a replay did (or would do, in a dry run)."""

    dry_run: bool = False
    pulled: int = 0
    selected: int = 0
    replayed: int = 0
    replayed_events: int = 0
    skipped_filter: int = 0
    skipped_cap: int = 0
    skipped_cut: int = 0
    """Cut to fit the dead-letter topic: never replayed (the dead_letters row has the rest)."""
    skipped_new: int = 0
    """Dead-lettered after the run started (e.g. replayed poison coming back)."""
    busy_seconds: float = 0.0
    """From the start of the run to its last acknowledgement (excludes the final empty pulls)."""
    still_failing: int = 0
    failed: int = 0
    capped: list[str] = field(default_factory=list)
    back_again: list[str] = field(default_factory=list)
    """Replayed messages dead-lettered again while this run went on (left for the next)."""
    cut: list[str] = field(default_factory=list)
    failing: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def skipped(self) -> int:
        """Messages left in place without trying."""
        return self.skipped_filter + self.skipped_cap + self.skipped_new + self.skipped_cut

    def record(self, message: DeadLetter, decision: ReplayDecision) -> None:
        """Count a decision (what is replayed is counted once its publish is confirmed)."""
        if decision.action.selected:
            self.selected += 1
        match decision.action:
            case ReplayAction.SKIP_NEWER_THAN_RUN:
                self.skipped_new += 1
                if ATTR_REPLAYED_FROM in message.attributes:
                    self.back_again.append(message.message_id)
            case ReplayAction.SKIP_NOT_SELECTED:
                self.skipped_filter += 1
            case ReplayAction.REFUSE_CUT:
                self.skipped_cut += 1
                self.cut.append(message.message_id)
            case ReplayAction.REFUSE_CAPPED:
                self.skipped_cap += 1
                self.capped.append(message.message_id)
            case ReplayAction.LEAVE_STILL_POISON:
                self.still_failing += 1
                self.failing.append(
                    {"message_id": message.message_id, "problems": list(decision.problems)}
                )
            case ReplayAction.SKIP_REDELIVERED | ReplayAction.REPLAY:
                pass

    def summary(self) -> str:
        """One line for humans."""
        verb = "would replay" if self.dry_run else "replayed"
        return (
            f"selected {self.selected}, {verb} {self.replayed} ({self.replayed_events} events), "
            f"skipped {self.skipped} (filter {self.skipped_filter}, replay cap "
            f"{self.skipped_cap}, newer than the run {self.skipped_new}, cut {self.skipped_cut}), "
            f"still failing {self.still_failing}, publish errors {self.failed}"
        )

    def to_json(self) -> dict[str, Any]:
        """The report as JSON, lists cut at 1000 entries."""
        return {
            "dry_run": self.dry_run,
            "pulled": self.pulled,
            "selected": self.selected,
            # A dry run publishes nothing: what it would replay has its own keys.
            "replayed": 0 if self.dry_run else self.replayed,
            "replayed_events": 0 if self.dry_run else self.replayed_events,
            "would_replay": self.replayed if self.dry_run else 0,
            "would_replay_events": self.replayed_events if self.dry_run else 0,
            "busy_seconds": round(self.busy_seconds, 3),
            "skipped": self.skipped,
            "skipped_filter": self.skipped_filter,
            "skipped_replay_cap": self.skipped_cap,
            "skipped_newer_than_run": self.skipped_new,
            "skipped_cut": self.skipped_cut,
            "still_failing": self.still_failing,
            "publish_errors": self.failed,
            "dead_lettered_again": len(self.back_again),
            "dead_lettered_again_message_ids": self.back_again[:1000],
            "capped_message_ids": self.capped[:1000],
            "cut_message_ids": self.cut[:1000],
            "still_failing_messages": self.failing[:1000],
            "errors": self.errors[:100],
        }


class Revalidator:
    """Checks messages against the current schema, taxonomy and catalog (no writes)."""

    def __init__(self) -> None:
        from il_audit.config.settings import get_audit_settings
        from il_audit.schemas import taxonomy
        from il_audit.subscriber_fn.pricing import seed_catalog

        taxonomy.register_many(get_audit_settings().extra_event_types)
        self._catalog = seed_catalog()

    def problems(self, message: DeadLetter) -> list[str]:
        """Why lines of ``message`` would be rejected again (empty: it would pass)."""
        from il_audit.subscriber_fn.core import MessageMeta, process_message

        result = process_message(
            message.data,
            MessageMeta(message.message_id),
            self._catalog,
            datetime.now(UTC),
        )
        return [
            f"line {reject.line_index}: {reject.error_class.value}: {reject.error_detail}"
            for reject in result.rejects
        ]


def replay(
    source: Source,
    publish: Callable[[bytes, dict[str, str]], Any],
    *,
    selector: Selector | None = None,
    limit: int | None = None,
    cap: int = DEFAULT_REPLAY_CAP,
    force: bool = False,
    dry_run: bool = False,
    revalidate: bool = False,
    batch: int = 500,
    progress: Callable[[int], None] | None = None,
) -> ReplayReport:
    """Republish selected dead letters; ack each only after its publish is confirmed.

    ``publish(data, attributes)`` returns a future (``result()`` raises on failure).
    Whatever is not replayed stays leased until the run ends, then is released.
    """
    report = ReplayReport(dry_run=dry_run)
    leases = Leases(source)
    inflight = _Inflight(source, report, leases, depth=8)
    checker = Revalidator().problems if revalidate else None
    rules = ReplayRules(datetime.now(UTC), selector, cap, force)
    seen: set[str] = set()
    try:
        for messages in drain(source, limit, batch, leases):
            report.pulled += len(messages)
            to_send: list[DeadLetter] = []
            for message in messages:
                decision = decide_replay(
                    message, rules, seen=message.message_id in seen, revalidate=checker
                )
                seen.add(message.message_id)
                report.record(message, decision)
                if decision.action is ReplayAction.REPLAY:
                    to_send.append(message)
                else:
                    leases.hold(message)
            if dry_run:
                report.replayed += len(to_send)
                report.replayed_events += sum(message.line_count for message in to_send)
                for message in to_send:
                    leases.hold(message)
            else:
                inflight.publish(
                    [
                        (message, publish(message.data, message.replay_attributes()))
                        for message in to_send
                    ]
                )
            if progress is not None:
                progress(len(messages))
    finally:
        inflight.finish()  # what was published gets acknowledged, even on the way out
        leases.release_all()
    return report


class _Inflight:
    """Publishes batch after batch without waiting; a separate thread waits for each batch's
    confirmations and acknowledges exactly the confirmed messages. Pulling and publishing
    the next batches overlap with those round trips, which is what lets replay keep up with
    the broker; at most ``depth`` batches are unconfirmed at once (bounded memory).
    """

    def __init__(self, source: Source, report: ReplayReport, leases: Leases, depth: int) -> None:
        self.source = source
        self.report = report
        self.leases = leases
        self.lock = threading.Lock()
        self.slots = threading.BoundedSemaphore(depth)
        self.acker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="il-audit-dlq-ack")
        self.pending: list[Future[None]] = []
        self.started = time.monotonic()

    def publish(self, batch: list[tuple[DeadLetter, Any]]) -> None:
        """Hand over one batch of (message, publish future)."""
        if not batch:
            return
        self.slots.acquire()
        self.pending.append(self.acker.submit(self._settle, batch))
        self.pending = [future for future in self.pending if not future.done()]

    def _settle(self, batch: list[tuple[DeadLetter, Any]]) -> None:
        try:
            confirmed: list[str] = []
            events = 0
            for message, future in batch:
                try:
                    future.result(timeout=120)
                except Exception as exc:  # noqa: BLE001 - it stays in the DLQ; the report says why
                    with self.lock:
                        self.report.failed += 1
                        self.report.errors.append(
                            f"{message.message_id}: {type(exc).__name__}: {exc}"
                        )
                    self.leases.hold(message)
                    continue
                confirmed.append(message.ack_id)
                events += message.line_count
            # Only now, with their publishes confirmed, may the messages be removed.
            self.source.ack(confirmed)
            with self.lock:
                self.report.replayed += len(confirmed)
                self.report.replayed_events += events
                self.report.busy_seconds = time.monotonic() - self.started
        except Exception as exc:  # noqa: BLE001 - unacknowledged: they return and are replayed (deduped)
            with self.lock:
                self.report.errors.append(f"acknowledge failed: {type(exc).__name__}: {exc}")
        finally:
            self.slots.release()

    def finish(self) -> None:
        """Wait for every batch to be settled."""
        self.acker.shutdown(wait=True)
