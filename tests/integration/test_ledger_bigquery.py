"""Seals and verify on the BigQuery stand-in: issue 26's scenario, a late row, a ledger
edit. Rows are written with insertAll, then read (the stand-in can hang when a query
overlaps an append); DML stands in for the tampering."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from il_audit.cli import cli
from il_audit.operations.ledger import seal
from il_audit.operations.ledger_bigquery import BigQueryLedgerStore
from il_audit.operations.retention import apply_bigquery
from il_audit.operations.verify import verify
from il_audit.subscriber_fn.sinks.bigquery import BigQuerySink
from tests.support import ledger_scenario as s
from tests.support.bigquery_standin import BigQueryStandIn


class Dataset:
    """A fresh dataset of the stand-in with the scenario's rows."""

    def __init__(self, standin: BigQueryStandIn) -> None:
        self.url = standin.url
        self.name = f"ledger_{uuid.uuid4().hex[:10]}"
        self.client = bigquery.Client(
            project=standin.project,
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options=ClientOptions(api_endpoint=standin.url),
        )
        self.sink = BigQuerySink(self.client, self.name, retry_deadline=5.0, timeout=10.0)

    def write(self, events: list[dict[str, Any]], dead: list[dict[str, Any]] | None = None) -> None:
        assert self.sink.write_events(events) == {}
        if dead:
            self.sink.write_dead_letters(dead)

    def store(self) -> BigQueryLedgerStore:
        return BigQueryLedgerStore(self.client, self.name, timeout=30.0)

    def sql(self, statement: str) -> None:
        qualified = statement.replace("{ds}", f"`{self.client.project}.{self.name}`")
        self.client.query(qualified).result(timeout=30)

    def env(self) -> dict[str, str]:
        return {
            "IL_BQ_API_ENDPOINT": self.url,
            "IL_BQ_LOGS_PROJECT": self.client.project,
            "IL_BQ_AUDIT_DATASET": self.name,
            "IL_AUDIT_BQ_WRITE_METHOD": "insert_all",
            "IL_AUDIT_HASH_KEY": s.HASH_KEY,
            "IL_AUDIT_OPERATOR": "ledger-test",
            "IL_AUDIT_RETENTION_DAYS_BY_FAMILY": "ui=2",
        }


@pytest.fixture
def data(standin: BigQueryStandIn) -> Iterator[Dataset]:
    """The scenario's rows in a fresh dataset, sealed at NOW."""
    dataset = Dataset(standin)
    dataset.write(s.main_rows() + s.expiring_rows(), s.dead_letter_rows())
    try:
        result = seal(dataset.store(), now=s.NOW)
        assert result.as_dict()["rows"] == 7
        yield dataset
    finally:
        dataset.client.delete_dataset(dataset.name, delete_contents=True, not_found_ok=True)
        dataset.client.close()  # type: ignore[no-untyped-call]


def test_verify_on_bigquery_names_exactly_the_deleted_and_the_changed_row(data: Dataset) -> None:
    """Delete a row, change a row, erase a person (the CLI), let retention expire an hour:
    verify (the CLI, --bigquery) flags the first two only and exits 1."""
    assert verify(data.store(), s.POLICY, now=s.NOW).ok
    data.sql(f"DELETE FROM {{ds}}.events WHERE event_id = '{s.DELETED}'")
    data.sql(f"UPDATE {{ds}}.events SET app = 'forged' WHERE event_id = '{s.CHANGED}'")
    runner = CliRunner()
    erased = runner.invoke(
        cli, ["erase", "--bigquery", "--actor-uid", s.PERSON, "--yes", "--format", "json"],
        env=data.env(),
    )  # fmt: skip
    assert erased.exit_code == 0, erased.output
    expired = apply_bigquery(data.client, data.client.project, data.name, s.POLICY, s.NOW,
                             dry_run=False, timeout=30)  # fmt: skip
    assert expired.ok

    result = runner.invoke(cli, ["verify", "--bigquery", "--format", "json"], env=data.env())

    assert result.exit_code == 1, result.output
    report = json.loads(result.output)
    assert s.kinds(report, "unexplained") == s.expected_unexplained()
    assert s.explanations(report) == {
        s.ERASED: f"erased:{json.loads(erased.output)['erasure_id']}",
        **dict.fromkeys(s.EXPIRED, "retention:ui"),
    }
    assert report["ledger_intact"] is True


def test_a_late_row_and_an_edited_entry_on_bigquery(data: Dataset) -> None:
    """A row reaching a sealed hour goes into the next seal's late section (verify: intact);
    then an edited ledger entry makes verify report the ledger as changed."""
    data.write(s.late_rows())
    later = s.NOW + timedelta(hours=2)
    second = seal(data.store(), now=later).as_dict()
    assert second["late_rows"] == 1
    report = verify(data.store(), s.POLICY, now=later)
    assert (report.ok, report.rows_late) == (True, 1)

    data.sql("UPDATE {ds}.audit_ledger SET row_count = 0 WHERE row_count > 0")

    edited = verify(data.store(), s.POLICY, now=later)
    assert edited.ok is False
    assert any("seal_hash does not match" in problem for problem in edited.ledger_problems)


def test_sealing_an_hour_reports_the_bytes_it_read(data: Dataset) -> None:
    """`ledger seal --bigquery --format json` seals the next closed hour, reports
    bytes_processed from the jobs it ran (what docs/costs.md explains), and a second run
    seals nothing twice."""
    args = ["ledger", "seal", "--bigquery", "--until", "2026-11-27T12:00", "--format", "json"]
    runs = [CliRunner().invoke(cli, args, env=data.env()) for _ in range(2)]

    assert [run.exit_code for run in runs] == [0, 0], runs[0].output
    first, again = (json.loads(run.output) for run in runs)
    assert (first["sealed_periods"], first["rows"]) == (1, 0)
    assert first["periods"][0]["period_start"] == "2026-11-27T11:00:00+00:00"
    assert again["sealed_periods"] == 0
    assert again["previous_seal_hash"] == first["last_seal_hash"]
    assert isinstance(first["bytes_processed"], int)


def test_a_duplicate_physical_row_is_sealed_as_a_second_pair(data: Dataset) -> None:
    """The same event written twice (the stand-in, like the default stream, keeps both)
    is two physical rows with two salts: the seal counts both, verify finds both intact."""
    data.write(s.late_rows())
    data.write(s.late_rows())
    later = s.NOW + timedelta(hours=2)

    sealed = seal(data.store(), now=later).as_dict()
    report = verify(data.store(), s.POLICY, now=later)

    assert sealed["late_rows"] == 2
    assert (report.ok, report.rows_late) == (True, 2)
