"""Erasure by person: find a person's rows in every table, apply the inventory, record it.

:func:`erase` works on any :class:`~il_audit.operations.erase_store.ErasureStore`
(DuckDB, BigQuery). What it finds:

- ``events`` rows whose actor (or another role: a reporter, a file owner) is the
  person, and the actor-less rows that share a ``correlation_id`` with the person's
  own rows (the texts and retrieval rows of their chat turns);
- ``dead_letters`` rows whose raw line names the person as its actor;
- rows of every other table with a key (by role columns) and of every ``legacy_*``
  table a migration left (no key: one ``UPDATE`` with ``CASE`` per table).

What it does to a row is the inventory's ``on_erase`` (:mod:`il_audit.operations.erase_plan`);
a re-run changes nothing twice and reuses the first erasure's pseudonym for the same
subject (found by its keyed hash in the earlier ``audit.erasure.completed`` records).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from il_audit.operations.erase_event import erasure_event, new_erasure_id
from il_audit.operations.erase_plan import row_changes
from il_audit.operations.erase_store import (
    Assignment,
    ErasureStore,
    How,
    PendingRowsError,
    Relation,
    Term,
    Where,
)
from il_audit.operations.erase_subject import (
    ACTOR,
    Subject,
    pseudonym,
    role_columns,
    role_match_columns,
    subject_hash,
)
from il_audit.schemas import taxonomy
from il_audit.schemas.errors import UntaggedColumnError
from il_audit.schemas.integrity import ERASED_BY_COLUMN, SALT_COLUMN
from il_audit.schemas.personal_data import OnErase, personal_data
from il_audit.schemas.tables import KEY_COLUMNS

EVENTS: Final = "events"
DEAD_LETTERS: Final = "dead_letters"
LEGACY_PREFIX: Final = "legacy_"
RERUN_AFTER: Final = "re-run after ~90 minutes"

COPIES_REMAIN: Final[Mapping[str, tuple[str, ...]]] = {
    "bigquery": (
        "BigQuery time travel keeps the old rows for the dataset's max_time_travel_hours "
        "(7 days by default), then fail-safe for 7 more days (not readable by you)",
    ),
    "duckdb": (),
    "any": (
        "Pub/Sub: the events topic retains published messages for its retention period "
        "and the dead-letter subscription keeps letters until acked: run "
        "`il-audit dlq purge --actor-uid ...`",
        "spool files on app hosts (IL_AUDIT_SPOOL_DIR) hold messages not yet published, "
        "until they are sent; the CLI cannot reach them",
        "exports, query results and copies made by others are not found",
    ),
}


@dataclass
class TableOutcome:
    """Rows of one physical table: found (would change), changed, and pending."""

    rows: int = 0
    changed: int = 0
    pending: int = 0
    pending_reason: str | None = None


@dataclass
class ErasureReport:
    """What one run found and did (never the subject in clear)."""

    dry_run: bool
    engine: str
    subject_kind: str
    subject_hash: str
    pseudonym: str
    operator: str
    reason: str | None
    erasure_id: str | None = None
    tables: dict[str, TableOutcome] = field(default_factory=dict)
    views: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    copies_remain: list[str] = field(default_factory=list)

    @property
    def pending(self) -> int:
        """Rows the engine would not change yet (BigQuery's streaming buffer)."""
        return sum(outcome.pending for outcome in self.tables.values())

    def to_json(self) -> dict[str, Any]:
        """Stable snake_case keys for ``--format json``."""
        return {
            "dry_run": self.dry_run,
            "engine": self.engine,
            "subject_kind": self.subject_kind,
            "subject_hash": self.subject_hash,
            "erasure_id": self.erasure_id,
            "pseudonym": self.pseudonym,
            "operator": self.operator,
            "reason": self.reason,
            "tables": {
                name: {
                    "rows": outcome.rows,
                    "changed": outcome.changed,
                    "pending": outcome.pending,
                    "pending_reason": outcome.pending_reason,
                }
                for name, outcome in self.tables.items()
            },
            "views": dict(self.views),
            "pending_rows": self.pending,
            "notes": list(self.notes),
            "copies_remain": list(self.copies_remain),
        }


def _term(subject: Subject, column: str) -> Term:
    value = subject.term_value(column)
    return Term(column, value, "eq_ci" if value is not subject.email_pseudonym and
                subject.kind == "email" else "eq")  # fmt: skip


def _erasable(relation: Relation) -> list[str]:
    """Columns whose values erasure may change (tagged, not ``keep``)."""
    chosen = []
    for column in relation.columns:
        try:
            if personal_data(relation.name, column).on_erase is not OnErase.KEEP:
                chosen.append(column)
        except UntaggedColumnError:
            continue
    return chosen


def _prior_pseudonym(store: ErasureStore, events: Relation | None, digest: str) -> str | None:
    """The pseudonym of the first erasure of the same subject, if one was recorded."""
    if events is None:
        return None
    rows = store.fetch(
        events,
        Where((Term("event_type", taxonomy.AUDIT_ERASURE_COMPLETED),)),
        ["event_id", "occurred_at", "payload"],
    )
    earlier = []
    for row in rows:
        payload = row["payload"]
        if isinstance(payload, str):
            payload = json.loads(payload)
        if isinstance(payload, dict) and payload.get("subject_hash") == digest:
            earlier.append((row["occurred_at"], str(payload.get("pseudonym") or "")))
    earlier = [item for item in earlier if item[1]]
    return min(earlier)[1] if earlier else None


@dataclass
class _KeyedPlan:
    relation: Relation
    key: str
    rows: list[dict[str, Any]]
    columns: list[str]


def _keyed_plan(
    store: ErasureStore,
    relation: Relation,
    subject: Subject,
    alias: str,
    prior: str | None,
    erasure_id: str,
) -> _KeyedPlan | None:
    """The rows of a keyed table to change, each with the complete new values."""
    key = KEY_COLUMNS[relation.name][0]
    match = role_match_columns(relation.name, relation.columns, subject)
    erasable = _erasable(relation)
    extra = (
        ["correlation_id"]
        if relation.name == EVENTS and "correlation_id" in relation.columns
        else []
    )
    sealed = [c for c in (SALT_COLUMN, ERASED_BY_COLUMN) if c in relation.columns]
    extra.extend(sealed)
    wanted = list(dict.fromkeys([key, *match, *erasable, *extra]))
    found: dict[Any, tuple[dict[str, Any], bool]] = {}
    if relation.name == DEAD_LETTERS and "raw_line" in relation.columns:
        how: How = "contains_ci" if subject.kind == "email" else "contains"
        needles = tuple(Term("raw_line", needle, how) for needle in subject.needles)
        candidates = store.fetch(relation, Where(needles), wanted)
        for row in candidates:
            if subject.matches_raw(row.get("raw_line")):
                found[row[key]] = (row, True)
    if match:
        terms = tuple(_term(subject, column) for column in match)
        for row in store.fetch(relation, Where(terms), wanted):
            found.setdefault(row[key], (row, False))
    if relation.name == EVENTS and "correlation_id" in relation.columns:
        _add_correlated(store, relation, subject, match, found, wanted, key, prior)
    changed_rows: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for row, whole in found.values():
        changes = row_changes(relation.name, row, subject, match, alias, whole_row=whole)
        if changes and sealed:
            # Every changed row loses its salt (nobody can confirm a guess by re-hashing the
            # rest) and names the erasure, which `il-audit verify` reads to explain the change.
            changes[SALT_COLUMN] = None
            changes[ERASED_BY_COLUMN] = erasure_id
        if changes:
            changed_rows.append((row, changes))
    if not changed_rows:
        return None
    columns = sorted({column for _, changes in changed_rows for column in changes})
    complete = [
        {key: row[key], **{c: row[c] for c in columns}, **changes} for row, changes in changed_rows
    ]
    return _KeyedPlan(relation, key, complete, columns)


def _add_correlated(
    store: ErasureStore,
    relation: Relation,
    subject: Subject,
    match: Mapping[str, str],
    found: dict[Any, tuple[dict[str, Any], bool]],
    wanted: list[str],
    key: str,
    prior: str | None,
) -> None:
    """Actor-less events sharing a ``correlation_id`` with the subject's own events."""
    correlation = "correlation_id"
    ids: set[str | None] = {
        row.get(correlation)
        for row, _ in found.values()
        if any(subject.matches(row.get(c)) for c, role in match.items() if role == ACTOR)
    }
    if prior is not None:  # a re-run: the subject's own rows carry the pseudonym by now
        ids |= {
            row[correlation]
            for row in store.fetch(relation, Where((Term("actor_uid", prior),)), [correlation])
        }
    present = sorted(i for i in ids if i is not None)
    if not present:
        return
    actors = tuple(c for c in ("actor_uid", "actor_email") if c in relation.columns)
    where = Where((Term(correlation, tuple(present), "in"),), all_null=actors)
    for row in store.fetch(relation, where, wanted):
        found.setdefault(row[key], (row, True))


def _legacy_update(
    relation: Relation, subject: Subject, alias: str
) -> tuple[list[Assignment], Where] | None:
    """``CASE`` assignments for a table without a key: the actor's row, or a role's columns."""
    match = role_match_columns(relation.name, relation.columns, subject)
    if not match:
        return None
    roles: dict[str, Where] = {}
    for column, role in match.items():
        previous = roles.get(role, Where(()))
        roles[role] = Where((*previous.any_of, _term(subject, column)))
    assignments = []
    for column in _erasable(relation):
        cases: list[tuple[Where, str | None]] = []
        if ACTOR in roles:
            tag = personal_data(relation.name, column)
            # SCRUB cannot run in SQL: free-form JSON of a keyless table is set to NULL.
            cases.append((roles[ACTOR], alias if tag.on_erase is OnErase.PSEUDONYMISE else None))
        for role, where in roles.items():
            if role != ACTOR and column in role_columns(relation.name, [column], role):
                cases.append((where, None))
        if cases:
            assignments.append(Assignment(column, tuple(cases)))
    every = Where(tuple(term for where in roles.values() for term in where.any_of))
    return assignments, every


def erase(
    store: ErasureStore,
    subject: Subject,
    *,
    hash_key: str | None,
    engine: str,
    dry_run: bool,
    operator: str,
    reason: str | None = None,
    environment: str | None = None,
) -> ErasureReport:
    """Erase (or with ``dry_run`` count) the subject's rows in ``store``; see the module doc.

    ``engine`` is ``duckdb`` or ``bigquery`` (which copies remain). Raises
    :class:`~il_audit.operations.errors.ErasureError` without a hash key.
    """
    digest = subject_hash(subject, hash_key)
    relations = store.relations()
    events = next((r for r in relations if r.name == EVENTS and r.kind == "table"), None)
    prior = _prior_pseudonym(store, events, digest)
    erasure_id = None if dry_run else new_erasure_id()
    alias = prior or pseudonym(erasure_id or "<erasure id>")
    report = ErasureReport(
        dry_run, store.description, subject.kind, digest, alias, operator, reason, erasure_id
    )
    report.copies_remain = [*COPIES_REMAIN.get(engine, ()), *COPIES_REMAIN["any"]]
    keyed: list[_KeyedPlan] = []
    keyless: list[tuple[Relation, list[Assignment], Where]] = []
    for relation in relations:
        if relation.kind == "view":
            column = f"{ACTOR}{subject.suffix}"
            # The stand-in reports no columns for views: ask, count() answers 0 if absent.
            if dry_run and (column in relation.columns or not relation.columns):
                report.views[relation.name] = store.count(
                    relation, Where((_term(subject, column),))
                )
            continue
        key = KEY_COLUMNS.get(relation.name)
        if key is not None and len(key) == 1 and not relation.name.startswith(LEGACY_PREFIX):
            plan = _keyed_plan(store, relation, subject, alias, prior, erasure_id or "<erasure id>")
            report.tables[relation.name] = TableOutcome(rows=len(plan.rows) if plan else 0)
            if plan is not None:
                keyed.append(plan)
            continue
        update = _legacy_update(relation, subject, alias)
        if update is not None:
            report.tables[relation.name] = TableOutcome(rows=store.count(relation, update[1]))
            keyless.append((relation, *update))
    if dry_run:
        report.notes = store.finish(False)
        return report
    for plan in keyed:
        outcome = report.tables[plan.relation.name]
        try:
            outcome.changed = store.update_keyed(plan.relation, plan.key, plan.rows, plan.columns)
        except PendingRowsError as exc:
            outcome.pending, outcome.pending_reason = exc.rows, str(exc)
    for relation, assignments, where in keyless:
        outcome = report.tables[relation.name]
        try:
            changed = store.update_where(relation, assignments, where)
            outcome.changed = outcome.rows if changed is None else changed
        except PendingRowsError as exc:
            outcome.pending, outcome.pending_reason = outcome.rows, str(exc)
    assert erasure_id is not None
    store.write_event(
        erasure_event(
            erasure_id,
            subject_hash=digest,
            subject_kind=subject.kind,
            operator=operator,
            reason=reason,
            pseudonym=alias,
            engine=engine,
            rows_by_table={name: o.changed for name, o in report.tables.items()},
            rows_pending={name: o.pending for name, o in report.tables.items() if o.pending},
            environment=environment,
        )
    )
    report.notes = store.finish(True)
    if report.pending:
        report.notes.append(
            f"{report.pending} rows could not be changed yet (BigQuery's streaming buffer): "
            f"{RERUN_AFTER}; a re-run changes only what is left"
        )
    return report
