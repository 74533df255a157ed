"""``il-audit subscriber pull`` against the official emulator, writing DuckDB, in real processes.

Envelopes are published directly (NDJSON messages of real envelopes, as the
publisher packs them). Workers are ``il-audit`` processes; they share one
DuckDB file, which :class:`~il_audit.subscriber_fn.sinks.duckdb_file.DuckDBFile`
lets several processes write in turns (a writer holds the file at most 2 s,
the others retry for 30 s), so two workers on one subscription meet in one
table and "exactly once" is one query. Rows are keyed by ``event_id``
(``INSERT OR IGNORE``), so the tables cannot show a redelivery; the workers'
exit summaries (messages acked) and the DuckDB row counts are checked instead.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from google.cloud import pubsub_v1  # type: ignore[attr-defined]

from il_audit.schemas.wire import compress_body
from il_audit.subscriber_fn.pipeline import build_pipeline
from il_audit.subscriber_fn.pull_worker import PullSettings, PullWorker
from tests.support import duck
from tests.support.cli import IL_AUDIT, ROOT
from tests.support.factories import envelope_line, make_settings
from tests.support.names import unique_name
from tests.support.pubsub import PROJECT, pull_messages
from tests.support.reliability import record
from tests.support.waiting import wait_until

pytestmark = pytest.mark.usefixtures("pubsub_emulator_host")
EVENTS_PER_MESSAGE = 100


class Worker:
    """An ``il-audit subscriber pull`` process; its stdout lines are collected as they come."""

    def __init__(self, subscription: str, database: Path, *args: str) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "GOOGLE_CLOUD_PROJECT": PROJECT,
            "IL_AUDIT_SINK": "duckdb",
            "IL_AUDIT_DUCKDB_PATH": str(database),
        }
        self.process = subprocess.Popen(
            [*IL_AUDIT, "subscriber", "pull", "--subscription", subscription, *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for_line(self, pattern: str, timeout: float = 30) -> re.Match[str]:
        found: list[re.Match[str]] = []

        def seen() -> bool:
            found.extend(m for line in list(self.lines) if (m := re.search(pattern, line)))
            return bool(found) or self.process.poll() is not None

        wait_until(seen, timeout, f"{pattern!r} in the worker's output")
        assert found, f"the worker exited ({self.process.returncode}):\n{self.output()}"
        return found[0]

    def health_url(self) -> str:
        match = self.wait_for_line(r"health on (http://[\d.]+:\d+)")
        return match.group(1)

    def status(self, probe: str = "readyz") -> tuple[int, dict[str, Any]]:
        url = f"{self.health_url()}/{probe}"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        code = self.process.wait(timeout)
        self._reader.join(5)
        return code


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    """Workers a test started; any still running at the end are killed."""
    started: list[Worker] = []
    yield started
    for worker in started:
        if worker.process.poll() is None:
            worker.process.kill()
            worker.process.wait(10)


def make_subscription(ack_deadline_seconds: int = 10) -> tuple[str, str]:
    """A fresh topic and pull subscription: (topic path, subscription path)."""
    publisher = pubsub_v1.PublisherClient()
    subscriber = pubsub_v1.SubscriberClient()
    topic = publisher.topic_path(PROJECT, unique_name("pull"))
    subscription = subscriber.subscription_path(PROJECT, unique_name("pull-sub"))
    publisher.create_topic(name=topic)
    subscriber.create_subscription(
        name=subscription, topic=topic, ack_deadline_seconds=ack_deadline_seconds
    )
    subscriber.close()
    return topic, subscription


def publish(
    topic: str, count: int, per_message: int = EVENTS_PER_MESSAGE, **fields: Any
) -> list[str]:
    """``count`` real envelopes in NDJSON messages of ``per_message``; returns their event ids."""
    publisher = pubsub_v1.PublisherClient()
    ids: list[str] = []
    futures = []
    for start in range(0, count, per_message):
        lines = [envelope_line(**fields) for _ in range(min(per_message, count - start))]
        ids.extend(json.loads(line)["event_id"] for line in lines)
        futures.append(publisher.publish(topic, b"\n".join(lines), il_audit_count=str(len(lines))))
    for future in futures:
        future.result(timeout=30)
    return ids


COUNTS = (
    "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM events_deduped), "
    "(SELECT count(DISTINCT event_id) FROM events_deduped)"
)


def stored(database: Path) -> tuple[int, int, int]:
    """(rows of events, rows of events_deduped, distinct event ids) now; -1s while busy."""
    rows = duck.peek(database, COUNTS)
    return rows[0] if rows else (-1, -1, -1)


def counted(database: Path) -> tuple[int, int, int]:
    """:func:`stored`, waiting (up to 10 s) while a worker holds the file."""
    (row,) = duck.read(database, COUNTS, timeout=10)
    return (int(row[0]), int(row[1]), int(row[2]))


def stored_ids(database: Path) -> set[str]:
    return {row[0] for row in duck.read(database, "SELECT event_id FROM events_deduped")}


def acked(worker: Worker) -> int:
    match = worker.wait_for_line(r"(\d+) acked", timeout=5)
    return int(match.group(1))


@pytest.mark.slow
def test_two_workers_store_every_event_exactly_once(tmp_path: Path, workers: list[Worker]) -> None:
    """--workers 2: 3,000 events in 30 messages end up once each in events_deduped."""
    topic, subscription = make_subscription()
    database = tmp_path / "pull.duckdb"
    worker = Worker(subscription, database, "--workers", "2", "--health-port", "0")
    workers.append(worker)
    assert worker.status()[0] == 200
    ids = publish(topic, 3000)
    wait_until(lambda: stored(database)[1] >= len(ids), 60, "3,000 rows")
    assert worker.stop() == 0, worker.output()
    assert counted(database) == (3000, 3000, 3000)
    assert stored_ids(database) == set(ids)
    summaries = [line for line in worker.lines if "acked" in line]
    assert len(summaries) == 2, worker.output()  # one per child process
    assert sum(int(re.findall(r"(\d+) acked", line)[0]) for line in summaries) >= 30


@pytest.mark.slow
def test_a_killed_worker_s_batch_is_redelivered_to_the_next(
    tmp_path: Path, workers: list[Worker]
) -> None:
    """SIGKILL while a batch is open: its messages come back (10 s lease) and are stored once."""
    topic, subscription = make_subscription(ack_deadline_seconds=10)
    database = tmp_path / "pull.duckdb"
    first = Worker(subscription, database, "--health-port", "0", "--max-batch-seconds", "120",
                   "--max-batch-rows", "100000", "--lease-seconds", "10")  # fmt: skip
    workers.append(first)
    ids = publish(topic, 1000)
    wait_until(lambda: first.status()[1]["received"] >= 10, 30, "the batch to fill")
    first.stop(signal.SIGKILL)
    assert counted(database)[0] == 0  # the batch was open, nothing written
    second = Worker(subscription, database, "--health-port", "0", "--lease-seconds", "10")
    workers.append(second)
    # The emulator (0.8.20) keeps the killed worker's stream (closing a stream fails in it:
    # a NoSuchMethodError in its log for each cancelled one) and hands the expired messages
    # to one of the subscription's streams at random, so each miss costs another 10 s
    # lease: usually 10-30 s, 70 s seen (the plain google-cloud-pubsub client alike).
    wait_until(lambda: stored(database)[1] >= len(ids), 150, "redelivered rows")
    assert second.stop() == 0, second.output()
    assert counted(database) == (1000, 1000, 1000)
    assert stored_ids(database) == set(ids)


def test_sigterm_writes_the_open_batch_before_exiting(
    tmp_path: Path, workers: list[Worker]
) -> None:
    """Ready while pulling; SIGTERM mid-batch: the batch is written and acked, exit 0."""
    topic, subscription = make_subscription()
    database = tmp_path / "pull.duckdb"
    worker = Worker(subscription, database, "--health-port", "0", "--max-batch-seconds", "120",
                    "--max-batch-rows", "100000")  # fmt: skip
    workers.append(worker)
    wait_until(lambda: worker.status()[0] == 200, 30, "readiness")
    code, live = worker.status("livez")
    assert (code, live["ok"]) == (200, True)
    ids = publish(topic, 500)
    wait_until(lambda: worker.status()[1]["received"] >= 5, 30, "the batch to fill")
    assert counted(database)[0] == 0
    started = time.monotonic()
    assert worker.stop(signal.SIGTERM) == 0, worker.output()
    assert time.monotonic() - started < 15
    assert counted(database) == (500, 500, 500)
    assert stored_ids(database) == set(ids)
    assert acked(worker) == 5


def test_large_messages_arrive_whole(tmp_path: Path, workers: list[Worker]) -> None:
    """Twelve 500-event messages of ~0.5 MB: streaming-pull responses over gRPC's 4 MiB default."""
    topic, subscription = make_subscription()
    database = tmp_path / "pull.duckdb"
    ids = publish(topic, 6000, per_message=500, payload={"pad": "x" * 900})
    worker = Worker(subscription, database, "--health-port", "0")
    workers.append(worker)
    wait_until(lambda: stored(database)[1] >= len(ids), 30, "6,000 rows")
    assert worker.stop() == 0, worker.output()
    assert counted(database) == (6000, 6000, 6000)


