"""``il-audit ledger seal``: seal every closed hour of ingestion not sealed yet, in order.

A period is closed once its end is ``lateness`` old (rows still in flight when the hour
ended have landed by then). Each run:

1. finds the first unsealed period (after the last entry; for the first seal, the hour of
   the earliest row) and the last closed one (``until`` caps it);
2. takes the late rows: rows of periods sealed before that no seal holds (an anti-join
   over the last ``LATE_WINDOW``); they go into the late section of this run's first
   entry of their table, never into an earlier seal;
3. reads each table's rows of the new periods (bounded scan: ``ledger_store``), and
   chains one entry per period and table: ``digest`` over the ordered
   ``(row_key, row_hash)`` pairs, ``seal_hash`` over the entry with the previous hash;
4. writes the sealed pairs, then the entries (``--dry-run``: neither).

Rows written before row hashes (``row_hash`` NULL) are sealed with the hash of what they
hold when sealed. See docs/integrity.md for what a seal proves.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from il_audit.operations.errors import LedgerError
from il_audit.operations.ledger_store import LedgerStore, Row
from il_audit.schemas.integrity import row_hash
from il_audit.schemas.ledger import (
    GENESIS,
    LATE_WINDOW,
    PERIOD,
    SEALED_TABLES,
    SealedTable,
    floor_hour,
    pairs_digest,
    seal_hash,
)

DEFAULT_LATENESS: Final = timedelta(minutes=30)
PERIODS_PER_READ: Final = 24
"""Hours read per query when catching up (a first seal of an old dataset)."""


@dataclass(frozen=True, slots=True)
class SealedPeriod:
    """One entry of the run: a period of one table."""

    period_start: datetime
    table_name: str
    row_count: int
    late_count: int
    seal_hash: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: times as ISO 8601."""
        data = asdict(self)
        data["period_start"] = self.period_start.isoformat()
        return data


@dataclass
class SealResult:
    """What one run sealed (or, with ``dry_run``, would seal). JSON-serialisable through
    :meth:`as_dict`, so an exporter can write it as it is."""

    target: str
    dry_run: bool
    sealed_at: datetime
    closed_before: datetime
    """Periods ending at or before this instant were closed."""
    previous_seal_hash: str
    periods: list[SealedPeriod] = field(default_factory=list)
    entries: list[Row] = field(default_factory=list, repr=False)
    """The ``audit_ledger`` rows written (or that would be), for an exporter."""
    bytes_processed: int | None = None
    """Bytes BigQuery reported for the run's queries (None on DuckDB)."""

    @property
    def last_seal_hash(self) -> str:
        """The head of the chain after this run."""
        return self.periods[-1].seal_hash if self.periods else self.previous_seal_hash

    def as_dict(self) -> dict[str, Any]:
        """Stable snake_case keys; times as ISO 8601."""
        return {
            "target": self.target,
            "dry_run": self.dry_run,
            "sealed_at": self.sealed_at.isoformat(),
            "closed_before": self.closed_before.isoformat(),
            "previous_seal_hash": self.previous_seal_hash,
            "last_seal_hash": self.last_seal_hash,
            "sealed_periods": len({p.period_start for p in self.periods}),
            "rows": sum(p.row_count for p in self.periods),
            "late_rows": sum(p.late_count for p in self.periods),
            "bytes_processed": self.bytes_processed,
            "periods": [period.as_dict() for period in self.periods],
            "entries": [_entry_json(entry) for entry in self.entries],
        }


def _entry_json(entry: Row) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in entry.items()}


def _hashed(store: LedgerStore, table: SealedTable, rows: list[Row], start: datetime,
            end: datetime) -> list[Row]:  # fmt: skip
    """``rows`` with each missing ``row_hash`` (rows older than row hashes) computed."""
    if all(row["row_hash"] for row in rows):
        return rows
    computed: dict[str, list[str]] = defaultdict(list)
    for full in store.full_rows(table, start, end):
        if not full.get("row_hash"):
            computed[str(full[table.key])].append(row_hash(table.name, full))
    for row in rows:
        if not row["row_hash"]:
            pending = computed.get(str(row["row_key"]))
            row["row_hash"] = pending.pop() if pending else "unhashed"
    return rows


def _ledger_row(table: SealedTable, row: Row, period: datetime, sealed_in: datetime,
                late: bool) -> Row:  # fmt: skip
    return {
        "period_start": period,
        "table_name": table.name,
        "row_key": str(row["row_key"]),
        "row_hash": row["row_hash"],
        "late": late,
        "sealed_in": sealed_in,
        "seal_hash": "",  # filled once the entry's hash is known
        "event_type": row.get("event_type"),
        "retention_time": row.get("retention_time"),
    }


def _periods(start: datetime, end: datetime) -> list[datetime]:
    found = []
    while start < end:
        found.append(start)
        start += PERIOD
    return found


