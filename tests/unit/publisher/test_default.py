"""The module-level API: lazy default publisher, seed compatibility, never raising."""

from __future__ import annotations

import threading

import pytest

import il_audit
from il_audit import publisher
from il_audit.publisher import AuditPublisher, MemoryTransport, get_publisher
from il_audit.schemas import taxonomy as T


def test_root_and_publisher_emit_are_the_same_function() -> None:
    """il_audit.emit is il_audit.publisher.emit (the design card's spelling)."""
    assert il_audit.emit is publisher.emit
    assert il_audit.flush_audit_writer is publisher.flush_audit_writer


def test_default_publisher_is_created_once_across_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Concurrent first calls all get the same default publisher."""
    monkeypatch.setenv("IL_AUDIT_TRANSPORT", "memory")
    seen: list[AuditPublisher] = []
    barrier = threading.Barrier(8)

    def grab() -> None:
        barrier.wait()
        seen.append(get_publisher())

    threads = [threading.Thread(target=grab) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(p) for p in seen}) == 1


def test_disabled_auditing_returns_none(monkeypatch: pytest.MonkeyPatch) -> None:
    """IL_ENABLE_AUDIT_LOGS=false makes every emit function return None."""
    monkeypatch.setenv("IL_ENABLE_AUDIT_LOGS", "false")
    assert il_audit.emit(T.AUTH_LOGOUT, context=il_audit.AuditContext(app="a")) is None
    assert il_audit.emit_resource_usage(resource_type="cpu", quantity=1.0, unit="s") is None


def test_a_bad_tuning_value_keeps_auditing_on(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A bad tuning variable is logged with its default, and events still flow."""
    monkeypatch.setenv("IL_AUDIT_TRANSPORT", "memory")
    monkeypatch.setenv("IL_AUDIT_WRITE_QUEUE_MAX_SIZE", "many")
    event_id = il_audit.emit(T.AUTH_LOGOUT, context=il_audit.AuditContext(app="a"))
    assert event_id is not None
    assert publisher.flush_audit_writer(5).complete
    transport = publisher.get_publisher().transport
    assert isinstance(transport, publisher.MemoryTransport)
    assert [envelope["event_id"] for envelope in transport.envelopes()] == [event_id]
    assert "IL_AUDIT_WRITE_QUEUE_MAX_SIZE='many'" in caplog.text
    assert "using the default 10000" in caplog.text


