"""The embedded mode: emit() -> publisher thread -> pipeline -> DuckDB, in one process."""

from __future__ import annotations

import logging
import multiprocessing
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest

import il_audit
from il_audit import AuditContext
from il_audit import taxonomy as T
from il_audit.publisher import AuditPublisher, get_publisher
from il_audit.retrying import is_retryable
from il_audit.subscriber_fn.embedded import LocalTransport
from il_audit.subscriber_fn.errors import SinkUnavailableError
from tests.support.duck import read as rows
from tests.support.factories import make_settings, seed_token_cost


def test_local_transport_writes_priced_rows_and_dead_letters(tmp_path: Path) -> None:
    """Events are validated, priced and stored; invalid ones go to dead_letters."""
    database = tmp_path / "embedded.duckdb"
    publisher = AuditPublisher(make_settings(transport="local", duckdb_path=str(database)))
    ctx = AuditContext(app="ingest", actor_uid="u-1")
    good = publisher.emit(
        T.API_USAGE_RECORDED,
        context=ctx,
        usage=[{"service": "vertex_gemini", "model_id": "gemini-2.0-flash",
                "input_tokens": 2_000_000, "output_tokens": 0}],
    )  # fmt: skip
    bad = publisher.emit("nope.nope", context=ctx)
    assert publisher.shutdown(30)
    [(event_id, cost, occurred_at)] = rows(
        database, "SELECT event_id, cost_usd, occurred_at FROM events"
    )
    assert (event_id, cost) == (
        good,
        seed_token_cost("gemini-2.0-flash", 2_000_000, at=occurred_at),
    )
    assert rows(database, "SELECT event_id, error_class FROM dead_letters") == [
        (bad, "unknown_event_type")
    ]


def test_auto_without_a_project_goes_local_and_says_where(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """IL_AUDIT_TRANSPORT=auto and no project: the embedded file, announced once."""
    database = tmp_path / "auto.duckdb"
    monkeypatch.setenv("IL_AUDIT_DUCKDB_PATH", str(database))
    with caplog.at_level(logging.WARNING, logger="il_audit"):
        il_audit.emit(T.AUTH_LOGOUT, context=AuditContext(app="a"))
        il_audit.emit(T.AUTH_LOGOUT, context=AuditContext(app="a"))
    assert il_audit.flush_audit_writer(30).complete
    assert get_publisher().transport_kind == "local"
    announcements = [r.getMessage() for r in caplog.records if "events go to" in r.getMessage()]
    assert len(announcements) == 1
    assert str(database) in announcements[0]
    assert rows(database, "SELECT count(*) FROM events") == [(2,)]


def test_transient_pipeline_errors_are_retried_by_the_publisher() -> None:
    """The subscriber's TransientError is retryable for the publisher's loop."""
    assert is_retryable(SinkUnavailableError("locked"))


def _hold(path: str, seconds: float, ready: Any) -> None:
    connection = duckdb.connect(path)
    ready.set()
    time.sleep(seconds)  # the behaviour under test: another process holds the file a while
    connection.close()


@pytest.mark.subprocess
def test_a_locked_file_delays_but_loses_nothing(tmp_path: Path) -> None:
    """While another process holds the file, events wait and are written afterwards."""
    database = tmp_path / "locked.duckdb"
    settings = make_settings(
        transport="local", duckdb_path=str(database), retry_initial_seconds=0.05,
        retry_max_seconds=0.2,
    )  # fmt: skip
    transport = LocalTransport(settings)  # creates the file and its tables
    transport.pipeline.sink.file.lock_timeout = 0.2  # type: ignore[attr-defined]
    publisher = AuditPublisher(settings, transport=transport)
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    holder = context.Process(target=_hold, args=(str(database), 2.0, ready))
    holder.start()
    assert ready.wait(30)
    publisher.emit(T.AUTH_LOGOUT, context=AuditContext(app="a"))
    assert publisher.flush(0.5).complete is False
    holder.join(30)
    assert publisher.flush(30).complete
    assert publisher.stats().retries >= 1
    assert publisher.stats().failed == 0
    assert rows(database, "SELECT count(*) FROM events") == [(1,)]
    publisher.shutdown(5)
