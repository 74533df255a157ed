"""Dead-letter operations end to end: the emulator, the function, the CLI in its own process."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from pathlib import Path

import pytest

from il_audit.operations.dlq import (
    PubSubSource,
    ReplayReport,
    Republisher,
    read_archive,
    replay,
)
from il_audit.publisher import AuditContext
from il_audit.schemas import taxonomy as T
from tests.support import duck
from tests.support.bigquery_standin import BigQueryStandIn
from tests.support.pubsub import pull_messages
from tests.support.stack import ROOT, Stack
from tests.support.tap import Tap
from tests.support.waiting import wait_until

CTX = AuditContext(app="ingest", actor_uid="u-1")
SHORT_LEASE = 2
"""Seconds a crashed run's messages stay hidden, so that tests wait for them briefly."""
BILLING = {"IL_AUDIT_EXTRA_EVENT_TYPES": "billing.*"}
ACCEPTED = re.compile(r"il-audit: message \S+: (\d+) accepted")
"""The function's log line for each message it handled."""


@pytest.fixture
def stack(pubsub_emulator_host: str, tmp_path: Path) -> Iterator[Stack]:
    """A stack whose function does not know billing.* events yet (these tests count one dead
    letter per event: the default cap of 500 rejects per message keeps them line by line)."""
    created = Stack(pubsub_emulator_host, tmp_path, "dlq")
    created.start_function()
    created.provision(max_delivery_attempts=5, max_backoff_seconds=2)
    yield created
    created.stop_function()


@pytest.fixture
def tap(stack: Stack) -> Iterator[Callable[..., Tap]]:
    """Taps on the stack's events topic, or the topic given (created when called, deleted
    afterwards)."""
    taps: list[Tap] = []

    def create(topic: str | None = None) -> Tap:
        taps.append(Tap.on(stack.layout.project, topic or stack.layout.topic))
        return taps[-1]

    yield create
    for created in taps:
        created.delete()


def replay_in_process(
    stack: Stack, source: type[PubSubSource] = PubSubSource, lease_seconds: int = 10
) -> ReplayReport:
    """One replay run over the stack's dead letters, into its events topic, in this process."""
    layout = stack.layout
    subscription = f"projects/{layout.project}/subscriptions/{layout.dlq_subscription}"
    with (
        closing(Republisher(f"projects/{layout.project}/topics/{layout.topic}")) as publish,
        closing(source(subscription, lease_seconds=lease_seconds, pull_timeout=0.5)) as pulled,
    ):
        return replay(pulled, publish)


def once(ids: list[str]) -> Counter[str]:
    """Each of ``ids`` published exactly once."""
    return Counter(ids)


def emit_billing(stack: Stack, count: int) -> list[str]:
    """Emit billing.* events the function does not know yet: each becomes a dead letter."""
    publisher = stack.publisher()
    ids = [
        publisher.emit("billing.invoice.sent", context=CTX, resource_id=str(i))
        for i in range(count)
    ]
    assert publisher.flush(30).complete
    publisher.shutdown(5)
    return [event_id for event_id in ids if event_id]


def test_inspect_groups_without_acknowledging(stack: Stack) -> None:
    """inspect groups by error class and app, and the messages stay for the next look."""
    emit_billing(stack, 3)
    wait_until(lambda: stack.dlq_messages() == 3, 30, "three dead letters")
    [group] = stack.dlq_groups()
    assert (group["error_class"], group["app"], group["messages"]) == (
        "unknown_event_type",
        "ingest",
        3,
    )
    assert "billing.invoice.sent" in group["sample"]
    assert group["first_seen"] <= group["last_seen"]
    assert stack.dlq_messages() == 3  # still there


