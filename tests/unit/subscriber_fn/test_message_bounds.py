"""What one message can cost the subscriber is bounded: rejects, lines, memory, dead letters.

The pipeline is real (core, DuckDB sink); the dead-letter channel records what it is
given (the Pub/Sub one is exercised against the emulator in tests/integration).
"""

from __future__ import annotations

import hashlib
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from il_audit.config.settings import AuditSettings
from il_audit.schemas import wire
from il_audit.subscriber_fn.core import ErrorClass, MessageMeta, dead_letter_row, process_message
from il_audit.subscriber_fn.pipeline import build_pipeline
from il_audit.subscriber_fn.pricing import seed_catalog
from tests.support.factories import envelope_line
from tests.unit.subscriber_fn.test_core import META, NOW
from tests.unit.subscriber_fn.test_pipeline import count, make_pipeline

FLOOD = wire.compress_body(b"{}\n" * 100_000, level=9)
"""The issue's flood: 329 bytes of gzip, 100,000 lines that are no envelope."""


def test_past_the_reject_cap_the_message_is_dead_lettered_once_and_its_good_lines_stored(
    tmp_path: Path,
) -> None:
    """3 good lines and 150 bad ones, cap 100: 3 rows, one whole-message dead letter."""
    pipeline, channel = make_pipeline(tmp_path)
    pipeline.max_rejects = 100
    lines = [envelope_line() for _ in range(3)] + [b"{}"] * 140 + [b"{nope"] * 10
    data = b"\n".join(lines)
    outcome = pipeline.handle(data, {"app": "ingest"}, MessageMeta("m-1"))
    assert (outcome.accepted, outcome.rejected, outcome.error_classes) == (
        3,
        1,
        ("too_many_rejects",),
    )
    [(reject, attributes)] = channel.published
    assert (reject.raw, reject.line_index, attributes) == (data, None, {"app": "ingest"})
    assert reject.error_detail == (
        "150 of 153 lines rejected, over the limit of 100 per message; "
        "the first 100: schema_violation 100"
    )
    assert (count(pipeline, "events"), count(pipeline, "dead_letters")) == (3, 1)


def test_up_to_the_cap_rejects_are_dead_lettered_line_by_line(tmp_path: Path) -> None:
    """Exactly the cap of bad lines: each is its own dead letter, as before."""
    pipeline, channel = make_pipeline(tmp_path)
    pipeline.max_rejects = 5
    outcome = pipeline.handle(b"\n".join([b"{}"] * 5 + [envelope_line()]), {}, MessageMeta("m"))
    assert (outcome.accepted, outcome.rejected) == (1, 5)
    assert [reject.line_index for reject, _ in channel.published] == [0, 1, 2, 3, 4]


def test_sink_refusals_count_toward_the_cap(tmp_path: Path) -> None:
    """One bad line and two rows the warehouse refuses, cap 2: one whole-message dead letter."""
    from tests.unit.subscriber_fn.test_pipeline import RefusingSink

    pipeline, channel = make_pipeline(tmp_path, RefusingSink)
    pipeline.max_rejects = 2
    refused = envelope_line(status="refuse-me")
    data = b"\n".join([envelope_line(), b"{}", refused, envelope_line(status="refuse-me")])
    outcome = pipeline.handle(data, {}, MessageMeta("m-1"))
    assert (outcome.accepted, outcome.error_classes) == (1, ("too_many_rejects",))
    [(reject, _)] = channel.published
    assert reject.raw == data
    assert "3 of 4 lines rejected" in reject.error_detail
    assert "sink_rejected 2, schema_violation 1" in reject.error_detail


def test_a_body_over_the_line_limit_is_dead_lettered_whole_and_nothing_of_it_stored(
    tmp_path: Path,
) -> None:
    """A good envelope followed by 50,000 blank lines: one too_many_lines dead letter, no row."""
    pipeline, channel = make_pipeline(tmp_path)
    data = envelope_line() + b"\n" * wire.MAX_LINES_PER_MESSAGE + b" "
    outcome = pipeline.handle(data, {}, MessageMeta("m-1"))
    assert (outcome.accepted, outcome.error_classes) == (0, ("too_many_lines",))
    [(reject, _)] = channel.published
    assert reject.raw == data
    assert reject.error_detail == "50001 lines, over the limit of 50000 per message"
    assert count(pipeline, "events") == 0


@pytest.mark.parametrize(
    ("body", "bound", "error_class"),
    [
        (lambda: FLOOD, 2 * 1024 * 1024, "too_many_lines"),
        (
            lambda: wire.compress_body(b"{}\n" * (wire.MAX_INFLATED_BYTES // 3)),
            2 * wire.MAX_INFLATED_BYTES + 8 * 1024 * 1024,
            "too_many_lines",
        ),
        (lambda: wire.compress_body(b"{}\n" * 5_000), 1024 * 1024, "too_many_rejects"),
    ],
    ids=["100k-line-flood", "32-MiB-inflated", "5k-rejects"],
)
def test_the_memory_of_one_message_is_bounded(
    body: Callable[[], bytes], bound: int, error_class: str
) -> None:
    """Peak Python memory for the whole message stays under the bound (the inflated body
    counts twice while zlib assembles it); one reject comes out."""
    data = body()
    tracemalloc.start()
    try:
        result = process_message(data, META, seed_catalog(), NOW)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < bound, f"{peak} bytes"
    assert [reject.error_class.value for reject in result.rejects] == [error_class]


def test_the_dead_letters_row_of_a_large_reject_keeps_its_first_mib_and_describes_the_rest() -> (
    None
):
    """A 12 MiB line: raw_line is its first 1 MiB, raw_bytes and raw_sha256 the whole."""
    line = b'{"x":"' + b"a" * (12 * 1024 * 1024) + b'"}'
    [reject] = process_message(line, META, seed_catalog(), NOW).rejects
    assert reject.error_class is ErrorClass.OVERSIZE
    row = dead_letter_row(reject, {}, META, NOW)
    assert row["raw_line"] == line[: wire.DEAD_LETTER_KEPT_BYTES].decode()
    assert (row["raw_truncated"], row["raw_bytes"]) == (True, len(line))
    assert row["raw_sha256"] == hashlib.sha256(line).hexdigest()


def test_the_cap_is_the_setting_il_audit_max_rejects_per_message(tmp_path: Path) -> None:
    """The pipeline the function and the worker build caps rejects at the setting (100 unset)."""
    env = {"IL_AUDIT_SINK": "duckdb", "IL_AUDIT_DUCKDB_PATH": str(tmp_path / "a.duckdb")}
    default = build_pipeline(AuditSettings.from_env(env), with_topic=False)
    chosen = AuditSettings.from_env({**env, "IL_AUDIT_MAX_REJECTS_PER_MESSAGE": "7"})
    configured = build_pipeline(chosen, with_topic=False)
    try:
        assert (default.max_rejects, configured.max_rejects) == (500, 7)
    finally:
        default.sink.close()
        configured.sink.close()
