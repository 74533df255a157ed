"""Dead-letter logic without a broker: attributes, selection, and the replay/purge protocol.

The in-memory source below stands in for a subscription to drive exact
sequences (publish failures, caps); the same code runs against the emulator
in tests/integration/test_dlq.py.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from il_audit.cli import cli
from il_audit.operations.dlq import (
    DeadLetter,
    DlqError,
    PubSubSource,
    Republisher,
    Selector,
    inspect,
    purge,
    read_archive,
    replay,
)

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def own_reject(message_id: str, **attributes: str) -> DeadLetter:
    base = {
        "app": "ingest",
        "event_type": "x.y",
        "il_audit_error_class": "unknown_event_type",
        "il_audit_error_detail": "event_type 'x.y' is not in the taxonomy",
        "il_audit_line_index": "0",
        "il_audit_source_message_id": "m-0",
        "il_audit_schema": "1",
        "il_audit_count": "1",
    }
    return DeadLetter(
        f"ack-{message_id}", message_id, b'{"event_id":"e"}', {**base, **attributes}, T0
    )


def exhausted(message_id: str) -> DeadLetter:
    attributes = {
        "app": "chat",
        "il_audit_count": "2",
        "CloudPubSubDeadLetterSourceDeliveryCount": "5",
        "CloudPubSubDeadLetterSourceSubscription": "events-push",
    }
    return DeadLetter(f"ack-{message_id}", message_id, b'{"a":1}\n{"b":2}', attributes, T0)


class MemorySource:
    """A subscription in memory: pull leases, ack removes, release returns."""

    def __init__(self, messages: list[DeadLetter]) -> None:
        self.available = list(messages)
        self.leased: dict[str, DeadLetter] = {}
        self.acked: list[str] = []
        self.lease_seconds = 60
        self.lock = threading.Lock()  # pulled from several threads, like the real one

    def pull(self, max_messages: int) -> list[DeadLetter]:
        with self.lock:
            taken, self.available = self.available[:max_messages], self.available[max_messages:]
            self.leased.update({message.ack_id: message for message in taken})
            return taken

    def ack(self, ack_ids: Sequence[str]) -> None:
        with self.lock:
            for ack_id in ack_ids:
                self.leased.pop(ack_id)
                self.acked.append(ack_id)

    def release(self, ack_ids: Sequence[str]) -> None:
        with self.lock:
            for ack_id in ack_ids:
                self.available.append(self.leased.pop(ack_id))

    def extend(self, ack_ids: Sequence[str], _seconds: int) -> None:
        assert all(ack_id in self.leased for ack_id in ack_ids)

    def close(self) -> None:
        pass


def done_future(error: Exception | None = None) -> Future[str]:
    future: Future[str] = Future()
    if error:
        future.set_exception(error)
    else:
        future.set_result("id")
    return future


def test_own_rejects_and_pubsub_dead_letters_are_told_apart() -> None:
    """Our error attributes, or Pub/Sub's delivery count, explain why a message is here."""
    assert own_reject("1").error_class == "unknown_event_type"
    assert exhausted("2").error_class == "delivery_exhausted"
    assert "5 delivery attempts" in exhausted("2").error_detail
    assert exhausted("2").line_count == 2


def test_replay_attributes_keep_the_original_and_count_the_replay() -> None:
    """Error and Pub/Sub attributes go; app/type stay; replay count and origin are added."""
    replayed = own_reject("9", il_audit_replay_count="1").replay_attributes()
    assert replayed == {
        "app": "ingest",
        "event_type": "x.y",
        "il_audit_schema": "1",
        "il_audit_count": "1",
        "il_audit_replayed_from": "9",
        "il_audit_replay_count": "2",
    }
    assert not any(key.startswith("CloudPubSub") for key in exhausted("3").replay_attributes())


def test_the_marker_of_cut_attributes_is_dropped_on_replay() -> None:
    """il_audit_attributes_cut describes the dead letter, not the event: it does not go back."""
    replayed = own_reject("9", il_audit_attributes_cut="3").replay_attributes()
    assert "il_audit_attributes_cut" not in replayed


