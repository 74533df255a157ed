"""The fast encode path agrees with the full one: same envelope for every valid event,
an invalid event still found invalid (counted, and dead-lettered downstream)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum
from typing import Any

import pytest

from il_audit.publisher._capture import capture
from il_audit.publisher._encode import ContextDefaults, encode
from il_audit.publisher._fast_encode import fast_line, timestamp_text
from il_audit.publisher.context import AuditContext
from il_audit.schemas import taxonomy as T
from il_audit.schemas.envelope import ENVELOPE_FIELDS, parse_envelope

DEFAULTS = ContextDefaults("app", "test")
CTX = AuditContext(app="chat", actor_uid="u-1", trace_id="t-1", session_id="s-1")
NOW_NS = 1_764_246_615_123_456_789


class Color(Enum):
    RED = "red"


def captured(event_type: str = T.AUTH_LOGOUT, context: AuditContext | None = CTX,
             **fields: Any) -> tuple[Any, ...]:  # fmt: skip
    event_id = fields.pop("event_id", None) or "01934e1a-0000-7000-8000-000000000001"
    if "caller_id" in fields:
        fields["event_id"] = event_id = fields.pop("caller_id")
    return (event_id, NOW_NS, event_type, context, fields)


VALID: list[dict[str, Any]] = [
    {},
    {"status": "succeeded", "action": "login", "resource_id": "x" * 1024},
    {"metadata": {"nested": [1, 2.5, {"ok": True, "none": None}]}, "before": {}, "after": {"a": 1}},
    {"question_text": 'Grüße 😀 \n "quoted" \x01', "count": 2**62, "ratio": 0.1},
    {"when": datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=UTC), "day": date(2026, 1, 2)},
    {"when": datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2)))},
    {"naive": datetime(2026, 1, 2, 3, 4, 5), "color": Color.RED, "items": (1, 2)},
    {"price": Decimal("1.50")},  # orjson cannot write it: the full path does
    {"tags": {"a"}},  # nor a set
    {"usage": [{"service": "vertex_gemini", "model_id": "m", "input_tokens": 3}]},
    {"source": "scheduled_task", "environment": "prod", "app_version": "1.2.3"},
    {"caller_id": "my-id:42"},
    {"payload": {"a": 1}, "extra": "joins it"},
]


def without_empty_usage(line: bytes) -> dict[str, Any]:
    envelope: dict[str, Any] = json.loads(line)
    if envelope.get("usage") == []:
        del envelope["usage"]
    return envelope


@pytest.mark.parametrize("fields", VALID)
def test_valid_events_encode_to_the_same_envelope_either_way(fields: dict[str, Any]) -> None:
    """Whatever path takes it, a valid event's line parses to the same envelope.

    A fresh context is encoded three times: first sighting (the fast check), second
    (its head is built), third (the cached head).
    """
    context = CTX.replace()
    full = encode(captured(context=context, **fields), DEFAULTS, full=True)
    assert full.problem is None
    for _ in range(3):
        fast = encode(captured(context=context, **fields), DEFAULTS)
        assert fast.problem is None
        # The model writes its empty usage default; the fast path leaves it out.
        assert without_empty_usage(fast.line) == without_empty_usage(full.line)
        assert parse_envelope(fast.line) == parse_envelope(full.line)
        assert (fast.event_id, fast.app, fast.event_type) == (
            full.event_id, full.app, full.event_type
        )  # fmt: skip


def test_a_context_seen_twice_gets_a_cached_head() -> None:
    """The usual event from a context used again is written from that context's head."""
    from il_audit.publisher import _encode

    context, other_defaults = CTX.replace(), ContextDefaults("app", "prod")
    key = (id(context), T.AUTH_LOGOUT)
    encode(captured(context=context, surface="nav"), DEFAULTS)
    assert key not in _encode._heads  # a one-off context costs nothing extra
    second = encode(captured(context=context, surface="nav"), DEFAULTS)
    assert _encode._heads[key][0] is context
    assert second.line.startswith(_encode._heads[key][2])
    # Another publisher's defaults never reuse this head.
    assert json.loads(encode(captured(context=context), other_defaults).line)["environment"] == (
        "prod"
    )


