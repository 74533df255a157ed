"""A sliding-window rate limiter with bounded memory, keyed by actor or client address.

The endpoint keeps two: the request limit (per actor, else per address) and
the refusal budget of each address before authentication (``_limits``), which
holds a request's slot while it is answered and gives it back (:meth:`release`)
unless the answer was a refusal.

Each key keeps the times of its accepted requests inside the window (at most
``max_requests`` of them); refused requests are not recorded, so a client that
keeps knocking is let in again as its old requests leave the window. Keys live
in an ordered dict sorted by last accepted request: expired keys are pruned
from the front, and past ``max_keys`` the least recently accepted keys are
evicted. Memory is therefore at most ``max_keys * max_requests`` timestamps,
whatever the traffic. Every operation is amortised O(1).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable


class SlidingWindowLimiter:
    """At most ``max_requests`` per ``window_seconds`` per key; thread-safe."""

    def __init__(
        self,
        *,
        max_requests: int,
        window_seconds: float,
        max_keys: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_requests < 1 or window_seconds <= 0 or max_keys < 1:
            raise ValueError("max_requests, window_seconds and max_keys must be positive")
        self.max_requests = max_requests
        self.window_seconds = window_seconds
        self.max_keys = max_keys
        self._clock = clock
        self._lock = threading.Lock()
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._hits)

    def check(self, key: str) -> float | None:
        """Record a request for ``key``; ``None`` if allowed, else seconds until it would be."""
        with self._lock:
            now = self._clock()
            horizon = now - self.window_seconds
            self._prune(horizon)
            hits = self._hits.get(key)
            if hits is None:
                hits = deque(maxlen=self.max_requests)
                self._hits[key] = hits
            else:
                while hits and hits[0] <= horizon:
                    hits.popleft()
                if len(hits) >= self.max_requests:
                    return max(hits[0] - horizon, 0.0)
            hits.append(now)
            self._hits.move_to_end(key)
            while len(self._hits) > self.max_keys:
                self._hits.popitem(last=False)
            return None

    def release(self, key: str) -> None:
        """Give back the latest request recorded for ``key`` (a request that is not to count)."""
        with self._lock:
            hits = self._hits.get(key)
            if hits:
                hits.pop()
            if hits is not None and not hits:
                del self._hits[key]

    def _prune(self, horizon: float) -> None:
        # The front holds the key whose last accepted request is the oldest.
        while self._hits:
            key, hits = next(iter(self._hits.items()))
            if hits and hits[-1] > horizon:
                return
            del self._hits[key]

    def reset(self) -> None:
        """Forget every key (tests)."""
        with self._lock:
            self._hits.clear()


def retry_after_header(seconds: float) -> str:
    """Whole seconds for ``Retry-After``, at least 1."""
    return str(max(1, math.ceil(seconds)))