def test_a_cut_dead_letter_is_marked_and_a_replay_run_leaves_it() -> None:
    """A letter cut to fit the topic is recognised, and replay refuses it and reports it."""
    cut = own_reject("1", il_audit_data_cut="true", il_audit_original_bytes="12582920")
    assert (cut.cut, own_reject("2").cut) == (True, False)
    source = MemorySource([cut, own_reject("2")])
    sent: list[str] = []

    def publish(_data: bytes, attributes: dict[str, str]) -> Future[str]:
        sent.append(attributes["il_audit_replayed_from"])
        return done_future()

    report = replay(source, publish, force=True)
    assert (report.replayed, report.skipped_cut, report.cut, sent) == (1, 1, ["1"], ["2"])
    assert [message.message_id for message in source.available] == ["1"]
    assert "cut 1" in report.summary()


def test_selector_filters_by_attribute_glob_class_and_time() -> None:
    """Every condition must hold; globs match attribute values."""
    message = own_reject("1", event_type="ui.tab.viewed")
    assert Selector.parse(["event_type=ui.*", "app=ingest"]).matches(message)
    assert not Selector.parse(["app=chat"]).matches(message)
    assert Selector.parse(["error_class=unknown_event_type"]).matches(message)
    assert not Selector.parse(error_classes=["delivery_exhausted"]).matches(message)
    assert Selector.parse(since=T0 - timedelta(seconds=1), until=T0).matches(message)
    assert not Selector.parse(since=T0 + timedelta(seconds=1)).matches(message)
    with pytest.raises(DlqError, match="NAME=VALUE"):
        Selector.parse(["app"])


def test_replay_acks_only_what_was_published() -> None:
    """A failed publish leaves its message in the subscription; the others are acked."""
    source = MemorySource([own_reject("1"), own_reject("2"), own_reject("3")])
    outcomes = iter([None, RuntimeError("broker down"), None])
    report = replay(source, lambda _data, _attrs: done_future(next(outcomes)))
    assert (report.replayed, report.failed) == (2, 1)
    assert sorted(source.acked) == ["ack-1", "ack-3"]
    assert [message.message_id for message in source.available] == ["2"]


def test_replay_refuses_messages_at_the_cap_unless_forced() -> None:
    """The replay count stops loops; --force overrides it."""
    source = MemorySource([own_reject("1", il_audit_replay_count="3")])
    report = replay(source, lambda _data, _attrs: done_future())
    assert (report.replayed, report.skipped_cap, report.capped) == (0, 1, ["1"])
    assert len(source.available) == 1
    forced = replay(source, lambda _data, _attrs: done_future(), force=True)
    assert forced.replayed == 1


def test_dry_run_publishes_and_acks_nothing() -> None:
    """A dry run reports what it would do and leaves everything in place."""
    source = MemorySource([own_reject("1"), exhausted("2")])
    published: list[bytes] = []
    report = replay(source, lambda data, _attrs: published.append(data), dry_run=True)
    assert (report.replayed, report.replayed_events, published, source.acked) == (2, 3, [], [])
    assert len(source.available) == 2


def test_inspect_groups_and_releases_everything() -> None:
    """inspect counts per (class, app) and gives every message back."""
    source = MemorySource([own_reject("1"), own_reject("2"), exhausted("3")])
    groups = inspect(source)
    assert [(g.error_class, g.app, g.messages, g.events) for g in groups] == [
        ("unknown_event_type", "ingest", 2, 2),
        ("delivery_exhausted", "chat", 1, 2),
    ]
    assert len(source.available) == 3
    assert source.acked == []


def test_purge_archives_before_acking(tmp_path: Path) -> None:
    """The archive holds every purged message (data intact) before it is acknowledged."""
    source = MemorySource([own_reject("1"), exhausted("2")])
    archive = tmp_path / "archive.jsonl"
    report = purge(source, archive, selector=Selector.parse(error_classes=["delivery_exhausted"]))
    assert (report.purged, report.skipped) == (1, 1)
    [record] = list(read_archive(archive))
    assert record["data"] == b'{"a":1}\n{"b":2}'
    assert record["error_class"] == "delivery_exhausted"
    assert source.acked == ["ack-2"]
    assert json.loads(archive.read_text())["message_id"] == "2"


@pytest.fixture
def cli_source(monkeypatch: pytest.MonkeyPatch) -> list[MemorySource]:
    """The CLI reads from an in-memory subscription and republishes into a list."""
    opened: list[MemorySource] = []
    messages = [own_reject("1"), own_reject("2", app="chat"), exhausted("3")]

    def source(*args: object, **kwargs: object) -> MemorySource:
        opened.append(MemorySource(list(messages)))
        return opened[-1]

    class Published(list[bytes]):
        def __call__(self, data: bytes, _attributes: dict[str, str]) -> Future[str]:
            self.append(data)
            return done_future()

        def close(self) -> None:
            pass

    monkeypatch.setattr(PubSubSource, "from_settings", source)
    monkeypatch.setattr(Republisher, "from_settings", lambda *args: Published())
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "p")  # the CLI checks for one first
    return opened


