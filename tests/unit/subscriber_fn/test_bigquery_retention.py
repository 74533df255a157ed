"""Retention in BigQuery tables the sink creates: day partitions expire after the set days."""

from __future__ import annotations

from il_audit.schemas import COST_RATES, DEAD_LETTERS, EVENTS
from il_audit.subscriber_fn.sinks.bigquery import BigQuerySink
from il_audit.subscriber_fn.sinks.bigquery_tables import bigquery_table
from tests.support.factories import make_settings


def test_partitioned_tables_expire_after_the_retention() -> None:
    """events and dead_letters get expirationMs = days * 86,400,000; cost_rates no partitions."""
    events = bigquery_table(EVENTS, "p.d.events", retention_days=30)
    dead = bigquery_table(DEAD_LETTERS, "p.d.dead_letters", retention_days=30)
    rates = bigquery_table(COST_RATES, "p.d.cost_rates", retention_days=30)

    assert events.time_partitioning.expiration_ms == 30 * 86_400_000
    assert dead.time_partitioning.expiration_ms == 30 * 86_400_000
    assert rates.time_partitioning is None


def test_no_retention_means_no_expiration() -> None:
    """Without retention_days the partitions never expire."""
    assert bigquery_table(EVENTS, "p.d.events").time_partitioning.expiration_ms is None


def test_sink_from_settings_carries_the_retention() -> None:
    """IL_AUDIT_RETENTION_DAYS reaches the sink, which creates tables with it."""
    settings = make_settings(project="p", bq_api_endpoint="http://127.0.0.1:9", retention_days=14)

    sink = BigQuerySink.from_settings(settings)
    sink.close()

    assert sink.retention_days == 14


def test_with_families_the_sink_s_partitions_expire_after_the_longest() -> None:
    """The outer bound: a family kept longer than the default sets the partition expiry."""
    settings = make_settings(
        project="p",
        bq_api_endpoint="http://127.0.0.1:9",
        retention_days=30,
        retention_days_by_family={"auth": 400, "chat.model_call": 7},
    )

    sink = BigQuerySink.from_settings(settings)
    sink.close()

    assert sink.retention_days == 400
