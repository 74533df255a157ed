"""Subscriber clients towards the emulator receive pull responses larger than 4 MiB.

google-cloud-pubsub's own emulator channel keeps gRPC's 4 MiB receive limit, so
a pull answering with several large messages fails (and keeps failing: the
messages come back). The dead-letter tools and the pull worker use
``il_audit.subscriber_fn.pull_client.subscriber_client``, which lifts it.
"""

from __future__ import annotations

import os

import pytest
from google.api_core import exceptions as core_exceptions
from google.cloud import pubsub_v1

from il_audit.operations.dlq._source import PubSubSource
from tests.support.pubsub import create_topic_with_subscription

MESSAGES, SIZE = 12, 600_000  # 7.2 MB: one pull response is over 4 MiB


@pytest.fixture
def big_messages(pubsub_emulator_host: str) -> str:
    del pubsub_emulator_host  # started, and in PUBSUB_EMULATOR_HOST
    target = create_topic_with_subscription("big")
    publisher = pubsub_v1.PublisherClient()
    futures = [
        publisher.publish(target.topic_path, os.urandom(SIZE), n=str(n)) for n in range(MESSAGES)
    ]
    for future in futures:
        future.result(timeout=30)
    return target.subscription_path


def test_the_library_s_own_emulator_channel_refuses_them(big_messages: str) -> None:
    """The premise: without the lifted limit, the pull fails."""
    client = pubsub_v1.SubscriberClient()
    with pytest.raises(core_exceptions.GoogleAPICallError, match=r"(?i)larger than max"):
        client.pull(request={"subscription": big_messages, "max_messages": MESSAGES}, timeout=20)
    client.close()


def test_the_dead_letter_tools_receive_them_whole(big_messages: str) -> None:
    source = PubSubSource(big_messages, pull_timeout=20)
    received = []
    for _ in range(10):
        received += source.pull(MESSAGES)
        if len(received) >= MESSAGES:
            break
    assert sorted(int(message.attributes["n"]) for message in received) == list(range(MESSAGES))
    assert {len(message.data) for message in received} == {SIZE}
