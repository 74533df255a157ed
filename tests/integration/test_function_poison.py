"""Malformed pushes against the real function process: acknowledged, dead-lettered once, kept.

Pub/Sub push redelivers every non-2xx answer, so poison must get a 2xx after it
is recorded in ``dead_letters`` and published to the dead-letter topic. The
requests go over HTTP to functions-framework serving the production entry
point, with the dead-letter topic on the official emulator.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.pubsub import PROJECT, pull_messages
from tests.support.stack import Stack
from tests.support.waiting import wait_until

CE_HEADERS = {
    "ce-specversion": "1.0",
    "ce-type": "google.cloud.pubsub.topic.v1.messagePublished",
    "ce-source": "//pubsub.googleapis.com/projects/il-audit-test/topics/poison",
    "Content-Type": "application/json",
}


@pytest.fixture
def stack(pubsub_emulator_host: str, tmp_path: Path) -> Iterator[Stack]:
    """A function with a dead-letter topic and its inspection subscription."""
    created = Stack(pubsub_emulator_host, tmp_path, "poison")
    created.start_function()
    created.provision()
    yield created
    created.stop_function()


@pytest.mark.parametrize(
    ("event_data", "error_class"),
    [
        ({"message": ["not", "an", "object"]}, "malformed_message"),
        ({"message": {"data": "e30=", "attributes": ["a", "list"]}}, "malformed_attributes"),
        ({"message": {"data": "%%% not base64"}}, "malformed_data"),
        # Starts like gzip (1f 8b), does not inflate: the core dead-letters the whole body.
        ({"message": {"data": "H4tub3QgZ3ppcA=="}}, "malformed_data"),
    ],
    ids=["message", "attributes", "base64", "gzip"],
)
def test_malformed_push_is_acked_and_lands_once_in_both_places(
    stack: Stack, event_data: dict[str, Any], error_class: str
) -> None:
    """Each shape answers 2xx and becomes one dead_letters row and one dead-letter message."""
    assert stack.server is not None
    headers = {**CE_HEADERS, "ce-id": f"ce-{error_class}"}
    if event_data["message"] == {"data": "H4tub3QgZ3ppcA=="}:
        assert base64.b64decode("H4tub3QgZ3ppcA==").startswith(b"\x1f\x8b")
    response = httpx.post(
        stack.server.url, content=json.dumps(event_data), headers=headers, timeout=30
    )
    assert response.status_code == 200, response.text
    subscription = f"projects/{PROJECT}/subscriptions/{stack.layout.dlq_subscription}"
    messages = pull_messages(subscription, expect_events=1, timeout=10, grace=1.0)
    assert len(messages) == 1
    assert messages[0].attributes["il_audit_error_class"] == error_class
    assert messages[0].attributes["il_audit_source_message_id"] == f"ce-{error_class}"
    # A redelivery of the same push is acknowledged again and not recorded twice.
    response = httpx.post(
        stack.server.url, content=json.dumps(event_data), headers=headers, timeout=30
    )
    assert response.status_code == 200, response.text
    wait_until(
        lambda: stack.count("SELECT count(*) FROM dead_letters") >= 1, 20, "the dead letter row"
    )
    rows = stack.query("SELECT dead_letter_id, error_class FROM dead_letters")
    assert rows == [(f"ce-{error_class}:m", error_class)]


def test_a_request_that_is_not_a_cloudevent_gets_400(stack: Stack) -> None:
    """A body no Pub/Sub push would send is a client error, never a 5xx."""
    assert stack.server is not None
    response = httpx.post(
        stack.server.url, content="[1, 2, 3]", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
