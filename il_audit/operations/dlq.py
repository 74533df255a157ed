"""Dead-letter operations: inspect, replay and purge a dead-letter subscription safely.

Two kinds of messages sit in the dead-letter topic:

- the subscriber's own rejects: one line each, with ``il_audit_error_class``,
  ``il_audit_error_detail``, ``il_audit_line_index`` and the original attributes;
- messages Pub/Sub dead-lettered after ``max_delivery_attempts`` failed
  deliveries (the whole original message, with ``CloudPubSubDeadLetterSource*``
  attributes), e.g. during a warehouse outage.

Safety rules, in order of importance:

1. A dead-letter message is acknowledged only after everything it carries was
   republished (replay) or written to the archive and flushed to disk
   (purge). Killed at any moment, a run leaves each message either still in
   the subscription (its lease expires and it comes back) or done.
2. Republishing keeps the data byte for byte (and so every ``event_id``); the
   warehouse dedupes on it (``insertId``, primary keys, the
   ``events_deduped`` view), so replaying twice never stores an event twice.
3. ``il_audit_replay_count`` travels with the message through the subscriber
   and back into the dead-letter topic; past a cap (default 3) replay refuses
   the message unless forced, which stops poison from looping.
4. Messages a run does not select are never acknowledged: they are released
   (negative ack) at the end of the run and stay for the next one.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Protocol

from google.api_core import exceptions as core_exceptions

from il_audit.errors import AuditError
from il_audit.schemas.wire import (
    ATTR_COUNT,
    ATTR_ERROR_CLASS,
    ATTR_ERROR_DETAIL,
    ATTR_LINE_INDEX,
    ATTR_REPLAY_COUNT,
    ATTR_REPLAYED_FROM,
    ATTR_SOURCE_MESSAGE_ID,
    count_lines,
)
from il_audit.schemas.wire import PUBSUB_DEAD_LETTER_PREFIX as PUBSUB_PREFIX

PUBSUB_DEAD_LETTERED: Final = "delivery_exhausted"
"""Error class shown for messages Pub/Sub itself dead-lettered."""
DEFAULT_REPLAY_CAP: Final = 3
_DROPPED_ON_REPLAY: Final = (
    ATTR_ERROR_CLASS,
    ATTR_ERROR_DETAIL,
    ATTR_LINE_INDEX,
    ATTR_SOURCE_MESSAGE_ID,
)


class DlqError(AuditError, RuntimeError):
    """A dead-letter operation could not proceed."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One message pulled from a dead-letter subscription."""

    ack_id: str
    message_id: str
    data: bytes
    attributes: Mapping[str, str]
    publish_time: datetime | None

    @property
    def dead_lettered_by_pubsub(self) -> bool:
        """True when Pub/Sub forwarded it after exhausting delivery attempts."""
        return any(key.startswith(PUBSUB_PREFIX) for key in self.attributes)

    @property
    def error_class(self) -> str:
        """The subscriber's error class, or ``delivery_exhausted`` for Pub/Sub's own."""
        own = self.attributes.get(ATTR_ERROR_CLASS)
        if own:
            return own
        return PUBSUB_DEAD_LETTERED if self.dead_lettered_by_pubsub else "unknown"

    @property
    def error_detail(self) -> str:
        """Why it is here, for humans."""
        own = self.attributes.get(ATTR_ERROR_DETAIL)
        if own:
            return own
        if self.dead_lettered_by_pubsub:
            attempts = self.attributes.get(f"{PUBSUB_PREFIX}DeliveryCount", "?")
            source = self.attributes.get(f"{PUBSUB_PREFIX}Subscription", "?")
            return f"Pub/Sub gave up after {attempts} delivery attempts on subscription {source}"
        return "no error attributes"

    @property
    def app(self) -> str | None:
        """The app attribute, when the message's events share one."""
        return self.attributes.get("app")

    @property
    def replay_count(self) -> int:
        """How many times it was replayed already."""
        raw = self.attributes.get(ATTR_REPLAY_COUNT, "0")
        return int(raw) if raw.isdigit() else 0

    @property
    def line_count(self) -> int:
        """Envelope lines it carries."""
        return count_lines(self.data)

    def replay_attributes(self) -> dict[str, str]:
        """Attributes for the republished message: the original's, plus replay bookkeeping."""
        attributes = {
            key: value
            for key, value in self.attributes.items()
            if key not in _DROPPED_ON_REPLAY and not key.startswith(PUBSUB_PREFIX)
        }
        attributes[ATTR_REPLAYED_FROM] = self.message_id
        attributes[ATTR_REPLAY_COUNT] = str(self.replay_count + 1)
        attributes[ATTR_COUNT] = str(self.line_count)
        return attributes

    def archive_record(self) -> dict[str, Any]:
        """The message as one JSON line of a purge archive."""
        return {
            "message_id": self.message_id,
            "publish_time": self.publish_time.isoformat() if self.publish_time else None,
            "error_class": self.error_class,
            "error_detail": self.error_detail,
            "attributes": dict(self.attributes),
            "data_base64": base64.b64encode(self.data).decode("ascii"),
        }


