"""Rows for the row-hash tests: JSON objects, usage arrays, NUMERIC costs, timestamps."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from il_audit.subscriber_fn.core import MessageMeta, dead_letter_row, process_message
from il_audit.subscriber_fn.pricing import seed_catalog
from tests.support.factories import envelope_line

NOW = datetime(2026, 11, 27, 12, 31, 2, 654321, tzinfo=UTC)
META = MessageMeta(
    message_id="17000000000001",
    publish_time=datetime(2026, 11, 27, 12, 31, 1, 250000, tzinfo=UTC),
    delivery_attempt=1,
)
GEMINI = {
    "service": "vertex_gemini",
    "operation": "generate_content",
    "model_id": "gemini-2.0-flash",
    "input_tokens": 1200,
    "output_tokens": 300,
    "tokens_estimated": True,
    "latency_ms": 812.25,
}
CPU = {"service": "cloud_run", "model_id": "cpu_second", "quantity": 12.0, "unit": "vCPU_second"}


def rich_event_rows() -> list[dict[str, Any]]:
    """Event rows as the core builds them (not yet stamped)."""
    data = b"\n".join(
        [
            envelope_line(
                event_type="chat.turn.succeeded",
                occurred_at="2026-11-27T13:30:15.123456+01:00",
                actor_email="ana@example.com",
                before={"title": "old", "tags": []},
                after={"title": "Grüße ✓", "tags": ["a", "b"], "n": None, "f": 2.0},
                metadata={"nested": {"deep": [1, 2.5, {"x": True}]}, "empty": {}},
                payload={"question_sha256": "ab" * 32, "sources": 3, "ratio": 0.1},
                usage=[GEMINI, CPU],
            ),
            envelope_line(event_type="ui.tab.viewed", source="beacon", payload={}, usage=[CPU]),
            envelope_line(event_type="auth.logout", actor_uid=None, status=None, extra_field=7),
        ]
    )
    result = process_message(data, META, seed_catalog(), NOW)
    assert not result.rejects
    return list(result.rows)


def rich_dead_letter_rows() -> list[dict[str, Any]]:
    """Dead-letter rows as the pipeline builds them (not yet stamped)."""
    data = b"\n".join([b'{"event_id": "broken', b"\xff\xfe not utf-8", b"[1, 2]"])
    result = process_message(data, META, seed_catalog(), NOW)
    attributes = {"il_audit_schema": "1", "app": "ingest"}
    return [dead_letter_row(reject, attributes, META, NOW) for reject in result.rejects]
