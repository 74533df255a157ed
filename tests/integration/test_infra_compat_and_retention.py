"""`infra apply` (BigQuery only) on the stand-in: 0.1.3 tables left alone, partition expiration."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import NamedTuple

import pytest
from click.testing import CliRunner
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from il_audit.cli import cli
from il_audit.sql import COMPAT_VIEW_NAMES
from tests.support import seed_schema
from tests.support.bigquery_standin import BigQueryStandIn

_names = itertools.count(1)
DAY_MS = 86_400_000


class Target(NamedTuple):
    """A client and the dataset `infra apply` works on."""

    client: bigquery.Client
    dataset: str

    def ref(self, name: str) -> str:
        return f"{self.client.project}.{self.dataset}.{name}"


@pytest.fixture
def target(standin: BigQueryStandIn, monkeypatch: pytest.MonkeyPatch) -> Iterator[Target]:
    """A fresh dataset name, with the settings `infra apply` reads pointing there."""
    dataset = f"infra_compat_{next(_names)}"
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", standin.project)
    monkeypatch.setenv("IL_BQ_AUDIT_DATASET", dataset)
    monkeypatch.setenv("IL_BQ_API_ENDPOINT", standin.url)
    client = bigquery.Client(
        project=standin.project,
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options=ClientOptions(api_endpoint=standin.url),
    )
    yield Target(client, dataset)
    client.delete_dataset(dataset, delete_contents=True, not_found_ok=True)
    client.close()  # type: ignore[no-untyped-call]


def apply(*extra: str) -> str:
    result = CliRunner().invoke(cli, ["infra", "apply", "--no-pubsub", *extra])
    assert result.exit_code == 0, result.output
    return result.output


def test_apply_leaves_0_1_3_tables_alone_and_says_to_migrate(target: Target) -> None:
    """Where 0.1.3 tables exist, apply reports them as drift with the migration hint, unchanged."""
    target.client.create_dataset(f"{target.client.project}.{target.dataset}")
    for name in ("auth_events", "cost_rates"):
        table = bigquery.Table(target.ref(name), seed_schema.schema_fields(name))
        target.client.create_table(table)

    out = apply()

    assert "! view         " + target.ref("auth_events") in out
    assert "! table        " + target.ref("cost_rates") in out
    assert out.count("il-audit migrate from-0.1") == 2
    assert target.client.get_table(target.ref("auth_events")).table_type == "TABLE"
    cost_rates = target.client.get_table(target.ref("cost_rates"))
    assert [field.name for field in cost_rates.schema] == [
        name for name, _ in seed_schema.columns("cost_rates")
    ]
    for name in set(COMPAT_VIEW_NAMES) - {"auth_events"}:
        assert target.client.get_table(target.ref(name)).table_type == "VIEW", name


def test_retention_days_become_partition_expiration(
    target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    """IL_AUDIT_RETENTION_DAYS sets the partition expiration of events and dead_letters only."""
    monkeypatch.setenv("IL_AUDIT_RETENTION_DAYS", "400")

    out = apply()

    assert "partitions expire after 400 days" in out
    for name in ("events", "dead_letters"):
        partitioning = target.client.get_table(target.ref(name)).time_partitioning
        assert partitioning.expiration_ms == 400 * DAY_MS, name
    assert target.client.get_table(target.ref("cost_rates")).time_partitioning is None


def test_partition_expiration_is_the_longest_family_retention(
    target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With per-family retention, partitions expire after the longest of all (the scheduled
    deletes do the shorter ones: docs/retention.md)."""
    monkeypatch.setenv("IL_AUDIT_RETENTION_DAYS", "30")
    monkeypatch.setenv("IL_AUDIT_RETENTION_DAYS_BY_FAMILY", "auth=400,chat.model_call=7")

    out = apply()

    assert "partitions expire after 400 days" in out
    events = target.client.get_table(target.ref("events")).time_partitioning
    assert events.expiration_ms == 400 * DAY_MS


def test_changed_retention_updates_the_expiration_in_place(
    target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new retention updates both tables; unsetting it removes the expiration; then no change."""
    monkeypatch.setenv("IL_AUDIT_RETENTION_DAYS", "30")
    apply()
    monkeypatch.setenv("IL_AUDIT_RETENTION_DAYS", "90")

    changed = apply()
    monkeypatch.delenv("IL_AUDIT_RETENTION_DAYS")
    removed = apply()
    again = apply()

    assert changed.count("partition_expiration: 30 days → 90 days") == 2
    assert target.client.get_table(target.ref("events")).time_partitioning.expiration_ms is None
    assert removed.count("partition_expiration: 90 days → none (kept forever)") == 2
    assert "no changes" in again
