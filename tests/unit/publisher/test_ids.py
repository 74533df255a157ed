"""Event ids are UUIDv7: unique, time-ordered, different after fork."""

from __future__ import annotations

import itertools
import sys
import threading
import time
import uuid

from il_audit.publisher import _ids


def test_ids_are_uuid_version_7() -> None:
    """Version 7, RFC 4122 variant, and the millisecond timestamp in the first 48 bits."""
    now = time.time_ns()
    parsed = uuid.UUID(_ids.new_event_id(now))
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122
    assert parsed.int >> 80 == now // 1_000_000


def test_ids_sort_by_time_and_are_unique() -> None:
    """Ids made in sequence are distinct and sort in the order they were made."""
    ids = [_ids.new_event_id(time.time_ns()) for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)


def test_reseeding_changes_the_random_part() -> None:
    """After fork the random part is drawn again, so parent and child ids differ."""
    now = time.time_ns()
    before = _ids.new_event_id(now)
    _ids._reseed()
    after = _ids.new_event_id(now)
    assert before[:14] == after[:14]  # same millisecond
    assert before[14:] != after[14:]


def test_time_text_follows_the_clock() -> None:
    """Ids made in different milliseconds carry their own millisecond."""
    first = uuid.UUID(_ids.new_event_id(1_795_806_305_367_000_000))
    second = uuid.UUID(_ids.new_event_id(1_795_806_305_368_500_000))
    assert (first.int >> 80, second.int >> 80) == (1_795_806_305_367, 1_795_806_305_368)


def _counter_from(start: int) -> None:
    """Restart this process's counter at ``start`` (the random part is kept)."""
    _ids._state.start = start
    _ids._state.counter = itertools.count()


def test_the_counter_text_crosses_its_8_bit_and_48_bit_boundaries() -> None:
    """The last 12 hex digits are the 48-bit counter, across low-bits carries and a wrap."""
    now = time.time_ns()
    for start in (0xFF - 3, 0xFFFF - 3, 0x1234_5678_FFFF - 3, (1 << 48) - 3):
        _counter_from(start)
        tails = [_ids.new_event_id(now)[-12:] for _ in range(8)]
        assert tails == [f"{(start + step) & ((1 << 48) - 1):012x}" for step in range(8)]
    _ids._reseed()


def test_threads_never_share_an_id_across_a_carry() -> None:
    """Eight threads making ids through carries of the low 8 bits: all distinct, and
    together exactly the counter values handed out. (A smoke check: the race it looks
    for, one thread's low bits paired with another's high bits, is ruled out by
    construction, one tuple read, and would show here only by luck.)"""
    _counter_from(0xFFFF - 1000)
    made: list[list[str]] = [[] for _ in range(8)]
    now = time.time_ns()

    def make(into: list[str]) -> None:
        for _ in range(40_000):
            into.append(_ids.new_event_id(now))

    threads = [threading.Thread(target=make, args=(ids,)) for ids in made]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible, carries included
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        sys.setswitchinterval(interval)
    ids = [event_id for ids in made for event_id in ids]
    assert len(ids) == 320_000
    assert len(set(ids)) == len(ids)
    counters = sorted(int(event_id[-12:], 16) for event_id in ids)
    assert counters == list(range(0xFFFF - 1000, 0xFFFF - 1000 + 320_000))
    _ids._reseed()
