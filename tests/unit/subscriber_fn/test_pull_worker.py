"""The pull worker without Pub/Sub: batching, ack after write, nack on failure, shutdown, health.

Messages are stand-ins with the attributes the client's ``Message`` has; the
streaming pull is a plain future. The pipeline is real, writing DuckDB.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from il_audit.schemas.wire import compress_body
from il_audit.subscriber_fn.health import HealthServer, default_host
from il_audit.subscriber_fn.pull_worker import (
    PullConfigError,
    PullSettings,
    PullWorker,
    flow_control,
    message_meta,
    subscription_path,
)
from il_audit.subscriber_fn.sinks.duckdb import DuckDBSink
from tests.support.factories import envelope_line
from tests.support.waiting import wait_until
from tests.unit.subscriber_fn.test_pipeline import count, make_pipeline

SUBSCRIPTION = "projects/p/subscriptions/s"


class FakeMessage:
    """What the worker reads from a pulled message, and whether it was acked or nacked."""

    def __init__(self, data: bytes, message_id: str) -> None:
        self.data = data
        self.attributes: dict[str, str] = {}
        self.message_id = message_id
        self.publish_time = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)
        self.delivery_attempt: int | None = None
        self.settled = threading.Event()
        self.verdict = ""

    def ack(self) -> None:
        self.verdict = "ack"
        self.settled.set()

    def nack(self) -> None:
        self.verdict = "nack"
        self.settled.set()


class GatedSink(DuckDBSink):
    """DuckDB that records each events write, waits for ``gate``, and can fail for now."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.writes: list[int] = []
        self.gate = threading.Event()
        self.gate.set()
        self.down = False

    def write_events(self, rows: Sequence[Mapping[str, Any]]) -> dict[int, str]:
        self.gate.wait(10)
        if self.down:
            from il_audit.subscriber_fn.errors import SinkUnavailableError

            raise SinkUnavailableError("down")
        self.writes.append(len(rows))
        return super().write_events(rows)


class FakeStream:
    """The streaming pull's future: running until cancelled."""

    def __init__(self) -> None:
        self.cancelled = threading.Event()

    def cancel(self) -> bool:
        self.cancelled.set()
        return True

    def done(self) -> bool:
        return self.cancelled.is_set()

    def result(self, timeout: float | None = None) -> None:
        self.cancelled.wait(timeout)


def events(count: int, message_id: str) -> FakeMessage:
    return FakeMessage(b"\n".join(envelope_line() for _ in range(count)), message_id)


@pytest.fixture
def make_worker(tmp_path: Path) -> Iterator[Any]:
    made: list[PullWorker] = []

    def make(**settings: Any) -> tuple[PullWorker, GatedSink]:
        pipeline, _ = make_pipeline(tmp_path, GatedSink)
        future = FakeStream()
        worker = PullWorker(
            pipeline,
            PullSettings(SUBSCRIPTION, **settings),
            subscribe=lambda *_args, **_kwargs: future,
            retry_pause=0.05,
        )
        worker.start()
        made.append(worker)
        assert isinstance(pipeline.sink, GatedSink)
        return worker, pipeline.sink

    yield make
    for worker in made:
        worker.pipeline.sink.gate.set()  # type: ignore[attr-defined]
        worker.stop(timeout=10)
        worker.pipeline.sink.close()


def settle(*messages: FakeMessage) -> list[str]:
    for message in messages:
        assert message.settled.wait(10), message.message_id
    return [message.verdict for message in messages]


def test_a_batch_closes_at_max_rows_in_one_write(make_worker: Any) -> None:
    """Messages of 2 events with max 4 rows: two messages per write, long before the time limit."""
    worker, sink = make_worker(max_batch_rows=4, max_batch_seconds=30)
    messages = [events(2, f"m-{index}") for index in range(4)]
    for message in messages:
        worker.on_message(message)
    assert settle(*messages) == ["ack"] * 4
    assert sink.writes == [4, 4]
    assert worker.counters.events_stored == 8


def test_a_batch_closes_at_max_seconds_after_its_first_message(make_worker: Any) -> None:
    """One small message is written about max_batch_seconds after it arrived."""
    worker, sink = make_worker(max_batch_rows=5000, max_batch_seconds=0.3)
    started = time.monotonic()
    message = events(1, "m-1")
    worker.on_message(message)
    assert settle(message) == ["ack"]
    assert 0.25 <= time.monotonic() - started < 3
    assert sink.writes == [1]


