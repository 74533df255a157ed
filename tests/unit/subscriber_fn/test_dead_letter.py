"""Publishing dead letters: what is permanent, what is transient, and what a letter carries.

The client is google-cloud-pubsub's own ``PublisherClient`` (a missing topic is asked of
the emulator in ``tests/integration/test_subscriber_bounds.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.api_core import exceptions as core_exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import pubsub_v1  # type: ignore[attr-defined]
from google.cloud.pubsub_v1.publisher._batch import thread as batch_thread

from il_audit.schemas import wire
from il_audit.subscriber_fn.core import ErrorClass, MessageMeta, Reject
from il_audit.subscriber_fn.dead_letter import DeadLetterTopic, dead_letter_attributes, is_permanent
from il_audit.subscriber_fn.pipeline import Pipeline
from tests.unit.subscriber_fn.test_pipeline import count, make_pipeline


@pytest.fixture
def client() -> Iterator[pubsub_v1.PublisherClient]:
    """A real publisher client; it never connects unless a test publishes for real."""
    made = pubsub_v1.PublisherClient(credentials=AnonymousCredentials())
    yield made
    made.stop()


def too_large(client: pubsub_v1.PublisherClient) -> BaseException:
    """The error the real client raises, at call time, for a message over 10 MB."""
    try:
        client.publish("projects/p/topics/t", b"x" * 10_000_001)
    except Exception as exc:  # noqa: BLE001 - the test wants the object
        return exc
    raise AssertionError("the client took a message over 10 MB")


def test_only_errors_the_letter_causes_are_permanent(client: pubsub_v1.PublisherClient) -> None:
    """Too large (the client's own error) and InvalidArgument about size or attributes are
    permanent; a missing topic, permissions, a bad topic name, outages, timeouts are not."""
    permanent = [
        too_large(client),
        core_exceptions.InvalidArgument(
            'The attribute "app" in the request has a value that is too long. The length is '
            "1993 characters, but the maximum allowed is 1024."
        ),
        core_exceptions.InvalidArgument("Request payload size exceeds the limit: 10485760 bytes."),
    ]
    transient = [
        core_exceptions.NotFound("Topic not found"),
        core_exceptions.PermissionDenied("User not authorized to perform this action."),
        core_exceptions.InvalidArgument("Invalid [topics] name: (name=projects/p/topics/t)"),
        core_exceptions.ServiceUnavailable("unreachable"),
        core_exceptions.DeadlineExceeded("slow"),
        TimeoutError(),
        OSError("reset"),
    ]
    assert [is_permanent(error) for error in permanent] == [True] * 3
    assert [is_permanent(error) for error in transient] == [False] * 7


def test_a_letter_pubsub_can_never_take_is_kept_in_the_table_counted_and_acked(
    tmp_path: Path,
    client: pubsub_v1.PublisherClient,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The client refuses the letter as too large: the dead_letters row stays, the refusal is
    logged without the payload and counted, and the message is acknowledged (no raise).

    Nothing the cut lets through is over Pub/Sub's 10 MB, so the client's own limit is
    lowered to 1,000 bytes to make this letter too large.
    """
    monkeypatch.setattr(batch_thread, "_SERVER_PUBLISH_MAX_BYTES", 1_000)
    base, _ = make_pipeline(tmp_path)
    topic = DeadLetterTopic("p", "dlq", client=client)
    pipeline = Pipeline(base.sink, base.catalogs, topic, clock=base.clock)
    secret = b'{"secret": "' + b"s" * 2_000 + b'"}'
    with caplog.at_level(logging.ERROR):
        outcome = pipeline.handle(secret, {}, MessageMeta("m-1"))
    assert (outcome.rejected, outcome.unpublished) == (1, 1)
    assert count(pipeline, "dead_letters") == 1
    assert "cannot be published" in caplog.text
    assert "m-1" in caplog.text
    assert "secret" not in caplog.text


def test_a_letter_s_attributes_fit_pubsub_whatever_the_original_carried() -> None:
    """120 original attributes, one with a 300-byte key: at most 100, ours all there."""
    original = {f"k{index}": "v" for index in range(119)} | {"k" * 300: "v", "app": "a"}
    reject = Reject(ErrorClass.OVERSIZE, "too big", b"x", 3, app="chat")
    attributes = dead_letter_attributes(reject, original, MessageMeta("m-1"))
    assert len(attributes) == wire.MAX_ATTRIBUTES
    assert attributes[wire.ATTR_ERROR_CLASS] == "oversize"
    assert (attributes[wire.ATTR_LINE_INDEX], attributes[wire.ATTR_APP]) == ("3", "chat")
    assert attributes[wire.ATTR_SOURCE_MESSAGE_ID] == "m-1"
    assert int(attributes[wire.ATTR_ATTRIBUTES_CUT]) == 120 - (wire.MAX_ATTRIBUTES - 6 - 1)
    assert all(len(key.encode()) <= wire.MAX_ATTRIBUTE_KEY_BYTES for key in attributes)


def test_a_whole_message_keeps_the_message_s_attributes_and_a_line_gets_its_own() -> None:
    """A whole message dead-lettered as received keeps its app, event type, count and gzip
    marker; a line gets its own app, a count of 1 and no encoding."""
    original = {"app": "ingest", "event_type": "ui.tab.viewed", "il_audit_count": "500",
                wire.ATTR_ENCODING: wire.ENCODING_GZIP}  # fmt: skip
    whole = Reject(ErrorClass.TOO_MANY_LINES, "many", wire.compress_body(b"{}\n" * 3), None)
    line = Reject(ErrorClass.INVALID_JSON, "not JSON", b"{nope", 0, app="chat")
    kept = dead_letter_attributes(whole, original, MessageMeta())
    assert {key: kept[key] for key in original} == original
    own = dead_letter_attributes(line, original, MessageMeta())
    assert (own["app"], own["il_audit_count"], own.get("event_type")) == ("chat", "1", None)
    assert wire.ATTR_ENCODING not in own
