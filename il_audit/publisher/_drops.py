"""The publisher's drop tally: counts by reason, a rate-limited line, an exit summary.

A loop that overruns ``write_queue_max_size`` drops thousands of events in a
second. The first drop is logged at once and later ones at most every
``interval`` seconds; each line carries the running total when it is printed
and how many drops it stands for since the previous line. Drops after the last
line would otherwise go unseen, so :meth:`DropTally.summary` gives one line for
the publisher's shutdown (the exit hook's path) naming every reason and the two
fixes. Only counts and reasons are logged, never an event's content.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable

_FIXES = (
    "raise IL_AUDIT_WRITE_QUEUE_MAX_SIZE (now {max_size}) for bursts, "
    "or set IL_AUDIT_SPOOL_DIR to keep events on disk through an outage"
)


class DropTally:
    """Thread-safe counts of dropped events, for one publisher."""

    def __init__(
        self,
        logger: logging.Logger,
        interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._by_reason: Counter[str] = Counter()
        self._total = 0
        self._last_line = float("-inf")
        self._unlogged = 0  # dropped since the last line, not counted in it
        self._seen_by_flush = 0
        self._summarised = 0

    @property
    def total(self) -> int:
        """Events dropped since the publisher started."""
        return self._total

    def by_reason(self) -> dict[str, int]:
        """Events dropped per reason (``queue_full``, ``shut_down``, ``spool_full``, ...)."""
        with self._lock:
            return dict(self._by_reason)

    def add(self, reason: str, count: int, describe: str) -> None:
        """Count ``count`` drops; log a line when the interval has passed since the last.

        ``describe`` is the reason with its context (pending, limit); it goes
        into the line as is.
        """
        with self._lock:
            self._total += count
            self._by_reason[reason] += count
            now = self._clock()
            if now - self._last_line < self._interval:
                self._unlogged += count
                return
            self._last_line = now
            total = self._total
            earlier, self._unlogged = self._unlogged, 0
        message = "il-audit dropped %d event(s) (%s); %d dropped in total"
        args: tuple[object, ...] = (count, describe, total)
        if earlier:
            message += " (%d more dropped since the last line)"
            args = (*args, earlier)
        self._logger.warning(message, *args)

    def since_flush(self) -> tuple[int, int]:
        """The running total now, and the events dropped since the last :meth:`mark_flushed`."""
        with self._lock:
            return self._total, self._total - self._seen_by_flush

    def mark_flushed(self, seen: int) -> None:
        """A flush has reported the drops up to ``seen`` (a total from :meth:`since_flush`)."""
        with self._lock:
            self._seen_by_flush = max(self._seen_by_flush, seen)

    def summary(self, max_size: int) -> str | None:
        """One line naming what was dropped and the fixes; None when nothing new was dropped."""
        with self._lock:
            if self._total == self._summarised:
                return None
            self._summarised = self._total
            total = self._total
            reasons = ", ".join(
                f"{reason} {count}" for reason, count in sorted(self._by_reason.items())
            )
        return f"il-audit dropped {total} event(s) in this process ({reasons}); " + _FIXES.format(
            max_size=max_size
        )
