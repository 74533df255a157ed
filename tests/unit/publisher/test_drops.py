"""Drops are reported where people look: the log line, the exit summary, flush() and stats().

Issue 24 §4: 50,000 events emitted in a loop printed "dropped 1 event(s)… 1 dropped
in total" and a flush that read as success, while 37,000 had been dropped.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from concurrent.futures import Future

import pytest

from il_audit.publisher import AuditContext, AuditPublisher, FlushResult, MemoryTransport
from il_audit.publisher._drops import DropTally
from il_audit.schemas import taxonomy as T
from tests.support.factories import make_settings

CTX = AuditContext(app="ingest", actor_uid="u-1")
SECRET = "payload-secret-7f3a"


class GatedTransport(MemoryTransport):
    """Holds every publish until ``open_gate()``: the queue fills, then everything goes out."""

    def __init__(self) -> None:
        super().__init__(max_messages=None)
        self.held: list[tuple[Future[str], bytes, Mapping[str, str]]] = []
        self.open = False

    def publish(self, data: bytes, attributes: Mapping[str, str]) -> Future[str]:
        if self.open:
            return super().publish(data, attributes)
        future: Future[str] = Future()
        self.held.append((future, data, attributes))
        return future

    def open_gate(self) -> None:
        self.open = True
        for future, data, attributes in self.held:
            super().publish(data, attributes).add_done_callback(
                lambda done, f=future: f.set_result(done.result())
            )


def test_the_line_carries_the_running_total_and_summarises_what_it_held_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """First drop at once; the next line after the interval says the total then and how
    many it stands for since the previous line; events are counted, not calls."""
    now = [0.0]
    tally = DropTally(logging.getLogger("il_audit.test_drops"), 10.0, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="il_audit"):
        tally.add("queue_full", 1, "queue_full; 20 pending, limit 20 events")
        for _ in range(36_998):
            tally.add("queue_full", 1, "queue_full; 20 pending, limit 20 events")
        tally.add("spool_full", 3, "spool_full; 0 pending, limit 20 events")
        now[0] = 10.0
        tally.add("queue_full", 1, "queue_full; 20 pending, limit 20 events")
    lines = [record.getMessage() for record in caplog.records]
    assert lines == [
        "il-audit dropped 1 event(s) (queue_full; 20 pending, limit 20 events); 1 dropped in total",
        "il-audit dropped 1 event(s) (queue_full; 20 pending, limit 20 events); "
        "37003 dropped in total (37001 more dropped since the last line)",
    ]
    assert tally.by_reason() == {"queue_full": 37_000, "spool_full": 3}
    summary = tally.summary(20)
    assert summary is not None
    assert summary.startswith(
        "il-audit dropped 37003 event(s) in this process (queue_full 37000, spool_full 3); "
    )
    assert "IL_AUDIT_WRITE_QUEUE_MAX_SIZE (now 20)" in summary
    assert "IL_AUDIT_SPOOL_DIR" in summary
    assert tally.summary(20) is None  # once; again only after new drops


def test_flush_and_stats_after_drops_do_not_read_as_success(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The real publisher: 50 events against a bound of 20 while Pub/Sub holds them."""
    transport = GatedTransport()
    publisher = AuditPublisher(make_settings(write_queue_max_size=20), transport=transport)
    with caplog.at_level(logging.WARNING, logger="il_audit"):
        for _ in range(50):
            publisher.emit(T.UI_TAB_VIEWED, context=CTX, note=SECRET)
        stats = publisher.stats()
        assert stats.dropped >= 30
        assert stats.dropped_by_reason == {"queue_full": stats.dropped}
        transport.open_gate()
        result = publisher.flush(10)
        # The number stays 0.1.3's (events settled); drops make it incomplete and falsy.
        assert int(result) == stats.accepted == 50 - stats.dropped
        assert (result.complete, result.dropped, bool(result)) == (False, stats.dropped, False)
        assert "complete=False" in repr(result)
        publisher.emit(T.UI_TAB_VIEWED, context=CTX)
        again = publisher.flush(10)  # drops are reported once, to the next flush
        assert (int(again), again.complete, again.dropped, bool(again)) == (1, True, 0, True)
        assert publisher.shutdown(5)
    lines = [record.getMessage() for record in caplog.records]
    assert lines[0].startswith("il-audit dropped 1 event(s) (queue_full; ")
    assert lines[0].endswith("limit 20 events); 1 dropped in total")
    assert lines[-1].startswith(
        f"il-audit dropped {stats.dropped} event(s) in this process "
        f"(queue_full {stats.dropped}); raise IL_AUDIT_WRITE_QUEUE_MAX_SIZE (now 20)"
    )
    assert len(lines) == 2
    assert SECRET not in caplog.text


def test_a_flush_result_without_drops_keeps_0_1_3_truth() -> None:
    """0 with nothing pending is success but falsy, as 0.1.3's int was; settled is truthy."""
    assert (bool(FlushResult(0, complete=True)), bool(FlushResult(3, complete=True))) == (
        False,
        True,
    )
    assert FlushResult(3, complete=True) == 3
    assert FlushResult(3, complete=True).dropped == 0


@pytest.mark.subprocess
def test_a_loop_past_the_bound_ends_with_a_summary_on_stderr() -> None:
    """emit() past IL_AUDIT_WRITE_QUEUE_MAX_SIZE in a loop: the exit hook prints one line
    naming the drops by reason and both fixes; no payload in the output."""
    script = (
        "import sys, il_audit\n"
        "sys.setswitchinterval(60)  # the loop keeps the GIL: the worker cannot keep up\n"
        "for _ in range(5000):\n"
        f"    il_audit.emit('ui.tab.viewed', app='ingest', actor_uid='u-1', note={SECRET!r})\n"
        "sys.setswitchinterval(0.005)\n"
        "result = il_audit.flush_audit_writer(30)\n"
        "stats = il_audit.stats()\n"
        "print(stats.dropped, int(result), result.complete, bool(result), result.dropped)\n"
    )
    env = {
        **os.environ,
        "IL_AUDIT_TRANSPORT": "memory",
        "IL_AUDIT_WRITE_QUEUE_MAX_SIZE": "100",
        "IL_AUDIT_SPOOL_DIR": "",
    }
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    dropped, settled, complete, truth, flush_dropped = result.stdout.split()
    assert int(dropped) > 0
    assert int(settled) == 5000 - int(dropped)
    assert (complete, truth, flush_dropped) == ("False", "False", dropped)
    summaries = re.findall(
        r"il-audit dropped (\d+) event\(s\) in this process \((.*?)\); (.*)", result.stderr
    )
    assert len(summaries) == 1, result.stderr
    count, reasons, fixes = summaries[0]
    assert (count, reasons) == (dropped, f"queue_full {dropped}")
    assert "IL_AUDIT_WRITE_QUEUE_MAX_SIZE (now 100)" in fixes
    assert "IL_AUDIT_SPOOL_DIR" in fixes
    assert "1 dropped in total" in result.stderr
    assert "unpublished" not in result.stderr
    assert SECRET not in result.stderr
