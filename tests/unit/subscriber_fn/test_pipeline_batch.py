"""``Pipeline.handle_batch``: many messages, one events write, rejects kept with their message."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from il_audit.subscriber_fn.core import ErrorClass, MessageMeta, Reject
from il_audit.subscriber_fn.errors import SinkUnavailableError
from il_audit.subscriber_fn.pipeline import BatchMessage
from il_audit.subscriber_fn.sinks.duckdb import DuckDBSink
from tests.support.factories import envelope_line
from tests.unit.subscriber_fn.test_pipeline import RefusingSink, count, make_pipeline


class RecordingSink(DuckDBSink):
    """DuckDB that remembers how many rows each events write carried."""

    writes: list[int]

    def write_events(self, rows: Sequence[Mapping[str, Any]]) -> dict[int, str]:
        self.writes = [*getattr(self, "writes", []), len(rows)]
        return super().write_events(rows)


class DownSink(DuckDBSink):
    """DuckDB whose events writes fail for now."""

    def write_events(self, rows: Sequence[Mapping[str, Any]]) -> dict[int, str]:
        raise SinkUnavailableError(f"warehouse down ({len(rows)} rows)")


def message(*lines: bytes, message_id: str = "m-1") -> BatchMessage:
    return BatchMessage(b"\n".join(lines), {"app": "ingest"}, MessageMeta(message_id))


def test_rows_of_every_message_go_out_in_one_write(tmp_path: Path) -> None:
    """Three messages of 2, 1 and 3 events are one write of 6 rows; outcomes per message."""
    pipeline, _ = make_pipeline(tmp_path, RecordingSink)
    batch = [
        message(envelope_line(), envelope_line(), message_id="a"),
        message(envelope_line(), message_id="b"),
        message(envelope_line(), envelope_line(), envelope_line(), message_id="c"),
    ]
    outcomes = pipeline.handle_batch(batch)
    assert isinstance(pipeline.sink, RecordingSink)
    assert pipeline.sink.writes == [6]
    assert [outcome.accepted for outcome in outcomes] == [2, 1, 3]
    assert count(pipeline, "events") == 6


def test_refused_rows_are_dead_lettered_with_their_own_message(tmp_path: Path) -> None:
    """A row the sink refuses becomes a sink_rejected reject of the message it came from."""
    pipeline, channel = make_pipeline(tmp_path, RefusingSink)
    published_meta: list[str | None] = []
    publish = channel.publish

    def recording_publish(
        rejects: Sequence[Reject], attributes: Mapping[str, str], meta: MessageMeta
    ) -> list[str]:
        published_meta.append(meta.message_id)
        return publish(rejects, attributes, meta)

    channel.publish = recording_publish  # type: ignore[method-assign]
    batch = [
        message(envelope_line(), envelope_line(), message_id="a"),
        message(envelope_line(), envelope_line(status="refuse-me"), message_id="b"),
    ]
    outcomes = pipeline.handle_batch(batch)
    assert [(o.accepted, o.rejected) for o in outcomes] == [(2, 0), (1, 1)]
    [(reject, _)] = channel.published
    assert (reject.error_class, reject.line_index) == (ErrorClass.SINK_REJECTED, 1)
    assert published_meta == ["b"]
    assert count(pipeline, "dead_letters") == 1


def test_malformed_and_empty_messages_are_dead_lettered_beside_good_ones(tmp_path: Path) -> None:
    """A message the edge found unreadable and an empty one are dead letters; the rest is stored."""
    pipeline, channel = make_pipeline(tmp_path)
    unreadable = Reject(ErrorClass.MALFORMED_DATA, "data is not base64", b"???", None)
    batch = [
        BatchMessage(b"", {}, MessageMeta("bad"), unreadable),
        message(b"", message_id="empty"),
        message(envelope_line(), message_id="good"),
    ]
    outcomes = pipeline.handle_batch(batch)
    assert [(o.accepted, o.rejected) for o in outcomes] == [(0, 1), (0, 1), (1, 0)]
    assert [reject.error_class for reject, _ in channel.published] == [
        ErrorClass.MALFORMED_DATA,
        ErrorClass.EMPTY_MESSAGE,
    ]
    assert (count(pipeline, "events"), count(pipeline, "dead_letters")) == (1, 2)


def test_a_failed_write_fails_the_whole_batch(tmp_path: Path) -> None:
    """When the sink is down the batch raises a TransientError and nothing is dead-lettered."""
    pipeline, channel = make_pipeline(tmp_path, DownSink)
    with pytest.raises(SinkUnavailableError):
        pipeline.handle_batch([message(envelope_line()), message(b"{nope", message_id="m-2")])
    assert channel.published == []
