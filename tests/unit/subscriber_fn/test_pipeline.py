"""The pipeline with a real DuckDB sink: writes, dead-letters, and what makes it retry.

The dead-letter channel here records what it is given (the Pub/Sub one is
exercised against the emulator in tests/integration).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from il_audit.subscriber_fn.catalogs import SeedCatalogProvider
from il_audit.subscriber_fn.core import MessageMeta, Reject
from il_audit.subscriber_fn.errors import DeadLetterPublishError, SinkUnavailableError
from il_audit.subscriber_fn.pipeline import Pipeline
from il_audit.subscriber_fn.sinks.duckdb import DuckDBSink
from tests.support.factories import envelope_line

NOW = datetime(2026, 11, 27, 13, 0, tzinfo=UTC)


class RecordingChannel:
    """Keeps published rejects; can be told to fail like an unreachable topic."""

    def __init__(self) -> None:
        self.published: list[tuple[Reject, dict[str, str]]] = []
        self.fail = False

    def publish(
        self, rejects: Sequence[Reject], attributes: Mapping[str, str], _meta: MessageMeta
    ) -> list[str]:
        if self.fail:
            raise DeadLetterPublishError("topic unreachable")
        self.published.extend((reject, dict(attributes)) for reject in rejects)
        return [str(index) for index, _ in enumerate(rejects)]


class RefusingSink(DuckDBSink):
    """DuckDB, except that rows whose status is 'refuse-me' are refused permanently."""

    def write_events(self, rows: Sequence[Mapping[str, Any]]) -> dict[int, str]:
        refused = {
            i: "refused by test rule" for i, r in enumerate(rows) if r.get("status") == "refuse-me"
        }
        super().write_events([r for i, r in enumerate(rows) if i not in refused])
        return refused


def make_pipeline(
    path: Path, sink_class: type[DuckDBSink] = DuckDBSink
) -> tuple[Pipeline, RecordingChannel]:
    channel = RecordingChannel()
    sink = sink_class(path / "audit.duckdb", lock_timeout=1)
    sink.ensure_tables()
    return Pipeline(sink, SeedCatalogProvider(), channel, clock=lambda: NOW), channel


def count(pipeline: Pipeline, table: str) -> int:
    assert isinstance(pipeline.sink, DuckDBSink)
    with pipeline.sink.file.connect(read_only=True) as connection:
        row = connection.execute(f"SELECT count(*) FROM {table}").fetchone()
    assert row is not None
    return int(row[0])


def test_good_lines_are_stored_and_poison_dead_lettered(tmp_path: Path) -> None:
    """Rows land in events; rejects land in dead_letters and on the channel, with attributes."""
    pipeline, channel = make_pipeline(tmp_path)
    data = b"\n".join([envelope_line(), b"{nope", envelope_line(event_type="x.y")])
    outcome = pipeline.handle(data, {"app": "ingest"}, MessageMeta("m-1"))
    assert (outcome.accepted, outcome.rejected) == (1, 2)
    assert outcome.error_classes == ("invalid_json", "unknown_event_type")
    assert count(pipeline, "events") == 1
    assert count(pipeline, "dead_letters") == 2
    assert [reject.line_index for reject, _ in channel.published] == [1, 2]
    assert channel.published[0][1] == {"app": "ingest"}


def test_redelivery_changes_nothing(tmp_path: Path) -> None:
    """Handling the same message twice leaves the same rows (events and dead letters)."""
    pipeline, _ = make_pipeline(tmp_path)
    data = b"\n".join([envelope_line(event_id="a"), b"{nope"])
    pipeline.handle(data, {}, MessageMeta("m-1"))
    pipeline.handle(data, {}, MessageMeta("m-1"))
    assert (count(pipeline, "events"), count(pipeline, "dead_letters")) == (1, 1)


def test_rows_the_sink_refuses_are_dead_lettered(tmp_path: Path) -> None:
    """A permanent sink refusal dead-letters that row only (sink_rejected)."""
    pipeline, channel = make_pipeline(tmp_path, RefusingSink)
    data = b"\n".join([envelope_line(), envelope_line(status="refuse-me"), envelope_line()])
    outcome = pipeline.handle(data, {}, MessageMeta("m-1"))
    assert (outcome.accepted, outcome.rejected) == (2, 1)
    [(reject, _)] = channel.published
    assert (reject.error_class.value, reject.line_index) == ("sink_rejected", 1)
    assert count(pipeline, "events") == 2


def test_dead_letter_topic_failure_raises_for_retry(tmp_path: Path) -> None:
    """If rejects cannot be published, the message must be retried (TransientError)."""
    pipeline, channel = make_pipeline(tmp_path)
    channel.fail = True
    with pytest.raises(DeadLetterPublishError):
        pipeline.handle(b"{nope", {}, MessageMeta("m-1"))


def test_unavailable_sink_raises_for_retry(tmp_path: Path) -> None:
    """A sink that cannot be reached makes the message retry."""
    pipeline, _ = make_pipeline(tmp_path)
    assert isinstance(pipeline.sink, DuckDBSink)
    pipeline.sink.close()
    pipeline.sink.file.path = tmp_path / "missing-dir" / "sub" / "x.duckdb"
    pipeline.sink._ensured = True  # skip the directory creation, as if the disk vanished
    with pytest.raises(SinkUnavailableError):
        pipeline.handle(envelope_line(), {}, MessageMeta("m-1"))
