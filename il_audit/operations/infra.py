"""``il-audit infra apply``: create or update the pipeline's resources, idempotently.

Pub/Sub: the events topic, the dead-letter topic, the events subscription
(dead-letter and retry policies; push to ``push_endpoint`` when given, else
pull), and a pull subscription on the dead-letter topic for inspection.
BigQuery: the dataset, the three tables (schema, day partitioning and
clustering from ``il_audit.schemas``) and the analytics views from
``il_audit/sql``. Each resource is read first; only what is missing or
different is written, so a second run changes nothing and says so.

An update lists each changed field with its value before and after. A change
of delivery (a push endpoint removed, added or moved: events would stop
reaching the function or the pull workers) is refused unless
``allow_delivery_change``; nothing is written then.

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

import dataclasses
from collections.abc import Callable

from il_audit.config.settings import AuditSettings
from il_audit.operations.bigquery_resources import (
    DEFAULT_TIMEOUT,
    LEGACY_LABEL,
    MIGRATE_HINT,
    SQL_LABEL,
    BigQueryProvisioner,
    apply_warehouse,
    bigquery_client,
)
from il_audit.operations.errors import DeliveryChangeRefusedError
from il_audit.operations.plan import Action, Change, FieldChange, Plan
from il_audit.operations.pubsub_resources import (
    PubSubProvisioner,
    SubscriptionPolicy,
    provision_layout,
)
from il_audit.schemas.wire import PubSubLayout

__all__ = [
    "LEGACY_LABEL",
    "MIGRATE_HINT",
    "SQL_LABEL",
    "Action",
    "BigQueryProvisioner",
    "Change",
    "DeliveryChangeRefusedError",
    "FieldChange",
    "Plan",
    "PubSubProvisioner",
    "SubscriptionPolicy",
    "apply",
    "apply_warehouse",
    "bigquery_client",
]


def apply(
    settings: AuditSettings,
    *,
    dry_run: bool = False,
    pubsub: bool = True,
    bigquery: bool = True,
    subscription: str | None = None,
    policy: SubscriptionPolicy | None = None,
    progress: Callable[[Change], None] | None = None,
    allow_delivery_change: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
) -> Plan:
    """Plan, and unless ``dry_run`` apply, every resource; returns what changed.

    Raises :class:`DeliveryChangeRefusedError`, before writing anything, when the plan
    changes delivery and ``allow_delivery_change`` is not set. ``timeout``: seconds each
    Pub/Sub and BigQuery request may take, its retries included.
    """
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
        layout = PubSubLayout.for_topic(settings.project, settings.topic, settings.dlq_topic)
        if subscription:
            layout = dataclasses.replace(layout, subscription=subscription)
        policy = policy or SubscriptionPolicy.from_settings(settings)
        if write and not allow_delivery_change:
            preview = provision_layout(layout, policy, apply=False, timeout=timeout)
            refused = [change.delivery_change for change in preview if change.delivery_change]
            if refused:
                raise DeliveryChangeRefusedError(refused)
        for change in provision_layout(layout, policy, apply=write, timeout=timeout):
            record(change)
    if bigquery:
        warehouse = BigQueryProvisioner(
            bigquery_client(settings),
            settings.dataset,
            settings.dataset_location,
            timeout=timeout,
        )
        apply_warehouse(warehouse, settings, dry_run=dry_run, record=record)
    return plan