def test_cli_selection_options_build_one_selector(cli_source: list[MemorySource]) -> None:
    """--filter, --error-class, --since and --until (naive dates read as UTC) all apply."""
    result = CliRunner().invoke(
        cli,
        ["dlq", "replay", "--dry-run", "--filter", "app=chat", "--filter",
         "error_class=delivery_exhausted", "--error-class", "unknown_event_type",
         "--since", "2026-11-27", "--until", "2026-11-27T10:00:00"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "dry run: selected 2, would replay 2 " in result.output  # 2 and 3 (of either class)
    [source] = cli_source
    assert source.acked == []
    late = CliRunner().invoke(cli, ["dlq", "replay", "--dry-run", "--since", "2026-11-28"])
    assert "dry run: selected 0, would replay 0 " in late.output


def test_cli_refuses_a_malformed_filter_before_reading(cli_source: list[MemorySource]) -> None:
    """A filter without '=' is bad usage (exit 2), reported before any subscription is opened."""
    result = CliRunner().invoke(cli, ["dlq", "inspect", "--filter", "app"])
    assert result.exit_code == 2
    assert "--filter" in result.output
    assert "NAME=VALUE" in result.output
    assert cli_source == []


def test_cli_purge_dry_run_inspects_the_same_selection(cli_source: list[MemorySource]) -> None:
    """purge --dry-run shows the groups its selection would purge and acknowledges nothing."""
    result = CliRunner().invoke(cli, ["dlq", "purge", "--dry-run", "--filter", "app=chat"])
    assert result.exit_code == 0, result.output
    assert "chat" in result.output
    assert "ingest" not in result.output
    [source] = cli_source
    assert (source.acked, len(source.available)) == ([], 3)


def test_cli_hands_the_lease_and_the_pull_timeout_to_the_subscription(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """--lease-seconds and --pull-timeout (or their variables) reach PubSubSource; without
    them the CLI uses PubSubSource's own defaults."""
    from il_audit.operations.dlq._source import DEFAULT_LEASE_SECONDS, DEFAULT_PULL_TIMEOUT

    opened: list[dict[str, object]] = []

    def source(*args: object, **kwargs: object) -> MemorySource:
        opened.append(kwargs)
        return MemorySource([])

    monkeypatch.setattr(PubSubSource, "from_settings", source)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "p")
    runner = CliRunner()
    assert runner.invoke(cli, ["dlq", "inspect"]).exit_code == 0
    given = ["dlq", "inspect", "--lease-seconds", "30", "--pull-timeout", "0.5"]
    assert runner.invoke(cli, given).exit_code == 0
    variables = {"IL_AUDIT_DLQ_LEASE_SECONDS": "20", "IL_AUDIT_DLQ_PULL_TIMEOUT": "0.25"}
    assert runner.invoke(cli, ["dlq", "purge", "--dry-run"], env=variables).exit_code == 0
    assert [(kw["lease_seconds"], kw["pull_timeout"]) for kw in opened] == [
        (DEFAULT_LEASE_SECONDS, DEFAULT_PULL_TIMEOUT),
        (30, 0.5),
        (20, 0.25),
    ]
    refused = runner.invoke(cli, ["dlq", "inspect", "--pull-timeout", "0"])
    assert refused.exit_code == 2


def test_a_replayed_message_dead_lettered_again_during_the_run_is_reported() -> None:
    """Newer than the run and carrying il_audit_replayed_from: counted as back again, left."""
    later = datetime.now(UTC) + timedelta(hours=1)
    back = replace(
        own_reject("7", il_audit_replayed_from="1", il_audit_replay_count="1"), publish_time=later
    )
    other = replace(own_reject("8"), publish_time=later)
    source = MemorySource([back, other])
    report = replay(source, lambda _data, _attrs: done_future())
    assert (report.replayed, report.skipped_new, report.back_again) == (0, 2, ["7"])
    assert report.to_json()["dead_lettered_again"] == 1
    assert report.to_json()["dead_lettered_again_message_ids"] == ["7"]
    assert len(source.available) == 2
