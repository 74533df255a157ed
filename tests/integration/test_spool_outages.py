"""The disk spool against the real emulator, with a TCP proxy cutting the network.

Stopping the emulator would lose its topics, so outages are cuts of a proxy in
front of a running emulator (tests/support/tcp_proxy.py). Delivery is checked by
distinct event ids on a pull subscription; duplicates are allowed (at least
once), losses are not.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from il_audit.publisher import AuditContext, AuditPublisher
from il_audit.publisher.spool_reader import scan
from il_audit.schemas import taxonomy as T
from il_audit.schemas.wire import message_body
from tests.support.cli import ROOT
from tests.support.factories import make_settings
from tests.support.pubsub import TopicWithSubscription, create_topic_with_subscription
from tests.support.reliability import delivery, record
from tests.support.tcp_proxy import TcpProxy
from tests.support.waiting import wait_until

SCRIPT = ROOT / "tests/integration/scripts/emit_steady.py"
CTX = AuditContext(app="spool")


@pytest.fixture
def proxy(pubsub_emulator_host: str) -> Iterator[TcpProxy]:
    """A proxy in front of the session emulator."""
    tcp_proxy = TcpProxy(int(pubsub_emulator_host.rsplit(":", 1)[1]))
    yield tcp_proxy
    tcp_proxy.close()


def record_ids(record: Any) -> list[str]:
    """Event ids of one spool record (its body may be gzip)."""
    return [json.loads(line)["event_id"] for line in message_body(record.data).split(b"\n")]


def spooled_ids(root: Path) -> list[str]:
    """Event ids in the intact spool records under ``root``, read without consuming them."""
    return [event_id for record in scan(root) for event_id in record_ids(record)]


def received_ids(target: TopicWithSubscription, expect: int, timeout: float = 60) -> list[str]:
    """Every event id pulled (duplicates included)."""
    return [
        envelope["event_id"]
        for envelope in target.pull_envelopes(expect_events=expect, timeout=timeout)
    ]


def child_env(proxy: TcpProxy, target: TopicWithSubscription, spool: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PUBSUB_EMULATOR_HOST": proxy.host,
        "GOOGLE_CLOUD_PROJECT": target.project,
        "IL_AUDIT_TOPIC": target.topic_id,
        "IL_AUDIT_SPOOL_DIR": str(spool),
        "IL_AUDIT_WRITE_QUEUE_MAX_SIZE": "1000",
        "IL_AUDIT_RETRY_INITIAL_SECONDS": "0.2",
        "IL_AUDIT_RETRY_MAX_SECONDS": "1",
    }


@pytest.mark.slow
def test_a_20_second_cut_at_1000_events_per_second_loses_nothing(
    proxy: TcpProxy, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A queue bound of 1,000 and 20 s without a network: every event arrives, none dropped."""
    target = create_topic_with_subscription("cut")
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", proxy.host)
    publisher = AuditPublisher(
        make_settings(
            transport="pubsub",
            project=target.project,
            topic=target.topic_id,
            spool_dir=str(tmp_path / "spool"),
            write_queue_max_size=1000,
            retry_initial_seconds=0.2,
            retry_max_seconds=1.0,
        )
    )
    emitted: list[str] = []
    started = time.monotonic()
    cut = resumed = False
    try:
        while (now := time.monotonic() - started) < 24:
            if not cut and now >= 2:
                proxy.pause()
                cut = True
            if not resumed and now >= 22:
                proxy.resume()
                resumed = True
            event_id = publisher.emit(T.AUTH_LOGOUT, context=CTX)
            assert event_id is not None
            emitted.append(event_id)
            pause = started + len(emitted) / 1000 - time.monotonic()
            if pause > 0:
                time.sleep(pause)  # pacing: 1,000 events/s through the cut is the scenario
        assert publisher.flush(90).complete
        stats = publisher.stats()
    finally:
        publisher.shutdown(5)
    figures = delivery(emitted, received_ids(target, len(emitted)))
    record(
        "20 s network cut at 1,000 events/s, queue bound 1,000",
        spooled=stats.spooled,
        dropped=stats.dropped,
        **figures,
    )
    assert stats.dropped == 0
    assert stats.spooled > 15_000  # the outage went to disk, not to the floor
    assert figures["lost"] == 0