def _collect(
    store: LedgerStore,
    table: SealedTable,
    periods: Sequence[datetime],
    horizon: datetime,
    rows_by: dict[tuple[datetime, str], list[Row]],
    *,
    late: bool,
) -> None:
    """Add ``table``'s rows of the new periods (and, with ``late``, its late rows) to
    ``rows_by``, keyed by (the period of the entry that seals them, table)."""
    first = periods[0]
    if late:  # only periods that have been sealed can have late rows
        # The usual run (a few new hours) reads the late window and the new hours in one
        # anti-join: new rows are in no seal yet. One scan instead of two (docs/costs.md).
        together = len(periods) <= PERIODS_PER_READ
        window_end = horizon if together else first
        found = store.late_rows(table, first - LATE_WINDOW, window_end)
        for row in _hashed(store, table, found, first - LATE_WINDOW, window_end):
            hour = floor_hour(row["row_time"])
            if hour < first:
                rows_by[(first, table.name)].append(_ledger_row(table, row, hour, first, True))
            else:
                rows_by[(hour, table.name)].append(_ledger_row(table, row, hour, hour, False))
        if together:
            return
    for index in range(0, len(periods), PERIODS_PER_READ):
        start = periods[index]
        end = periods[min(index + PERIODS_PER_READ, len(periods)) - 1] + PERIOD
        for row in _hashed(store, table, store.sealable_rows(table, start, end), start, end):
            hour = floor_hour(row["row_time"])
            rows_by[(hour, table.name)].append(_ledger_row(table, row, hour, hour, False))


def seal(
    store: LedgerStore,
    *,
    now: datetime,
    lateness: timedelta = DEFAULT_LATENESS,
    until: datetime | None = None,
    dry_run: bool = False,
    late_every_hours: int = 1,
    clock: Callable[[], datetime] | None = None,
) -> SealResult:
    """Seal every closed, unsealed period of ``events`` and ``dead_letters`` (module doc).

    ``late_every_hours`` (a divisor of 24) looks for late rows only in runs that seal an
    hour starting at a multiple of it (UTC); the late rows wait in the meantime.
    """
    if late_every_hours < 1 or 24 % late_every_hours:
        raise LedgerError(f"late_every_hours must divide 24, not {late_every_hours}")
    if not dry_run:  # a dry run creates nothing, not even the empty ledger
        store.ensure()
    entries = store.entries() if store.has_ledger() else []
    horizon = floor_hour(min(now - lateness, until or now))
    previous = entries[-1]["seal_hash"] if entries else GENESIS
    result = SealResult(store.description, dry_run, now, horizon, previous)
    result.bytes_processed = getattr(store, "bytes_processed", None)  # updated at the end
    if entries:
        first = entries[-1]["period_start"].astimezone(UTC) + PERIOD
    else:
        earliest = [t for t in (store.earliest(table) for table in SEALED_TABLES) if t]
        if not earliest:
            return result
        first = floor_hour(min(earliest))
    periods = _periods(first, horizon)
    if not periods:
        return result
    rows_by: dict[tuple[datetime, str], list[Row]] = defaultdict(list)
    # The late check reads the whole late window: with late_every_hours > 1 it runs only in
    # the runs that seal an hour starting at a multiple of it (docs/costs.md: the saving).
    late = bool(entries) and any(p.hour % late_every_hours == 0 for p in periods)
    for table in SEALED_TABLES:
        _collect(store, table, periods, horizon, rows_by, late=late)
    sealed_at = (clock or (lambda: now))()
    new_entries, new_rows = _chain(periods, rows_by, previous, sealed_at)
    result.entries = new_entries
    result.periods = [
        SealedPeriod(
            e["period_start"], e["table_name"], e["row_count"], e["late_count"], e["seal_hash"]
        )
        for e in new_entries
    ]
    if not dry_run:
        store.append(new_entries, new_rows)
    result.bytes_processed = getattr(store, "bytes_processed", None)
    return result


def _chain(
    periods: Sequence[datetime],
    rows_by: dict[tuple[datetime, str], list[Row]],
    previous: str,
    sealed_at: datetime,
) -> tuple[list[Row], list[Row]]:
    """The entries, in chain order, and their sealed rows (each naming its entry)."""
    entries: list[Row] = []
    written: list[Row] = []
    for period in periods:
        for table in sorted(SEALED_TABLES, key=lambda t: t.name):
            rows = rows_by.get((period, table.name), [])
            own = [(r["row_key"], r["row_hash"]) for r in rows if not r["late"]]
            late = [(r["row_key"], r["row_hash"]) for r in rows if r["late"]]
            entry: Row = {
                "period_start": period,
                "table_name": table.name,
                "row_count": len(own),
                "digest": pairs_digest(own),
                "late_count": len(late),
                "late_digest": pairs_digest(late),
                "previous_seal_hash": previous,
                "sealed_at": sealed_at,
            }
            entry["seal_hash"] = previous = seal_hash(entry)
            for row in rows:
                row["seal_hash"] = previous
            entries.append(entry)
            written.extend(rows)
    return entries, written