def test_messages_are_acked_only_after_their_rows_are_written(make_worker: Any) -> None:
    """While the write is held up, nothing is acked."""
    worker, sink = make_worker(max_batch_rows=1, max_batch_seconds=0)
    sink.gate.clear()
    message = events(1, "m-1")
    worker.on_message(message)
    assert not message.settled.wait(0.5)
    sink.gate.set()
    assert settle(message) == ["ack"]
    assert count(worker.pipeline, "events") == 1


def test_a_transient_sink_error_nacks_every_message_of_the_batch(make_worker: Any) -> None:
    """Warehouse down: both messages of the batch are nacked for redelivery, none acked."""
    worker, sink = make_worker(max_batch_rows=2, max_batch_seconds=30)
    sink.down = True
    messages = [events(1, "m-1"), events(1, "m-2")]
    for message in messages:
        worker.on_message(message)
    assert settle(*messages) == ["nack", "nack"]
    assert (worker.counters.nacked, worker.counters.failed_batches) == (2, 1)


def test_a_malformed_message_is_dead_lettered_and_acked(make_worker: Any) -> None:
    """Data that is no envelope goes to dead_letters and is acked (poison is never retried)."""
    worker, _ = make_worker(max_batch_rows=1, max_batch_seconds=0)
    message = FakeMessage(b"\xff not json", "m-1")
    worker.on_message(message)
    assert settle(message) == ["ack"]
    assert worker.counters.dead_lettered == 1
    assert count(worker.pipeline, "dead_letters") == 1


def test_stop_writes_the_open_batch_and_nacks_later_deliveries(make_worker: Any) -> None:
    """Graceful stop: the open batch is written and acked at once; later arrivals are nacked."""
    worker, sink = make_worker(max_batch_rows=5000, max_batch_seconds=60)
    queued = [events(3, "m-1"), events(2, "m-2")]
    for message in queued:
        worker.on_message(message)
    started = time.monotonic()
    stopper = threading.Thread(target=worker.stop)
    stopper.start()
    stopper.join(10)
    assert time.monotonic() - started < 5
    assert settle(*queued) == ["ack", "ack"]
    assert sink.writes == [5]
    late = events(1, "m-3")
    worker.on_message(late)
    assert late.verdict == ""  # set aside: nacked by stop, which already ran
    assert not worker.ready()


def test_health_endpoint_reports_readiness_and_liveness(make_worker: Any) -> None:
    """/readyz is 200 while pulling, /livez 503 once the flusher is stuck past its window."""
    worker, sink = make_worker(max_batch_rows=1, max_batch_seconds=0, liveness_seconds=0.5)
    server = HealthServer(
        "127.0.0.1", 0, live=worker.live, ready=worker.ready, status=worker.status
    ).start()
    base = f"http://127.0.0.1:{server.port}"
    try:
        assert _get(f"{base}/readyz")[0] == 200
        code, body = _get(f"{base}/livez")
        assert (code, body["ok"], body["received"]) == (200, True, 0)
        assert _get(f"{base}/nope")[0] == 404
        sink.gate.clear()  # the next write hangs
        worker.on_message(events(1, "m-1"))
        wait_until(lambda: _get(f"{base}/livez")[0] == 503, 5, "/livez to see the stuck write")
        sink.gate.set()
        wait_until(lambda: _get(f"{base}/livez")[0] == 200, 5, "/livez to recover")
        worker.stop(timeout=10)
        assert _get(f"{base}/readyz")[0] == 503
    finally:
        server.stop()


