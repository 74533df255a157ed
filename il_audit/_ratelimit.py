"""A logger wrapper that logs at most once per interval and counts what it held back.

Drops and invalid events can come by the thousand per second; the first is
logged at once, later ones at most every ``interval`` seconds, each line saying
how many similar messages it stands for.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any


class RateLimitedLog:
    """Wraps ``logger`` for one kind of message."""

    def __init__(self, logger: logging.Logger, interval: float = 10.0) -> None:
        self._logger = logger
        self._interval = interval
        self._lock = threading.Lock()
        self._last = float("-inf")
        self._suppressed = 0

    def log(self, level: int, message: str, *args: Any) -> bool:
        """Log now if the interval has passed, else count it; True when it was logged."""
        with self._lock:
            now = time.monotonic()
            if now - self._last < self._interval:
                self._suppressed += 1
                return False
            self._last = now
            suppressed, self._suppressed = self._suppressed, 0
        if suppressed:
            message += " (%d similar message(s) suppressed)"
            args = (*args, suppressed)
        self._logger.log(level, message, *args)
        return True

    def warning(self, message: str, *args: Any) -> bool:
        """:meth:`log` at WARNING."""
        return self.log(logging.WARNING, message, *args)
