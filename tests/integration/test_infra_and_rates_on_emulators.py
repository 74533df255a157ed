"""`infra apply` and `rates load` against the Pub/Sub emulator and the BigQuery stand-in."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery, pubsub_v1

from il_audit.cli import cli
from il_audit.schemas import EVENTS
from il_audit.sql import VIEW_NAMES
from tests.support.bigquery_standin import BigQueryStandIn

_names = itertools.count(1)


@pytest.fixture
def environment(
    pubsub_emulator_host: str,  # noqa: ARG001 - exports PUBSUB_EMULATOR_HOST
    standin: BigQueryStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, str]:
    """Settings pointing at both emulators, with names no other test uses."""
    suffix = next(_names)
    values = {
        "GOOGLE_CLOUD_PROJECT": standin.project,
        "IL_AUDIT_TOPIC": f"infra-events-{suffix}",
        "IL_AUDIT_DLQ_TOPIC": f"infra-events-{suffix}-dlq",
        "IL_BQ_AUDIT_DATASET": f"infra_{suffix}",
        "IL_BQ_API_ENDPOINT": standin.url,
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def apply(*extra: str) -> str:
    result = CliRunner().invoke(cli, ["infra", "apply", *extra], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_apply_twice_changes_nothing_the_second_time(environment: dict[str, str]) -> None:
    """First run creates everything, the second reports no changes; policies read back."""
    dry = apply("--dry-run", "--max-delivery-attempts", "7", "--min-backoff", "2")
    assert "dry run: would apply" in dry
    first = apply("--max-delivery-attempts", "7", "--min-backoff", "2", "--max-backoff", "30")
    # two topics, two subscriptions, the dataset, three tables and the views
    assert first.count("+ ") == 2 + 2 + 1 + 3 + len(VIEW_NAMES)
    second = apply("--max-delivery-attempts", "7", "--min-backoff", "2", "--max-backoff", "30")
    assert "no changes" in second
    assert "+ " not in second
    assert "~ " not in second
    project = environment["GOOGLE_CLOUD_PROJECT"]
    subscriber = pubsub_v1.SubscriberClient()
    subscription = subscriber.get_subscription(
        subscription=f"projects/{project}/subscriptions/{environment['IL_AUDIT_TOPIC']}-sub"
    )
    subscriber.close()
    assert subscription.dead_letter_policy.dead_letter_topic == (
        f"projects/{project}/topics/{environment['IL_AUDIT_DLQ_TOPIC']}"
    )
    assert subscription.dead_letter_policy.max_delivery_attempts == 7
    assert subscription.retry_policy.minimum_backoff.total_seconds() == 2
    assert subscription.retry_policy.maximum_backoff.total_seconds() == 30
    client = bigquery.Client(
        project=project,
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options=ClientOptions(api_endpoint=environment["IL_BQ_API_ENDPOINT"]),
    )
    dataset = environment["IL_BQ_AUDIT_DATASET"]
    events = client.get_table(f"{project}.{dataset}.events")
    assert [field.name for field in events.schema] == list(EVENTS.column_names)
    assert events.time_partitioning.field == "occurred_at"
    assert events.clustering_fields == ["app", "event_type"]
    for name in VIEW_NAMES:
        view = client.get_table(f"{project}.{dataset}.{name}")
        assert view.table_type == "VIEW"
        assert view.labels["il_audit_sql_sha256"]
    for name in VIEW_NAMES:
        rows = list(client.query(f"SELECT COUNT(*) AS n FROM `{project}.{dataset}.{name}`"))
        assert rows[0]["n"] == 0, name


def test_changed_policy_is_an_update(environment: dict[str, str]) -> None:
    """Changing the delivery policy updates the subscription in place; the plan shows the
    field before and after."""
    apply("--no-bigquery")
    out = apply("--no-bigquery", "--max-delivery-attempts", "9")
    project, dlq_topic = environment["GOOGLE_CLOUD_PROJECT"], environment["IL_AUDIT_DLQ_TOPIC"]
    dlq = f"projects/{project}/topics/{dlq_topic}"
    assert "~ subscription" in out
    assert f"dead_letter: {dlq} after 5 attempts → {dlq} after 9 attempts" in out


@pytest.mark.usefixtures("environment")
def test_rates_load_and_show_against_bigquery(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rates are upserted with MERGE and the table catalog prices from them."""
    rates = tmp_path / "rates.json"
    rates.write_text(json.dumps({"rate_version": "2026-12", "rates": [
        {"service": "vertex_gemini", "model_id": "gemini-2.0-flash", "effective_from": "2026-12-01",
         "input_price_per_1m_tokens": "0.12", "output_price_per_1m_tokens": "0.48"},
        {"service": "cloud_run", "model_id": "cpu_second", "effective_from": "2026-12-01",
         "unit_price": "0.000025", "unit": "vCPU_second"},
    ]}))  # fmt: skip
    runner = CliRunner()
    first = runner.invoke(cli, ["rates", "load", str(rates), "--target", "bigquery"])
    assert first.exit_code == 0, first.output
    assert "2 new" in first.output
    again = runner.invoke(cli, ["rates", "load", str(rates), "--target", "bigquery"])
    assert "0 new, 0 changed, 2 unchanged" in again.output
    monkeypatch.setenv("IL_COST_RATES_SOURCE", "bigquery")
    shown = runner.invoke(cli, ["rates", "show", "--target", "bigquery"])
    assert shown.exit_code == 0, shown.output
    assert shown.output.startswith("source: bigquery_catalog   version: 2026-12   rates: 2")
    assert "0.000025" in shown.output
