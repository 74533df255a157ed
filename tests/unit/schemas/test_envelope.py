"""The wire envelope: strict, bounded, UTC, and never echoing values in errors."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from il_audit.schemas import (
    ENVELOPE_FIELDS,
    MAX_ENVELOPE_BYTES,
    Envelope,
    EnvelopeTooLargeError,
    envelope_json,
    parse_envelope,
)
from il_audit.schemas.envelope import describe_validation_error
from tests.support.factories import envelope_line, make_envelope

DESIGN_FIELDS = {
    "schema_version", "event_id", "event_type", "occurred_at", "app", "environment", "module",
    "actor_uid", "actor_email", "trace_id", "request_id", "session_id", "batch_id",
    "correlation_id", "correlation_type", "action", "status", "resource_type", "resource_id",
    "before", "after", "metadata", "source", "payload", "usage",
}  # fmt: skip


ADDED_UNDER_THE_EVOLUTION_RULE = {
    "app_version",
    "build_error",
    "actor_email_hmac",
    "publisher_instance_id",
    "publisher_sequence",
}
"""Optional fields added within schema_version 1 (docs/wire-contract.md)."""


def test_envelope_has_every_design_field() -> None:
    """The model's top-level fields are the design's, plus the optional ones added since."""
    assert set(ENVELOPE_FIELDS) == DESIGN_FIELDS | ADDED_UNDER_THE_EVOLUTION_RULE


def test_valid_line_round_trips() -> None:
    """Parsing a valid line and serializing it again keeps every value."""
    data = make_envelope(
        metadata={"k": [1, 2.5, None, {"x": "y"}]},
        usage=[{"service": "vertex_gemini", "model_id": "m", "input_tokens": 3}],
    )
    envelope = parse_envelope(json.dumps(data).encode())
    again = json.loads(envelope_json(envelope))
    assert again["metadata"] == data["metadata"]
    assert again["usage"][0]["input_tokens"] == 3
    assert again["event_id"] == data["event_id"]
    assert again["occurred_at"] == data["occurred_at"]


def test_wire_form_is_flat_and_leaves_out_nulls() -> None:
    """Top-level keys are field names; absent optional fields are not sent as null."""
    line = envelope_json(parse_envelope(envelope_line()))
    data = json.loads(line)
    assert set(data) <= DESIGN_FIELDS
    assert None not in data.values()
    assert b"\n" not in line


def test_unknown_top_level_field_is_rejected() -> None:
    """A field the envelope does not define makes the line invalid."""
    with pytest.raises(ValidationError, match="extra_field"):
        parse_envelope(envelope_line(extra_field=1))


def test_naive_timestamp_is_rejected() -> None:
    """occurred_at must carry a UTC offset."""
    with pytest.raises(ValidationError, match="timezone"):
        parse_envelope(envelope_line(occurred_at="2026-11-27T12:00:00"))


def test_offsets_are_normalised_to_utc() -> None:
    """A timestamp with an offset is stored as the same instant in UTC."""
    envelope = parse_envelope(envelope_line(occurred_at="2026-11-27T14:00:00+02:00"))
    assert envelope.occurred_at.isoformat() == "2026-11-27T12:00:00+00:00"
    assert json.loads(envelope_json(envelope))["occurred_at"] == "2026-11-27T12:00:00Z"


@pytest.mark.parametrize(
    "overrides",
    [
        {"event_type": "Auth.Login"},
        {"event_type": "login"},
        {"app": ""},
        {"source": "Browser!"},
        {"schema_version": 2},
        {"event_id": "has spaces"},
        {"metadata": [1, 2]},
        {"usage": [{"service": "s", "input_tokens": -1}]},
        {"usage": [{"service": "s", "input_tokens": "12"}]},
        {"usage": [{"service": "s", "cost_usd": 1.0}]},
        {"status": "x" * 257},
    ],
)
def test_garbage_is_rejected(overrides: dict[str, object]) -> None:
    """Wrong types, formats, signs, enum values and lengths are invalid, never coerced."""
    with pytest.raises(ValidationError):
        parse_envelope(envelope_line(**overrides))


@pytest.mark.parametrize("source", ["api", "beacon", "job", "scheduled_task", "pipeline", "cron2"])
def test_source_is_any_lowercase_token(source: str) -> None:
    """The four documented sources are recommended; any lowercase token is valid (0.1.3's str)."""
    assert parse_envelope(envelope_line(source=source)).source == source


@pytest.mark.parametrize("missing", ["event_id", "event_type", "occurred_at", "app"])
def test_required_fields_are_required(missing: str) -> None:
    """An envelope without its identity, type, time or app is invalid."""
    data = make_envelope()
    del data[missing]
    with pytest.raises(ValidationError, match=missing):
        Envelope.model_validate_json(json.dumps(data))


def test_envelope_over_one_mebibyte_is_invalid() -> None:
    """A line over MAX_ENVELOPE_BYTES is refused before it is parsed."""
    line = envelope_line(metadata={"blob": "x" * MAX_ENVELOPE_BYTES})
    with pytest.raises(EnvelopeTooLargeError, match="limit"):
        parse_envelope(line)


def test_envelope_just_under_the_limit_is_valid() -> None:
    """Size alone does not reject an envelope that fits."""
    base = len(envelope_line(metadata={"blob": ""}))
    line = envelope_line(metadata={"blob": "x" * (MAX_ENVELOPE_BYTES - base)})
    assert len(line) == MAX_ENVELOPE_BYTES
    assert parse_envelope(line).metadata is not None


def test_validation_summary_names_fields_but_not_values() -> None:
    """Error text names the field and rule but never the (possibly personal) value."""
    secret = "jane.doe@example.com-secret"
    with pytest.raises(ValidationError) as caught:
        parse_envelope(envelope_line(status=secret * 20, actor_email=123))
    summary = describe_validation_error(caught.value)
    assert "status" in summary
    assert "actor_email" in summary
    assert secret not in summary
