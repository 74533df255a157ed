"""``il-audit infra apply``: create or update the pipeline's resources, idempotently.

Pub/Sub: the events topic, the dead-letter topic, the events subscription
(dead-letter and retry policies; push to ``push_endpoint`` when given, else
pull), and a pull subscription on the dead-letter topic for inspection.
BigQuery: the dataset, the three tables (schema, day partitioning and
clustering from ``il_audit.schemas``) and the analytics views from
``il_audit/sql``. Each resource is read first; only what is missing or
different is written, so a second run changes nothing and says so.

``IL_AUDIT_RETENTION_DAYS`` becomes the partition expiration of ``events``
and ``dead_letters`` (unset: none, keep forever). In a dataset il-audit 0.1.3
wrote, apply never touches the 0.1.3 tables: where one has the name of a
seed-compatible view (``auth_events``...), or ``cost_rates`` still has the
0.1.3 columns, it reports it and says to run ``il-audit migrate from-0.1``;
after the migration, each compat view also reads the 0.1.3 rows kept in
``legacy_<name>``.

Works against Google Cloud (application default credentials) and against the
emulators (``PUBSUB_EMULATOR_HOST``, ``IL_BQ_API_ENDPOINT``). IAM for
dead-lettering (the Pub/Sub service agent publishing to the dead-letter topic)
is left to Terraform in ``infra/``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from google.api_core import exceptions as core_exceptions

from il_audit.config.settings import AuditSettings

if TYPE_CHECKING:
    from il_audit.sql import View

Action = Literal["create", "update", "unchanged", "drift"]
SQL_LABEL = "il_audit_sql_sha256"
"""Label on each view holding a hash of its SQL (how apply knows a view is current)."""
MIGRATE_HINT = (
    "an il-audit 0.1.3 table: run `il-audit migrate from-0.1`, which keeps its rows "
    "and puts the compatible view in its place"
)


@dataclass(frozen=True)
class Change:
    """One resource and what apply does (or would do) to it."""

    kind: str
    name: str
    action: Action
    detail: str = ""

    def line(self) -> str:
        """One line for humans."""
        symbol = {"create": "+", "update": "~", "unchanged": "=", "drift": "!"}[self.action]
        return f"{symbol} {self.kind:<12} {self.name}" + (
            f"  ({self.detail})" if self.detail else ""
        )


@dataclass(frozen=True)
class SubscriptionPolicy:
    """Delivery settings of the events subscription."""

    max_delivery_attempts: int = 5
    min_backoff_seconds: int = 10
    max_backoff_seconds: int = 600
    ack_deadline_seconds: int = 60
    push_endpoint: str | None = None


@dataclass
class Plan:
    """Every change, applied or planned."""

    changes: list[Change] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Whether anything was (or would be) created or updated."""
        return any(change.action in ("create", "update") for change in self.changes)

    def summary(self) -> str:
        """Counts per action."""
        counts = dict.fromkeys(("create", "update", "unchanged", "drift"), 0)
        for change in self.changes:
            counts[change.action] += 1
        text = ", ".join(f"{count} {action}" for action, count in counts.items() if count)
        return text if self.changed else f"no changes ({text})"


def _seconds(duration: Any) -> int:
    if duration is None:
        return 0
    if hasattr(duration, "total_seconds"):
        return int(duration.total_seconds())
    return int(getattr(duration, "seconds", 0))


