"""The pure core: every line becomes one row or one reject, with the right reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from il_audit.schemas import EVENTS, MAX_ENVELOPE_BYTES, EventRow
from il_audit.schemas import taxonomy as T
from il_audit.subscriber_fn.core import (
    ErrorClass,
    MessageMeta,
    dead_letter_row,
    process_message,
)
from il_audit.subscriber_fn.pricing import seed_catalog
from tests.support.factories import envelope_line, make_envelope, seed_token_cost

NOW = datetime(2026, 11, 27, 13, 0, tzinfo=UTC)
META = MessageMeta(
    message_id="m-1", publish_time=datetime(2026, 11, 27, 12, 59, tzinfo=UTC), delivery_attempt=2
)


def run(*lines: bytes, _attributes: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return process_message(b"\n".join(lines), META, seed_catalog(), NOW)


def test_valid_line_becomes_a_complete_row() -> None:
    """A valid envelope becomes a row with every events column, delivery and pricing filled
    (but the salt, hash and erasure mark, which the sink adds as it writes)."""
    line = envelope_line(
        event_type=T.API_USAGE_RECORDED,
        metadata={"a": [1, {"b": None}]},
        usage=[{"service": "vertex_gemini", "model_id": "gemini-2.0-flash",
                "input_tokens": 1000, "output_tokens": 100}],
    )  # fmt: skip
    result = run(line)
    [row] = result.rows
    assert result.rejects == []
    assert set(row) == set(EVENTS.column_names) - {"row_salt", "row_hash", "erased_by"}
    assert row["metadata"] == {"a": [1, {"b": None}]}
    cost = seed_token_cost("gemini-2.0-flash", 1000, 100, at=row["occurred_at"])
    assert row["cost_usd"] == cost
    assert row["usage"][0]["cost_usd"] == cost
    assert (row["message_id"], row["delivery_attempt"], row["ingested_at"]) == ("m-1", 2, NOW)
    assert row["publish_time"] == META.publish_time
    assert row["pricing_status"] == "priced"
    EventRow.model_validate(row)


def test_lines_are_independent() -> None:
    """A bad line between good ones rejects only itself."""
    result = run(envelope_line(), b"{broken", envelope_line(), b"", envelope_line())
    assert len(result.rows) == 3
    assert [reject.line_index for reject in result.rejects] == [1]
    assert result.row_lines == [0, 2, 4]


@pytest.mark.parametrize(
    ("line", "error_class", "detail"),
    [
        (b"\xff\xfe{}", ErrorClass.UNDECODABLE, "not UTF-8"),
        (b'{"event_id": ', ErrorClass.INVALID_JSON, "not JSON"),
        (b"[1, 2]", ErrorClass.INVALID_JSON, "not a JSON object"),
        (b'"text"', ErrorClass.INVALID_JSON, "not a JSON object"),
        (envelope_line(status=5), ErrorClass.SCHEMA_VIOLATION, "status"),
        (envelope_line(app=None), ErrorClass.SCHEMA_VIOLATION, "app"),
        (envelope_line(occurred_at="yesterday"), ErrorClass.SCHEMA_VIOLATION, "occurred_at"),
        (envelope_line(event_type="made.up.type"), ErrorClass.UNKNOWN_EVENT_TYPE, "made.up.type"),
    ],
)
def test_poison_is_classified(line: bytes, error_class: ErrorClass, detail: str) -> None:
    """Each kind of poison gets its stable error class and a reason naming the problem."""
    result = run(line)
    assert result.rows == []
    [reject] = result.rejects
    assert reject.error_class is error_class
    assert detail in reject.error_detail
    assert reject.raw == line


def test_oversize_line_is_rejected_without_parsing() -> None:
    """A line over 1 MiB is oversize."""
    line = envelope_line(metadata={"blob": "x" * MAX_ENVELOPE_BYTES})
    [reject] = run(line).rejects
    assert reject.error_class is ErrorClass.OVERSIZE


@pytest.mark.parametrize(
    ("build_error", "overrides", "error_class", "detail"),
    [
        ("envelope_too_large: 16777300 bytes is over", {}, ErrorClass.OVERSIZE,
         "the publisher sent a stand-in: envelope_too_large: 16777300 bytes"),
        ("unencodable: AttributeError while encoding", {}, ErrorClass.SCHEMA_VIOLATION,
         "the publisher refused it: unencodable: AttributeError"),
        ("invalid: action: Input should be a valid string", {}, ErrorClass.SCHEMA_VIOLATION,
         "the publisher refused it: invalid: action"),
        ("invalid: event_type: Input should be a valid string", {"event_type": 42},
         ErrorClass.SCHEMA_VIOLATION, "the publisher refused it: invalid: event_type"),
        ("ValueError", {}, ErrorClass.BUILDER_FAILED, "raised ValueError"),
    ],
)  # fmt: skip
def test_the_publishers_verdict_is_the_dead_letters_reason(
    build_error: str, overrides: dict[str, object], error_class: ErrorClass, detail: str
) -> None:
    """A stand-in, an event the publisher refused (even one invalid here too) or a builder's
    failure is dead-lettered with the publisher's reason, never stored."""
    [reject] = run(envelope_line(build_error=build_error, **overrides)).rejects
    assert reject.error_class is error_class
    assert detail in reject.error_detail


