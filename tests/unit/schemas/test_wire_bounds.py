"""The wire contract's bounds: gzip members, lines, counts, dead-letter data and attributes."""

from __future__ import annotations

import gzip
import hashlib
import tracemalloc

import pytest

from il_audit.schemas import wire
from il_audit.schemas.envelope import MAX_ENVELOPE_BYTES

FIRST, SECOND = b'{"n": 1}\n{"n": 2}', b'{"n": 3}'


@pytest.mark.parametrize(
    "data",
    [
        wire.compress_body(FIRST) + wire.compress_body(SECOND),
        wire.compress_body(FIRST) + b"\x00" * 7,
        wire.compress_body(FIRST) + b"\x00" * 3 + wire.compress_body(SECOND) + b"\x00",
        b"".join(wire.compress_body(b"%d\n" % n) for n in range(wire.MAX_GZIP_MEMBERS)),
    ],
    ids=["two-members", "zero-padding", "padding-between-members", "at-the-member-limit"],
)
def test_every_gzip_member_is_read_as_pythons_gzip_reads_it(data: bytes) -> None:
    """Members after the first are read, and zero padding is skipped, as gzip.decompress does."""
    assert wire.message_body(data) == gzip.decompress(data)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (wire.compress_body(FIRST) + b"garbage", "7 bytes after gzip member 1 are not"),
        (wire.compress_body(FIRST) + b"\x00\x00\x1f", "1 bytes after gzip member 1 are not"),
        (wire.compress_body(FIRST) + wire.GZIP_MAGIC + b"junk", "does not inflate"),
        (wire.compress_body(FIRST) + wire.compress_body(SECOND)[:-4], "truncated"),
        (wire.compress_body(b"x") * (wire.MAX_GZIP_MEMBERS + 1), "more than 100 members"),
    ],
    ids=["garbage", "a-stray-byte", "a-broken-member", "a-truncated-member", "too-many-members"],
)
def test_anything_but_members_and_padding_after_a_member_is_malformed(
    data: bytes, problem: str
) -> None:
    """Bytes after a member that are no member, a broken member, too many: refused, with why."""
    with pytest.raises(wire.MalformedBodyError, match=problem):
        wire.message_body(data)


def test_the_inflate_limit_counts_all_members_together(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two members of 6,000 bytes each are over a 10,000-byte limit; exactly 10,000 is not."""
    monkeypatch.setattr(wire, "MAX_INFLATED_BYTES", 10_000)
    with pytest.raises(wire.MalformedBodyError, match="more than 10000 bytes"):
        wire.message_body(wire.compress_body(b"a" * 6000) * 2)
    assert len(wire.message_body(wire.compress_body(b"a" * 5000) * 2)) == 10_000


def test_split_lines_holds_one_line_at_a_time() -> None:
    """Reading 100,000 lines allocates a few lines' worth, never a list of them all."""
    body = b"{}\n" * 100_000
    tracemalloc.start()
    try:
        lines = sum(1 for _ in wire.split_lines(body))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert lines == 100_000
    assert peak < 64 * 1024, peak


def test_a_body_over_the_line_limit_is_counted_not_read() -> None:
    """Blank lines count toward the limit; past it count_lines gives the total, unread."""
    at_limit = b"\n" * (wire.MAX_LINES_PER_MESSAGE - 1) + b"{}"
    assert wire.line_total(at_limit) == wire.MAX_LINES_PER_MESSAGE
    assert wire.line_total(b"a\nb\n") == 2
    assert wire.line_total(b"") == 0
    assert wire.count_lines(at_limit) == 1
    over = b"{}\n" * (wire.MAX_LINES_PER_MESSAGE + 1)
    assert wire.count_lines(wire.compress_body(over)) == wire.MAX_LINES_PER_MESSAGE + 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3", 3),
        ("0012", 12),
        ("100", 100),
        ("101", None),
        ("²", None),
        ("١٢", None),  # Arabic-Indic digits: isdigit() is true, and int() would take them
        ("9" * 5000, None),
        ("", None),
        ("-1", None),
        (" 1", None),
        ("1.0", None),
    ],
)
def test_ascii_int_takes_only_ascii_digits_within_the_bound(
    text: str, expected: int | None
) -> None:
    """Counts read from attributes and push bodies: ASCII digits up to a maximum, else None."""
    assert wire.ascii_int(text, 100) == expected


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        (None, 3),  # no attribute: the lines
        ("500", 500),
        ("²", 3),  # isdigit() but not int(): the lines, never an error
        ("9" * 5000, 3),
        ("0", 3),
        (str(wire.MAX_LINES_PER_MESSAGE + 1), 3),
    ],
)
@pytest.mark.parametrize("compressed", [False, True])
def test_envelope_count_reads_the_attribute_else_the_lines(
    count: str | None, expected: int, compressed: bool
) -> None:
    """il_audit_count when it is 1..MAX_LINES_PER_MESSAGE in ASCII digits, else the body's
    lines, a gzip body inflated first (spool records and the pull worker's batch sizes)."""
    body = b"a\nb\n\nc\n"
    data = wire.compress_body(body) if compressed else body
    attributes = {} if count is None else {wire.ATTR_COUNT: count}
    assert wire.envelope_count(attributes, data) == expected


def test_dead_letter_data_over_the_pubsub_limit_is_cut_to_the_envelope_limit() -> None:
    """Up to the limit data is kept whole; past it the first 1 MiB, its size and SHA-256."""
    assert wire.DEAD_LETTER_KEPT_BYTES == MAX_ENVELOPE_BYTES
    fits = b"x" * wire.PUBSUB_MESSAGE_LIMIT_BYTES
    assert wire.cut_dead_letter_data(fits) == (fits, {})
    over = bytes(range(256)) * (wire.PUBSUB_MESSAGE_LIMIT_BYTES // 256 + 1)
    data, attributes = wire.cut_dead_letter_data(over)
    assert data == over[:MAX_ENVELOPE_BYTES]
    assert attributes == {
        wire.ATTR_DATA_CUT: "true",
        wire.ATTR_ORIGINAL_BYTES: str(len(over)),
        wire.ATTR_ORIGINAL_SHA256: hashlib.sha256(over).hexdigest(),
    }


def test_attributes_are_bounded_to_pubsub_limits_keeping_ours() -> None:
    """150 originals, a key of 300 bytes and a value of 2,000: ours whole, at most 100 in all."""
    own = {wire.ATTR_ERROR_CLASS: "oversize", wire.ATTR_COUNT: "1"}
    original = {"long": "é" * 1000, "k" * 300: "v"}
    original |= {f"k{index:03d}": "v" for index in range(148)}
    original[wire.ATTR_ERROR_CLASS] = "stale"  # ours wins
    bounded = wire.bounded_attributes(own, original)
    assert len(bounded) == wire.MAX_ATTRIBUTES
    assert bounded.items() >= own.items()
    assert all(0 < len(key.encode()) <= wire.MAX_ATTRIBUTE_KEY_BYTES for key in bounded)
    assert all(len(value.encode()) <= wire.MAX_ATTRIBUTE_BYTES for value in bounded.values())
    assert bounded["long"].endswith("...")
    assert "k" * 300 not in bounded
    # 96 of the 148 short ones fit beside ours, "long" and the marker: 52 dropped, the long
    # key dropped, the long value cut.
    assert bounded[wire.ATTR_ATTRIBUTES_CUT] == "54"
    assert wire.bounded_attributes(own, {"app": "x"}) == {**own, "app": "x"}