class PubSubProvisioner:
    """Reads and writes topics and subscriptions."""

    def __init__(self, project: str, publisher: Any = None, subscriber: Any = None) -> None:
        from google.cloud import pubsub_v1  # type: ignore[attr-defined]

        self.project = project
        self.publisher = publisher or pubsub_v1.PublisherClient()
        self.subscriber = subscriber or pubsub_v1.SubscriberClient()

    def topic(self, topic_id: str, apply: bool) -> Change:
        """Ensure a topic exists."""
        path = self.publisher.topic_path(self.project, topic_id)
        try:
            self.publisher.get_topic(topic=path)
            return Change("topic", path, "unchanged")
        except core_exceptions.NotFound:
            if apply:
                self.publisher.create_topic(name=path)
            return Change("topic", path, "create")

    def subscription(
        self,
        subscription_id: str,
        topic_id: str,
        apply: bool,
        *,
        dead_letter_topic_id: str | None = None,
        policy: SubscriptionPolicy | None = None,
    ) -> Change:
        """Ensure a subscription exists with the given delivery policy."""
        from google.protobuf import duration_pb2, field_mask_pb2

        path = self.subscriber.subscription_path(self.project, subscription_id)
        topic_path = self.publisher.topic_path(self.project, topic_id)
        desired: dict[str, Any] = {"name": path, "topic": topic_path}
        if policy is not None:
            desired["ack_deadline_seconds"] = policy.ack_deadline_seconds
            desired["retry_policy"] = {
                "minimum_backoff": duration_pb2.Duration(seconds=policy.min_backoff_seconds),
                "maximum_backoff": duration_pb2.Duration(seconds=policy.max_backoff_seconds),
            }
            desired["push_config"] = (
                {"push_endpoint": policy.push_endpoint} if policy.push_endpoint else {}
            )
            if dead_letter_topic_id:
                desired["dead_letter_policy"] = {
                    "dead_letter_topic": self.publisher.topic_path(
                        self.project, dead_letter_topic_id
                    ),
                    "max_delivery_attempts": policy.max_delivery_attempts,
                }
        try:
            current = self.subscriber.get_subscription(subscription=path)
        except core_exceptions.NotFound:
            if apply:
                self.subscriber.create_subscription(request=desired)
            return Change("subscription", path, "create", _describe_policy(policy))
        if policy is None:
            return Change("subscription", path, "unchanged")
        differences = _subscription_differences(current, desired, policy)
        if not differences:
            return Change("subscription", path, "unchanged")
        if apply:
            self.subscriber.update_subscription(
                request={
                    "subscription": desired,
                    "update_mask": field_mask_pb2.FieldMask(paths=sorted(differences)),
                }
            )
        return Change("subscription", path, "update", ", ".join(sorted(differences)))

    def close(self) -> None:
        """Close the subscriber's channel."""
        self.subscriber.close()


def _describe_policy(policy: SubscriptionPolicy | None) -> str:
    if policy is None:
        return "pull"
    delivery = f"push to {policy.push_endpoint}" if policy.push_endpoint else "pull"
    return (
        f"{delivery}, dead-letter after {policy.max_delivery_attempts} attempts, retry "
        f"{policy.min_backoff_seconds}-{policy.max_backoff_seconds}s"
    )


