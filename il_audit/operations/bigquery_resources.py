"""The dataset, tables and views, created or corrected idempotently (``infra apply``, migrate).

Each resource is read first; only what is missing or different is written.
Views carry a label with a hash of their SQL, description and column
descriptions (the local stand-in returns no view text and may not keep column
descriptions), and seed-compatible views never replace a 0.1.3 table.

Column descriptions of a view: BigQuery takes no schema when a view is
created, and drops the column descriptions when its query changes. So after
creating or updating a view, apply reads the schema BigQuery computed for it
and writes it back (``tables.patch``) with the descriptions added, the names,
types and modes as BigQuery gave them.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from google.api_core import exceptions as core_exceptions

from il_audit.config.settings import AuditSettings
from il_audit.operations.plan import Change

if TYPE_CHECKING:
    from il_audit.sql import View

SQL_LABEL = "il_audit_sql_sha256"
"""Label on each view holding a hash of its SQL and descriptions (how apply knows a view is
current)."""
MIGRATE_HINT = (
    "an il-audit 0.1.3 table: run `il-audit migrate from-0.1`, which keeps its rows "
    "and puts the compatible view in its place"
)


class BigQueryProvisioner:
    """Reads and writes the dataset, tables and views."""

    def __init__(self, client: Any, dataset: str, location: str | None) -> None:
        self.client = client
        self.dataset = dataset
        self.location = location

    @property
    def dataset_id(self) -> str:
        """``project.dataset``."""
        return f"{self.client.project}.{self.dataset}"

    def ensure_dataset(self, apply: bool) -> Change:
        """Ensure the dataset exists."""
        from google.cloud import bigquery

        try:
            self.client.get_dataset(self.dataset_id)
            return Change("dataset", self.dataset_id, "unchanged")
        except core_exceptions.NotFound:
            if apply:
                dataset = bigquery.Dataset(self.dataset_id)
                if self.location:
                    dataset.location = self.location
                self.client.create_dataset(dataset, exists_ok=True)
            return Change("dataset", self.dataset_id, "create", self.location or "")

    def get_dataset(self) -> Any:
        """The dataset, or None."""
        try:
            return self.client.get_dataset(self.dataset_id)
        except core_exceptions.NotFound:
            return None

    def get(self, name: str) -> Any:
        """The table or view ``name`` of the dataset, or None."""
        try:
            return self.client.get_table(f"{self.dataset_id}.{name}")
        except core_exceptions.NotFound:
            return None

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
            table = self.client.get_table(table_id)
        except core_exceptions.NotFound:
            if apply:
                created = bigquery_table(spec, table_id, retention_days=retention_days)
                self.client.create_table(created, exists_ok=True)
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
        updates: list[str] = []
        fields: list[str] = []
        if missing:
            table.schema = schema
            fields.append("schema")
            updates.append("add " + ", ".join(missing))
        if spec.partition_field and partitioned:
            current = table.time_partitioning.expiration_ms
            if (int(current) if current is not None else None) != expiration_ms:
                partitioning = table.time_partitioning
                partitioning.expiration_ms = expiration_ms
                table.time_partitioning = partitioning
                fields.append("time_partitioning")
                updates.append(
                    f"partitions expire after {retention_days} days"
                    if retention_days is not None
                    else "partitions no longer expire"
                )
        if updates:
            if apply:
                self.client.update_table(table, fields)
            return Change("table", table_id, "update", "; ".join(updates))
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
    ) -> Change:
        """Ensure a view exists with exactly this query, description and column descriptions
        (``columns``: name -> description; a column the view lacks is ignored).

        The view carries a label with a hash of all three, so the comparison does not
        depend on the endpoint returning the view's text (the local stand-in does not). A
        table of that name is never replaced: that is drift, and ``hint`` says what to do.
        """
        from google.cloud import bigquery

        view_id = f"{self.dataset_id}.{name}"
        digest = view_digest(query, description, columns or {})
        try:
            view = self.client.get_table(view_id)
        except core_exceptions.NotFound:
            if apply:
                created = bigquery.Table(view_id)
                created.view_query = query
                created.description = description
                created.labels = {SQL_LABEL: digest}
                self.client.create_table(created, exists_ok=True)
                if columns:
                    self.describe_columns(view_id, columns)
            return Change("view", view_id, "create", _described(columns))
        if view.table_type != "VIEW":
            detail = f"a {str(view.table_type).lower()}, not a view"
            return Change("view", view_id, "drift", f"{detail}: {hint}" if hint else detail)
        if (view.labels or {}).get(SQL_LABEL) == digest:
            return Change("view", view_id, "unchanged")
        if apply:
            view.view_query = query
            view.description = description
            view.labels = {**(view.labels or {}), SQL_LABEL: digest}
            self.client.update_table(view, ["view_query", "description", "labels"])
            if columns:
                self.describe_columns(view_id, columns)
        return Change("view", view_id, "update", "query or descriptions changed")

    def describe_columns(self, view_id: str, columns: Mapping[str, str]) -> None:
        """Write the view's schema back with ``columns``' descriptions on its columns."""
        from google.cloud import bigquery

        view = self.client.get_table(view_id)
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
            self.client.update_table(view, ["schema"])


def _normalise_sql(sql: str) -> str:
    return " ".join(sql.split())


def view_digest(query: str, description: str, columns: Mapping[str, str]) -> str:
    """The :data:`SQL_LABEL` value of a view: a hash of its SQL (whitespace aside), and of its
    descriptions when it has column descriptions."""
    text = _normalise_sql(query)
    if columns:
        text += "\0" + description + "\0" + json.dumps(dict(columns), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


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
                retention_days=settings.retention_days,
                hint=MIGRATE_HINT if spec.name == COST_RATES.name else "",
            )
        )
    for listed in views():
        if creating:
            record(Change("view", f"{warehouse.dataset_id}.{listed.name}", "create"))
            continue
        view = compat_view_for(warehouse, listed) if listed.compat else listed
        query = for_bigquery(view, warehouse.client.project, settings.dataset)
        hint = MIGRATE_HINT if view.compat else ""
        record(
            warehouse.ensure_view(
                view.name,
                query,
                view.description,
                write,
                hint=hint,
                columns=listed.column_descriptions,
            )
        )


def compat_view_for(warehouse: BigQueryProvisioner, view: View) -> View:
    """A seed-compatible view, reading ``legacy_<name>`` too when the migration left one."""
    from il_audit.sql import with_legacy

    legacy = warehouse.get(view.legacy_table) if view.legacy_table else None
    if legacy is None or legacy.table_type != "TABLE":
        return view
    return with_legacy(view, {field.name: field.field_type for field in legacy.schema})
