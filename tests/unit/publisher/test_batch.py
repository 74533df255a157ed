"""Packing lines into NDJSON messages with shared attributes."""

from __future__ import annotations

from il_audit.publisher._batch import OutgoingMessage


def test_lines_are_joined_as_ndjson() -> None:
    """Data is the lines joined by newlines; size counts the separators."""
    message = OutgoingMessage(first_seq=1)
    message.add(b'{"a":1}', 1, "ingest", "auth.logout")
    message.add(b'{"b":2}', 2, "ingest", "auth.logout")
    assert message.data() == b'{"a":1}\n{"b":2}'
    assert message.size == len(message.data())
    assert (message.first_seq, message.last_seq, message.count) == (1, 2, 2)


def test_shared_app_and_type_become_attributes() -> None:
    """app and event_type are attributes only when every event shares them."""
    message = OutgoingMessage(first_seq=1)
    message.add(b"{}", 1, "ingest", "auth.logout")
    message.add(b"{}", 2, "ingest", "auth.login.succeeded")
    assert message.attributes() == {"il_audit_schema": "1", "il_audit_count": "2", "app": "ingest"}


def test_limits_on_count_and_bytes() -> None:
    """A line fits while both the event count and the byte size stay within limits."""
    message = OutgoingMessage(first_seq=1)
    message.add(b"x" * 10, 1, None, None)
    assert message.fits(b"y" * 10, max_events=2, max_bytes=21)
    assert not message.fits(b"y" * 11, max_events=2, max_bytes=21)
    message.add(b"y" * 10, 2, None, None)
    assert not message.fits(b"z", max_events=2, max_bytes=1000)


def test_a_large_first_line_always_fits() -> None:
    """An event bigger than the message limit travels alone rather than not at all."""
    message = OutgoingMessage(first_seq=1)
    assert message.fits(b"x" * 2000, max_events=10, max_bytes=1024)


def test_unknown_app_is_not_an_attribute() -> None:
    """Events whose app could not be read leave the attribute out."""
    message = OutgoingMessage(first_seq=1)
    message.add(b"{}", 1, None, None)
    assert message.attributes() == {"il_audit_schema": "1", "il_audit_count": "1"}
