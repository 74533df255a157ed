"""The dataset, tables and views, created or corrected idempotently (``infra apply``, migrate).

Each resource is read first; only what is missing or different is written.
Views carry a label with a hash of their SQL, description and column
descriptions (the local stand-in returns no view text and may not keep column
descriptions), and a view never replaces a table of an earlier il-audit. Every
request has a deadline (``timeout``: per attempt, and for its retries together).

Column descriptions of a view: BigQuery takes no schema when a view is
created, and drops the column descriptions when its query changes. So after
creating or updating a view, apply reads the schema BigQuery computed for it
and writes it back (``tables.patch``) with the descriptions added, the names,
types and modes as BigQuery gave them.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from google.api_core import exceptions as core_exceptions

from il_audit.config.settings import AuditSettings
from il_audit.operations.plan import Change, FieldChange

if TYPE_CHECKING:
    from il_audit.sql import View

SQL_LABEL = "il_audit_sql_sha256"
"""Label on each view holding a hash of its SQL and descriptions (how apply knows a view is
current)."""
LEGACY_LABEL = "il_audit_legacy_sha256"
"""Label on a view reading ``legacy_<name>``: a hash of every view's SQL and the legacy
table's columns, what its union was made from (so apply need not ask BigQuery again)."""
MIGRATE_HINT = (
    "a table of an earlier il-audit: run `il-audit migrate from-0.1` (or `from-1.0` for a "
    "dataset il-audit 1.0 wrote), which keeps its rows and puts the view in its place"
)
DEFAULT_TIMEOUT = 60.0
"""Seconds one BigQuery request may take, its retries included, unless told otherwise."""