def test_empty_message_is_one_reject() -> None:
    """A message with nothing but blank lines is dead-lettered as a whole."""
    [reject] = run(b"", b"  ").rejects
    assert (reject.error_class, reject.line_index) == (ErrorClass.EMPTY_MESSAGE, None)


def test_readable_identity_is_kept_on_rejects() -> None:
    """event_id, app and event_type of an invalid envelope are kept when readable."""
    [reject] = run(envelope_line(event_id="evt-9", app="chat", status=7)).rejects
    assert (reject.event_id, reject.app, reject.event_type) == (
        "evt-9",
        "chat",
        "auth.login.succeeded",
    )


def test_error_detail_does_not_echo_values() -> None:
    """Details name fields, never the (possibly personal) values."""
    [reject] = run(envelope_line(actor_email=["jane@example.com"])).rejects
    assert "actor_email" in reject.error_detail
    assert "jane@example.com" not in reject.error_detail


def test_registered_host_types_are_accepted() -> None:
    """Host types registered in the subscriber's process are valid."""
    T.register("billing.*")
    assert len(run(envelope_line(event_type="billing.invoice.sent")).rows) == 1


def test_dead_letter_row_keeps_the_raw_line_and_attributes() -> None:
    """The dead_letters row holds the reason, the raw line, its hash and the attributes."""
    [reject] = run(b"\xffnot json").rejects
    row = dead_letter_row(reject, {"app": "ingest"}, META, NOW)
    assert row["dead_letter_id"] == "m-1:0"
    assert row["raw_line"] == "\\xffnot json"
    assert row["error_class"] == "undecodable"
    assert row["attributes"] == {"app": "ingest"}
    assert len(row["raw_sha256"]) == 64
    assert row["raw_truncated"] is False


def test_rows_match_the_event_row_model_for_many_shapes() -> None:
    """Rows validate against EventRow whatever optional fields the envelope carries."""
    lines = [
        envelope_line(),
        envelope_line(source="beacon", event_type=T.UI_TAB_VIEWED, payload={"surface": "nav"}),
        envelope_line(event_type=T.RESOURCE_USAGE_RECORDED, usage=[
            {"service": "cloud_run", "model_id": "cpu_second", "quantity": 2, "unit": "s"}]),
        envelope_line(before={"x": 1}, after={"x": 2}, occurred_at="2026-11-27T14:00:00+02:00"),
    ]  # fmt: skip
    result = run(*lines)
    assert len(result.rows) == 4
    for row in result.rows:
        EventRow.model_validate(row)
    assert result.rows[3]["occurred_at"] == datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def test_duplicate_lines_give_duplicate_rows_for_the_sink_to_dedupe() -> None:
    """The core does not dedupe; the sinks key on event_id."""
    data = make_envelope(event_id="same")
    line = json.dumps(data).encode()
    assert len(run(line, line).rows) == 2


@pytest.mark.parametrize(
    ("item", "outcome"),
    [
        ('{"service":"cloud_run","model_id":"cpu_second","quantity":Infinity}', "schema_violation"),
        ('{"service":"cloud_run","model_id":"cpu_second","quantity":NaN}', "schema_violation"),
        ('{"service":"cloud_run","model_id":"cpu_second","quantity":1e308}', "unpriced"),
        (
            '{"service":"vertex_gemini","model_id":"gemini-2.0-flash","input_tokens":'
            + str(10**40)
            + "}",
            "schema_violation",
        ),
        (
            '{"service":"cloud_run","model_id":"cpu_second","latency_ms":-Infinity}',
            "schema_violation",
        ),
    ],
)
def test_extreme_numbers_are_rejected_or_left_unpriced(item: str, outcome: str) -> None:
    """Infinity, NaN and numbers beyond NUMERIC/INT64 never crash the core."""
    line = envelope_line(usage=[]).replace(b'"usage":[]', b'"usage":[' + item.encode() + b"]")
    result = run(line)
    if outcome == "unpriced":
        [row] = result.rows
        assert row["pricing_status"] == "unpriced"
    else:
        [reject] = result.rejects
        assert reject.error_class.value == outcome


def test_a_failure_inside_the_core_is_isolated_to_its_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bug on one line becomes an internal_error reject; the other lines still pass."""
    from il_audit.subscriber_fn import core

    real = core.price_usage

    def flaky(usage, occurred_at, catalog):  # type: ignore[no-untyped-def]
        if usage:
            raise ZeroDivisionError("bug")
        return real(usage, occurred_at, catalog)

    monkeypatch.setattr(core, "price_usage", flaky)
    usage = [{"service": "cloud_run", "model_id": "cpu_second", "quantity": 1}]
    result = run(envelope_line(), envelope_line(usage=usage), envelope_line())
    assert result.row_lines == [0, 2]
    [reject] = result.rejects
    assert (reject.error_class.value, reject.line_index) == ("internal_error", 1)
    assert "ZeroDivisionError" in reject.error_detail