INVALID: list[tuple[dict[str, Any], AuditContext | None, str]] = [
    ({}, AuditContext(app="x" * 129), "app"),
    ({}, AuditContext(app="chat", actor_uid=42), "actor_uid"),  # type: ignore[arg-type]
    ({"source": "Not A Token"}, CTX, "source"),
    ({"metadata": ["not", "an", "object"]}, CTX, "metadata"),
    ({"status": "s" * 257}, CTX, "status"),
    ({"caller_id": "bad id with spaces"}, CTX, "event_id"),
    ({"payload": {"big": "x" * 1_100_000}}, CTX, "envelope"),
    ({"usage": [{"service": "s", "input_tokens": -1}]}, CTX, "usage"),
    ({"text": "\ud800"}, CTX, "envelope"),
]


@pytest.mark.parametrize(("fields", "context", "field"), INVALID)
def test_invalid_events_are_still_found_invalid(
    fields: dict[str, Any], context: AuditContext | None, field: str
) -> None:
    """The fast paths never pass what the model refuses: the problem names the same field."""
    full = encode(captured(context=context, **fields), DEFAULTS, full=True)
    assert full.problem is not None
    for _ in range(3):  # first sighting, head built (or refused), cached
        fast = encode(captured(context=context, **fields), DEFAULTS)
        assert fast.problem is not None
        assert fast.problem.split(":")[0] == full.problem.split(":")[0]
        assert field in fast.problem


def test_unknown_event_types_are_invalid_on_the_fast_path() -> None:
    """A well-formed but unknown type is still named as the problem (and published)."""
    encoded = encode(captured("billing.invoice.sent"), DEFAULTS)
    assert encoded.problem is not None
    assert encoded.problem.startswith("event_type: unknown event type 'billing.invoice.sent'")
    assert json.loads(encoded.line)["event_type"] == "billing.invoice.sent"


def test_a_caller_time_takes_the_full_path() -> None:
    """occurred_at from a caller (a registered builder) is validated, not trusted."""
    good = encode(captured(occurred_at=datetime(2026, 7, 1, 12, tzinfo=UTC)), DEFAULTS)
    bad = encode(captured(occurred_at="yesterday"), DEFAULTS)
    assert json.loads(good.line)["occurred_at"] == "2026-07-01T12:00:00Z"
    assert bad.problem is not None
    assert bad.problem.startswith("occurred_at")


def test_fast_line_refuses_what_it_does_not_know() -> None:
    """Unknown keys, usage and builder errors are left to the full path."""
    assert fast_line({"event_type": T.AUTH_LOGOUT, "surprise": 1}) is None
    assert fast_line({"usage": []}) is None
    assert fast_line({"build_error": "ValueError"}) is None


def test_timestamps_are_written_as_pydantic_writes_them() -> None:
    """Microseconds when there are any, none at a whole second, always Z."""
    assert timestamp_text(NOW_NS) == "2025-11-27T12:30:15.123456Z"
    assert timestamp_text(1_764_246_615_000_000_999) == "2025-11-27T12:30:15Z"
    assert timestamp_text(1_764_246_616_000_001_000) == "2025-11-27T12:30:16.000001Z"


def test_the_question_policy_applies_on_the_cached_head_path() -> None:
    from il_audit.publisher.privacy import QuestionPolicy

    hiding = ContextDefaults("app", "test", questions=QuestionPolicy(store_text=False))
    context = CTX.replace()
    lines = [
        json.loads(encode(captured(T.AUTH_LOGOUT, context, question="secret?"), hiding).line)
        for _ in range(3)
    ]
    for payload in (line["payload"] for line in lines):
        assert "question" not in payload
        assert payload["question_length"] == len("secret?")


TOP_LEVEL_VALUES: list[Any] = [2, 1, True, 1.0, "x", "x" * 300, "", {}, {"a": 1}, [1], Decimal("1")]


@pytest.mark.parametrize("name", sorted(ENVELOPE_FIELDS - {"event_type", "usage", "build_error"}))
def test_every_top_level_field_is_judged_as_the_model_judges_it(name: str) -> None:
    """For each envelope field and odd value (schema_version=2 among them), the fast paths
    find an event invalid exactly when the model does, on all three sightings."""
    for value in TOP_LEVEL_VALUES:
        context = CTX.replace()
        full = encode(capture(T.AUTH_LOGOUT, context, {name: value}), DEFAULTS, full=True)
        for sighting in range(3):
            fast = encode(capture(T.AUTH_LOGOUT, context, {name: value}), DEFAULTS)
            assert (fast.problem is None) == (full.problem is None), (name, value, sighting)
