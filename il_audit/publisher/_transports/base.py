"""The transport protocol: publish one message, get a future for its message id."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Future
from typing import Protocol

PublishFuture = Future[str]


class Transport(Protocol):
    """Delivers messages for the background publisher.

    ``publish`` may raise or return a future that fails; the publisher decides
    whether to retry (see ``il_audit.retrying``). Transports are only
    ever called from the publisher's own thread.
    """

    name: str

    def publish(self, data: bytes, attributes: Mapping[str, str]) -> PublishFuture:
        """Start publishing one message; the future resolves to its message id."""
        ...

    def close(self, timeout: float | None, /) -> None:
        """Release resources, waiting at most ``timeout`` seconds for in-flight work."""
        ...
