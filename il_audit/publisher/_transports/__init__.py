"""Where the background publisher hands finished messages: Pub/Sub, memory, or in-process."""

from il_audit.publisher._transports.base import PublishFuture, Transport
from il_audit.publisher._transports.memory import MemoryTransport, PublishedMessage

__all__ = ["MemoryTransport", "PublishFuture", "PublishedMessage", "Transport"]
