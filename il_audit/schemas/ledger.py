"""The ledger of seals: its two tables, the digests and the chain (pure, no engine).

A seal covers one hour (a *period*) of one table's ingestion time (``events.ingested_at``,
``dead_letters.received_at``). ``audit_ledger`` has one entry per period and table:
how many physical rows, a SHA-256 over their ordered ``(key, row_hash)`` pairs, the same
for the *late* rows this seal found in periods sealed before (rows that became visible
after their period's seal), and ``seal_hash``: a SHA-256 over the entry's fields,
``previous_seal_hash`` included, so each entry vouches for every entry before it.
``audit_ledger_rows`` holds the sealed pairs themselves, so ``il-audit verify`` can name
what is missing, changed or added. See docs/integrity.md.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from il_audit.schemas.tables import TableSpec, table_spec_for

PERIOD: Final = timedelta(hours=1)
OCCURRED_LAG: Final = timedelta(days=7)
"""How far before its ingestion an event's ``occurred_at`` may lie and still be sealed:
the bound that lets a seal read ~8 daily partitions of ``events`` instead of the table."""
OCCURRED_LEAD: Final = timedelta(days=1)
"""How far after its ingestion ``occurred_at`` may lie (a publisher's clock ahead)."""
LATE_WINDOW: Final = timedelta(days=7)
"""How far back each seal looks for late rows in periods already sealed."""
GENESIS: Final = ""
"""``previous_seal_hash`` of the first entry."""


class LedgerEntryRow(BaseModel):
    """One row of ``audit_ledger``: the seal of one period of one table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    period_start: AwareDatetime = Field(description="Start of the sealed hour (UTC).")
    table_name: str = Field(description="events or dead_letters.")
    row_count: int = Field(description="Physical rows sealed in the period.")
    digest: str = Field(description="SHA-256 over the ordered (row_key, row_hash) pairs.")
    late_count: int = Field(description="Late rows of earlier periods this seal took in.")
    late_digest: str = Field(description="SHA-256 over the late rows' ordered pairs.")
    previous_seal_hash: str = Field(description="seal_hash of the entry before (the chain).")
    seal_hash: str = Field(description="SHA-256 over this entry's other fields.")
    sealed_at: AwareDatetime = Field(description="When the seal was made.")


class LedgerRowEntry(BaseModel):
    """One row of ``audit_ledger_rows``: one sealed physical row."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    period_start: AwareDatetime = Field(description="Hour of the row's ingestion time.")
    table_name: str = Field(description="events or dead_letters.")
    row_key: str = Field(description="event_id or dead_letter_id.")
    row_hash: str = Field(description="The row's row_hash when sealed.")
    late: bool = Field(description="Sealed in a later period's late section.")
    sealed_in: AwareDatetime = Field(description="period_start of the entry that sealed it.")
    seal_hash: str = Field(description="seal_hash of that entry.")
    event_type: str | None = Field(default=None, description="event_type (retention family).")
    retention_time: AwareDatetime | None = Field(
        default=None, description="occurred_at (events) or received_at: what retention reads."
    )


AUDIT_LEDGER: Final = table_spec_for(
    LedgerEntryRow,
    name="audit_ledger",
    description="Seals: one entry per hour of ingestion and table, chained by seal_hash.",
)
AUDIT_LEDGER_ROWS: Final = table_spec_for(
    LedgerRowEntry,
    name="audit_ledger_rows",
    description="The (row_key, row_hash) pairs each seal covers.",
    partition_field="period_start",
    clustering=("table_name",),
)
LEDGER_TABLES: Final[tuple[TableSpec, ...]] = (AUDIT_LEDGER, AUDIT_LEDGER_ROWS)


@dataclass(frozen=True, slots=True)
class SealedTable:
    """How a warehouse table is sealed: its key, the time that makes periods, what retention
    reads, and the partition column that bounds the scan."""

    name: str
    key: str
    time_column: str
    retention_column: str
    partition_column: str
    event_type_column: str | None


SEALED_TABLES: Final = (
    SealedTable("events", "event_id", "ingested_at", "occurred_at", "occurred_at", "event_type"),
    SealedTable(
        "dead_letters", "dead_letter_id", "received_at", "received_at", "received_at", None
    ),
)


def floor_hour(moment: datetime) -> datetime:
    """The start of the UTC hour holding ``moment``."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def pairs_digest(pairs: Iterable[tuple[str, str]]) -> str:
    """SHA-256 over the pairs sorted, one ``key<TAB>hash<LF>`` line each (duplicates kept)."""
    digest = hashlib.sha256()
    for key, value in sorted(pairs):
        digest.update(f"{key}\t{value}\n".encode())
    return digest.hexdigest()


def _instant(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def seal_hash(entry: Mapping[str, Any]) -> str:
    """SHA-256 over an entry's fields but ``seal_hash`` (sorted-key compact JSON)."""
    fields = {
        "period_start": _instant(entry["period_start"]),
        "table_name": entry["table_name"],
        "row_count": int(entry["row_count"]),
        "digest": entry["digest"],
        "late_count": int(entry["late_count"]),
        "late_digest": entry["late_digest"],
        "previous_seal_hash": entry["previous_seal_hash"] or GENESIS,
        "sealed_at": _instant(entry["sealed_at"]),
    }
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(b"il-audit-seal-v1\n" + text.encode()).hexdigest()


def entry_order(entry: Mapping[str, Any]) -> tuple[datetime, str]:
    """The chain's order: by period, then table name."""
    return (entry["period_start"].astimezone(UTC), str(entry["table_name"]))
