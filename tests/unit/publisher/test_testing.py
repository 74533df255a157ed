"""capture_events, the audit_events fixture and reset(): what host apps use in their tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import il_audit
from il_audit import (
    AuditContext,
    active_turn_usage,
    bind_chat_turn_usage,
    bind_job_audit_context,
    emit,
    get_job_audit_binding,
)
from il_audit.config.settings import get_audit_settings
from il_audit.publisher import (
    InvalidEventError,
    PublisherError,
    bind_context,
    configure,
    current_context,
    get_publisher,
)
from il_audit.publisher.beacon import get_beacon_settings
from il_audit.publisher.builders import get_builder, register_builder
from il_audit.publisher.testing import CapturedEvents, capture_events, reset
from il_audit.schemas import taxonomy
from il_audit.schemas import taxonomy as T
from tests.support.factories import make_settings


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


def test_reset_replaces_the_default_publisher_and_forgets_configure() -> None:
    """After reset() the default publisher is a new one, built without configure()'s options."""
    configured = configure(settings=make_settings(transport="memory"), strict=True)
    reset()
    with pytest.raises(PublisherError, match="shut down"):
        configured.emit(T.AUTH_LOGOUT, context=AuditContext(app="a"))
    rebuilt = get_publisher()
    assert rebuilt is not configured
    assert rebuilt.strict is False


def test_reset_rereads_the_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Cached settings (audit and beacon) are read again from the environment."""
    assert get_audit_settings().app is None
    assert get_beacon_settings().string_max_length == 512
    monkeypatch.setenv("IL_AUDIT_APP", "after")
    monkeypatch.setenv("IL_BEACON_STRING_MAX_LENGTH", "64")
    reset()
    assert get_audit_settings().app == "after"
    assert get_beacon_settings().string_max_length == 64
    monkeypatch.setenv("IL_AUDIT_WRITE_QUEUE_MAX_SIZE", "lots")
    reset()
    assert get_audit_settings().write_queue_max_size == 10_000  # logged, default kept


def test_reset_forgets_host_types_and_builders() -> None:
    """Registered event types, beacon types and builders are gone after reset()."""
    taxonomy.register("billing.invoice.sent")
    taxonomy.register_beacon_types("ui.signup.viewed")
    register_builder(T.AUTH_LOGOUT, lambda **_fields: {})
    reset()
    assert not taxonomy.is_known("billing.invoice.sent")
    assert not taxonomy.is_beacon_type("ui.signup.viewed")
    assert get_builder(T.AUTH_LOGOUT) is None


def test_reset_forgets_job_bindings_and_what_this_thread_bound() -> None:
    """Job-context bindings, the bound AuditContext and the chat-turn tracker are cleared."""
    bind_job_audit_context("job-1", AuditContext(app="a"))
    bind_context(AuditContext(app="bound"))
    bind_chat_turn_usage("turn-1", AuditContext(app="chat"))
    reset()
    assert get_job_audit_binding("job-1") is None
    assert current_context() is None
    assert active_turn_usage() is None


def test_reset_closes_the_subscriber_s_default_pipeline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A loaded subscriber's process-wide pipeline is closed and rebuilt on next use."""
    from il_audit.subscriber_fn import pipeline

    monkeypatch.setenv("IL_AUDIT_SINK", "duckdb")
    monkeypatch.setenv("IL_AUDIT_DUCKDB_PATH", str(tmp_path / "first.duckdb"))
    first = pipeline.default_pipeline()
    monkeypatch.setenv("IL_AUDIT_DUCKDB_PATH", str(tmp_path / "second.duckdb"))
    reset()
    assert pipeline.default_pipeline() is not first
    assert (tmp_path / "second.duckdb").exists()


@pytest.mark.subprocess
def test_reset_loads_nothing_an_app_did_not_import() -> None:
    """In an app process reset() imports neither the subscriber nor the chat helpers."""
    script = (
        "import sys\n"
        "from il_audit.publisher.testing import reset\n"
        "reset()\n"
        "print(sorted(m for m in sys.modules if m.startswith(('il_audit.subscriber_fn', "
        "'il_audit.chat'))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