def test_revalidate_leaves_poison_and_replays_once_fixed(
    stack: Stack, tap: Callable[..., Tap], tmp_path: Path
) -> None:
    """Lines that would fail again stay; after the fix they are replayed, published once."""
    ids = emit_billing(stack, 3)
    wait_until(lambda: stack.dlq_messages() == 3, 30, "three dead letters")
    published = tap()
    result = stack.cli("dlq", "replay", "--revalidate", "--report", str(tmp_path / "r1.json"))
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "r1.json").read_text())
    assert (report["still_failing"], report["replayed"]) == (3, 0)
    assert "unknown_event_type" in report["still_failing_messages"][0]["problems"][0]
    assert "against this shell's configuration" in result.stdout
    assert "not the deployed subscriber's" in result.stdout
    first = report["still_failing_messages"][0]["message_id"]
    assert f"still failing: message id {first}: " in result.stdout
    assert stack.dlq_messages() == 3
    stack.start_function(**BILLING)  # the fix is deployed
    dry = stack.cli(
        "dlq", "replay", "--dry-run", "--revalidate", "--report", str(tmp_path / "r0.json"),
        "--format", "json", env=BILLING,
    )  # fmt: skip
    assert dry.returncode == 0, dry.stderr
    dry_report = json.loads((tmp_path / "r0.json").read_text())
    assert json.loads(dry.stdout) == dry_report  # --format json prints what --report writes
    assert dry_report["revalidated"] is True
    assert "not the deployed subscriber's" in dry_report["revalidation_note"]
    assert (dry_report["would_replay"], dry_report["replayed"]) == (3, 0)
    assert (dry_report["would_replay_events"], dry_report["replayed_events"]) == (3, 0)
    assert stack.dlq_messages() == 3
    result = stack.cli(
        "dlq", "replay", "--revalidate", "--report", str(tmp_path / "r2.json"), env=BILLING
    )
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "r2.json").read_text())["replayed"] == 3
    wait_until(lambda: stack.count("SELECT count(*) FROM events") == 3, 30, "three rows")
    stored = stack.query("SELECT event_id, payload->>'$.resource_id' FROM events ORDER BY 2")
    assert sorted(row[0] for row in stored) == sorted(ids)
    assert stack.dlq_messages() == 0
    assert published.publishes(expect_events=3) == once(ids)  # nothing while still poison


def test_still_poison_returns_with_its_reason_until_the_replay_cap(
    stack: Stack, tap: Callable[..., Tap], tmp_path: Path
) -> None:
    """Replayed poison comes back with an incremented count; at the cap replay refuses it.
    The first run pulls long enough to see it come back: reported as dead-lettered again, by
    message id, and left for the next run."""
    [event_id] = emit_billing(stack, 1)
    wait_until(lambda: stack.dlq_messages() == 1, 30, "the dead letter")
    published = tap()
    # The pullers stop after two empty pulls; longer pulls keep the first run going while the
    # function rejects the replayed message and dead-letters it again.
    first_run = ("--pull-timeout", "3", "--report", str(tmp_path / "again.json"))
    for round_number in (1, 2, 3):
        result = stack.cli("dlq", "replay", *(first_run if round_number == 1 else ()))
        assert result.returncode == 0, result.stderr
        assert "replayed 1 " in result.stdout
        if round_number == 1:
            report = json.loads((tmp_path / "again.json").read_text())
            assert (report["replayed"], report["dead_lettered_again"]) == (1, 1), report
            [again] = report["dead_lettered_again_message_ids"]
            assert (
                "dead-lettered again during this run: 1 replayed message(s) "
                f"(first: message id {again})" in result.stdout
            )
        wait_until(
            lambda n=round_number: stack.count("SELECT count(*) FROM dead_letters") == n + 1,
            30,
            f"dead letter number {round_number + 1}",
        )
        wait_until(lambda: stack.dlq_messages() == 1, 30, "the dead letter back in the DLQ")
    capped = stack.cli("dlq", "replay")
    assert "reached the replay cap" in capped.stdout
    assert "replayed 0 " in capped.stdout
    assert stack.dlq_messages() == 1
    counts = stack.query(
        "SELECT attributes->>'$.il_audit_replay_count' FROM dead_letters ORDER BY received_at"
    )
    assert [row[0] for row in counts] == [None, "1", "2", "3"]
    forced = stack.cli("dlq", "replay", "--force")
    assert "replayed 1 " in forced.stdout
    assert published.publishes(expect_events=4) == {event_id: 4}  # 3 rounds, none capped, forced


