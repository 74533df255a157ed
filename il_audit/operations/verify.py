"""``il-audit verify``: recompute the seals and compare the tables with them.

Three checks, in order:

1. **the chain**: each entry's ``seal_hash`` recomputed, each ``previous_seal_hash`` the
   hash of the entry before; a failure means the ledger itself was changed;
2. **the sealed sets**: each entry's count and digest (and late count and digest)
   recomputed from ``audit_ledger_rows``;
3. **the rows**: every row now in a sealed period, hashed as it is now
   (:func:`~il_audit.schemas.integrity.row_hash`), against the pairs sealed for that
   period (its own seal and any later seal's late section). Per key: a pair found again is
   *intact*; a sealed pair whose key is there with another hash is *changed*; a sealed
   pair whose key is gone is *missing*; a row no seal holds is *added*.

Explained, never flagged: a changed row whose ``erased_by`` names an
``audit.erasure.completed`` record (and no more rows of the table claim that erasure than
the record counted); a missing row that its family's retention has expired (a period
whose every row expired is reported as expired). Anything else is unexplained: exit 1.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from il_audit.operations.errors import LedgerError
from il_audit.operations.ledger_store import LedgerStore, Row
from il_audit.schemas.integrity import row_hash
from il_audit.schemas.ledger import (
    GENESIS,
    PERIOD,
    SEALED_TABLES,
    SealedTable,
    floor_hour,
    pairs_digest,
    seal_hash,
)
from il_audit.schemas.retention import DEAD_LETTERS_FAMILY, RetentionPolicy, cutoff


@dataclass(frozen=True, slots=True)
class Finding:
    """One row verify reports: what happened, and the explanation if there is one."""

    kind: str
    """missing, changed or added."""
    table_name: str
    period_start: datetime
    row_key: str
    sealed_hash: str | None
    current_hash: str | None
    explanation: str | None = None
    """erased:<erasure id>, retention:<family or dead_letters>, or None (unexplained)."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "kind": self.kind,
            "table_name": self.table_name,
            "period_start": self.period_start.isoformat(),
            "row_key": self.row_key,
            "sealed_hash": self.sealed_hash,
            "current_hash": self.current_hash,
            "explanation": self.explanation,
        }


@dataclass
class VerifyReport:
    """Everything verify found; ``ok`` when nothing is unexplained."""

    target: str
    since: datetime | None
    until: datetime | None
    entries: int = 0
    ledger_problems: list[str] = field(default_factory=list)
    periods_checked: int = 0
    periods_intact: int = 0
    periods_expired: int = 0
    rows_intact: int = 0
    rows_late: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def unexplained(self) -> list[Finding]:
        """Findings nothing explains."""
        return [finding for finding in self.findings if finding.explanation is None]

    @property
    def ok(self) -> bool:
        """No ledger problem and no unexplained finding."""
        return not self.ledger_problems and not self.unexplained

    def as_dict(self) -> dict[str, Any]:
        """Stable snake_case keys; times as ISO 8601."""
        explained = [f for f in self.findings if f.explanation is not None]
        return {
            "target": self.target,
            "ok": self.ok,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "entries": self.entries,
            "ledger_intact": not self.ledger_problems,
            "ledger_problems": self.ledger_problems,
            "periods": {
                "checked": self.periods_checked,
                "intact": self.periods_intact,
                "expired": self.periods_expired,
            },
            "rows": {
                "intact": self.rows_intact,
                "late": self.rows_late,
                "missing": sum(1 for f in self.unexplained if f.kind == "missing"),
                "changed": sum(1 for f in self.unexplained if f.kind == "changed"),
                "added": sum(1 for f in self.unexplained if f.kind == "added"),
                "explained": len(explained),
            },
            "unexplained": [f.as_dict() for f in self.unexplained],
            "explained": [f.as_dict() for f in explained],
        }


def _check_chain(entries: list[Row], report: VerifyReport) -> None:
    previous = GENESIS
    for entry in entries:
        name = f"{entry['table_name']} {entry['period_start'].astimezone(UTC).isoformat()}"
        if (entry["previous_seal_hash"] or GENESIS) != previous:
            report.ledger_problems.append(f"{name}: previous_seal_hash breaks the chain")
        if seal_hash(entry) != entry["seal_hash"]:
            report.ledger_problems.append(f"{name}: seal_hash does not match the entry")
        previous = entry["seal_hash"]


def _check_sets(entries: list[Row], rows: list[Row], report: VerifyReport) -> None:
    by_seal: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_seal[row["seal_hash"]].append(row)
    for entry in entries:
        sealed = by_seal.get(entry["seal_hash"], [])
        name = f"{entry['table_name']} {entry['period_start'].astimezone(UTC).isoformat()}"
        for late, count, digest in ((False, "row_count", "digest"), (True, "late_count",
                                                                     "late_digest")):  # fmt: skip
            pairs = [(r["row_key"], r["row_hash"]) for r in sealed if bool(r["late"]) is late]
            if len(pairs) != entry[count] or pairs_digest(pairs) != entry[digest]:
                report.ledger_problems.append(f"{name}: the sealed rows do not match its {digest}")


