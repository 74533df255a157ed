"""The seal-and-verify scenario of issue 26, engine-neutral: data, tampering, expectations.

Rows are ingested at fixed past hours (``H_EXPIRING``, ``H_MAIN``), sealed at ``NOW``;
then one row is deleted, one changed, one person erased, and a family's retention
expires ``H_EXPIRING``. Verify must name exactly the deleted and the changed row.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from il_audit.schemas.retention import RetentionPolicy
from il_audit.subscriber_fn.core import MessageMeta, dead_letter_row, process_message
from il_audit.subscriber_fn.pricing import seed_catalog
from tests.support.factories import envelope_line

NOW = datetime(2026, 11, 27, 12, 10, tzinfo=UTC)
H_MAIN = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
H_EXPIRING = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
POLICY = RetentionPolicy(None, {"ui": 2})
"""ui events kept 2 days: by NOW, H_EXPIRING's ui events have expired, H_MAIN's auth not."""
PERSON = "person-x"
HASH_KEY = "ledger-test-key"


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def rows_at(ingested: datetime, *lines: bytes) -> list[dict[str, Any]]:
    """Event rows built by the core as if ingested at ``ingested``."""
    meta = MessageMeta(message_id=f"m-{ingested:%d%H%M%S}", publish_time=ingested)
    result = process_message(b"\n".join(lines), meta, seed_catalog(), ingested)
    assert not result.rejects
    return list(result.rows)


def event(event_id: str, occurred: datetime, **fields: Any) -> bytes:
    """An envelope line with a chosen id and occurrence time."""
    return envelope_line(event_id=event_id, occurred_at=_iso(occurred), **fields)


def main_rows() -> list[dict[str, Any]]:
    """H_MAIN: four auth events (one of the person, with usage and JSON), at minute 5."""
    at = H_MAIN + timedelta(minutes=5)
    return rows_at(
        at,
        event("01934e1a-0000-7000-8000-00000000a001", at - timedelta(minutes=1), actor_uid="u-del"),
        event("01934e1a-0000-7000-8000-00000000a002", at - timedelta(minutes=1), actor_uid="u-chg"),
        event(
            "01934e1a-0000-7000-8000-00000000a003",
            at - timedelta(minutes=2),
            actor_uid=PERSON,
            actor_email="person.x@example.com",
            metadata={"browser": "x", "n": 2.0},
            usage=[{"service": "cloud_run", "model_id": "cpu_second", "quantity": 3.5}],
        ),
        event("01934e1a-0000-7000-8000-00000000a004", at - timedelta(hours=30), actor_uid="u-ok"),
    )


def expiring_rows() -> list[dict[str, Any]]:
    """H_EXPIRING: two ui events that occurred an hour before they were ingested."""
    at = H_EXPIRING + timedelta(minutes=20)
    return rows_at(
        at,
        event("01934e1a-0000-7000-8000-00000000b001", at - timedelta(hours=1),
              event_type="ui.tab.viewed", source="beacon"),
        event("01934e1a-0000-7000-8000-00000000b002", at - timedelta(hours=1),
              event_type="ui.tab.viewed", source="beacon"),
    )  # fmt: skip


def late_rows() -> list[dict[str, Any]]:
    """A row that lands in H_MAIN after H_MAIN was sealed."""
    at = H_MAIN + timedelta(minutes=50)
    return rows_at(at, event("01934e1a-0000-7000-8000-00000000c001", at, actor_uid="u-late"))


def dead_letter_rows() -> list[dict[str, Any]]:
    """One dead letter received in H_MAIN."""
    at = H_MAIN + timedelta(minutes=7)
    meta = MessageMeta(message_id="m-dead", publish_time=at)
    result = process_message(b"not json", meta, seed_catalog(), at)
    return [dead_letter_row(reject, {}, meta, at) for reject in result.rejects]


DELETED = "01934e1a-0000-7000-8000-00000000a001"
CHANGED = "01934e1a-0000-7000-8000-00000000a002"
ERASED = "01934e1a-0000-7000-8000-00000000a003"
EXPIRED = {"01934e1a-0000-7000-8000-00000000b001", "01934e1a-0000-7000-8000-00000000b002"}


def expected_unexplained() -> list[tuple[str, str]]:
    """(kind, row_key) verify must report as unexplained, sorted."""
    return sorted([("missing", DELETED), ("changed", CHANGED)])


def kinds(report: dict[str, Any], section: str) -> list[tuple[str, str]]:
    """(kind, row_key) of a verify report's ``unexplained`` or ``explained`` list, sorted."""
    return sorted((f["kind"], f["row_key"]) for f in report[section])


def explanations(report: dict[str, Any]) -> dict[str, str]:
    """row_key -> explanation of the explained findings."""
    return {f["row_key"]: f["explanation"] for f in report["explained"]}


def as_json(report: Any) -> dict[str, Any]:
    """A report object through its JSON form, as the CLI prints it."""
    loaded: dict[str, Any] = json.loads(json.dumps(report.as_dict()))
    return loaded
