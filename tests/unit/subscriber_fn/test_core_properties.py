"""Property tests of the core: any input, every line accounted for exactly once, no crash."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from il_audit.schemas import ENVELOPE_FIELDS
from il_audit.schemas.wire import GZIP_MAGIC, MalformedBodyError, compress_body, message_body
from il_audit.subscriber_fn.core import ErrorClass, MessageMeta, process_message
from il_audit.subscriber_fn.pricing import seed_catalog
from tests.support.factories import make_envelope

NOW = datetime(2026, 11, 27, 13, 0, tzinfo=UTC)

# Infinity, NaN and numbers far beyond INT64/NUMERIC are valid in Python's JSON and
# in pydantic's parser: the core must reject or price them, never raise.
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**62, max_value=2**140)
    | st.floats()
    | st.sampled_from([1e308, -1e308, 5e-324])
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)

field_names = st.sampled_from(sorted(ENVELOPE_FIELDS)) | st.text(max_size=12)


@st.composite
def mutated_envelopes(draw: st.DrawFn) -> bytes:
    """A valid envelope with some fields replaced, removed or added at random."""
    item: dict[str, Any] = {"service": "cloud_run", "model_id": "cpu_second", "quantity": 1.5}
    envelope: dict[str, Any] = make_envelope(usage=[item])
    for _ in range(draw(st.integers(0, 3))):
        key = draw(field_names)
        if draw(st.booleans()):
            envelope[key] = draw(json_values)
        else:
            envelope.pop(key, None)
    if draw(st.booleans()):  # mutate the priced usage item itself
        item_key = draw(st.sampled_from(["quantity", "input_tokens", "output_tokens",
                                          "latency_ms", "model_id", "service"]))  # fmt: skip
        item[item_key] = draw(json_values)
    return json.dumps(envelope).encode()


lines = st.one_of(
    st.binary(max_size=300),
    mutated_envelopes(),
    json_values.map(lambda value: json.dumps(value).encode()),
    st.just(b""),
)


def check_accounting(data: bytes) -> None:
    result = process_message(data, MessageMeta("m"), seed_catalog(), NOW)
    if data.startswith(GZIP_MAGIC):
        try:
            data = message_body(data)
        except MalformedBodyError:
            # Not gzip after all: the whole message is dead-lettered, byte for byte.
            assert result.rows == []
            assert [(r.error_class, r.raw) for r in result.rejects] == [
                (ErrorClass.MALFORMED_DATA, data)
            ]
            return
    nonblank = [index for index, line in enumerate(data.split(b"\n")) if line.strip()]
    if not nonblank:
        assert result.rows == []
        assert [reject.error_class for reject in result.rejects] == [ErrorClass.EMPTY_MESSAGE]
        return
    seen = Counter(result.row_lines) + Counter(reject.line_index for reject in result.rejects)
    assert sorted(seen) == nonblank
    assert set(seen.values()) == {1}
    assert len(result.rows) == len(result.row_lines) == len(result.raw_lines)
    for reject in result.rejects:
        assert reject.error_detail
        assert isinstance(reject.error_class, ErrorClass)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4000))
def test_arbitrary_bytes_never_crash_and_every_line_is_accounted_for(data: bytes) -> None:
    """Any bytes: each non-blank line is exactly one row or one reject."""
    check_accounting(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(lines, max_size=8))
def test_mixed_lines_are_each_a_row_or_a_reject(parts: list[bytes]) -> None:
    """Valid, mutated, arbitrary-JSON and garbage lines in one message: one outcome each."""
    check_accounting(b"\n".join(parts))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(lines, min_size=1, max_size=8))
def test_a_gzip_body_gives_what_its_ndjson_gives(parts: list[bytes]) -> None:
    """Compression is invisible to the core: same rows, same rejects, same line indices."""
    data = b"\n".join(parts)
    # A body that starts with the gzip magic is read as gzip (by design: the magic bytes
    # decide, never the attribute), so its plain form is not NDJSON to compare with.
    assume(not data.startswith(GZIP_MAGIC))
    plain = process_message(data, MessageMeta("m"), seed_catalog(), NOW)
    packed = process_message(compress_body(data), MessageMeta("m"), seed_catalog(), NOW)
    assert repr(packed.rows) == repr(plain.rows)  # repr: a NaN in a payload equals itself
    assert packed.row_lines == plain.row_lines
    assert [(r.error_class, r.line_index, r.raw) for r in packed.rejects] == [
        (r.error_class, r.line_index, r.raw) for r in plain.rejects
    ]


@settings(max_examples=200, deadline=None)
@given(mutated_envelopes())
def test_rows_always_carry_an_id_type_app_and_time(line: bytes) -> None:
    """Whatever survives validation has the identity columns filled."""
    result = process_message(line, MessageMeta("m"), seed_catalog(), NOW)
    for row in result.rows:
        assert row["event_id"]
        assert row["event_type"]
        assert row["app"]
        assert row["occurred_at"].tzinfo is not None
