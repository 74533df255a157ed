"""``il-audit migrate from-0.1`` / ``from-1.0``: make a dataset an older il-audit wrote read as
one with ``events``.

il-audit 0.1.3 wrote twelve typed tables, 1.0.35 twenty-three
(:data:`~il_audit.schemas.seed_tables.TABLES_1_0_35`, 0.1.3's among them);
il-audit writes ``events`` and keeps the old names alive as views of the same
name (``il_audit/sql``). BigQuery cannot turn a table into a view, so the
migration:

1. refuses while a writer of the older release is still active: one of its
   tables with a row newer than ``active_minutes`` (``--force`` goes on anyway);
   the row's time is ``logged_at``, or ``sent_at``, ``last_activity_at``...
   (:func:`~il_audit.schemas.seed_tables.activity_columns`);
2. renames each of its tables that a view stands in for to ``legacy_<name>``,
   with a table copy followed by a drop of the original (``cost_rates`` too,
   when it still has the older columns); a table no view stands in for yet is
   kept as it is and reported;
3. runs the BigQuery half of ``infra apply``: our tables (a new ``cost_rates``
   with NUMERIC prices), and every view, each view standing in for an older
   table being the ``UNION ALL`` of its ``legacy_<name>`` rows and the new rows;
4. merges the older rates (``legacy_cost_rates``; 1.0's with their
   ``pricing_tier``) into ``cost_rates`` (:func:`convert_seed_rates` says how).

Which tables are migrated is derived, not listed: a table of the release that
has a view of its name (:func:`il_audit.sql.legacy_view_names`). It is
idempotent: a second run finds nothing to rename, changes no view and merges
no rate twice. A run interrupted between the copy and the drop is finished by
the next one when both tables hold the same rows; if they differ, the table is
left alone and reported. ``from-0.1`` on a dataset that holds tables only 1.0
wrote changes nothing and says to run ``from-1.0``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from il_audit.config.settings import AuditSettings
from il_audit.operations.bigquery_resources import DEFAULT_TIMEOUT
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
from il_audit.operations.migrate_report import (
    COST_RATES,
    MigrationReport,
    Reportable,
    Step,
    StepAction,
)
from il_audit.schemas.seed_tables import (
    SEED_TABLES,
    TABLES_1_0_35,
    activity_columns,
    legacy_name,
)

__all__ = [
    "COST_RATES",
    "DEFAULT_ACTIVE_MINUTES",
    "ERAS",
    "Era",
    "MigrationReport",
    "Reportable",
    "Step",
    "StepAction",
    "migrate_dataset",
    "migrate_from_0_1",
    "migrate_from_1_0",
]

DEFAULT_ACTIVE_MINUTES: Final = 60


@dataclass(frozen=True)
class Era:
    """An older il-audit release whose dataset the migration takes."""

    release: str
    """As messages name it: ``0.1.3``, ``1.0``."""
    command: str
    """The ``il-audit migrate`` subcommand: ``from-0.1``, ``from-1.0``."""
    tables: tuple[str, ...]
    """The tables it wrote, in its order."""


ERAS: Final = {
    "0.1": Era("0.1.3", "from-0.1", tuple(SEED_TABLES)),
    "1.0": Era("1.0", "from-1.0", TABLES_1_0_35),
}
"""Each release ``il-audit migrate`` takes a dataset from (1.0's tables include 0.1.3's)."""


@dataclass(frozen=True)
class _Candidate:
    name: str
    table: Any
    legacy: Any


class _Warehouse:
    """The few BigQuery calls the migration makes (queries, copy, drop), each with a deadline."""

    def __init__(self, provisioner: BigQueryProvisioner) -> None:
        self.provisioner = provisioner
        self.client = provisioner.client
        self.deadline = provisioner.deadline

    def ref(self, name: str) -> str:
        return f"{self.provisioner.dataset_id}.{name}"

    def table_names(self) -> set[str]:
        """The tables (not views) of the dataset."""
        listed = self.client.list_tables(self.provisioner.dataset_id, **self.deadline)
        return {item.table_id for item in listed if item.table_type == "TABLE"}

    def count_and_last(self, name: str, columns: tuple[str, ...]) -> tuple[int, datetime | None]:
        """Rows of a table and the latest value of its activity columns."""
        lasts = [f"MAX({column}) AS last_{i}" for i, column in enumerate(columns)]
        select = ", ".join(["COUNT(*) AS n", *lasts])
        sql = f"SELECT {select} FROM `{self.ref(name)}`"  # noqa: S608
        (row,) = list(self.client.query(sql, **self.deadline).result(**self.deadline))
        seen = [row[f"last_{i}"] for i in range(len(columns)) if row[f"last_{i}"] is not None]
        return int(row["n"]), max(seen, default=None)

    def copy(self, source: str, destination: str) -> None:
        from google.cloud import bigquery

        config = bigquery.CopyJobConfig(
            write_disposition=bigquery.WriteDisposition.WRITE_EMPTY,
            create_disposition=bigquery.CreateDisposition.CREATE_IF_NEEDED,
        )
        job = self.client.copy_table(
            self.ref(source), self.ref(destination), job_config=config, **self.deadline
        )
        job.result(**self.deadline)

    def drop(self, name: str) -> None:
        self.client.delete_table(self.ref(name), **self.deadline)

    def rows(self, name: str) -> list[dict[str, Any]]:
        return [dict(row.items()) for row in self.client.list_rows(self.ref(name), **self.deadline)]


def migrate_from_0_1(settings: AuditSettings, **options: Any) -> MigrationReport:
    """:func:`migrate_dataset` of a dataset il-audit 0.1.3 wrote."""
    return migrate_dataset(settings, ERAS["0.1"], **options)


def migrate_from_1_0(settings: AuditSettings, **options: Any) -> MigrationReport:
    """:func:`migrate_dataset` of a dataset il-audit 1.0 wrote (or 0.1.3: its tables are 1.0's)."""
    return migrate_dataset(settings, ERAS["1.0"], **options)


def migrate_dataset(
    settings: AuditSettings,
    era: Era,
    *,
    dry_run: bool = False,
    force: bool = False,
    active_minutes: int = DEFAULT_ACTIVE_MINUTES,
    now: datetime | None = None,
    client: Any = None,
    progress: Callable[[Reportable], None] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> MigrationReport:
    """Migrate the dataset of ``settings`` from ``era``; see the module docstring for the steps.

    ``timeout`` bounds each BigQuery request, its retries included.
    """
    from il_audit.sql import legacy_view_names

    if not settings.project:
        raise ValueError("migrate needs a project: set GOOGLE_CLOUD_PROJECT or IL_BQ_LOGS_PROJECT")
    report = MigrationReport(dry_run=dry_run, release=era.release)
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
        client or bigquery_client(settings),
        settings.dataset,
        settings.dataset_location,
        timeout=timeout,
    )
    warehouse = _Warehouse(provisioner)
    if provisioner.get_dataset() is None:
        step(Step("problem", provisioner.dataset_id, "no such dataset: nothing to migrate"))
        return report

    present = warehouse.table_names()
    if _later_release(era, present, step):
        return report
    old = {name: provisioner.get(name) for name in era.tables if name in present}
    if not _writers_quiet(warehouse, old, now, active_minutes, force, era, step):
        return report
    stood_in = {*legacy_view_names(), COST_RATES}
    for name in old:
        if name not in stood_in:
            step(
                Step(
                    "skip",
                    name,
                    "no view stands in for it in this il-audit: kept as a table; "
                    "a later il-audit that has one migrates it when run again",
                )
            )
    candidates = _candidates(
        provisioner, {name: table for name, table in old.items() if name in stood_in}, step
    )
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
    report.rates = _merge_rates(warehouse, settings, dry_run, renamed, era, step)
    return report


def _later_release(era: Era, present: set[str], step: Callable[[Step], None]) -> bool:
    """True (and a problem step) when the dataset holds tables only a later release wrote."""
    later = ERAS["1.0"]
    if era == later:
        return False
    found = [name for name in later.tables if name in present and name not in era.tables]
    if found:
        step(
            Step(
                "problem",
                ", ".join(found),
                f"tables il-audit {later.release} wrote, not {era.release}: nothing changed; "
                f"run `il-audit migrate {later.command}`",
            )
        )
    return bool(found)


def _candidates(
    provisioner: BigQueryProvisioner, tables: dict[str, Any], step: Callable[[Step], None]
) -> list[_Candidate]:
    """The older tables still in place (and any legacy copy of theirs)."""
    found = []
    for name, table in tables.items():
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


def _activity(name: str, table: Any) -> tuple[str, ...]:
    return activity_columns(name, [item.name for item in table.schema] if table else ())


def _writers_quiet(
    warehouse: _Warehouse,
    tables: dict[str, Any],
    now: datetime,
    active_minutes: int,
    force: bool,
    era: Era,
    step: Callable[[Step], None],
) -> bool:
    """False (and a refuse step per table) when an older writer wrote within active_minutes."""
    since = now - timedelta(minutes=active_minutes)
    active = []
    for name, table in tables.items():
        columns = _activity(name, table)
        if not columns:
            continue
        _, last = warehouse.count_and_last(name, columns)
        if last is not None and last > since:
            active.append((name, last))
    for name, last in active:
        when = last.astimezone(UTC).isoformat(timespec="seconds")
        if force:
            step(Step("forced", name, f"last {era.release} row at {when}: going on (--force)"))
        else:
            step(
                Step(
                    "refuse",
                    name,
                    f"last {era.release} row at {when}, within {active_minutes} min: stop the "
                    f"il-audit {era.release} apps first (rows they write after the rename are "
                    "lost), or --force",
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
        columns = _activity(name, candidate.table)
        if candidate.legacy is not None:
            here = warehouse.count_and_last(name, columns)
            there = warehouse.count_and_last(legacy, columns)
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
        rows, _ = warehouse.count_and_last(name, columns)
        if dry_run:
            renamed.add(name)
            step(Step("rename", name, f"would copy {rows} rows to {legacy}, then drop {name}"))
            continue
        warehouse.copy(name, legacy)
        copied, _ = warehouse.count_and_last(legacy, columns)
        now_rows, _ = warehouse.count_and_last(name, columns)
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
    era: Era,
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
    rows = warehouse.rows(source)
    existing: list[RateRowKey] = []
    if not (dry_run and COST_RATES in renamed) and provisioner.get(COST_RATES) is not None:
        existing = [
            (str(row["service"]), str(row["model_id"]), row_tier(row), row["effective_from"])
            for row in warehouse.rows(COST_RATES)
        ]
    merge = convert_seed_rates(rows, existing)
    for label, reason in merge.skipped:
        step(Step("skip", f"cost_rates {label}", reason))
    if merge.new and not dry_run:
        sink = BigQuerySink(
            warehouse.client,
            settings.dataset,
            location=settings.dataset_location,
            retry_deadline=provisioner.timeout,
            timeout=provisioner.timeout,
        )
        sink.upsert_cost_rates(merge.new)
    verb = "would merge" if dry_run else "merged"
    tiers = sorted({row_tier(row) for row in rows})
    step(
        Step(
            "merge",
            COST_RATES,
            f"{verb} {len(merge.new)} {era.release} rate(s) from {source} "
            f"(tiers: {', '.join(tiers) or 'none'}); {merge.present} already present, "
            f"{len(merge.skipped)} skipped",
        )
    )
    return merge