def _expired(row: Row, table: SealedTable, policy: RetentionPolicy, now: datetime) -> str | None:
    """The retention family that has expired this sealed row by ``now``, if any."""
    when = row.get("retention_time")
    if when is None:
        return None
    if table.event_type_column is None:
        family, days = DEAD_LETTERS_FAMILY, policy.dead_letter_days
    else:
        event_type = str(row.get("event_type") or "")
        family, days = policy.family_of(event_type), policy.days_for(event_type)
    if days is not None and when.astimezone(UTC) < cutoff(days, now):
        return f"retention:{family}"
    return None


def _compare(
    table: SealedTable,
    period: datetime,
    sealed: list[Row],
    current: list[Row],
    context: _Context,
    report: VerifyReport,
) -> bool:
    """Findings of one period of one table; True when every sealed row is there, intact."""
    by_key: dict[str, list[Row]] = defaultdict(list)
    for row in sealed:
        by_key[str(row["row_key"])].append(row)
    now_by_key: dict[str, list[tuple[str, Row]]] = defaultdict(list)
    for row in current:
        now_by_key[str(row[table.key])].append((row_hash(table.name, row), row))
    intact = True
    expired = 0
    for key in sorted(set(by_key) | set(now_by_key)):
        left = list(by_key.get(key, []))
        right = list(now_by_key.get(key, []))
        for sealed_row in list(left):
            match = next((item for item in right if item[0] == sealed_row["row_hash"]), None)
            if match is not None:
                left.remove(sealed_row)
                right.remove(match)
                report.rows_intact += 1
                report.rows_late += bool(sealed_row["late"])
        for sealed_row in left:
            intact = False
            if right:
                current_hash, row = right.pop(0)
                erasure = row.get("erased_by")
                why = f"erased:{erasure}" if erasure in context.honoured(table) else None
                sealed_hash = sealed_row["row_hash"]
                report.findings.append(
                    Finding("changed", table.name, period, key, sealed_hash, current_hash, why)
                )
                continue
            why = _expired(sealed_row, table, context.policy, context.now)
            expired += why is not None
            report.findings.append(
                Finding("missing", table.name, period, key, sealed_row["row_hash"], None, why)
            )
        for current_hash, _row in right:
            intact = False
            report.findings.append(
                Finding("added", table.name, period, key, None, current_hash, None)
            )
    if sealed and expired == len(sealed):
        report.periods_expired += 1
    return intact


@dataclass
class _Context:
    store: LedgerStore
    policy: RetentionPolicy
    now: datetime
    _erasures: dict[str, dict[str, int]] | None = None
    _honoured: dict[str, set[str]] = field(default_factory=dict)

    def honoured(self, table: SealedTable) -> set[str]:
        """Erasure ids recorded in ``events`` whose claims on ``table`` do not exceed the
        record's own count for it."""
        if table.name not in self._honoured:
            if self._erasures is None:
                self._erasures = self.store.erasures()
            claims = self.store.erasure_claims(table)
            self._honoured[table.name] = {
                erasure
                for erasure, count in claims.items()
                if erasure in self._erasures and count <= self._erasures[erasure].get(table.name, 0)
            }
        return self._honoured[table.name]


def verify(
    store: LedgerStore,
    policy: RetentionPolicy,
    *,
    now: datetime,
    since: datetime | None = None,
    until: datetime | None = None,
) -> VerifyReport:
    """Check the chain, the sealed sets and the rows of the sealed periods in
    ``[since, until)`` (module doc)."""
    if not store.has_ledger():
        raise LedgerError(
            f"{store.description} has no seals to verify: run `il-audit ledger seal` first"
        )
    report = VerifyReport(store.description, since, until)
    entries = store.entries()
    report.entries = len(entries)
    _check_chain(entries, report)
    if not entries:
        return report
    start = floor_hour(since) if since else entries[0]["period_start"].astimezone(UTC)
    end = until or entries[-1]["period_start"].astimezone(UTC) + PERIOD
    chosen = [e for e in entries if start <= e["period_start"] < end]
    if not chosen:
        return report
    start = min(e["period_start"] for e in chosen).astimezone(UTC)
    end = max(e["period_start"] for e in chosen).astimezone(UTC) + PERIOD
    known = {entry["seal_hash"] for entry in entries}
    rows = [row for row in store.ledger_rows(start, end) if row["seal_hash"] in known]
    _check_sets(chosen, [r for r in rows if start <= r["sealed_in"] < end], report)
    context = _Context(store, policy, now)
    for table in SEALED_TABLES:
        sealed_by: dict[datetime, list[Row]] = defaultdict(list)
        for row in rows:
            if row["table_name"] == table.name and start <= row["period_start"] < end:
                sealed_by[row["period_start"].astimezone(UTC)].append(row)
        current_by: dict[datetime, list[Row]] = defaultdict(list)
        for row in store.full_rows(table, start, end):
            current_by[floor_hour(row[table.time_column])].append(row)
        periods = sorted(
            {e["period_start"].astimezone(UTC) for e in chosen if e["table_name"] == table.name}
        )
        for period in periods:
            report.periods_checked += 1
            if _compare(table, period, sealed_by[period], current_by[period], context, report):
                report.periods_intact += 1
    return report
