"""Hostile messages against the real function process and the emulator's dead-letter topic.

One functions-framework process serves the first two tests (it starts in about 2 s): a
line over what Pub/Sub accepts, and a tiny message of 100,000 bad lines. Each must be
acknowledged with exactly one ``dead_letters`` row and one dead-letter message. The last
test asks the emulator for a topic that does not exist: that must stay transient.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Iterator

import httpx
import pytest

from il_audit.schemas import wire
from il_audit.subscriber_fn.core import ErrorClass, MessageMeta, Reject
from il_audit.subscriber_fn.dead_letter import DeadLetterTopic
from il_audit.subscriber_fn.errors import DeadLetterPublishError
from tests.support.pubsub import PROJECT, ReceivedMessage, pull_messages
from tests.support.reliability import record
from tests.support.stack import Stack
from tests.support.waiting import wait_until

CE_HEADERS = {
    "ce-specversion": "1.0",
    "ce-type": "google.cloud.pubsub.topic.v1.messagePublished",
    "ce-source": "//pubsub.googleapis.com/projects/il-audit-test/topics/bounds",
    "Content-Type": "application/json",
}


@pytest.fixture(scope="module")
def stack(_emulator_host: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A function with a dead-letter topic and its inspection subscription, for the module."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PUBSUB_EMULATOR_HOST", _emulator_host)
        created = Stack(_emulator_host, tmp_path_factory.mktemp("bounds"), "bounds")
        created.start_function()
        created.provision()
    yield created
    created.stop_function()


def deliver(stack: Stack, data: bytes, message_id: str) -> tuple[int, float]:
    """Push ``data`` as Pub/Sub would; (HTTP status, seconds to answer)."""
    assert stack.server is not None
    event = {"message": {"data": base64.b64encode(data).decode(), "messageId": message_id}}
    started = time.monotonic()
    response = httpx.post(
        stack.server.url,
        content=json.dumps(event),
        headers={**CE_HEADERS, "ce-id": message_id},
        timeout=60,
    )
    return response.status_code, time.monotonic() - started


def dead_letters(stack: Stack, message_id: str) -> list[ReceivedMessage]:
    """Every dead-letter message of ``message_id`` (the inspection subscription is drained)."""
    subscription = f"projects/{PROJECT}/subscriptions/{stack.layout.dlq_subscription}"
    pulled = pull_messages(subscription, expect_events=1, timeout=10, grace=1.0)
    return [m for m in pulled if m.attributes.get(wire.ATTR_SOURCE_MESSAGE_ID) == message_id]


@pytest.mark.usefixtures("pubsub_emulator_host")
def test_a_line_over_the_pubsub_limit_is_acked_with_one_cut_dead_letter(stack: Stack) -> None:
    """12 KB of gzip inflating to one 12 MiB line: 200 (not 500), one dead letter cut to 1 MiB
    with the original size and SHA-256, one dead_letters row describing the same."""
    line = b'{"x":"' + b"a" * (12 * 1024 * 1024) + b'"}'
    data = wire.compress_body(line, level=9)
    assert len(data) < 15_000
    status, seconds = deliver(stack, data, "big-line")
    assert status == 200
    [letter] = dead_letters(stack, "big-line")
    assert letter.data == line[: wire.DEAD_LETTER_KEPT_BYTES]
    assert letter.attributes[wire.ATTR_ERROR_CLASS] == "oversize"
    assert letter.attributes[wire.ATTR_DATA_CUT] == "true"
    assert letter.attributes[wire.ATTR_ORIGINAL_BYTES] == str(len(line))
    assert letter.attributes[wire.ATTR_ORIGINAL_SHA256] == hashlib.sha256(line).hexdigest()
    sql = "SELECT dead_letter_id, raw_truncated, raw_bytes FROM dead_letters WHERE message_id = "
    wait_until(lambda: stack.query(sql + "'big-line'") != [], 20, "the dead_letters row")
    assert stack.query(sql + "'big-line'") == [("big-line:0", True, len(line))]
    record("the poison line over the limit", messages=1, dead_letters=1, status=status,
           answer_seconds=round(seconds, 2))  # fmt: skip


@pytest.mark.usefixtures("pubsub_emulator_host")
def test_the_flood_message_makes_one_dead_letter(stack: Stack) -> None:
    """gzip of 100,000 lines of '{}' (329 bytes): 200, one dead letter holding the message as
    received, one dead_letters row."""
    data = wire.compress_body(b"{}\n" * 100_000, level=9)
    status, seconds = deliver(stack, data, "flood")
    assert status == 200
    [letter] = dead_letters(stack, "flood")
    assert letter.data == data
    assert letter.attributes[wire.ATTR_ERROR_CLASS] == "too_many_lines"
    assert letter.attributes[wire.ATTR_ENCODING] == wire.ENCODING_GZIP
    sql = "SELECT count(*) FROM dead_letters WHERE message_id = 'flood'"
    wait_until(lambda: stack.count(sql) >= 1, 20, "the dead_letters row")
    assert stack.count(sql) == 1
    record("the flood message", data_bytes=len(data), lines=100_000, dead_letters=1,
           status=status, answer_seconds=round(seconds, 2))  # fmt: skip


@pytest.mark.usefixtures("pubsub_emulator_host")
def test_a_missing_dead_letter_topic_is_transient() -> None:
    """The emulator answers NotFound: configuration, so nothing may be acknowledged."""
    topic = DeadLetterTopic(PROJECT, "no-such-dead-letter-topic")
    reject = Reject(ErrorClass.INVALID_JSON, "not JSON", b"{nope", 0)
    with pytest.raises(DeadLetterPublishError, match="Topic not found"):
        topic.publish([reject], {}, MessageMeta("m-1"))
