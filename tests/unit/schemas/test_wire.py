"""The wire contract: one definition of the layout, and the evolution rule pinned.

Within schema_version 1 publishers only add optional fields, so a subscriber
deployed before its apps must keep events with fields it does not know.
"""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from il_audit.publisher._batch import OutgoingMessage
from il_audit.schemas import wire
from il_audit.schemas.envelope import Envelope, IncomingEnvelope
from il_audit.schemas.rows import EventRow
from il_audit.subscriber_fn.core import UNKNOWN_FIELDS_KEY, MessageMeta, process_message
from il_audit.subscriber_fn.pricing import seed_catalog
from tests.support.factories import FROZEN_TIME, envelope_line

NEWER = envelope_line(app_build="2026.12.1", payload={"job_id": "j-1"})


def test_a_field_from_a_newer_publisher_is_kept_in_payload_and_flagged() -> None:
    """An unknown top-level field is never dead-lettered: it lands in payload and is listed."""
    result = process_message(NEWER, MessageMeta("m"), seed_catalog(), FROZEN_TIME)
    assert result.rejects == []
    [row] = result.rows
    assert row["payload"] == {"job_id": "j-1", "app_build": "2026.12.1"}
    assert row["unknown_fields"] == ["app_build"]
    assert "app_build" not in row
    EventRow.model_validate(row)


def test_an_unknown_field_never_overwrites_the_payload() -> None:
    """When payload already uses the name, the unknown value goes under _unknown_fields."""
    line = envelope_line(job_id="top", payload={"job_id": "inner"})
    [row] = process_message(line, MessageMeta("m"), seed_catalog(), FROZEN_TIME).rows
    assert row["payload"] == {"job_id": "inner", UNKNOWN_FIELDS_KEY: {"job_id": "top"}}
    assert row["unknown_fields"] == ["job_id"]


def test_strict_readers_still_refuse_unknown_fields() -> None:
    """The publisher's model (strict mode, capture_events) refuses what the subscriber keeps."""
    with pytest.raises(ValidationError, match="app_build"):
        Envelope.model_validate_json(NEWER)
    assert IncomingEnvelope.model_validate_json(NEWER).model_extra == {"app_build": "2026.12.1"}


def test_tolerance_is_only_for_unknown_fields() -> None:
    """A known field with a wrong type is still a schema violation."""
    result = process_message(envelope_line(status=["x"]), MessageMeta("m"), seed_catalog(),
                             FROZEN_TIME)  # fmt: skip
    assert [reject.error_class.value for reject in result.rejects] == ["schema_violation"]


def test_split_lines_skips_blank_lines_and_keeps_indexes() -> None:
    """Line indexes are positions in the body, blank lines included."""
    assert list(wire.split_lines(b"a\n\n  \nb")) == [(0, b"a"), (3, b"b")]
    assert wire.count_lines(b"a\n\nb\n") == 2


def test_attribute_values_are_cut_to_the_pubsub_limit() -> None:
    """Cut values fit in 1,024 bytes, multi-byte characters included, and say they were cut."""
    cut = wire.cut_attribute("é" * 1000)
    assert len(cut.encode()) <= wire.MAX_ATTRIBUTE_BYTES
    assert cut.endswith("...")
    assert wire.cut_attribute("short") == "short"


def test_the_publisher_packs_what_the_contract_says() -> None:
    """A packed message's attributes and body are the contract's."""
    message = OutgoingMessage(1)
    for seq in (1, 2):
        message.add(json.dumps({"n": seq}).encode(), seq, "ingest", "auth.logout")
    assert message.attributes() == {
        wire.ATTR_SCHEMA: "1",
        wire.ATTR_COUNT: "2",
        wire.ATTR_APP: "ingest",
        wire.ATTR_EVENT_TYPE: "auth.logout",
    }
    assert [line for _, line in wire.split_lines(message.data())] == [b'{"n": 1}', b'{"n": 2}']


def test_every_part_names_subscriptions_the_same_way() -> None:
    """TOPIC-sub feeds the function; DLQ-inspect is for the dlq tools."""
    layout = wire.PubSubLayout.for_topic("p", "il-audit-events")
    assert (layout.subscription, layout.dlq_topic, layout.dlq_subscription) == (
        "il-audit-events-sub",
        "il-audit-events-dlq",
        "il-audit-events-dlq-inspect",
    )


def test_a_gzip_body_inflates_and_plain_ndjson_passes_through() -> None:
    body = b'{"n": 1}\n{"n": 2}'
    packed = wire.compress_body(body)
    assert packed.startswith(wire.GZIP_MAGIC)
    assert wire.message_body(packed) == body
    assert wire.message_body(body) is body
    assert wire.count_lines(packed) == 2


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (wire.GZIP_MAGIC + b"not deflate at all", "does not inflate"),
        (wire.compress_body(b'{"n": 1}' * 1000)[:-12], "truncated"),
    ],
)
def test_a_body_that_only_looks_like_gzip_is_malformed(data: bytes, problem: str) -> None:
    with pytest.raises(wire.MalformedBodyError, match=problem):
        wire.message_body(data)
    assert wire.count_lines(data) == 1  # the dead-letter tools still count it as one


def test_a_gzip_bomb_is_refused_before_it_inflates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wire, "MAX_INFLATED_BYTES", 10_000)
    bomb = wire.compress_body(b" " * 1_000_000)
    assert len(bomb) < 5_000  # 1 MB of spaces at level 1
    with pytest.raises(wire.MalformedBodyError, match="more than 10000 bytes"):
        wire.message_body(bomb)


def test_a_message_is_compressed_only_when_asked_and_worth_it() -> None:
    big, small = OutgoingMessage(0), OutgoingMessage(0)
    line = envelope_line()
    for _ in range(20):
        big.add(line, 0, "app", "type")
    small.add(b'{"n": 1}', 0, "app", "type")
    packed = big.data(compress=True)
    assert wire.message_body(packed).count(b"\n") == 19
    assert len(packed) * 5 < big.size
    assert big.attributes()[wire.ATTR_ENCODING] == wire.ENCODING_GZIP
    assert small.data(compress=True) == b'{"n": 1}'  # under 1 KiB: plain
    assert wire.ATTR_ENCODING not in small.attributes()


def test_a_lone_surrogate_never_reaches_an_attribute() -> None:
    """Attributes travel as UTF-8: a lone surrogate is left out, or replaced when cut."""
    from il_audit.schemas.wire import cut_attribute, fits_attribute

    assert fits_attribute("app") is True
    assert fits_attribute("\ud800") is False
    assert cut_attribute("a\ud800b") == "a?b"
    assert cut_attribute("x" * 2000 + "\ud800").endswith("...")
    cut_attribute("\ud800" * 2000).encode("utf-8")  # no error: it encodes
