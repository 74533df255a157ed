"""Creating the publisher's transport on its own thread, with backoff and a bounded log.

The transport is built lazily by the publisher's thread (the imports were done
on the constructing thread: see ``_transports.factory``). Creating it can fail
for as long as the project cannot be found or credentials are missing; each
failure is logged at a bounded rate, reported to ``on_error``, and retried
after an exponential backoff. Events wait meanwhile, in memory or the spool.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final

from il_audit._ratelimit import RateLimitedLog
from il_audit.publisher._transports.base import Transport
from il_audit.publisher.errors import PublisherError, TransportUnavailableError
from il_audit.retrying import backoff_seconds

logger = logging.getLogger(__name__)

_LOG_INTERVAL_SECONDS: Final = 10.0


class TransportOpener:
    """Builds the transport once it can be built; remembers when to try again."""

    def __init__(
        self,
        make: Callable[[], Transport],
        kind: str,
        *,
        report: Callable[[PublisherError], None],
        initial_seconds: float,
        max_seconds: float,
    ) -> None:
        self.kind = kind
        self.retry_at = 0.0
        """Monotonic time of the next attempt after a failure (0: at once)."""
        self._make = make
        self._report = report
        self._initial = initial_seconds
        self._max = max_seconds
        self._failures = 0
        self._log = RateLimitedLog(logger, _LOG_INTERVAL_SECONDS)

    def open(self, now: float, *, spooling: bool) -> Transport | None:
        """The new transport, or None when it is not time yet or creating it failed.

        ``spooling`` only changes what the error says happens to events meanwhile.
        """
        if now < self.retry_at:
            return None
        try:
            transport = self._make()
        except Exception as exc:  # noqa: BLE001 - any failure: back off, report, keep events
            self._failures += 1
            delay = backoff_seconds(self._failures, self._initial, self._max)
            self.retry_at = now + delay
            waiting = "events are spooled" if spooling else "events stay queued"
            error = TransportUnavailableError(
                f"cannot create the {self.kind} transport: {exc}; "
                f"retrying in {delay:.1f}s, {waiting}"
            )
            error.__cause__ = exc
            self._log.log(logging.ERROR, "il-audit: %s", error)
            self._report(error)
            return None
        self._failures = 0
        return transport