def _get(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_subscription_names_resolve_to_paths() -> None:
    """A short id takes the project; a full path stays; anything else is refused."""
    assert subscription_path("sub", "proj") == "projects/proj/subscriptions/sub"
    assert subscription_path(SUBSCRIPTION, None) == SUBSCRIPTION
    for bad, project in (("sub", None), ("a/b", "p"), ("projects/p/topics/t", "p")):
        with pytest.raises(PullConfigError):
            subscription_path(bad, project)


def test_flow_control_holds_about_two_batches() -> None:
    """Messages and bytes are bounded from the batch size; the lease bound is passed through."""
    control = flow_control(PullSettings(SUBSCRIPTION, max_batch_rows=5000, lease_seconds=10))
    assert control.max_messages == 10_000
    assert control.max_bytes == 2 * 5000 * 2048
    assert control.max_duration_per_lease_extension == 10


def test_message_metadata_is_what_the_function_path_records() -> None:
    """message_id, publish_time (UTC), delivery attempt and the subscription path."""
    message = FakeMessage(b"", "42")
    message.delivery_attempt = 3
    meta = message_meta(message, SUBSCRIPTION)
    assert meta.message_id == "42"
    assert meta.publish_time == datetime(2026, 12, 1, 17, 0, tzinfo=UTC)
    assert (meta.delivery_attempt, meta.subscription) == (3, SUBSCRIPTION)


def test_a_gzip_message_is_stored_like_a_plain_one(make_worker: Any) -> None:
    """The publisher's gzip bodies go through the same core: rows stored, message acked."""
    worker, _ = make_worker(max_batch_rows=3, max_batch_seconds=30)
    message = FakeMessage(compress_body(b"\n".join(envelope_line() for _ in range(3))), "m-1")
    worker.on_message(message)
    assert settle(message) == ["ack"]
    assert count(worker.pipeline, "events") == 3


def test_health_binds_every_address_only_on_cloud_run() -> None:
    """K_SERVICE set: 0.0.0.0 (probes come from outside); otherwise loopback."""
    assert default_host({"K_SERVICE": "worker"}) == "0.0.0.0"
    assert default_host({}) == "127.0.0.1"


class BuggySink(GatedSink):
    """DuckDB whose events write fails with a bug (not a TransientError) on a 'boom' row.

    No real part fails like this on demand: it stands for any unexpected error one
    message triggers somewhere in the pipeline.
    """

    def write_events(self, rows: Sequence[Mapping[str, Any]]) -> dict[int, str]:
        if any(row.get("status") == "boom" for row in rows):
            raise KeyError("a bug")
        return super().write_events(rows)


def test_an_unexpected_error_is_isolated_and_the_rest_of_the_batch_written(
    tmp_path: Path,
) -> None:
    """8 messages, one triggering a bug: 7 stored and acked, the culprit dead-lettered whole
    and acked, no failed batch."""
    pipeline, _ = make_pipeline(tmp_path, BuggySink)
    settings = PullSettings(SUBSCRIPTION, max_batch_rows=8, max_batch_seconds=30)
    worker = PullWorker(pipeline, settings, subscribe=lambda *_a, **_k: FakeStream())
    worker.start()
    try:
        messages = [events(1, f"m-{index}") for index in range(8)]
        messages[5] = FakeMessage(envelope_line(status="boom"), "m-5")
        for message in messages:
            worker.on_message(message)
        assert settle(*messages) == ["ack"] * 8
    finally:
        worker.stop(timeout=10)
    counters = worker.counters
    assert (counters.failed_batches, counters.nacked, counters.isolated) == (0, 0, 1)
    assert (counters.events_stored, counters.dead_lettered, counters.batches) == (7, 1, 1)
    assert count(pipeline, "events") == 7
    dead = duck_rows(pipeline, "SELECT dead_letter_id, error_class, line_index FROM dead_letters")
    assert dead == [("m-5:m", "internal_error", None)]
    pipeline.sink.close()


def test_a_batch_of_one_failing_message_dead_letters_it_at_once(tmp_path: Path) -> None:
    """A one-message batch that fails with a bug: dead-lettered whole and acked, not retried."""
    pipeline, _ = make_pipeline(tmp_path, BuggySink)
    settings = PullSettings(SUBSCRIPTION, max_batch_rows=1, max_batch_seconds=0)
    worker = PullWorker(pipeline, settings, subscribe=lambda *_a, **_k: FakeStream())
    worker.start()
    try:
        message = FakeMessage(envelope_line(status="boom"), "m-1")
        worker.on_message(message)
        assert settle(message) == ["ack"]
    finally:
        worker.stop(timeout=10)
    assert (worker.counters.isolated, worker.counters.failed_batches) == (1, 0)
    assert duck_rows(pipeline, "SELECT error_class FROM dead_letters") == [("internal_error",)]
    pipeline.sink.close()


def duck_rows(pipeline: Any, sql: str) -> list[tuple[Any, ...]]:
    with pipeline.sink.file.connect(read_only=True) as connection:
        return list(connection.execute(sql).fetchall())


def test_consecutive_failed_batches_are_counted_shown_and_logged_then_reset(
    make_worker: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Two batches fail while the sink is down (2 in the status and the log line); a written
    batch resets the count to 0."""
    worker, sink = make_worker(max_batch_rows=1, max_batch_seconds=0)
    sink.down = True
    failed = [events(1, "m-1"), events(1, "m-2")]
    for message in failed:
        worker.on_message(message)
    assert settle(*failed) == ["nack", "nack"]
    assert worker.status()["consecutive_failed_batches"] == 2
    assert "consecutive_failed_batches=2" in caplog.text
    assert (worker.ready(), worker.live()) == (True, True)  # neither probe restarts or hides it
    sink.down = False
    written = events(1, "m-3")
    worker.on_message(written)
    assert settle(written) == ["ack"]
    status = worker.status()
    assert (status["consecutive_failed_batches"], status["failed_batches"]) == (0, 2)
