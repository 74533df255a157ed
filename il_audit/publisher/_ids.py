"""Event ids: UUIDv7 strings (RFC 9562) built cheaply on the caller's thread.

Layout (RFC 9562 section 6.2, method 2, "monotonic random"): 48-bit Unix
milliseconds; version 7; then 26 random bits drawn once per process (the 12
bits of ``rand_a`` and the top 14 of ``rand_b``) and a 48-bit counter that
starts at a random value. Ids from one process therefore sort in the order
they were made, ids from different processes differ in their random part, and
making one costs a counter step and one small format: the time text is
rebuilt once per millisecond, the process part once per process (and again
after ``fork()``).
"""

from __future__ import annotations

import itertools
import os
import secrets

_COUNTER_BITS = 48
_COUNTER_MASK = (1 << _COUNTER_BITS) - 1


class _State:
    """Per-process parts of the id; replaced as a whole, so readers see one consistent set."""

    __slots__ = ("counter", "middle", "start")

    def __init__(self) -> None:
        rand_a = secrets.randbits(12)
        rand_b_high = secrets.randbits(14) | 0x8000  # the variant bits, 10xx
        self.middle = f"7{rand_a:03x}-{rand_b_high:04x}-"
        # Start in the lower half so that 2**47 ids fit before the counter wraps.
        self.start = secrets.randbits(_COUNTER_BITS - 1)
        self.counter = itertools.count()


_state = _State()
_time_text: tuple[int, str] = (-1, "")


def _reseed() -> None:
    global _state
    _state = _State()


os.register_at_fork(after_in_child=_reseed)


def new_event_id(time_ns: int) -> str:
    """A UUIDv7 string for an event that happened at ``time_ns`` (Unix nanoseconds)."""
    global _time_text
    millis = time_ns // 1_000_000
    cached_millis, time_text = _time_text
    if millis != cached_millis:
        time_text = "%08x-%04x-" % (millis >> 16, millis & 0xFFFF)  # noqa: UP031
        _time_text = (millis, time_text)
    state = _state
    # An f-string: ~60 ns cheaper than %-formatting, measured here (2026-12-06).
    return f"{time_text}{state.middle}{(state.start + next(state.counter)) & _COUNTER_MASK:012x}"
