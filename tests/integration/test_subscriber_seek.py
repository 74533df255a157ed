"""`il-audit subscriber seek` on the Pub/Sub emulator, which supports Seek to a time: what a
subscriber acknowledged comes back, as far as the topic's message retention reaches."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from google.api_core import exceptions as core_exceptions
from google.cloud import pubsub_v1
from google.protobuf import duration_pb2

from il_audit.cli import cli
from tests.support.pubsub import PROJECT, pull_messages


def _topic(name: str, retention_seconds: int) -> tuple[str, str]:
    """A topic (with that message retention; 0: none) and a pull subscription on it."""
    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    topic = publisher.topic_path(PROJECT, f"{name}-{os.getpid()}")
    subscription = subscriber.subscription_path(PROJECT, f"{name}-sub-{os.getpid()}")
    request: dict[str, object] = {"name": topic}
    if retention_seconds:
        request["message_retention_duration"] = duration_pb2.Duration(seconds=retention_seconds)
    publisher.create_topic(request=request)
    subscriber.create_subscription(name=subscription, topic=topic, ack_deadline_seconds=60)
    subscriber.close()
    return topic, subscription


def _nothing_waiting(subscription: str) -> bool:
    subscriber = pubsub_v1.SubscriberClient()
    try:
        response = subscriber.pull(
            request={"subscription": subscription, "max_messages": 10}, timeout=0.5, retry=None
        )
    except core_exceptions.DeadlineExceeded:
        return True
    finally:
        subscriber.close()
    return not response.received_messages


def _seek(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["subscriber", "seek", *args])
    return result.exit_code, result.output


@pytest.mark.timeout(120)
def test_seek_redelivers_what_was_acknowledged(
    pubsub_emulator_host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Acked events come back after a seek, not after a dry run; the dry run reports the
    subscription, the time and the retention; a topic without retention is warned about;
    a missing subscription is one line and exit 1."""
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", PROJECT)
    topic, subscription = _topic("seek-kept", 3600)
    before = (datetime.now(UTC) - timedelta(seconds=5)).isoformat(timespec="seconds")
    publisher = pubsub_v1.PublisherClient()
    for n in range(3):
        publisher.publish(topic, json.dumps({"n": n}).encode()).result(30)
    first = pull_messages(subscription, expect_events=3)
    assert len(first) == 3  # delivered and acknowledged, as a broken subscriber would

    code, output = _seek("--to", before, "--subscription", subscription, "--dry-run",
                         "--format", "json")  # fmt: skip
    assert code == 0, output
    report = json.loads(output)
    assert report["subscription"] == subscription
    assert report["topic"] == topic
    assert report["to"] == before.replace("+00:00", "Z")
    assert report["topic_message_retention_seconds"] == 3600
    assert (report["dry_run"], report["sought"], report["warnings"]) == (True, False, [])
    assert _nothing_waiting(subscription)  # a dry run changes nothing

    code, output = _seek("--to", before, "--subscription", subscription.rsplit("/", 1)[1])
    assert code == 0, output
    assert "topic retention  3600 s" in output
    assert "sought: Pub/Sub redelivers" in output
    again = pull_messages(subscription, expect_events=3)
    assert sorted(message.message_id for message in again) == sorted(
        message.message_id for message in first
    )

    _, bare = _topic("seek-bare", 0)
    code, output = _seek("--to", before, "--subscription", bare, "--dry-run")
    assert code == 0, output
    assert "topic retention  none" in output
    assert "keeps no acknowledged messages" in output

    code, output = _seek("--to", before, "--subscription", f"{subscription}-missing")
    assert code == 1
    assert output.startswith(f"Error: Pub/Sub at {pubsub_emulator_host} answered 404")
    assert len(output.strip().splitlines()) == 1


@pytest.mark.usefixtures("pubsub_emulator_host")
def test_infra_apply_gives_the_events_topic_a_week_of_retention() -> None:
    """What a seek reaches back to: `infra apply` creates the events topic with Terraform's
    7 days, raises a shorter one once, then reports it unchanged; the dead-letter topic
    keeps its own (none)."""
    from il_audit.operations.pubsub_resources import (
        TOPIC_MESSAGE_RETENTION_SECONDS,
        SubscriptionPolicy,
        provision_layout,
    )
    from il_audit.schemas.wire import PubSubLayout

    publisher = pubsub_v1.PublisherClient()
    fresh = PubSubLayout.for_topic(PROJECT, f"seek-infra-{os.getpid()}")
    existing = PubSubLayout.for_topic(PROJECT, f"seek-old-{os.getpid()}")
    publisher.create_topic(name=publisher.topic_path(PROJECT, existing.topic))  # as before

    def retention(topic_id: str) -> int:
        topic = publisher.get_topic(topic=publisher.topic_path(PROJECT, topic_id))
        return int(topic.message_retention_duration.total_seconds())

    actions = []
    for layout in (fresh, existing, existing):
        changes = provision_layout(layout, SubscriptionPolicy())
        actions.append((changes[0].action, changes[1].action))
    assert actions == [("create", "create"), ("update", "create"), ("unchanged", "unchanged")]
    assert retention(fresh.topic) == retention(existing.topic) == 7 * 86_400
    assert TOPIC_MESSAGE_RETENTION_SECONDS == 7 * 86_400
    assert retention(fresh.dlq_topic) == 0
