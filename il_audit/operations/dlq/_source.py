"""Reading a dead-letter subscription: the ``Source`` protocol, Pub/Sub's, leases, pull-ahead.

Everything a run pulls is leased (hidden from other readers) until the run
acknowledges it, releases it, or dies; then the lease expires and the message
comes back. :class:`Leases` keeps what a run holds without acting on it
leased until the end of the run, :func:`drain` overlaps the broker's round trips.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import UTC
from typing import TYPE_CHECKING, Any, Protocol

from google.api_core import exceptions as core_exceptions

from il_audit.operations.dlq._messages import DeadLetter
from il_audit.operations.errors import DlqError
from il_audit.operations.pubsub_resources import DEFAULT_TIMEOUT
from il_audit.schemas.wire import INSPECT_SUFFIX

if TYPE_CHECKING:
    from il_audit.config.settings import AuditSettings

DEFAULT_LEASE_SECONDS = 60
DEFAULT_PULL_TIMEOUT = 2.0
"""An empty pull waits about this long, less a second, on the emulator (and up to it on Pub/Sub)."""


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
        lease_seconds: int = DEFAULT_LEASE_SECONDS,
        pull_timeout: float = DEFAULT_PULL_TIMEOUT,
    ) -> None:
        from il_audit.subscriber_fn.pull_client import subscriber_client

        self.lease_seconds = lease_seconds
        """How long pulled messages stay hidden; after a crash they return after this."""
        self.pull_timeout = pull_timeout
        """An empty pull can wait this long (the emulator always does)."""
        self.client = client or subscriber_client()  # large dead letters: no 4 MiB limit
        if "/" not in subscription:
            if not project:
                raise DlqError(f"give the full path of {subscription!r} or set a project")
            subscription = self.client.subscription_path(project, subscription)
        self.subscription = subscription

    @classmethod
    def from_settings(
        cls,
        settings: AuditSettings,
        subscription: str | None = None,
        *,
        lease_seconds: int = DEFAULT_LEASE_SECONDS,
        pull_timeout: float = DEFAULT_PULL_TIMEOUT,
    ) -> PubSubSource:
        """``subscription`` (an id or a full path), by default the inspection subscription
        ``DLQ_TOPIC-inspect`` of the settings' project."""
        if not settings.project and not (subscription and "/" in subscription):
            raise DlqError("no project: set GOOGLE_CLOUD_PROJECT (or give a full path)")
        return cls(
            subscription or f"{settings.dlq_topic}{INSPECT_SUFFIX}",
            project=settings.project,
            lease_seconds=lease_seconds,
            pull_timeout=pull_timeout,
        )

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
            for received in type(response).pb(response).received_messages
        ]
        if messages:
            self.extend([message.ack_id for message in messages], self.lease_seconds)
        return messages

    def ack(self, ack_ids: Sequence[str]) -> None:
        """Acknowledge in chunks (the API takes at most a few thousand ids per call)."""
        for chunk in _chunks(ack_ids, 1000):
            self.client.acknowledge(
                request={"subscription": self.subscription, "ack_ids": chunk},
                timeout=DEFAULT_TIMEOUT,
            )

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
                },
                timeout=DEFAULT_TIMEOUT,
            )

    def close(self) -> None:
        """Close the client's channel."""
        self.client.close()


def _chunks(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


class Leases:
    """Messages a run keeps leased without acting on them, released at the end.

    Holding them (instead of releasing at once) keeps the next pull from
    returning the same messages; their leases are renewed while the run lasts.
    """

    def __init__(self, source: Source) -> None:
        self.source = source
        self.ack_ids: list[str] = []
        self._lease = int(getattr(source, "lease_seconds", DEFAULT_LEASE_SECONDS))
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
        self, source: Source, limit: int | None, batch: int, leases: Leases, pullers: int
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
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which re-raises it
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


def drain(
    source: Source, limit: int | None, batch: int, leases: Leases, *, pullers: int = 4
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
