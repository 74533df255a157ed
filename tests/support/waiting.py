"""Waiting in tests: every wait has a deadline, and a failed wait says what it waited for.

Tests never ``time.sleep`` to let something happen and never loop without a
deadline (``tests/test_test_hygiene.py`` checks both): they poll a predicate
with :func:`wait_until`, or :func:`poll` where running out of time is an answer
rather than a failure. A sleep that *is* the behaviour under test (pacing a
producer, holding a lock for a while, killing a process at a random moment)
stays a ``time.sleep``, on the hygiene test's allow-list, with a comment.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TypeVar

__all__ = ["poll", "retrying", "rounds", "wait_until"]

T = TypeVar("T")


def rounds(timeout: float, interval: float = 0.2) -> Iterator[float]:
    """Yield the seconds left, ``interval`` apart, until ``timeout`` has passed.

    The first round comes at once; the loop ``for _ in rounds(...)`` is bounded by
    construction, so ``break`` out of it when done and handle the timeout after it.
    """
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        yield left
        time.sleep(min(interval, max(deadline - time.monotonic(), 0)))


def poll(predicate: Callable[[], object], timeout: float, *, interval: float = 0.2) -> bool:
    """True as soon as ``predicate()`` is truthy; False once ``timeout`` seconds passed.

    The predicate is asked one last time at the deadline, so a slow predicate
    never loses a success it would have seen.
    """
    for _ in rounds(timeout, interval):
        if predicate():
            return True
    return bool(predicate())


def wait_until(
    predicate: Callable[[], object], timeout: float, message: str, *, interval: float = 0.2
) -> None:
    """Poll ``predicate`` every ``interval`` seconds; fail naming ``message`` after ``timeout``."""
    if not poll(predicate, timeout, interval=interval):
        raise AssertionError(f"timed out after {timeout:g} s waiting for {message}")


def retrying(
    action: Callable[[], T],
    errors: tuple[type[BaseException], ...],
    timeout: float,
    *,
    interval: float = 0.2,
) -> T:
    """``action()``'s result, calling it again while it raises one of ``errors``.

    After ``timeout`` seconds the last error propagates as it is.
    """
    for _ in rounds(timeout, interval):
        try:
            return action()
        except errors:
            pass
    return action()
