"""Topics, subscriptions and pulling against the Pub/Sub emulator with the real client."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import Any

from google.api_core import exceptions as core_exceptions
from google.cloud import pubsub_v1

from il_audit.schemas.wire import MalformedBodyError, count_lines, message_body
from il_audit.subscriber_fn.pull_client import subscriber_client
from tests.support.names import unique_name
from tests.support.waiting import rounds

PROJECT = "il-audit-test"


@dataclass(frozen=True)
class ReceivedMessage:
    """A pulled message, decoded enough for assertions."""

    message_id: str
    data: bytes
    attributes: dict[str, str]

    @property
    def body(self) -> bytes:
        """The NDJSON the message carries (inflated when it travelled as gzip; raw if broken)."""
        try:
            return message_body(self.data)
        except MalformedBodyError:
            return self.data

    def envelopes(self) -> list[dict[str, Any]]:
        """The NDJSON lines, decoded."""
        return [json.loads(line) for line in self.body.split(b"\n") if line.strip()]

    @property
    def event_count(self) -> int:
        """How many envelopes the message carries."""
        return count_lines(self.data)


@dataclass
class TopicWithSubscription:
    """A fresh topic and a pull subscription on it."""

    project: str
    topic_id: str
    topic_path: str
    subscription_path: str

    def pull(self, *, expect_events: int, timeout: float = 30.0) -> list[ReceivedMessage]:
        """Pull and ack until messages holding ``expect_events`` envelopes arrived.

        Keeps pulling for a short grace period after that, so that duplicates,
        if any, show up in the result; stops at ``timeout`` regardless.
        """
        return pull_messages(self.subscription_path, expect_events=expect_events, timeout=timeout)

    def pull_envelopes(self, *, expect_events: int, timeout: float = 30.0) -> list[dict[str, Any]]:
        """:meth:`pull`, then every envelope of every message, decoded."""
        return [
            envelope
            for message in self.pull(expect_events=expect_events, timeout=timeout)
            for envelope in message.envelopes()
        ]


def create_topic_with_subscription(prefix: str = "events") -> TopicWithSubscription:
    """A topic and subscription with unique names in the emulator."""
    assert os.environ.get("PUBSUB_EMULATOR_HOST"), "the emulator fixture must be active"
    publisher = pubsub_v1.PublisherClient()
    subscriber = pubsub_v1.SubscriberClient()
    topic_id = unique_name(prefix)
    topic_path = publisher.topic_path(PROJECT, topic_id)
    subscription_path = subscriber.subscription_path(PROJECT, unique_name(f"{prefix}-sub"))
    publisher.create_topic(name=topic_path)
    subscriber.create_subscription(
        name=subscription_path, topic=topic_path, ack_deadline_seconds=60
    )
    subscriber.close()
    return TopicWithSubscription(PROJECT, topic_id, topic_path, subscription_path)


def pull_messages(
    subscription_path: str, *, expect_events: int, timeout: float = 30.0, grace: float = 0.5
) -> list[ReceivedMessage]:
    """Synchronously pull and ack messages (see :meth:`TopicWithSubscription.pull`)."""
    subscriber = subscriber_client()  # no 4 MiB limit: responses of big messages arrive whole
    received: list[ReceivedMessage] = []
    grace_until: float | None = None
    try:
        for _ in rounds(timeout, interval=0.05):
            if grace_until is not None and time.monotonic() >= grace_until:
                break
            # The emulator holds an empty pull open until its deadline: keep it short.
            wait = 0.5 if grace_until is not None else 2.0
            try:
                response = subscriber.pull(
                    request={"subscription": subscription_path, "max_messages": 1000},
                    timeout=wait,
                    retry=None,
                )
            except core_exceptions.DeadlineExceeded:
                continue
            if response.received_messages:
                subscriber.acknowledge(
                    request={
                        "subscription": subscription_path,
                        "ack_ids": [m.ack_id for m in response.received_messages],
                    }
                )
            for message in response.received_messages:
                received.append(
                    ReceivedMessage(
                        message.message.message_id,
                        bytes(message.message.data),
                        dict(message.message.attributes),
                    )
                )
            events = sum(message.event_count for message in received)
            if events >= expect_events and grace_until is None:
                grace_until = time.monotonic() + grace
    finally:
        subscriber.close()
    return received
