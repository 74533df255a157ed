"""The publisher's heartbeat: its counters as an ``audit.publisher.heartbeat`` event.

Every ``IL_AUDIT_HEARTBEAT_SECONDS`` (checked on the publisher's thread, never
the caller's) and once at shutdown, a publisher that has emitted anything
numbers one more event that carries its counters and the number it was given
(``last_sequence``, the highest assigned so far). It goes to the *front* of the
queue and travels in a message of its own, so it reaches the warehouse ahead of
the events it counts that are still in memory: if the process then dies
(SIGKILL, no spool), the ``pipeline_completeness`` view sees numbers below
``last_sequence`` that never arrived, a gap. See ``docs/completeness.md``.

A periodic heartbeat is sent only when the app emitted (or dropped) something
since the previous one, or when the previous one still counted events in
memory, so an idle process stops producing events after one more; the
shutdown one is sent whenever the app ever emitted anything.
"""

from __future__ import annotations

import threading
from typing import Any, Final

from il_audit.schemas.taxonomy import AUDIT_PUBLISHER_HEARTBEAT

HEARTBEAT: Final = AUDIT_PUBLISHER_HEARTBEAT
COUNTERS: Final = ("accepted", "published", "invalid", "failed", "dropped", "spooled", "drained")
"""The payload's counters, each ``PublisherStats``' field of the same name."""


class Heartbeat:
    """When the next heartbeat is due, and what the previous one said."""

    def __init__(self, interval: float, now: float) -> None:
        self.interval = interval
        self.due_at: float | None = now + interval if interval > 0 else None
        """Monotonic time of the next periodic heartbeat (None: periodic ones are off)."""
        self._lock = threading.Lock()  # the worker's tick and shutdown's final beat
        self._sent = 0
        self._emitted_then = 0  # the app's events (accepted + dropped) at the previous one
        self._pending_then = 0

    def is_due(self, now: float) -> bool:
        """Whether the periodic heartbeat's time has come (then the next is scheduled)."""
        if self.due_at is None or now < self.due_at:
            return False
        self.due_at = now + self.interval
        return True

    def payload(self, stats: Any, *, final: bool) -> dict[str, Any] | None:
        """The counters to send now, or None when this heartbeat is not wanted.

        ``stats``: the publisher's ``PublisherStats``. Counters include earlier
        heartbeats (they are events too); ``emitted`` leaves them out.
        """
        with self._lock:
            emitted = stats.accepted + stats.dropped - self._sent
            if emitted <= 0:
                return None  # nothing ever emitted: an idle process sends nothing
            if not final and emitted == self._emitted_then and self._pending_then == 0:
                return None
            self._sent += 1
            self._emitted_then = emitted
            self._pending_then = stats.pending
        body = {name: getattr(stats, name) for name in COUNTERS}
        body["pending"] = stats.pending
        body["final"] = final
        body["interval_seconds"] = self.interval
        return body