def test_a_garbled_enable_switch_keeps_auditing_on(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Only a recognised 'off' value turns auditing off; garbage is logged and ignored."""
    monkeypatch.setenv("IL_AUDIT_TRANSPORT", "memory")
    monkeypatch.setenv("IL_ENABLE_AUDIT_LOGS", "nope-ish")
    assert il_audit.emit(T.AUTH_LOGOUT, context=il_audit.AuditContext(app="a")) is not None
    assert "IL_ENABLE_AUDIT_LOGS='nope-ish' is not valid" in caplog.text
    assert "auditing stays on" in caplog.text


def test_broken_settings_raise_in_strict_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """Strict mode surfaces configuration errors."""
    monkeypatch.setenv("IL_AUDIT_WRITE_QUEUE_MAX_SIZE", "many")
    with pytest.raises(il_audit.AuditError):
        publisher.configure(strict=True)


def test_usage_helpers_build_usage_items(monkeypatch: pytest.MonkeyPatch) -> None:
    """emit_api_usage / emit_resource_usage take the seed's keywords and never price."""
    monkeypatch.setenv("IL_AUDIT_TRANSPORT", "memory")
    ctx = il_audit.AuditContext(app="ingest")
    il_audit.emit_api_usage(
        context=ctx,
        correlation_id="job-1",
        correlation_type="ingest_job",
        service="vertex_gemini",
        operation="generate_content",
        model_id="gemini-2.0-flash",
        category="vision",
        input_tokens=-3,
        output_tokens=7,
        latency_ms=120,
    )
    il_audit.emit_resource_usage(
        context=ctx,
        correlation_id="job-1",
        correlation_type="ingest_job",
        resource_type="cloud_run_cpu_seconds",
        quantity=2.5,
        unit="vCPU_second",
    )
    assert il_audit.flush_audit_writer(timeout_seconds=5).complete
    transport = get_publisher().transport
    assert isinstance(transport, MemoryTransport)
    api, resource = transport.envelopes()
    assert api["event_type"] == T.API_USAGE_RECORDED
    assert api["correlation_id"] == "job-1"
    assert api["usage"] == [
        {"service": "vertex_gemini", "operation": "generate_content",
         "model_id": "gemini-2.0-flash", "category": "vision", "input_tokens": 0,
         "output_tokens": 7, "tokens_estimated": False, "latency_ms": 120.0,
         "pricing_tier": "standard"}
    ]  # fmt: skip
    assert resource["event_type"] == T.RESOURCE_USAGE_RECORDED
    assert resource["resource_type"] == "cloud_run_cpu_seconds"
    assert resource["usage"][0]["model_id"] == "cpu_second"
    assert resource["usage"][0]["quantity"] == 2.5
    assert "cost_usd" not in str(transport.envelopes())


@pytest.mark.parametrize(
    ("tier", "expected"), [("batch", "batch"), ("Batch ", "batch"), ("", "standard"),
                           (None, "standard")],
)  # fmt: skip
def test_emit_api_usage_takes_a_pricing_tier_and_metadata(
    monkeypatch: pytest.MonkeyPatch, tier: str | None, expected: str
) -> None:
    """The 1.0 keywords: pricing_tier on the item (blank is standard), metadata kept."""
    monkeypatch.setenv("IL_AUDIT_TRANSPORT", "memory")
    il_audit.emit_api_usage(
        context=il_audit.AuditContext(app="ingest"), correlation_id=None, correlation_type=None,
        service="vertex_gemini", operation="generate_content_batch", model_id="gemini-2.0-flash",
        category="summary", input_tokens=10, pricing_tier=tier, metadata={"batch_job": "b-1"},
    )  # fmt: skip
    assert il_audit.flush_audit_writer(timeout_seconds=5).complete
    transport = get_publisher().transport
    assert isinstance(transport, MemoryTransport)
    [api] = transport.envelopes()
    assert api["usage"][0]["pricing_tier"] == expected
    assert api["metadata"] == {"batch_job": "b-1"}


def test_emit_batch_keeps_the_seed_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    """emit_batch takes (event_type, context, metadata, fields) tuples."""
    monkeypatch.setenv("IL_AUDIT_TRANSPORT", "memory")
    ctx = il_audit.AuditContext(app="ingest")
    ids = il_audit.emit_batch(
        [
            (T.AUTH_LOGOUT, ctx, {"why": "timeout"}, {}),
            (T.AUTH_LOGIN_FAILED, ctx, None, {"status": "failed"}),
        ]
    )
    assert len(ids) == 2
    assert il_audit.flush_audit_writer(5).complete
    transport = get_publisher().transport
    assert isinstance(transport, MemoryTransport)
    assert [e["event_id"] for e in transport.envelopes()] == ids


def test_flush_without_a_publisher_is_true() -> None:
    """Nothing emitted means nothing to wait for: 0 events, complete."""
    result = il_audit.flush_audit_writer(0)
    assert result == 0
    assert result.complete is True


def test_flush_audit_writer_returns_the_events_settled_as_an_int(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As 0.1.3's returned rows written: the events settled during the call, then 0."""
    monkeypatch.setenv("IL_AUDIT_TRANSPORT", "memory")
    for _ in range(3):
        il_audit.emit(T.AUTH_LOGOUT, context=il_audit.AuditContext(app="a"))
    first = il_audit.flush_audit_writer(5)
    assert type(first).__mro__[1] is int
    assert (int(first), first.complete) == (3, True)
    again = il_audit.flush_audit_writer(timeout_seconds=5)
    assert (int(again), again.complete) == (0, True)
    assert il_audit.stats().pending == 0


def test_configure_replaces_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """configure() installs a new default with the given callbacks."""
    monkeypatch.setenv("IL_AUDIT_TRANSPORT", "memory")
    first = get_publisher()
    drops: list[tuple[str, str]] = []
    second = publisher.configure(on_drop=lambda *args: drops.append(args))
    assert second is not first
    assert get_publisher() is second
    assert second.on_drop is not None


def test_stats_of_the_default_publisher(monkeypatch: pytest.MonkeyPatch) -> None:
    """stats() reports accepted and published counts."""
    monkeypatch.setenv("IL_AUDIT_TRANSPORT", "memory")
    il_audit.emit(T.AUTH_LOGOUT)
    assert il_audit.flush_audit_writer(5).complete
    assert il_audit.stats()[:2] == (1, 1)
