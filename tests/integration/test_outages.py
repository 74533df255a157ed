"""Outages against the real emulator: bounded flush, retry after recovery, counted drops.

Stopping the emulator loses its topics, so recovery is tested through a TCP
proxy that cuts the network to a still-running emulator (tests/support).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from il_audit.publisher import AuditContext, AuditPublisher
from il_audit.schemas import taxonomy as T
from tests.support.factories import make_settings
from tests.support.pubsub import create_topic_with_subscription
from tests.support.tcp_proxy import TcpProxy

CTX = AuditContext(app="outage")


@pytest.fixture
def proxy(pubsub_emulator_host: str) -> Iterator[TcpProxy]:
    """A proxy in front of the session emulator; the publisher under test dials the proxy."""
    port = int(pubsub_emulator_host.rsplit(":", 1)[1])
    tcp_proxy = TcpProxy(port)
    yield tcp_proxy
    tcp_proxy.close()


def _publisher_via(
    proxy: TcpProxy, monkeypatch: pytest.MonkeyPatch, topic_id: str, **settings: object
) -> AuditPublisher:
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", proxy.host)
    return AuditPublisher(
        make_settings(
            transport="pubsub",
            project="il-audit-test",
            topic=topic_id,
            retry_initial_seconds=0.2,
            retry_max_seconds=1.0,
            **settings,
        )
    )


def test_flush_returns_false_promptly_when_the_emulator_is_stopped(
    proxy: TcpProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the emulator gone, flush(1) gives up after about a second; events stay pending.

    Gone as a stopped emulator is: its connections cut and its port refusing new ones (the
    proxy the publisher dials is closed for good), without starting a second emulator.
    """
    target = create_topic_with_subscription("stopped")
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", proxy.host)
    publisher = AuditPublisher(
        make_settings(transport="pubsub", project=target.project, topic=target.topic_id)
    )
    publisher.emit(T.AUTH_LOGOUT, context=CTX)
    assert publisher.flush(30).complete
    proxy.close()
    for _ in range(5):
        publisher.emit(T.AUTH_LOGOUT, context=CTX)
    started = time.monotonic()
    assert publisher.flush(1.0).complete is False
    assert time.monotonic() - started < 3.0
    stats = publisher.stats()
    assert (stats.published, stats.pending, stats.dropped) == (1, 5, 0)
    started = time.monotonic()
    publisher.shutdown(1.0)
    assert time.monotonic() - started < 5.0


def test_outage_is_retried_and_nothing_is_lost_or_duplicated(
    proxy: TcpProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Events emitted during a network outage are published once it ends, each exactly once."""
    target = create_topic_with_subscription("outage")
    publisher = _publisher_via(proxy, monkeypatch, target.topic_id)
    sent = [publisher.emit(T.AUTH_LOGOUT, context=CTX, phase="before") for _ in range(20)]
    assert publisher.flush(30).complete
    proxy.pause()
    sent += [publisher.emit(T.AUTH_LOGOUT, context=CTX, phase="during") for _ in range(30)]
    assert publisher.flush(1.5).complete is False
    assert publisher.stats().pending == 30
    proxy.resume()
    assert publisher.flush(60).complete, publisher.stats()
    envelopes = target.pull_envelopes(expect_events=50, timeout=30)
    assert sorted(envelope["event_id"] for envelope in envelopes) == sorted(sent)
    stats = publisher.stats()
    assert (stats.published, stats.failed, stats.dropped, stats.pending) == (50, 0, 0, 0)
    publisher.shutdown(5)


def test_queue_full_during_an_outage_counts_drops(
    proxy: TcpProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While unreachable, at most write_queue_max_size events wait; the rest are counted drops."""
    target = create_topic_with_subscription("full")
    drops: list[tuple[str, str]] = []
    publisher = _publisher_via(proxy, monkeypatch, target.topic_id, write_queue_max_size=40)
    publisher.on_drop = lambda *args: drops.append(args)
    proxy.pause()
    ids = [publisher.emit(T.AUTH_LOGOUT, context=CTX) for _ in range(100)]
    assert all(ids)
    stats = publisher.stats()
    assert stats.accepted + stats.dropped == 100
    assert stats.pending <= 40
    assert stats.dropped >= 60
    assert len(drops) == stats.dropped
    proxy.resume()
    flushed = publisher.flush(60)  # everything held is out; the drops make it incomplete
    assert (flushed.complete, flushed.dropped, publisher.stats().pending) == (
        False,
        stats.dropped,
        0,
    )
    envelopes = target.pull_envelopes(expect_events=stats.accepted, timeout=30)
    assert len(envelopes) == stats.accepted == publisher.stats().published
    publisher.shutdown(5)
