"""``il-audit migrate from-0.1``: make a dataset il-audit 0.1.3 wrote read as one with ``events``.

il-audit 0.1.3 wrote twelve typed tables; il-audit writes ``events`` and keeps
the old names alive as seed-compatible views (``il_audit/sql/compat/``).
BigQuery cannot turn a table into a view, so the migration:

1. refuses while a 0.1.3 writer is still active: a seed table with a row
   newer than ``active_minutes`` (``--force`` goes on anyway);
2. renames each seed table that has a compatible view to ``legacy_<name>``,
   with a table copy followed by a drop of the original (``cost_rates`` too,
   when it still has the 0.1.3 columns);
3. runs the BigQuery half of ``infra apply``: our tables (a new ``cost_rates``
   with NUMERIC prices), and every view, each compat view being the
   ``UNION ALL`` of its ``legacy_<name>`` rows and the new rows;
4. merges the 0.1.3 rates (``legacy_cost_rates``) into ``cost_rates``
   (:func:`convert_seed_rates` says how).

It is idempotent: a second run finds nothing to rename, changes no view and
merges no rate twice. A run interrupted between the copy and the drop is
finished by the next one when both tables hold the same rows; if they differ,
the table is left alone and reported. Every 0.1.3 table has a compatible view
but ``cost_rates``, which stays a table (step 4); ``chat_turns`` and
``chat_sessions`` (which 0.1.3 defined but did not write itself, and 1.0.35
wrote with more columns) are migrated like the others: their views read every
view column the legacy table has.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal, Protocol

from il_audit.config.settings import AuditSettings
from il_audit.operations.infra import (
    BigQueryProvisioner,
    Change,
    apply_warehouse,
    bigquery_client,
)
from il_audit.operations.migrate_rates import (
    RateRowKey,
    RatesMerge,
    convert_seed_rates,
    is_seed_cost_rates,
    row_tier,
)
from il_audit.schemas.seed_tables import activity_column, legacy_name

COST_RATES: Final = "cost_rates"
DEFAULT_ACTIVE_MINUTES: Final = 60
StepAction = Literal["rename", "merge", "skip", "refuse", "forced", "problem"]


class Reportable(Protocol):
    """Anything with a one-line description (steps and infra changes)."""

    def line(self) -> str:
        """One line for humans."""
        ...


@dataclass(frozen=True)
class Step:
    """One thing the migration did (or would do) to one table."""

    action: StepAction
    name: str
    detail: str = ""

    def line(self) -> str:
        """One line for humans."""
        symbol = {
            "rename": ">",
            "merge": "+",
            "skip": "-",
            "refuse": "!",
            "forced": "!",
            "problem": "!",
        }[self.action]
        return f"{symbol} {self.action:<12} {self.name}" + (
            f"  ({self.detail})" if self.detail else ""
        )


@dataclass
class MigrationReport:
    """Everything the migration did or would do."""

    dry_run: bool
    steps: list[Step] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    rates: RatesMerge | None = None

    @property
    def refused(self) -> bool:
        """Whether an active 0.1.3 writer stopped the run."""
        return any(step.action == "refuse" for step in self.steps)

    @property
    def ok(self) -> bool:
        """Whether the migration is complete: nothing refused, no problem, and no 0.1.3
        table still where a compat view or our cost_rates belongs."""
        from il_audit.sql import COMPAT_VIEW_NAMES

        migrated = {*COMPAT_VIEW_NAMES, COST_RATES}
        blocked = any(
            change.action == "drift" and change.name.rsplit(".", 1)[-1] in migrated
            for change in self.changes
        )
        return not blocked and not any(step.action in ("refuse", "problem") for step in self.steps)

    def summary(self) -> str:
        """Counts for humans."""
        verb = "would " if self.dry_run else ""
        if self.refused:
            return "refused: a 0.1.3 writer is still active (stop it, or pass --force)"
        renamed = sum(step.action == "rename" for step in self.steps)
        problems = sum(step.action == "problem" for step in self.steps)
        views = sum(
            change.kind == "view" and change.action in ("create", "update")
            for change in self.changes
        )
        drift = sum(change.action == "drift" for change in self.changes)
        parts = [f"{verb}rename {renamed} table(s)", f"{verb}create or update {views} view(s)"]
        if self.rates is not None:
            parts.append(
                f"rates: {len(self.rates.new)} {verb}merge, {self.rates.present} already "
                f"present, {len(self.rates.skipped)} skipped"
            )
        if problems:
            parts.append(f"{problems} problem(s)")
        if drift:
            parts.append(f"{drift} drift")
        if not renamed and not views and not (self.rates and self.rates.new):
            return "nothing to migrate (" + "; ".join(parts) + ")"
        return "; ".join(parts)


@dataclass(frozen=True)
class _Candidate:
    name: str
    table: Any
    legacy: Any


class _Warehouse:
    """The few BigQuery calls the migration makes (queries, copy, drop)."""

    def __init__(self, provisioner: BigQueryProvisioner) -> None:
        self.provisioner = provisioner
        self.client = provisioner.client

    def ref(self, name: str) -> str:
        return f"{self.provisioner.dataset_id}.{name}"

    def count_and_last(self, name: str, column: str | None) -> tuple[int, datetime | None]:
        """Rows of a table and the latest value of its activity column."""
        last = f"MAX({column})" if column else "CAST(NULL AS TIMESTAMP)"
        sql = f"SELECT COUNT(*) AS n, {last} AS last_row FROM `{self.ref(name)}`"  # noqa: S608
        (row,) = list(self.client.query(sql).result())
        return int(row["n"]), row["last_row"]

    def copy(self, source: str, destination: str) -> None:
        from google.cloud import bigquery

        config = bigquery.CopyJobConfig(
            write_disposition=bigquery.WriteDisposition.WRITE_EMPTY,
            create_disposition=bigquery.CreateDisposition.CREATE_IF_NEEDED,
        )
        self.client.copy_table(self.ref(source), self.ref(destination), job_config=config).result()

    def drop(self, name: str) -> None:
        self.client.delete_table(self.ref(name))


def migrate_from_0_1(
    settings: AuditSettings,
    *,
    dry_run: bool = False,
    force: bool = False,
    active_minutes: int = DEFAULT_ACTIVE_MINUTES,
    now: datetime | None = None,
    client: Any = None,
    progress: Callable[[Reportable], None] | None = None,
) -> MigrationReport:
    """Migrate the dataset of ``settings``; see the module docstring for the steps."""
    from il_audit.sql import COMPAT_VIEW_NAMES

    if not settings.project:
        raise ValueError("migrate needs a project: set GOOGLE_CLOUD_PROJECT or IL_BQ_LOGS_PROJECT")
    report = MigrationReport(dry_run=dry_run)
    now = now or datetime.now(UTC)

    def step(item: Step) -> None:
        report.steps.append(item)
        if progress is not None:
            progress(item)

    def change(item: Change) -> None:
        report.changes.append(item)
        if progress is not None:
            progress(item)

    provisioner = BigQueryProvisioner(
        client or bigquery_client(settings), settings.dataset, settings.dataset_location
    )
    warehouse = _Warehouse(provisioner)
    if provisioner.get_dataset() is None:
        step(Step("problem", provisioner.dataset_id, "no such dataset: nothing to migrate"))
        return report

    candidates = _candidates(provisioner, (*COMPAT_VIEW_NAMES, COST_RATES), step)

    if not _writers_quiet(warehouse, candidates, now, active_minutes, force, step):
        return report

    renamed = _rename(warehouse, candidates, dry_run, step)

    def record(item: Change) -> None:
        if dry_run and item.action == "drift" and item.name.rsplit(".", 1)[-1] in renamed:
            # The table is renamed before apply runs, so apply will create the view/table.
            name = item.name.rsplit(".", 1)[-1]
            detail = (
                f"UNION ALL of {legacy_name(name)} and the new rows" if item.kind == "view" else ""
            )
            item = Change(item.kind, item.name, "create", detail)
        change(item)

    apply_warehouse(provisioner, settings, dry_run=dry_run, record=record)
    report.rates = _merge_rates(warehouse, settings, dry_run, renamed, step)
    return report


def _candidates(
    provisioner: BigQueryProvisioner, names: Iterable[str], step: Callable[[Step], None]
) -> list[_Candidate]:
    """The 0.1.3 tables still in place (and any legacy copy of theirs)."""
    found = []
    for name in names:
        table = provisioner.get(name)
        legacy = provisioner.get(legacy_name(name))
        if table is None or table.table_type != "TABLE":
            continue
        if name == COST_RATES and not is_seed_cost_rates(table):
            continue
        if legacy is not None and legacy.table_type != "TABLE":
            step(Step("problem", name, f"{legacy_name(name)} exists and is not a table"))
            continue
        found.append(_Candidate(name, table, legacy))
    return found


def _writers_quiet(
    warehouse: _Warehouse,
    candidates: list[_Candidate],
    now: datetime,
    active_minutes: int,
    force: bool,
    step: Callable[[Step], None],
) -> bool:
    """False (and a refuse step per table) when a 0.1.3 writer wrote within active_minutes."""
    since = now - timedelta(minutes=active_minutes)
    active = []
    for candidate in candidates:
        column = activity_column(candidate.name)
        if column is None:
            continue
        _, last = warehouse.count_and_last(candidate.name, column)
        if last is not None and last > since:
            active.append((candidate.name, last))
    for name, last in active:
        when = last.astimezone(UTC).isoformat(timespec="seconds")
        if force:
            step(Step("forced", name, f"last 0.1.3 row at {when}: going on anyway (--force)"))
        else:
            step(
                Step(
                    "refuse",
                    name,
                    f"last 0.1.3 row at {when}, within {active_minutes} min: stop the 0.1.3 "
                    "apps first (rows they write after the rename are lost), or --force",
                )
            )
    return force or not active


def _rename(
    warehouse: _Warehouse,
    candidates: list[_Candidate],
    dry_run: bool,
    step: Callable[[Step], None],
) -> set[str]:
    """Copy each candidate to legacy_<name> and drop it; returns the names renamed."""
    renamed: set[str] = set()
    for candidate in candidates:
        name, legacy = candidate.name, legacy_name(candidate.name)
        column = activity_column(name)
        if candidate.legacy is not None:
            here = warehouse.count_and_last(name, column)
            there = warehouse.count_and_last(legacy, column)
            if here != there:
                step(
                    Step(
                        "problem",
                        name,
                        f"both {name} ({here[0]} rows) and {legacy} ({there[0]} rows) exist and "
                        f"differ: compare them, keep one (e.g. append {name} to {legacy}, then "
                        "drop it) and run again",
                    )
                )
                continue
            if not dry_run:
                warehouse.drop(name)
            renamed.add(name)
            step(Step("rename", name, f"{legacy} already holds its {here[0]} rows: drop {name}"))
            continue
        rows, _ = warehouse.count_and_last(name, column)
        if dry_run:
            renamed.add(name)
            step(Step("rename", name, f"would copy {rows} rows to {legacy}, then drop {name}"))
            continue
        warehouse.copy(name, legacy)
        copied, _ = warehouse.count_and_last(legacy, column)
        now_rows, _ = warehouse.count_and_last(name, column)
        if copied != now_rows:
            step(
                Step(
                    "problem",
                    name,
                    f"{name} has {now_rows} rows but its copy {legacy} {copied}: a writer is "
                    f"active; {name} is kept, run again when it is stopped",
                )
            )
            continue
        warehouse.drop(name)
        renamed.add(name)
        step(Step("rename", name, f"{copied} rows copied to {legacy}, {name} dropped"))
    return renamed


def _merge_rates(
    warehouse: _Warehouse,
    settings: AuditSettings,
    dry_run: bool,
    renamed: set[str],
    step: Callable[[Step], None],
) -> RatesMerge | None:
    """Merge legacy_cost_rates into cost_rates (in a dry run: the table about to be renamed)."""
    from il_audit.subscriber_fn.sinks.bigquery import BigQuerySink

    provisioner = warehouse.provisioner
    source = legacy_name(COST_RATES)
    if dry_run and COST_RATES in renamed:
        source = COST_RATES
    elif provisioner.get(source) is None:
        return None
    rows = [dict(row.items()) for row in warehouse.client.list_rows(warehouse.ref(source))]
    existing: list[RateRowKey] = []
    if not (dry_run and COST_RATES in renamed) and provisioner.get(COST_RATES) is not None:
        existing = [
            (str(row["service"]), str(row["model_id"]), row_tier(row), row["effective_from"])
            for row in warehouse.client.list_rows(warehouse.ref(COST_RATES))
        ]
    merge = convert_seed_rates(rows, existing)
    for label, reason in merge.skipped:
        step(Step("skip", f"cost_rates {label}", reason))
    if merge.new and not dry_run:
        sink = BigQuerySink(warehouse.client, settings.dataset, location=settings.dataset_location)
        sink.upsert_cost_rates(merge.new)
    verb = "would merge" if dry_run else "merged"
    step(
        Step(
            "merge",
            COST_RATES,
            f"{verb} {len(merge.new)} 0.1.3 rate(s) from {source}; {merge.present} already "
            f"present, {len(merge.skipped)} skipped",
        )
    )
    return merge
