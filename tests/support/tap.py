"""A tap on a topic: a plain pull subscription that counts what is published from now on.

Tables that dedupe on ``event_id`` cannot show that something was published
twice; a tap can. Create it before the step under test (a subscription only
receives what is published after it exists).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from google.cloud import pubsub_v1
from google.protobuf import timestamp_pb2

from tests.support.names import unique_name
from tests.support.pubsub import ReceivedMessage, pull_messages


@dataclass
class Tap:
    """A pull subscription on a topic, and everything pulled from it so far."""

    subscription_path: str
    received: list[ReceivedMessage] = field(default_factory=list)

    @classmethod
    def on(cls, project: str, topic_id: str) -> Tap:
        """A new tap on ``topic_id``."""
        subscriber = pubsub_v1.SubscriberClient()
        try:
            path = subscriber.subscription_path(project, unique_name(f"{topic_id}-tap"))
            subscriber.create_subscription(
                name=path,
                topic=pubsub_v1.PublisherClient.topic_path(project, topic_id),
                ack_deadline_seconds=60,
            )
            # The events topic keeps 7 days of messages (infra apply, for subscriber seek),
            # and the emulator hands a new subscription that backlog: seek past it.
            now = timestamp_pb2.Timestamp()
            now.GetCurrentTime()
            subscriber.seek(request={"subscription": path, "time": now})
        finally:
            subscriber.close()
        return cls(path)

    def publishes(self, *, expect_events: int, timeout: float = 30.0) -> Counter[str]:
        """How often each ``event_id`` was published since the tap exists.

        Pulls until at least ``expect_events`` more envelopes arrived, then a
        second longer, so that duplicates show up too.
        """
        self.received += pull_messages(
            self.subscription_path, expect_events=expect_events, timeout=timeout, grace=1.0
        )
        return Counter(
            str(envelope["event_id"])
            for message in self.received
            for envelope in message.envelopes()
        )

    def delete(self) -> None:
        """Remove the subscription."""
        subscriber = pubsub_v1.SubscriberClient()
        try:
            subscriber.delete_subscription(subscription=self.subscription_path)
        finally:
            subscriber.close()
