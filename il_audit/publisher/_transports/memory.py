"""A transport that keeps messages in memory: for tests, demos and dry runs."""

from __future__ import annotations

import itertools
import json
import threading
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from il_audit.config.settings import AuditSettings
from il_audit.publisher._transports.base import PublishFuture
from il_audit.schemas.wire import message_body, split_lines


@dataclass(frozen=True)
class PublishedMessage:
    """One message as a transport received it."""

    message_id: str
    data: bytes
    attributes: Mapping[str, str]

    def envelopes(self) -> list[dict[str, Any]]:
        """The NDJSON lines decoded (raises ``ValueError`` on a line that is not JSON)."""
        return [json.loads(line) for _, line in split_lines(message_body(self.data))]


def make_factory(_settings: AuditSettings) -> Callable[[], MemoryTransport]:
    """The ``memory`` entry point."""
    return MemoryTransport


class MemoryTransport:
    """Keeps the newest ``max_messages`` messages (all of them when ``None``)."""

    name = "memory"

    def __init__(self, max_messages: int | None = 10_000) -> None:
        self._messages: deque[PublishedMessage] = deque(maxlen=max_messages)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def publish(self, data: bytes, attributes: Mapping[str, str]) -> PublishFuture:
        """Store the message and return an already resolved future."""
        message = PublishedMessage(str(next(self._ids)), data, dict(attributes))
        with self._lock:
            self._messages.append(message)
        future: PublishFuture = Future()
        future.set_result(message.message_id)
        return future

    def close(self, timeout: float | None) -> None:
        """Nothing to release."""

    @property
    def messages(self) -> list[PublishedMessage]:
        """A snapshot of the stored messages, oldest first."""
        with self._lock:
            return list(self._messages)

    def envelopes(self) -> list[dict[str, Any]]:
        """Every stored envelope, decoded, in publish order."""
        return [envelope for message in self.messages for envelope in message.envelopes()]

    def clear(self) -> None:
        """Forget every stored message."""
        with self._lock:
            self._messages.clear()
