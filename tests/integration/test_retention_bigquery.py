"""``il-audit retention apply --bigquery`` against the BigQuery stand-in: real DELETEs by family.

The stand-in runs BigQuery's DML (DuckDB underneath); what it cannot show is the
streaming-buffer refusal of real BigQuery, which the command reports per family
(``DELETE_REFUSED_HINT``) and which the scheduled queries meet again the next day.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from il_audit.cli import cli
from il_audit.subscriber_fn.sinks.bigquery import BigQuerySink
from tests.support import retention_scenario as scenario
from tests.support.bigquery_standin import BigQueryStandIn


def test_apply_deletes_by_family_on_the_standin(
    standin: BigQueryStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dry run counts one row per family and deletes nothing; apply deletes exactly
    those, through the real google-cloud-bigquery client."""
    client = bigquery.Client(
        project=standin.project,
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options=ClientOptions(api_endpoint=standin.url),
    )
    dataset = f"retention_{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    sink = BigQuerySink(client, dataset, retry_deadline=5.0, timeout=10.0)
    assert sink.write_events(scenario.event_rows(now)) == {}
    sink.write_dead_letters(scenario.dead_letter_rows(now))
    for name, value in {
        "GOOGLE_CLOUD_PROJECT": standin.project, "IL_BQ_API_ENDPOINT": standin.url,
        "IL_BQ_AUDIT_DATASET": dataset, "IL_AUDIT_RETENTION_DAYS": "400",
        "IL_AUDIT_RETENTION_DAYS_BY_FAMILY": "chat.model_call=30,chat=60,auth=100,dead_letters=10",
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    args = ["retention", "apply", "--bigquery", "--format", "json", "--timeout", "30"]
    try:
        dry = CliRunner().invoke(cli, [*args, "--dry-run"])
        before = client.query(f"SELECT COUNT(*) AS n FROM `{dataset}.events`").result()
        done = CliRunner().invoke(cli, args)
        kept = client.query(f"SELECT event_type, occurred_at FROM `{dataset}.events`").result()
        dead = client.query(f"SELECT received_at FROM `{dataset}.dead_letters`").result()
        kept_rows = {(row[0], scenario.age_of(row[1], now)) for row in kept}
        dead_ages = [scenario.age_of(row[0], now) for row in dead]
    finally:
        client.delete_dataset(dataset, delete_contents=True, not_found_ok=True)

    assert dry.exit_code == 0, dry.output
    assert {f["family"]: f["rows"] for f in json.loads(dry.output)["families"]} == (
        scenario.DELETED
    )
    assert next(iter(before))[0] == len(scenario.EVENTS)
    assert done.exit_code == 0, done.output
    assert {f["family"]: f["rows"] for f in json.loads(done.output)["families"]} == (
        scenario.DELETED
    )
    assert kept_rows == scenario.KEPT
    assert dead_ages == [5]
