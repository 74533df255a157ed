"""Building envelopes off the caller's thread: merging, validation, lenient fallback."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

from il_audit.publisher._encode import ContextDefaults, encode, envelope_fields
from il_audit.publisher.context import AuditContext
from il_audit.schemas import MAX_ENVELOPE_BYTES, parse_envelope
from il_audit.schemas import taxonomy as T
from tests.support.factories import FROZEN_TIME_NS
from tests.support.golden import assert_matches_golden

DEFAULTS = ContextDefaults(app="fallback-app", environment="test")
EVENT_ID = "01934e1a-0000-7000-8000-000000000001"


def _encode(event_type: str, context: AuditContext | None = None, **fields: object):  # type: ignore[no-untyped-def]
    return encode((EVENT_ID, FROZEN_TIME_NS, event_type, context, dict(fields)), DEFAULTS)


def test_golden_envelope_under_a_frozen_clock() -> None:
    """The wire bytes of a typical event are pinned: a change here breaks stored data."""
    context = AuditContext(
        app="ingest", actor_uid="u-1", actor_email="u1@example.com", trace_id="t-1",
        request_id="r-1", session_id="s-1", environment="prod",
    )  # fmt: skip
    encoded = _encode(
        T.INGEST_FILE_INDEXED,
        context,
        status="succeeded",
        action="index",
        resource_type="file",
        resource_id="drive:abc",
        batch_id="job-7",
        correlation_id="job-7",
        correlation_type="ingest_job",
        before={"state": "pending"},
        after={"state": "indexed"},
        metadata={"pages": 3},
        usage=[
            {
                "service": "vertex_gemini",
                "operation": "generate_content",
                "model_id": "gemini-2.0-flash",
                "category": "summary",
                "input_tokens": 1200,
                "output_tokens": 80,
                "latency_ms": 412.5,
            },
            {
                "service": "cloud_run",
                "model_id": "cpu_second",
                "quantity": 3.25,
                "unit": "vCPU_second",
            },
        ],
        mime_type="application/pdf",
    )
    assert encoded.problem is None
    assert_matches_golden("envelope.ingest_file_indexed.json", json.loads(encoded.line))
    assert_matches_golden("envelope.ingest_file_indexed.ndjson", encoded.line.decode())


def test_context_fields_and_keywords_merge() -> None:
    """Context gives actor and correlation; keywords override it; others go to payload."""
    context = AuditContext(app="chat", actor_uid="u-1", request_id="r-1")
    data = envelope_fields(
        (EVENT_ID, FROZEN_TIME_NS, T.CHAT_TURN_SUCCEEDED, context,
         {"request_id": "r-2", "status": "ok", "surface": "main", "skipped": None}),
        DEFAULTS,
    )  # fmt: skip
    assert data["app"] == "chat"
    assert data["actor_uid"] == "u-1"
    assert data["request_id"] == "r-2"
    assert data["payload"] == {"surface": "main"}
    assert data["module"] == "chat"
    assert data["environment"] == "test"
    assert data["occurred_at"] == "2026-11-27T12:30:15.123456Z"  # its wire text


def test_extra_keywords_join_an_explicit_payload() -> None:
    """payload= and extra keywords end up in one payload object."""
    encoded = _encode(T.UI_TAB_VIEWED, None, payload={"a": 1}, element_id="tab-2")
    assert json.loads(encoded.line)["payload"] == {"a": 1, "element_id": "tab-2"}


def test_app_defaults_when_no_context_names_one() -> None:
    """Without a context the configured app is used."""
    assert json.loads(_encode(T.AUTH_LOGOUT).line)["app"] == "fallback-app"


def test_valid_event_has_no_problem_and_parses() -> None:
    """A valid event encodes to a line the subscriber's parser accepts."""
    encoded = _encode(T.AUTH_LOGIN_SUCCEEDED, AuditContext(app="ingest"), status="succeeded")
    assert encoded.problem is None
    assert parse_envelope(encoded.line).event_id == EVENT_ID
    assert (encoded.app, encoded.event_type) == ("ingest", T.AUTH_LOGIN_SUCCEEDED)


def test_unknown_event_type_is_reported_and_still_encoded() -> None:
    """An unregistered type is a problem, but the line is produced for dead-lettering."""
    encoded = _encode("billing.invoice.sent", AuditContext(app="a"))
    assert encoded.problem is not None
    assert "unknown event type" in encoded.problem
    assert json.loads(encoded.line)["event_type"] == "billing.invoice.sent"


def test_registered_event_type_is_valid() -> None:
    """After taxonomy.register the same event is valid."""
    T.register("billing.invoice.sent")
    assert _encode("billing.invoice.sent", AuditContext(app="a")).problem is None


def test_unserializable_values_still_produce_a_json_line() -> None:
    """Datetimes, Decimals, sets and objects fall back to text instead of failing."""

    class Thing:
        def __repr__(self) -> str:
            return "<thing>"

    encoded = _encode(
        T.USER_SETTINGS_UPDATED,
        AuditContext(app="a"),
        metadata={"when": datetime(2026, 1, 1, tzinfo=UTC), "n": Decimal("1.5"), 3: {1, 2}},
        thing=Thing(),
    )
    assert encoded.problem is not None
    data = json.loads(encoded.line)
    assert data["metadata"]["when"] == "2026-01-01T00:00:00Z"
    assert data["metadata"]["n"] == "1.5"
    assert data["payload"]["thing"] == "<thing>"


def test_oversize_event_becomes_a_small_stand_in() -> None:
    """An envelope over 1 MiB is flagged and replaced by a stand-in that keeps who and what."""
    context = AuditContext(app="a", actor_uid="u-1")
    encoded = _encode(T.USER_SETTINGS_UPDATED, context, metadata={"x": "y" * MAX_ENVELOPE_BYTES})
    assert encoded.problem is not None
    assert "envelope_too_large" in encoded.problem
    assert len(encoded.line) < 1024
    envelope = parse_envelope(encoded.line)
    assert (envelope.event_id, envelope.event_type, envelope.actor_uid) == (
        EVENT_ID, T.USER_SETTINGS_UPDATED, "u-1"
    )  # fmt: skip
    assert envelope.build_error is not None
    code, detail = envelope.build_error.split(": ", 1)
    assert code == "envelope_too_large"
    assert int(detail.split()[0]) > MAX_ENVELOPE_BYTES  # the original size, in bytes


def test_problem_text_never_contains_values() -> None:
    """Problems name fields, not their (possibly personal) contents."""
    secret = "secret-value-" * 30
    encoded = _encode(T.AUTH_LOGIN_FAILED, AuditContext(app="a"), status=secret)
    assert encoded.problem is not None
    assert "status" in encoded.problem
    assert "secret-value" not in encoded.problem
