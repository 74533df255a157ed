"""What an hourly ``ledger seal`` reads on BigQuery (on-demand bytes), from the query shapes.

The stand-in reports no bytes processed, so the number in docs/costs.md is computed here
from BigQuery's billing rules (on-demand queries bill the bytes of the columns they
reference in the partitions they touch, at least 10 MB per table referenced; a STRING is
2 bytes plus its UTF-8 length, a TIMESTAMP 8 bytes: "Data type sizes" and "On-demand
compute pricing" in BigQuery's documentation) and from the queries of ``ledger_store``:
a steady-state run seals one hour and reads, per table, the late window and the new hour
in one anti-join. In production the seal's JSON reports BigQuery's own count
(``bytes_processed``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from il_audit.schemas.ledger import LATE_WINDOW, OCCURRED_LAG, OCCURRED_LEAD

MIN_BYTES_PER_TABLE: Final = 10 * 1024 * 1024
"""On-demand minimum billed per table a query references."""
STRING_OVERHEAD: Final = 2
TIMESTAMP_BYTES: Final = 8
EVENT_ID_CHARS: Final = 36
"""A UUID event_id."""
EVENT_TYPE_CHARS: Final = 20
"""An assumed average event_type (``chat.turn.succeeded`` has 19)."""
DEAD_LETTER_ID_CHARS: Final = 20
"""``message_id:line`` (a 17-digit Pub/Sub id, a colon, a line number)."""
HASH_CHARS: Final = 64
LEDGER_ENTRIES_PER_YEAR: Final = 2 * 24 * 366


def _string(chars: int) -> int:
    return STRING_OVERHEAD + chars


EVENT_COLUMNS_BYTES: Final = (
    _string(EVENT_ID_CHARS) + _string(HASH_CHARS) + _string(EVENT_TYPE_CHARS) + 2 * TIMESTAMP_BYTES
)
"""event_id, row_hash, event_type, occurred_at, ingested_at."""
DEAD_LETTER_COLUMNS_BYTES: Final = (
    _string(DEAD_LETTER_ID_CHARS) + _string(HASH_CHARS) + TIMESTAMP_BYTES
)
"""dead_letter_id, row_hash, received_at."""
LEDGER_ROW_BYTES: Final = (
    _string(EVENT_ID_CHARS) + 2 * _string(HASH_CHARS) + _string(len("events")) + TIMESTAMP_BYTES
)
"""row_key, row_hash, seal_hash, table_name, period_start of audit_ledger_rows."""
LEDGER_ENTRY_BYTES: Final = (
    2 * TIMESTAMP_BYTES + _string(len("dead_letters")) + 2 * 8 + 4 * (_string(HASH_CHARS))
)
"""Every column of audit_ledger (``SELECT *``)."""


def _days(span_days: float) -> int:
    """Daily partitions a range of ``span_days`` (plus the hour sealed) can touch."""
    return int(span_days) + 2


EVENT_PARTITIONS: Final = _days((LATE_WINDOW + OCCURRED_LAG + OCCURRED_LEAD).days)
"""occurred_at in [first - late window - lag, first + 1 h + lead)."""
LATE_PARTITIONS: Final = _days(LATE_WINDOW.days)
"""received_at, and audit_ledger_rows.period_start, in [first - late window, first + 1 h)."""


def _billed(data: int) -> int:
    return max(data, MIN_BYTES_PER_TABLE)


@dataclass(frozen=True, slots=True)
class SealCost:
    """Bytes one hourly seal reads, by query."""

    events_per_day: int
    dead_letters_per_day: int
    events_query: int
    dead_letters_query: int
    entries_query: int

    @property
    def total(self) -> int:
        """Bytes billed for the run."""
        return self.events_query + self.dead_letters_query + self.entries_query


NEW_HOUR_EVENT_PARTITIONS: Final = _days((OCCURRED_LAG + OCCURRED_LEAD).days)
"""A run without the late check: occurred_at in [first - lag, first + 1 h + lead)."""
NEW_HOUR_DEAD_LETTER_PARTITIONS: Final = 1
"""received_at in [first, first + 1 h): one day."""
ON_DEMAND_PER_TIB: Final = 6.25
"""USD per TiB of on-demand queries (https://cloud.google.com/bigquery/pricing, on-demand
compute; the first TiB a month free, not applied)."""


def hourly_seal_cost(events_per_day: int, dead_letters_per_day: int, *, late: bool = True
                     ) -> SealCost:  # fmt: skip
    """The bytes one hourly seal is billed at a steady volume (no legacy rows to re-hash),
    with the late check (the usual run) or without it (``--late-every-hours`` > 1)."""
    entries = _billed(LEDGER_ENTRIES_PER_YEAR * LEDGER_ENTRY_BYTES)
    if not late:
        events = NEW_HOUR_EVENT_PARTITIONS * events_per_day * EVENT_COLUMNS_BYTES
        dead = NEW_HOUR_DEAD_LETTER_PARTITIONS * dead_letters_per_day * DEAD_LETTER_COLUMNS_BYTES
        return SealCost(events_per_day, dead_letters_per_day, _billed(events), _billed(dead),
                        entries)  # fmt: skip
    ledger_rows = _billed(LATE_PARTITIONS * (events_per_day + dead_letters_per_day)
                          * LEDGER_ROW_BYTES)  # fmt: skip
    events = _billed(EVENT_PARTITIONS * events_per_day * EVENT_COLUMNS_BYTES)
    dead = _billed(LATE_PARTITIONS * dead_letters_per_day * DEAD_LETTER_COLUMNS_BYTES)
    # Each table's anti-join references the table, audit_ledger_rows and audit_ledger.
    return SealCost(
        events_per_day,
        dead_letters_per_day,
        events + ledger_rows + MIN_BYTES_PER_TABLE,
        dead + ledger_rows + MIN_BYTES_PER_TABLE,
        entries,
    )


def _usd(month_bytes: float) -> str:
    return f"${month_bytes / 2**40 * ON_DEMAND_PER_TIB:,.2f}"


def cost_table(volumes: tuple[int, ...] = (10_000, 1_000_000, 10_000_000)) -> str:
    """The Markdown table of docs/costs.md (one dead letter per thousand events; 30 days of
    hourly seals): bytes per sealed hour, and per month with the late check every hour or
    once a day."""
    lines = [
        "| events a day | per sealed hour, with the late check | without it | per month, "
        "late check hourly | per month, `--late-every-hours 24` |",
        "|---|---|---|---|---|",
    ]
    for volume in volumes:
        with_late = hourly_seal_cost(volume, volume // 1000).total
        without = hourly_seal_cost(volume, volume // 1000, late=False).total
        hourly = 720 * with_late
        daily = 30 * with_late + 690 * without
        lines.append(
            f"| {volume:,} | {with_late / 1e6:,.0f} MB | {without / 1e6:,.0f} MB | "
            f"{hourly / 1e9:,.0f} GB, {_usd(hourly)} | {daily / 1e9:,.0f} GB, {_usd(daily)} |"
        )
    return "\n".join(lines)