@dataclass(frozen=True)
class Selector:
    """Which messages a run acts on; every given condition must hold."""

    attributes: tuple[tuple[str, str], ...] = ()
    """``(name, glob)`` pairs, e.g. ``("app", "ingest")``, ``("event_type", "ui.*")``."""
    error_classes: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None

    @classmethod
    def parse(
        cls,
        filters: Sequence[str] = (),
        error_classes: Sequence[str] = (),
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Selector:
        """Build from ``NAME=GLOB`` filter expressions (``error_class=...`` allowed too)."""
        pairs = []
        classes = list(error_classes)
        for expression in filters:
            name, separator, pattern = expression.partition("=")
            if not separator or not name.strip():
                raise DlqError(f"filter {expression!r} is not NAME=VALUE (globs like ui.* allowed)")
            if name.strip() == "error_class":
                classes.append(pattern.strip())
            else:
                pairs.append((name.strip(), pattern.strip()))
        return cls(tuple(pairs), tuple(classes), since, until)

    def matches(self, message: DeadLetter) -> bool:
        """Whether ``message`` is selected."""
        if self.error_classes and message.error_class not in self.error_classes:
            return False
        for name, pattern in self.attributes:
            value = message.attributes.get(name)
            if value is None or not fnmatch.fnmatchcase(value, pattern):
                return False
        if self.since is not None or self.until is not None:
            when = message.publish_time
            if when is None:
                return False
            if self.since is not None and when < self.since:
                return False
            if self.until is not None and when > self.until:
                return False
        return True


class Source(Protocol):
    """Pulls from a dead-letter subscription and settles what it pulled."""

    def pull(self, max_messages: int) -> list[DeadLetter]:
        """Up to ``max_messages`` messages (leased), or [] when none are waiting."""
        ...

    def ack(self, ack_ids: Sequence[str]) -> None:
        """Remove the messages for good."""
        ...

    def release(self, ack_ids: Sequence[str]) -> None:
        """Give the messages back now (negative acknowledgement)."""
        ...

    def extend(self, ack_ids: Sequence[str], seconds: int) -> None:
        """Keep the messages leased ``seconds`` longer."""
        ...


class PubSubSource:
    """A dead-letter subscription read with synchronous pull."""

    def __init__(
        self,
        subscription: str,
        *,
        project: str | None = None,
        client: Any = None,
        lease_seconds: int = 60,
        pull_timeout: float = 2.0,
    ) -> None:
        from google.cloud import pubsub_v1  # type: ignore[attr-defined]

        self.lease_seconds = lease_seconds
        """How long pulled messages stay hidden; after a crash they return after this."""
        self.pull_timeout = pull_timeout
        """An empty pull can wait this long (the emulator always does)."""
        self.client = client or pubsub_v1.SubscriberClient()
        if "/" not in subscription:
            if not project:
                raise DlqError(f"give the full path of {subscription!r} or set a project")
            subscription = self.client.subscription_path(project, subscription)
        self.subscription = subscription

    def pull(self, max_messages: int) -> list[DeadLetter]:
        """Synchronous pull; an empty answer (or its deadline) means nothing is waiting."""
        try:
            response = self.client.pull(
                request={"subscription": self.subscription, "max_messages": max_messages},
                timeout=self.pull_timeout,
                retry=None,
            )
        except core_exceptions.DeadlineExceeded:
            return []
        except core_exceptions.NotFound as exc:
            raise DlqError(f"subscription {self.subscription} does not exist") from exc
        # The raw protobufs: proto-plus wrappers cost more than the rest of a replay.
        messages = [
            DeadLetter(
                ack_id=received.ack_id,
                message_id=received.message.message_id,
                data=received.message.data,
                attributes=dict(received.message.attributes),
                publish_time=received.message.publish_time.ToDatetime(tzinfo=UTC),
            )
            for received in response._pb.received_messages
        ]
        if messages:
            self.extend([message.ack_id for message in messages], self.lease_seconds)
        return messages

    def ack(self, ack_ids: Sequence[str]) -> None:
        """Acknowledge in chunks (the API takes at most a few thousand ids per call)."""
        for chunk in _chunks(ack_ids, 1000):
            self.client.acknowledge(request={"subscription": self.subscription, "ack_ids": chunk})

    def release(self, ack_ids: Sequence[str]) -> None:
        """Deadline 0: back to the subscription at once."""
        self.extend(ack_ids, 0)

    def extend(self, ack_ids: Sequence[str], seconds: int) -> None:
        """Modify the ack deadline of leased messages."""
        for chunk in _chunks(ack_ids, 1000):
            self.client.modify_ack_deadline(
                request={
                    "subscription": self.subscription,
                    "ack_ids": chunk,
                    "ack_deadline_seconds": seconds,
                }
            )

    def close(self) -> None:
        """Close the client's channel."""
        self.client.close()


def _chunks(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


class _Leases:
    """Messages a run keeps leased without acting on them, released at the end.

    Holding them (instead of releasing at once) keeps the next pull from
    returning the same messages; their leases are renewed while the run lasts.
    """

    def __init__(self, source: Source) -> None:
        self.source = source
        self.ack_ids: list[str] = []
        self._lease = int(getattr(source, "lease_seconds", 60))
        self._renew_every = max(1.0, self._lease / 3)
        self._renewed = time.monotonic()

    def hold(self, message: DeadLetter) -> None:
        self.ack_ids.append(message.ack_id)

    def renew_if_due(self) -> None:
        if self.ack_ids and time.monotonic() - self._renewed >= self._renew_every:
            self.source.extend(self.ack_ids, self._lease)
            self._renewed = time.monotonic()

    def release_all(self) -> None:
        if self.ack_ids:
            self.source.release(self.ack_ids)
            self.ack_ids = []


class _PullAhead:
    """Puller threads filling a small queue of batches, sharing one message budget."""

    def __init__(
        self, source: Source, limit: int | None, batch: int, leases: _Leases, pullers: int
    ) -> None:
        self.source = source
        self.limit = limit
        self.batch = batch
        self.leases = leases
        self.batches: queue.Queue[list[DeadLetter] | BaseException | None] = queue.Queue(
            maxsize=pullers * 2
        )
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.claimed = 0
        self.threads = [
            threading.Thread(target=self.run, name=f"il-audit-dlq-pull-{n}", daemon=True)
            for n in range(max(1, pullers))
        ]

    def claim(self, want: int) -> int:
        """Reserve up to ``want`` messages of the budget (all of it without a limit)."""
        with self.lock:
            if self.limit is None:
                return want
            take = max(0, min(want, self.limit - self.claimed))
            self.claimed += take
            return take

    def unclaim(self, count: int) -> None:
        """Give back budget a pull did not use."""
        with self.lock:
            self.claimed -= count

    def run(self) -> None:
        empty = 0
        try:
            while not self.stop.is_set():
                want = self.claim(self.batch)
                if want <= 0:
                    break
                messages = self.source.pull(want)
                if self.limit is not None:
                    self.unclaim(want - len(messages))
                self.leases.renew_if_due()
                if not messages:
                    empty += 1
                    if empty >= 2:
                        break
                    time.sleep(0.2)
                    continue
                empty = 0
                self.put(messages)
            self.batches.put(None)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            self.batches.put(exc)

    def put(self, messages: list[DeadLetter]) -> None:
        while not self.stop.is_set():
            try:
                self.batches.put(messages, timeout=0.5)
                return
            except queue.Full:
                continue
        for message in messages:  # stopping: nobody will handle them, give them back
            self.leases.hold(message)

    def close(self) -> None:
        """Stop the pullers; anything pulled but not handled is given back."""
        self.stop.set()
        while any(thread.is_alive() for thread in self.threads) or not self.batches.empty():
            try:
                item = self.batches.get(timeout=0.2)
            except queue.Empty:
                continue
            if isinstance(item, list):
                for message in item:
                    self.leases.hold(message)
        for thread in self.threads:
            thread.join()


def _drain(
    source: Source, limit: int | None, batch: int, leases: _Leases, *, pullers: int = 4
) -> Iterator[list[DeadLetter]]:
    """Pull batches until the subscription is empty or ``limit`` messages were seen.

    Background threads keep a few batches pulled ahead, so the broker's round
    trips (Pub/Sub hands out at most a few hundred messages per pull; the
    emulator 100) overlap with each other and with the work on earlier
    batches. A puller stops after two empty answers in a row: the emulator and
    Pub/Sub may answer empty while messages are still being redelivered.
    """
    ahead = _PullAhead(source, limit, batch, leases, pullers)
    for thread in ahead.threads:
        thread.start()
    finished = 0
    try:
        while finished < len(ahead.threads):
            item = ahead.batches.get()
            if item is None:
                finished += 1
                continue
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        ahead.close()


# ------------------------------------------------------------------ inspect


@dataclass
class Group:
    """Messages of one error class and app."""

    error_class: str
    app: str | None
    messages: int = 0
    events: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    sample_detail: str = ""
    dead_lettered_by_pubsub: bool = False

    def add(self, message: DeadLetter) -> None:
        self.messages += 1
        self.events += message.line_count
        when = message.publish_time
        if when is not None:
            self.first_seen = when if self.first_seen is None else min(self.first_seen, when)
            self.last_seen = when if self.last_seen is None else max(self.last_seen, when)
        if not self.sample_detail:
            self.sample_detail = message.error_detail
        self.dead_lettered_by_pubsub |= message.dead_lettered_by_pubsub


def inspect(
    source: Source, *, limit: int | None = 1000, selector: Selector | None = None
) -> list[Group]:
    """Peek at up to ``limit`` messages, grouped by (error class, app); acknowledges nothing."""
    leases = _Leases(source)
    groups: dict[tuple[str, str | None], Group] = {}
    seen: set[str] = set()
    try:
        for batch in _drain(source, limit, 500, leases):
            for message in batch:
                leases.hold(message)
                if message.message_id in seen or (selector and not selector.matches(message)):
                    continue
                seen.add(message.message_id)
                key = (message.error_class, message.app)
                groups.setdefault(key, Group(*key)).add(message)
    finally:
        leases.release_all()
    return sorted(groups.values(), key=lambda group: (-group.messages, group.error_class))


# ------------------------------------------------------------------- replay


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
    skipped_new: int = 0
    """Dead-lettered after the run started (e.g. replayed poison coming back)."""
    busy_seconds: float = 0.0
    """From the start of the run to its last acknowledgement (excludes the final empty pulls)."""
    still_failing: int = 0
    failed: int = 0
    capped: list[str] = field(default_factory=list)
    failing: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def skipped(self) -> int:
        """Messages left in place without trying."""
        return self.skipped_filter + self.skipped_cap + self.skipped_new

    def summary(self) -> str:
        """One line for humans."""
        verb = "would replay" if self.dry_run else "replayed"
        return (
            f"selected {self.selected}, {verb} {self.replayed} ({self.replayed_events} events), "
            f"skipped {self.skipped} (filter {self.skipped_filter}, replay cap "
            f"{self.skipped_cap}, newer than the run {self.skipped_new}), "
            f"still failing {self.still_failing}, publish errors {self.failed}"
        )

    def to_json(self) -> dict[str, Any]:
        """The report as JSON, lists cut at 1000 entries."""
        return {
            "dry_run": self.dry_run,
            "pulled": self.pulled,
            "selected": self.selected,
            "replayed": self.replayed,
            "replayed_events": self.replayed_events,
            "busy_seconds": round(self.busy_seconds, 3),
            "skipped": self.skipped,
            "skipped_filter": self.skipped_filter,
            "skipped_replay_cap": self.skipped_cap,
            "skipped_newer_than_run": self.skipped_new,
            "still_failing": self.still_failing,
            "publish_errors": self.failed,
            "capped_message_ids": self.capped[:1000],
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
    """
    report = ReplayReport(dry_run=dry_run)
    leases = _Leases(source)
    inflight = _Inflight(source, report, leases, depth=8)
    checker = Revalidator() if revalidate else None
    seen: set[str] = set()
    # A run replays what was dead-lettered before it started: poison it sends back
    # reappears with a new message id and must wait for the next run, not loop in this one.
    started = datetime.now(UTC)
    try:
        for messages in _drain(source, limit, batch, leases):
            report.pulled += len(messages)
            to_send: list[DeadLetter] = []
            for message in messages:
                if message.message_id in seen:  # redelivered within this run
                    leases.hold(message)
                    continue
                seen.add(message.message_id)
                if message.publish_time is not None and message.publish_time > started:
                    report.skipped_new += 1
                    leases.hold(message)
                    continue
                if selector is not None and not selector.matches(message):
                    report.skipped_filter += 1
                    leases.hold(message)
                    continue
                report.selected += 1
                if message.replay_count >= cap and not force:
                    report.skipped_cap += 1
                    report.capped.append(message.message_id)
                    leases.hold(message)
                    continue
                problems = checker.problems(message) if checker is not None else []
                if problems:
                    report.still_failing += 1
                    report.failing.append({"message_id": message.message_id, "problems": problems})
                    leases.hold(message)
                    continue
                to_send.append(message)
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

    def __init__(self, source: Source, report: ReplayReport, leases: _Leases, depth: int) -> None:
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
                except Exception as exc:  # it stays in the DLQ; the report says why
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
        except Exception as exc:  # unacknowledged: they return and are replayed (deduped)
            with self.lock:
                self.report.errors.append(f"acknowledge failed: {type(exc).__name__}: {exc}")
        finally:
            self.slots.release()

    def finish(self) -> None:
        """Wait for every batch to be settled."""
        self.acker.shutdown(wait=True)


# -------------------------------------------------------------------- purge


@dataclass
class PurgeReport:
    """What a purge did."""

    pulled: int = 0
    purged: int = 0
    skipped: int = 0
    archive: str = ""

    def summary(self) -> str:
        """One line for humans."""
        return f"purged {self.purged} (archived to {self.archive}), left {self.skipped} in place"


def purge(
    source: Source,
    archive: Path,
    *,
    selector: Selector | None = None,
    limit: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> PurgeReport:
    """Archive selected messages to JSONL (appended, fsynced), then acknowledge them."""
    report = PurgeReport(archive=str(archive))
    leases = _Leases(source)
    archive.parent.mkdir(parents=True, exist_ok=True)
    try:
        with archive.open("a", encoding="utf-8") as out:
            for messages in _drain(source, limit, 500, leases):
                report.pulled += len(messages)
                chosen = [m for m in messages if selector is None or selector.matches(m)]
                chosen_ids = {message.ack_id for message in chosen}
                for message in messages:
                    if message.ack_id not in chosen_ids:
                        leases.hold(message)
                report.skipped += len(messages) - len(chosen)
                for message in chosen:
                    out.write(json.dumps(message.archive_record(), ensure_ascii=False) + "\n")
                out.flush()
                os.fsync(out.fileno())  # on disk before anything is acknowledged
                source.ack([message.ack_id for message in chosen])
                report.purged += len(chosen)
                if progress is not None:
                    progress(len(messages))
    finally:
        leases.release_all()
    return report


def read_archive(path: Path) -> Iterator[dict[str, Any]]:
    """The records of a purge archive (``data`` decoded back to bytes)."""
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                record: dict[str, Any] = json.loads(line)
                record["data"] = base64.b64decode(record.pop("data_base64"))
                yield record
