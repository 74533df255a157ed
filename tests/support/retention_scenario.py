"""One scenario for retention per family, played on DuckDB and on the BigQuery stand-in.

Events of four families at ages on both sides of each family's retention, and
dead letters on both sides of theirs; :data:`KEPT` is what must remain.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from il_audit.schemas import taxonomy as T
from il_audit.schemas.retention import RetentionPolicy
from il_audit.subscriber_fn.core import MessageMeta, dead_letter_row, process_message
from il_audit.subscriber_fn.pricing import seed_catalog
from tests.support.factories import envelope_line

NOW = datetime(2026, 11, 27, 13, 0, tzinfo=UTC)
POLICY = RetentionPolicy(400, {"chat.model_call": 30, "chat": 60, "auth": 100, "dead_letters": 10})
# (event type, age in days): one row each; the comment says who decides.
EVENTS = [
    ("chat.model_call.text", 40),  # chat.model_call 30: deleted
    ("chat.model_call.text", 20),  # kept
    (T.CHAT_TURN_SUCCEEDED, 70),  # chat 60: deleted
    (T.CHAT_TURN_SUCCEEDED, 40),  # kept (chat.model_call's 30 must not touch it)
    (T.AUTH_LOGIN_SUCCEEDED, 150),  # auth 100: deleted
    (T.AUTH_LOGIN_SUCCEEDED, 90),  # kept
    (T.UI_TAB_VIEWED, 500),  # the default 400: deleted
    (T.UI_TAB_VIEWED, 300),  # kept
]
DEAD_LETTER_AGES = [20, 5]  # dead_letters 10: the first goes
KEPT = {
    ("chat.model_call.text", 20),
    (T.CHAT_TURN_SUCCEEDED, 40),
    (T.AUTH_LOGIN_SUCCEEDED, 90),
    (T.UI_TAB_VIEWED, 300),
}
DELETED = {
    "chat.model_call": 1, "chat": 1, "auth": 1, "*": 1, "dead_letters": 1
}  # fmt: skip


def at(age_days: int, now: datetime = NOW) -> datetime:
    """Noon of the day ``age_days`` before ``now`` (far from any day's boundary)."""
    return (now - timedelta(days=age_days)).replace(hour=12, minute=0)


def event_rows(now: datetime = NOW) -> list[dict[str, Any]]:
    """The events as the subscriber's rows, their ages counted back from ``now``."""
    lines = [
        envelope_line(event_type=kind, occurred_at=at(age, now).isoformat().replace("+00:00", "Z"))
        for kind, age in EVENTS
    ]
    result = process_message(b"\n".join(lines), MessageMeta("m-ret"), seed_catalog(), now)
    assert not result.rejects
    return list(result.rows)


def dead_letter_rows(now: datetime = NOW) -> list[dict[str, Any]]:
    """One undecodable line received at each of :data:`DEAD_LETTER_AGES`."""
    rows = []
    for index, age in enumerate(DEAD_LETTER_AGES):
        meta = MessageMeta(f"d-ret-{index}")
        reject = process_message(b"{", meta, seed_catalog(), at(age, now)).rejects[0]
        rows.append(dead_letter_row(reject, {}, meta, at(age, now)))
    return rows


def age_of(occurred_at: datetime, now: datetime = NOW) -> int:
    """Days before ``now`` (the scenario's rows are at noon)."""
    return (now.date() - occurred_at.astimezone(UTC).date()).days
