"""Event ids are UUIDv7: unique, time-ordered, different after fork."""

from __future__ import annotations

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