class BigQueryProvisioner:
    """Reads and writes the dataset, tables and views."""

    def __init__(
        self, client: Any, dataset: str, location: str | None, *, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        from google.cloud.bigquery.retry import DEFAULT_RETRY

        self.client = client
        self.dataset = dataset
        self.location = location
        self.timeout = timeout
        self.retry = DEFAULT_RETRY.with_deadline(timeout)

    @property
    def deadline(self) -> dict[str, Any]:
        """``retry`` and ``timeout`` keywords for a client call: no request waits longer."""
        return {"retry": self.retry, "timeout": self.timeout}

    @property
    def dataset_id(self) -> str:
        """``project.dataset``."""
        return f"{self.client.project}.{self.dataset}"

    def ensure_dataset(self, apply: bool) -> Change:
        """Ensure the dataset exists."""
        from google.cloud import bigquery

        try:
            self.client.get_dataset(self.dataset_id, **self.deadline)
            return Change("dataset", self.dataset_id, "unchanged")
        except core_exceptions.NotFound:
            if apply:
                dataset = bigquery.Dataset(self.dataset_id)
                if self.location:
                    dataset.location = self.location
                self.client.create_dataset(dataset, exists_ok=True, **self.deadline)
            return Change("dataset", self.dataset_id, "create", self.location or "")

    def get_dataset(self) -> Any:
        """The dataset, or None."""
        try:
            return self.client.get_dataset(self.dataset_id, **self.deadline)
        except core_exceptions.NotFound:
            return None

    def get(self, name: str) -> Any:
        """The table or view ``name`` of the dataset, or None."""
        try:
            return self.client.get_table(f"{self.dataset_id}.{name}", **self.deadline)
        except core_exceptions.NotFound:
            return None

    def legacy_tables(self) -> set[str]:
        """The ``legacy_*`` tables of the dataset (one listing, not a request per view)."""
        from il_audit.schemas.seed_tables import LEGACY_PREFIX

        listed = self.client.list_tables(self.dataset_id, **self.deadline)
        return {
            item.table_id
            for item in listed
            if item.table_type == "TABLE" and item.table_id.startswith(LEGACY_PREFIX)
        }

    def query_columns(self, sql: str) -> list[tuple[str, str]]:
        """``(name, type)`` of each column ``sql`` returns, from a dry run (reads no data).

        A repeated column is ``ARRAY<type>``. Raises the client's error when the query
        cannot be planned (e.g. a view it reads does not exist yet).
        """
        from google.cloud import bigquery

        from il_audit.schemas.seed_tables import standard_type

        config = bigquery.QueryJobConfig(dry_run=True, use_query_cache=False)
        job = self.client.query(sql, job_config=config, **self.deadline)
        return [
            (
                item.name,
                f"ARRAY<{standard_type(item.field_type)}>"
                if item.mode == "REPEATED"
                else standard_type(item.field_type),
            )
            for item in job.schema or ()
        ]

    def ensure_table(
        self, spec: Any, apply: bool, *, retention_days: int | None = None, hint: str = ""
    ) -> Change:
        """Ensure a table exists with at least the spec's columns (new ones are added).

        A partitioned table's partitions expire after ``retention_days`` (None: never);
        a different expiration is updated in place. A column of another type is drift
        (``hint`` says what to do), and nothing is changed then.
        """
        from il_audit.schemas.seed_tables import standard_type
        from il_audit.subscriber_fn.sinks.bigquery_tables import (
            bigquery_table,
            merged_schema,
            partition_expiration_ms,
        )

        table_id = f"{self.dataset_id}.{spec.name}"
        expiration_ms = partition_expiration_ms(retention_days) if spec.partition_field else None
        try:
            table = self.client.get_table(table_id, **self.deadline)
        except core_exceptions.NotFound:
            if apply:
                created = bigquery_table(spec, table_id, retention_days=retention_days)
                self.client.create_table(created, exists_ok=True, **self.deadline)
            details = [f"partitioned by {spec.partition_field}"] if spec.partition_field else []
            if expiration_ms is not None:
                details.append(f"partitions expire after {retention_days} days")
            return Change("table", table_id, "create", ", ".join(details))
        existing = {field.name: standard_type(field.field_type) for field in table.schema}
        retyped = [
            f"{column.name} is {existing[column.name]}, not {column.type}"
            for column in spec.columns
            if column.name in existing and existing[column.name] != column.type
        ]
        if retyped:
            detail = "; ".join(retyped) + (f": {hint}" if hint else "")
            return Change("table", table_id, "drift", detail)
        schema, missing = merged_schema(table, spec)
        drift = []
        partitioned = (
            table.time_partitioning is not None
            and table.time_partitioning.field == spec.partition_field
        )
        if spec.partition_field and not partitioned:
            drift.append(f"partitioning is not DAY({spec.partition_field})")
        if spec.clustering and list(table.clustering_fields or []) != list(spec.clustering):
            drift.append(f"clustering is not {', '.join(spec.clustering)}")
        updates: list[FieldChange] = []
        fields: list[str] = []
        if missing:
            updates.append(
                FieldChange(
                    "columns",
                    f"{len(table.schema)}",
                    f"{len(schema)} (adds {', '.join(missing)})",
                )
            )
            table.schema = schema
            fields.append("schema")
        if spec.partition_field and partitioned:
            current = table.time_partitioning.expiration_ms
            if (int(current) if current is not None else None) != expiration_ms:
                updates.append(
                    FieldChange(
                        "partition_expiration",
                        _expiration_text(current),
                        _expiration_text(expiration_ms),
                    )
                )
                partitioning = table.time_partitioning
                partitioning.expiration_ms = expiration_ms
                table.time_partitioning = partitioning
                fields.append("time_partitioning")
        if updates:
            if apply:
                self.client.update_table(table, fields, **self.deadline)
            return Change("table", table_id, "update", fields=tuple(updates))
        if drift:
            return Change("table", table_id, "drift", "; ".join(drift) + " (recreate to change)")
        return Change("table", table_id, "unchanged")

    def ensure_view(
        self,
        name: str,
        query: str,
        description: str,
        apply: bool,
        *,
        hint: str = "",
        columns: Mapping[str, str] | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> Change:
        """Ensure a view exists with exactly this query, description and column descriptions
        (``columns``: name -> description; a column the view lacks is ignored).

        The view carries a label with a hash of all three, so the comparison does not
        depend on the endpoint returning the view's text (the local stand-in does not). A
        table of that name is never replaced: that is drift, and ``hint`` says what to do.
        ``labels`` are set next to the hash.
        """
        from google.cloud import bigquery

        view_id = f"{self.dataset_id}.{name}"
        digest = view_digest(query, description, columns or {})
        wanted = {**(labels or {}), SQL_LABEL: digest}
        try:
            view = self.client.get_table(view_id, **self.deadline)
        except core_exceptions.NotFound:
            if apply:
                created = bigquery.Table(view_id)
                created.view_query = query
                created.description = description
                created.labels = wanted
                self.client.create_table(created, exists_ok=True, **self.deadline)
                if columns:
                    self.describe_columns(view_id, columns)
            return Change("view", view_id, "create", _described(columns))
        if view.table_type != "VIEW":
            detail = f"a {str(view.table_type).lower()}, not a view"
            return Change("view", view_id, "drift", f"{detail}: {hint}" if hint else detail)
        if wanted.items() <= (view.labels or {}).items():
            return Change("view", view_id, "unchanged")
        if apply:
            view.view_query = query
            view.description = description
            view.labels = {**(view.labels or {}), **wanted}
            self.client.update_table(view, ["view_query", "description", "labels"], **self.deadline)
            if columns:
                self.describe_columns(view_id, columns)
        before = (view.labels or {}).get(SQL_LABEL) or "unlabelled"
        return Change(
            "view",
            view_id,
            "update",
            "query or descriptions changed",
            fields=(FieldChange("definition_digest", before, digest),),
        )

    def describe_columns(self, view_id: str, columns: Mapping[str, str]) -> None:
        """Write the view's schema back with ``columns``' descriptions on its columns."""
        from google.cloud import bigquery

        view = self.client.get_table(view_id, **self.deadline)
        fields = []
        changed = False
        for field in view.schema:
            resource = copy.deepcopy(field.to_api_repr())
            wanted = columns.get(field.name)
            if wanted and resource.get("description") != wanted:
                resource["description"] = wanted
                changed = True
            fields.append(bigquery.SchemaField.from_api_repr(resource))
        if changed:
            view.schema = fields
            self.client.update_table(view, ["schema"], **self.deadline)


def _normalise_sql(sql: str) -> str:
    return " ".join(sql.split())


def view_digest(query: str, description: str, columns: Mapping[str, str]) -> str:
    """The :data:`SQL_LABEL` value of a view: a hash of its SQL (whitespace aside), and of its
    descriptions when it has column descriptions."""
    text = _normalise_sql(query)
    if columns:
        text += "\0" + description + "\0" + json.dumps(dict(columns), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _expiration_text(milliseconds: Any) -> str:
    if milliseconds is None:
        return "none (kept forever)"
    days = int(milliseconds) / 86_400_000
    return f"{days:g} days"


def _described(columns: Mapping[str, str] | None) -> str:
    return f"{len(columns)} column descriptions" if columns else ""


def bigquery_client(settings: AuditSettings) -> Any:
    """A BigQuery client for the settings (endpoint override and anonymous credentials)."""
    from il_audit.subscriber_fn.sinks.bigquery_tables import make_client

    return make_client(settings)


def apply_warehouse(
    warehouse: BigQueryProvisioner,
    settings: AuditSettings,
    *,
    dry_run: bool,
    record: Callable[[Change], None],
) -> None:
    """The BigQuery half of :func:`apply`: dataset, tables, then views in creation order."""
    from il_audit.schemas.tables import COST_RATES, TABLES
    from il_audit.sql import for_bigquery, views

    write = not dry_run
    dataset_change = warehouse.ensure_dataset(write)
    record(dataset_change)
    creating = dataset_change.action == "create" and dry_run
    for spec in TABLES:
        if creating:
            record(Change("table", f"{warehouse.dataset_id}.{spec.name}", "create"))
            continue
        record(
            warehouse.ensure_table(
                spec,
                write,
                # The outer bound: the longest retention of any family (docs/retention.md).
                retention_days=settings.retention.partition_days,
                hint=MIGRATE_HINT if spec.name == COST_RATES.name else "",
            )
        )
    kept = set() if creating else warehouse.legacy_tables()
    for listed in views():
        name = f"{warehouse.dataset_id}.{listed.name}"
        if creating:
            record(Change("view", name, "create"))
            continue
        legacy = warehouse.get(listed.legacy_table) if listed.legacy_table in kept else None
        if legacy is None or legacy.table_type != "TABLE":
            query = for_bigquery(listed, warehouse.client.project, settings.dataset)
            hint = MIGRATE_HINT if listed.legacy_table else ""
            record(
                warehouse.ensure_view(
                    listed.name,
                    query,
                    listed.description,
                    write,
                    hint=hint,
                    columns=listed.column_descriptions,
                )
            )
            continue
        record(_ensure_legacy_view(warehouse, listed, legacy, settings.dataset, dry_run))


def _ensure_legacy_view(
    warehouse: BigQueryProvisioner, view: View, legacy: Any, dataset: str, dry_run: bool
) -> Change:
    """``view`` as the ``UNION ALL`` of ``legacy_<name>`` and the new rows: the legacy columns
    mapped by name onto the view's own, which BigQuery reports (a dry run of the view's query).

    The view's :data:`LEGACY_LABEL` says what it was made from (the catalogue, the legacy
    columns, the descriptions); while that holds, it is current and BigQuery is not asked
    again.
    """
    from il_audit.sql import for_bigquery, with_legacy

    name = f"{warehouse.dataset_id}.{view.name}"
    legacy_columns = {
        item.name: f"ARRAY<{item.field_type}>" if item.mode == "REPEATED" else item.field_type
        for item in legacy.schema
    }
    catalogue = _catalogue_digest()
    described = json.dumps([view.description, view.column_descriptions], sort_keys=True)
    made_from = hashlib.sha256(
        f"{catalogue}\n{view.name}\n{sorted(legacy_columns.items())!r}\n{described}".encode()
    ).hexdigest()[:32]
    current = warehouse.get(view.name)
    if current is not None and (current.labels or {}).get(LEGACY_LABEL) == made_from:
        return Change("view", name, "unchanged")
    columns = _VIEW_COLUMNS.get((catalogue, view.name))
    if columns is None:
        try:
            sql = for_bigquery(view, warehouse.client.project, dataset)
            columns = _VIEW_COLUMNS[catalogue, view.name] = warehouse.query_columns(sql)
        except core_exceptions.GoogleAPICallError:
            if not dry_run:
                raise
            # A dry run on a dataset where the views it reads are still to be created.
            detail = f"UNION ALL of {view.legacy_table} and the new rows"
            return Change("view", name, "create" if current is None else "update", detail)
    union = with_legacy(view, legacy_columns, columns)
    query = for_bigquery(union, warehouse.client.project, dataset)
    return warehouse.ensure_view(
        union.name,
        query,
        union.description,
        not dry_run,
        hint=MIGRATE_HINT,
        columns=view.column_descriptions,
        labels={LEGACY_LABEL: made_from},
    )


_VIEW_COLUMNS: dict[tuple[str, str], list[tuple[str, str]]] = {}
"""The columns BigQuery reported for a view, by catalogue digest and name: they follow from
il-audit's own SQL and table specs alone, so one process asks once (``infra apply`` or a
migration over several datasets)."""


@functools.cache
def _catalogue_digest() -> str:
    """A hash of every view's SQL and every table spec: what a view's columns follow from."""
    from il_audit.schemas.tables import TABLES
    from il_audit.sql import views

    text = "\n".join([*(item.sql for item in views()), *(repr(spec) for spec in TABLES)])
    return hashlib.sha256(text.encode()).hexdigest()[:32]