def test_purge_archives_then_acknowledges_only_what_was_selected(
    stack: Stack, tmp_path: Path
) -> None:
    """Purge writes the selected messages to JSONL first and leaves the others."""
    publisher = stack.publisher()
    publisher.emit("billing.invoice.sent", context=CTX)
    publisher.emit("billing.invoice.sent", context=AuditContext(app="chat"))
    assert publisher.flush(30).complete
    publisher.shutdown(5)
    wait_until(lambda: stack.dlq_messages() == 2, 30, "two dead letters")
    refused = stack.cli("dlq", "purge", "--filter", "app=chat")
    assert refused.returncode == 2
    # IL_AUDIT_DRY_RUN wins over --yes, and says so: a preview, nothing acknowledged.
    previewed = stack.cli(
        "dlq", "purge", "--yes", "--format", "json", env={"IL_AUDIT_DRY_RUN": "1"}
    )
    assert previewed.returncode == 0, previewed.stderr
    assert "dry run (--dry-run or IL_AUDIT_DRY_RUN): nothing is purged" in previewed.stderr
    assert sum(group["messages"] for group in json.loads(previewed.stdout)) == 2
    archive = tmp_path / "archive.jsonl"
    result = stack.cli(
        "dlq", "purge", "--filter", "app=chat", "--archive", str(archive), "--yes",
        "--format", "json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)  # the progress bar goes to stderr
    assert list(summary) == ["pulled", "purged", "skipped", "archive"]
    assert (summary["purged"], summary["archive"]) == (1, str(archive))
    [record] = list(read_archive(archive))
    assert record["attributes"]["app"] == "chat"
    assert json.loads(record["data"])["event_type"] == "billing.invoice.sent"
    assert [group["app"] for group in stack.dlq_groups()] == ["ingest"]
    # Without --archive, from a subdirectory: under the project's .il-audit-dev/, not here.
    (tmp_path / ".il-audit-dev").mkdir()
    subdirectory = tmp_path / "examples"
    subdirectory.mkdir()
    result = stack.cli("dlq", "purge", "--yes", cwd=subdirectory, env={"IL_AUDIT_DEV_DIR": ""})
    assert result.returncode == 0, result.stderr
    assert "purged 1" in result.stdout
    [default_archive] = (tmp_path / ".il-audit-dev").glob("dlq-archive-*.jsonl")
    assert str(default_archive) in result.stdout
    assert list(subdirectory.iterdir()) == []
    assert [json.loads(r["data"])["event_type"] for r in read_archive(default_archive)] == [
        "billing.invoice.sent"
    ]
    for path in ("x/.il-audit-dev/dlq-archive-1.jsonl", "dlq-archive-1.jsonl"):
        ignored = subprocess.run(
            ["git", "check-ignore", "-q", "--no-index", path], cwd=ROOT, check=False
        )
        assert ignored.returncode == 0, f".gitignore does not cover {path}"


def test_outage_then_replay_lands_every_event_once(
    stack: Stack, tap: Callable[..., Tap], tmp_path: Path
) -> None:
    """Sink down -> Pub/Sub retries and dead-letters -> sink back -> replay -> published once.

    The dead-lettering is Pub/Sub's own (after a 5xx on every attempt, each logged with the
    function's error): the message as published, without our error attributes.
    """
    blocker = tmp_path / "blocked"
    blocker.write_text("a file where the database directory should be")
    database = blocker / "audit.duckdb"
    stack.start_function(IL_AUDIT_DUCKDB_PATH=str(database))
    dead_lettered = tap(stack.layout.dlq_topic)
    publisher = stack.publisher()
    sent = [publisher.emit(T.AUTH_LOGOUT, context=CTX, attempt=str(i)) for i in range(2)]
    assert publisher.flush(30).complete
    publisher.shutdown(5)
    wait_until(lambda: stack.dlq_messages() >= 1, 120, "Pub/Sub to dead-letter the message")
    messages = pull_messages(dead_lettered.subscription_path, expect_events=2)
    assert sorted(e["event_id"] for m in messages for e in m.envelopes()) == sorted(sent)
    for message in messages:
        assert "il_audit_error_class" not in message.attributes  # Pub/Sub's own dead-lettering
        source = message.attributes["CloudPubSubDeadLetterSourceSubscription"]
        assert source == stack.layout.subscription
    assert stack.server is not None
    logged = [json.loads(line) for line in stack.server.log_text().splitlines() if line[:1] == "{"]
    failures = [entry for entry in logged if entry["severity"] == "ERROR"]
    assert len(failures) >= 2  # one per failed delivery attempt
    assert all(blocker.name in entry.get("exception", "") for entry in failures)
    [group] = stack.dlq_groups()
    assert group["error_class"] == "delivery_exhausted"
    assert group["events"] == 2
    blocker.unlink()  # the warehouse is back
    published = tap()
    result = stack.cli("dlq", "replay", "--error-class", "delivery_exhausted")
    assert result.returncode == 0, result.stderr
    stack.database = database

    def landed() -> bool:
        return stack.count("SELECT count(*) FROM events") == 2

    wait_until(landed, 180, "the replayed events")
    assert sorted(row[0] for row in stack.query("SELECT event_id FROM events")) == sorted(sent)
    assert stack.dlq_messages() == 0
    assert published.publishes(expect_events=2) == once([str(event_id) for event_id in sent])


def test_killing_replay_at_random_points_loses_and_duplicates_nothing(
    stack: Stack, tap: Callable[..., Tap]
) -> None:
    """SIGKILL replay again and again; then every event is stored once and the DLQ is empty."""
    ids = emit_billing(stack, 150)
    wait_until(lambda: stack.dlq_messages() == 150, 60, "150 dead letters")
    stack.start_function(**BILLING)
    whole_test = tap()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        **stack.env,
        **BILLING,
        "IL_AUDIT_DLQ_LEASE_SECONDS": "10",
    }
    rng = random.Random(20261127)
    kills = 0
    for _ in range(6):
        process = subprocess.Popen(
            [sys.executable, "-m", "il_audit.cli", "dlq", "replay", "--batch-size", "5"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # The scenario, not a wait: a SIGKILL at a random moment of the run (start-up takes
        # about 1.5 s, so most kills land mid-work).
        time.sleep(rng.uniform(1.8, 3.5))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait(30)
    assert kills >= 4
    unkilled_runs = tap()

    # The killed runs' leases expire within 10 s; replay whatever is visible until done.
    rounds: list[str] = []

    def everything_landed() -> bool:
        stored = stack.count("SELECT count(DISTINCT event_id) FROM events")
        if stored == len(ids):
            return True
        finished = stack.cli("dlq", "replay", env={**BILLING, "IL_AUDIT_DLQ_LEASE_SECONDS": "10"})
        rounds.append(f"{stored} stored; {finished.stdout.strip().splitlines()[-1:]}")
        return False

    try:
        # Two seconds between rounds give the function time to store what a round replayed.
        wait_until(everything_landed, 120, "every event replayed", interval=2)
    finally:
        print("\n".join(rounds))
    assert stack.count("SELECT count(*) FROM events") == len(ids)  # never twice
    assert sorted(row[0] for row in stack.query("SELECT event_id FROM events")) == sorted(ids)
    wait_until(lambda: stack.dlq_messages() == 0, 60, "an empty dead-letter subscription")
    # The table dedupes; the publishes show what replay did. Every event was published.
    # A killed run may leave published messages unacknowledged, which the next runs
    # publish again (harmless, deduped); the runs that were not killed publish none twice.
    published = whole_test.publishes(expect_events=len(ids))
    assert set(published) == set(ids)
    assert set(unkilled_runs.publishes(expect_events=0).values()) <= {1}
    print(f"{sum(published.values()) - len(ids)} publishes repeated after {kills} kills")


def accepted_by_function(stack: Stack) -> int:
    """How many events the stack's function accepted since it started (from its log)."""
    assert stack.server is not None
    return sum(int(found) for found in ACCEPTED.findall(stack.server.log_text()))


class CrashBeforeAck(Exception):
    """Stands for the process dying between publishing and acknowledging."""


class CrashingSource(PubSubSource):
    """A source whose run dies after publishing, before acknowledging anything."""

    def ack(self, _ack_ids: Sequence[str]) -> None:
        raise CrashBeforeAck


def test_a_crash_between_publish_and_ack_only_causes_a_harmless_redelivery(
    stack: Stack, tap: Callable[..., Tap]
) -> None:
    """Published but not acknowledged: the message returns, is replayed again, stored once."""
    ids = emit_billing(stack, 5)
    wait_until(lambda: stack.dlq_messages() == 5, 30, "five dead letters")
    stack.start_function(**BILLING)
    published = tap()

    crashed = replay_in_process(stack, CrashingSource, SHORT_LEASE)
    assert crashed.replayed == 0  # published, never acknowledged
    assert any("CrashBeforeAck" in error for error in crashed.errors)
    wait_until(lambda: stack.count("SELECT count(*) FROM events") == 5, 30, "the first copies")
    wait_until(lambda: stack.dlq_messages() == 5, 30, "the crashed run's leases to expire")
    report = replay_in_process(stack)
    assert report.replayed == 5
    wait_until(lambda: accepted_by_function(stack) >= 10, 30, "the function to take both copies")
    assert duck.read(stack.database, "SELECT count(*) FROM events") == [(5,)]  # deduplicated
    assert sorted(row[0] for row in stack.query("SELECT event_id FROM events")) == sorted(ids)
    assert stack.dlq_messages() == 0
    assert published.publishes(expect_events=10) == Counter(ids * 2)  # each exactly twice


def test_replayed_duplicates_in_bigquery_are_hidden_by_the_dedup_view(
    stack: Stack, standin: BigQueryStandIn
) -> None:
    """The stand-in keeps both copies (it ignores insertId); events_deduped shows one."""
    from il_audit.config.settings import AuditSettings
    from il_audit.operations.infra import apply

    dataset = f"dedup_{os.getpid()}"
    bigquery_env = {
        "IL_AUDIT_SINK": "bigquery",
        "IL_BQ_API_ENDPOINT": standin.url,
        # insertAll: the test polls the stand-in while the function writes, and bqemulator
        # 1.4.0 serves AppendRows and queries on one DuckDB connection from two threads (a
        # query during an append can hang it). Storage Write redeliveries are counted once
        # in test_bigquery_storage_write.py, where writes and reads do not overlap.
        "IL_AUDIT_BQ_WRITE_METHOD": "insert_all",
        "IL_BQ_AUDIT_DATASET": dataset,
        "GOOGLE_CLOUD_PROJECT": standin.project,
    }
    ids = emit_billing(stack, 3)
    wait_until(lambda: stack.dlq_messages() == 3, 30, "three dead letters")
    stack.start_function(**BILLING, **bigquery_env)
    settings = AuditSettings.from_env({**stack.env, **bigquery_env})
    apply(settings, pubsub=False)  # tables and views in the stand-in

    crashed = replay_in_process(stack, CrashingSource, SHORT_LEASE)
    assert crashed.replayed == 0
    from il_audit.subscriber_fn.sinks.bigquery import BigQuerySink

    client = BigQuerySink.from_settings(settings).client
    table = f"`{standin.project}.{dataset}"

    def rows(name: str) -> int:
        return int(
            next(iter(client.query(f"SELECT COUNT(*) AS n FROM {table}.{name}`").result()))["n"]
        )

    wait_until(lambda: rows("events") == 3, 60, "the first copies")
    wait_until(lambda: stack.dlq_messages() == 3, 30, "the crashed run's leases to expire")
    replay_in_process(stack)
    wait_until(lambda: rows("events") == 6, 60, "the second copies (no insertId dedup here)")
    assert rows("events_deduped") == 3
    deduped = client.query(f"SELECT event_id FROM {table}.events_deduped`").result()
    assert sorted(row["event_id"] for row in deduped) == sorted(ids)