def test_a_process_killed_during_an_outage_hands_its_spool_to_the_next(
    proxy: TcpProxy, tmp_path: Path
) -> None:
    """SIGKILL after spooling; a new process on the same directory delivers all it had spooled."""
    target = create_topic_with_subscription("killed")
    spool = tmp_path / "spool"
    proxy.pause()
    victim = subprocess.Popen(
        [sys.executable, str(SCRIPT), "3000", "1000", "60"],
        env=child_env(proxy, target, spool),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: len(spooled_ids(spool)) >= 1000, 60, "1,000 spooled events")
    finally:
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
    on_disk = set(spooled_ids(spool))
    assert len(on_disk) >= 1000
    proxy.resume()
    heir = subprocess.run(
        [sys.executable, str(SCRIPT), "1", "100", "60", str(len(on_disk))],
        env=child_env(proxy, target, spool),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    final = json.loads(heir.stdout.splitlines()[-1])
    figures = delivery(on_disk, received_ids(target, len(on_disk) + 1))
    record("SIGKILL during an outage; the next process drains the spool", **figures)
    assert final["stats"]["drained"] >= len(on_disk), heir.stderr
    assert figures["lost"] == 0


def test_a_torn_segment_is_skipped_counted_and_the_rest_delivered(
    proxy: TcpProxy, tmp_path: Path
) -> None:
    """A segment truncated mid-record: the torn record is counted, every other one delivered."""
    target = create_topic_with_subscription("torn")
    spool = tmp_path / "spool"
    proxy.pause()
    victim = subprocess.Popen(
        [sys.executable, str(SCRIPT), "600", "1000", "60"],
        env=child_env(proxy, target, spool),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: len(spooled_ids(spool)) >= 500, 60, "500 spooled events")
    finally:
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
    (segment,) = sorted(spool.glob("*/*.seg"))[-1:]
    before = spooled_ids(spool)
    records = [set(record_ids(record)) for record in scan(spool)]
    segment.write_bytes(segment.read_bytes()[:-10])
    intact = spooled_ids(spool)
    lost = set(before) - set(intact)
    assert lost in records  # exactly one record is lost: the torn one, whatever its size
    proxy.resume()
    heir = subprocess.run(
        [sys.executable, str(SCRIPT), "1", "100", "60", str(len(intact))],
        env=child_env(proxy, target, spool),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    final: dict[str, Any] = json.loads(heir.stdout.splitlines()[-1])
    figures = delivery(intact, received_ids(target, len(intact) + 1))
    record(
        "segment truncated mid-record after SIGKILL",
        torn_events=len(before) - len(intact),
        corrupt=final["stats"]["spool_corrupt"],
        **figures,
    )
    assert final["stats"]["spool_corrupt"] == 1, heir.stderr
    assert figures["lost"] == 0


def test_filling_the_spool_drops_and_counts_exactly(
    proxy: TcpProxy, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """At the byte bound messages are dropped: accepted = on disk + dropped, to the event."""
    target = create_topic_with_subscription("full")
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", proxy.host)
    proxy.pause()
    publisher = AuditPublisher(
        make_settings(
            transport="pubsub",
            project=target.project,
            topic=target.topic_id,
            spool_dir=str(tmp_path / "spool"),
            spool_max_bytes=1024 * 1024,
            retry_initial_seconds=0.2,
        )
    )
    for _ in range(800):
        # Random text: spooled bodies are gzip, and a repeated padding would shrink to nothing.
        publisher.emit(T.AUTH_LOGOUT, context=CTX, note=secrets.token_urlsafe(2250))
        time.sleep(0.001)  # pacing: a caller the worker keeps up with, filling the spool
    publisher.shutdown(5)
    stats = publisher.stats()
    on_disk = spooled_ids(tmp_path / "spool")
    record(
        "spool filled to its 1 MiB bound",
        accepted=stats.accepted,
        on_disk=len(on_disk),
        dropped=stats.dropped,
    )
    assert stats.dropped > 0
    assert len(on_disk) == stats.spooled
    assert stats.accepted == 800 == len(on_disk) + stats.dropped