def _subscription_differences(
    current: Any, desired: dict[str, Any], policy: SubscriptionPolicy
) -> set[str]:
    differences: set[str] = set()
    if current.ack_deadline_seconds != policy.ack_deadline_seconds:
        differences.add("ack_deadline_seconds")
    retry = current.retry_policy
    if (_seconds(retry.minimum_backoff), _seconds(retry.maximum_backoff)) != (
        policy.min_backoff_seconds,
        policy.max_backoff_seconds,
    ):
        differences.add("retry_policy")
    if (current.push_config.push_endpoint or None) != policy.push_endpoint:
        differences.add("push_config")
    wanted = desired.get("dead_letter_policy")
    if wanted is not None:
        have = current.dead_letter_policy
        if (have.dead_letter_topic, have.max_delivery_attempts) != (
            wanted["dead_letter_topic"],
            wanted["max_delivery_attempts"],
        ):
            differences.add("dead_letter_policy")
    return differences


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
        from il_audit.subscriber_fn.sinks.bigquery import (
            bigquery_table,
            partition_expiration_ms,
            schema_fields,
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
        missing = [column for column in spec.columns if column.name not in existing]
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
            table.schema = [*table.schema, *schema_fields(missing)]
            fields.append("schema")
            updates.append("add " + ", ".join(column.name for column in missing))
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
        self, name: str, query: str, description: str, apply: bool, *, hint: str = ""
    ) -> Change:
        """Ensure a view exists with exactly this query.

        The view carries a label with the SQL's hash, so the comparison does not depend
        on the endpoint returning the view's text (the local stand-in does not). A table
        of that name is never replaced: that is drift, and ``hint`` says what to do.
        """
        from google.cloud import bigquery

        view_id = f"{self.dataset_id}.{name}"
        digest = hashlib.sha256(_normalise_sql(query).encode()).hexdigest()[:32]
        try:
            view = self.client.get_table(view_id)
        except core_exceptions.NotFound:
            if apply:
                created = bigquery.Table(view_id)
                created.view_query = query
                created.description = description
                created.labels = {SQL_LABEL: digest}
                self.client.create_table(created, exists_ok=True)
            return Change("view", view_id, "create")
        if view.table_type != "VIEW":
            detail = f"a {str(view.table_type).lower()}, not a view"
            return Change("view", view_id, "drift", f"{detail}: {hint}" if hint else detail)
        if (view.labels or {}).get(SQL_LABEL) == digest:
            return Change("view", view_id, "unchanged")
        if apply:
            view.view_query = query
            view.labels = {**(view.labels or {}), SQL_LABEL: digest}
            self.client.update_table(view, ["view_query", "labels"])
        return Change("view", view_id, "update", "query changed")


def _normalise_sql(sql: str) -> str:
    return " ".join(sql.split())


def bigquery_client(settings: AuditSettings) -> Any:
    """A BigQuery client for the settings (endpoint override and anonymous credentials)."""
    from il_audit.subscriber_fn.sinks.bigquery import BigQuerySink

    return BigQuerySink.from_settings(settings).client


def apply(
    settings: AuditSettings,
    *,
    dry_run: bool = False,
    pubsub: bool = True,
    bigquery: bool = True,
    subscription: str | None = None,
    policy: SubscriptionPolicy | None = None,
    progress: Callable[[Change], None] | None = None,
) -> Plan:
    """Plan, and unless ``dry_run`` apply, every resource; returns what changed."""
    if not settings.project:
        raise ValueError(
            "infra apply needs a project: set GOOGLE_CLOUD_PROJECT or IL_BQ_LOGS_PROJECT"
        )
    plan = Plan()
    write = not dry_run

    def record(change: Change) -> None:
        plan.changes.append(change)
        if progress is not None:
            progress(change)

    if pubsub:
        provisioner = PubSubProvisioner(settings.project)
        try:
            record(provisioner.topic(settings.topic, write))
            record(provisioner.topic(settings.dlq_topic, write))
            record(
                provisioner.subscription(
                    subscription or f"{settings.topic}-sub",
                    settings.topic,
                    write,
                    dead_letter_topic_id=settings.dlq_topic,
                    policy=policy or SubscriptionPolicy(),
                )
            )
            record(
                provisioner.subscription(f"{settings.dlq_topic}-inspect", settings.dlq_topic, write)
            )
        finally:
            provisioner.close()
    if bigquery:
        warehouse = BigQueryProvisioner(
            bigquery_client(settings), settings.dataset, settings.dataset_location
        )
        apply_warehouse(warehouse, settings, dry_run=dry_run, record=record)
    return plan


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
        record(warehouse.ensure_view(view.name, query, view.description, write, hint=hint))


def compat_view_for(warehouse: BigQueryProvisioner, view: View) -> View:
    """A seed-compatible view, reading ``legacy_<name>`` too when the migration left one."""
    from il_audit.sql import with_legacy

    legacy = warehouse.get(view.legacy_table) if view.legacy_table else None
    if legacy is None or legacy.table_type != "TABLE":
        return view
    return with_legacy(view, {field.name: field.field_type for field in legacy.schema})
