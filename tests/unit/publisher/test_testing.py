"""capture_events and the audit_events fixture: what host apps use in their tests."""

from __future__ import annotations

import pytest

import il_audit
from il_audit import AuditContext, emit
from il_audit.publisher import InvalidEventError
from il_audit.publisher.testing import CapturedEvents, capture_events
from il_audit.schemas import taxonomy as T


def test_capture_collects_envelopes_in_order() -> None:
    """Events emitted inside the block are captured, validated, in order."""
    with capture_events() as events:
        first = emit(T.AUTH_LOGIN_SUCCEEDED, context=AuditContext(app="a"), status="succeeded")
        il_audit.emit_api_usage(
            context=AuditContext(app="a"),
            service="vertex_gemini",
            operation="generate_content",
            model_id="gemini-2.0-flash",
            input_tokens=10,
        )
    assert events.event_types == [T.AUTH_LOGIN_SUCCEEDED, T.API_USAGE_RECORDED]
    assert events[0].event_id == first
    assert events.of_type(T.API_USAGE_RECORDED)[0].usage[0].input_tokens == 10


def test_capture_is_strict_by_default() -> None:
    """An invalid event fails the test at the emit() line."""
    with pytest.raises(InvalidEventError), capture_events():
        emit("made.up.type", context=AuditContext(app="a"))


def test_non_strict_capture_collects_invalid_events() -> None:
    """strict=False keeps invalid events aside in events.invalid."""
    with capture_events(strict=False) as events:
        emit("made.up.type", context=AuditContext(app="a"))
    assert list(events) == []
    assert events.invalid[0].event_type == "made.up.type"


def test_capture_restores_the_previous_publisher() -> None:
    """After the block, emit() goes back to the configured publisher."""
    from il_audit.publisher import get_publisher

    before = get_publisher()
    with capture_events():
        pass
    assert get_publisher() is before


def test_fixture_from_the_pytest_plugin(audit_events: CapturedEvents) -> None:
    """The auto-loaded plugin provides audit_events."""
    emit(T.AUTH_LOGOUT, context=AuditContext(app="a"))
    assert audit_events.event_types == [T.AUTH_LOGOUT]