def test_a_poison_line_over_the_pubsub_limit_does_not_fail_its_batch(tmp_path: Path) -> None:
    """A 12 MiB line (12 KB of gzip) and 100 good messages in one batch: the 100 events are
    stored, the poison dead-lettered once (cut to 1 MiB), no batch fails, nothing is nacked.

    The worker runs in this process (its streaming pull, DuckDB and the dead-letter topic
    are the real ones) to spare a process start."""
    topic, subscription = make_subscription()
    dlq_topic, dlq_subscription = make_subscription()
    poison = compress_body(b'{"x":"' + b"a" * (12 * 1024 * 1024) + b'"}', level=9)
    pubsub_v1.PublisherClient().publish(topic, poison).result(timeout=30)
    ids = publish(topic, 100, per_message=1)
    database = tmp_path / "pull.duckdb"
    settings = make_settings(sink="duckdb", duckdb_path=str(database), project=PROJECT,
                             dlq_topic=dlq_topic.rsplit("/", 1)[1])  # fmt: skip
    pipeline = build_pipeline(settings)
    worker = PullWorker(pipeline, PullSettings(subscription, max_batch_seconds=1.0))
    worker.start()
    try:
        wait_until(lambda: worker.counters.events_stored >= len(ids), 30, "100 rows")
    finally:
        worker.stop(timeout=10)
        pipeline.sink.close()
    assert stored_ids(database) == set(ids)
    status = worker.status()
    assert (status["received"], status["batches"], status["acked"]) == (101, 1, 101)
    assert (status["failed_batches"], status["nacked"], status["dead_lettered"]) == (0, 0, 1)
    [letter] = pull_messages(dlq_subscription, expect_events=1, timeout=10, grace=0.5)
    assert letter.attributes["il_audit_data_cut"] == "true"
    assert letter.attributes["il_audit_error_class"] == "oversize"
    record("the poison line over the limit, pull worker", good_messages=100, stored=len(ids),
           failed_batches=status["failed_batches"], nacked=status["nacked"])  # fmt: skip
