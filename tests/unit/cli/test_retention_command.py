"""``il-audit retention show|apply`` on the embedded file (the stand-in: tests/integration)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from il_audit.cli import cli
from il_audit.subscriber_fn.sinks.duckdb import DuckDBSink
from tests.support import retention_scenario as scenario
from tests.support.duck import read
from tests.support.fake_bigquery import FakeBigQuery, Reply

FAMILIES = "chat.model_call=30,chat=60,auth=100,dead_letters=10"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The scenario's policy, as settings."""
    monkeypatch.setenv("IL_AUDIT_RETENTION_DAYS", "400")
    monkeypatch.setenv("IL_AUDIT_RETENTION_DAYS_BY_FAMILY", FAMILIES)


@pytest.mark.usefixtures("env")
def test_show_lists_each_family_and_the_outer_bound() -> None:
    """JSON: the partition expiry (the longest) and every family with its table and days."""
    result = CliRunner().invoke(cli, ["retention", "show", "--format", "json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["partition_expiration_days"] == 400
    assert shown["families"] == [
        {"family": "*", "table": "events", "days": 400},
        {"family": "auth", "table": "events", "days": 100},
        {"family": "chat", "table": "events", "days": 60},
        {"family": "chat.model_call", "table": "events", "days": 30},
        {"family": "dead_letters", "table": "dead_letters", "days": 10},
    ]
    table = CliRunner().invoke(cli, ["retention", "show"])
    assert "partition expiry (the outer bound): 400" in table.output


@pytest.mark.usefixtures("env")
def test_dry_run_counts_and_apply_deletes_by_family(tmp_path: Path) -> None:
    """--dry-run counts one row per family and deletes nothing; apply deletes those rows."""
    path = tmp_path / "audit.duckdb"
    now = datetime.now(UTC)
    sink = DuckDBSink(path, hold_seconds=0)
    assert sink.write_events(scenario.event_rows(now)) == {}
    sink.write_dead_letters(scenario.dead_letter_rows(now))
    sink.close()
    args = ["retention", "apply", "--database", str(path), "--format", "json"]

    dry = CliRunner().invoke(cli, [*args, "--dry-run"])
    counted = read(path, "SELECT COUNT(*) FROM events")[0][0]
    done = CliRunner().invoke(cli, args)

    assert dry.exit_code == 0, dry.output
    assert {f["family"]: f["rows"] for f in json.loads(dry.output)["families"]} == (
        scenario.DELETED
    )
    assert counted == len(scenario.EVENTS)
    assert done.exit_code == 0, done.output
    report = json.loads(done.output)
    assert report["ok"] is True
    assert report["dry_run"] is False
    assert {f["family"]: f["rows"] for f in report["families"]} == scenario.DELETED
    kept = read(path, "SELECT event_type, occurred_at FROM events")
    assert {(kind, scenario.age_of(at, now)) for kind, at in kept} == scenario.KEPT


def test_a_bad_family_setting_exits_2_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """Configuration: exit 2, the variable named, no traceback."""
    monkeypatch.setenv("IL_AUDIT_RETENTION_DAYS_BY_FAMILY", "chat=0")
    result = CliRunner().invoke(cli, ["retention", "show"])
    assert result.exit_code == 2
    assert "IL_AUDIT_RETENTION_DAYS_BY_FAMILY" in result.output
    assert "Traceback" not in result.output


@pytest.mark.usefixtures("env")
def test_a_delete_bigquery_refuses_is_reported_and_the_others_still_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Against tests/support/fake_bigquery.py (a fake: the stand-in has no streaming buffer),
    answering every query job 400 as BigQuery does for rows in the streaming buffer: each
    family is tried, each says so with the fix, and the command exits 1."""
    refusal = (
        "UPDATE or DELETE statement over table p.d.events would affect rows in the "
        "streaming buffer, which is not supported"
    )
    with FakeBigQuery() as server:
        server.on(
            "*",
            lambda request: (
                Reply.error(400, refusal, reason="invalidQuery")
                if request.method == "POST" and request.path.endswith("/jobs")
                else None
            ),
        )
        monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "p")
        monkeypatch.setenv("IL_BQ_API_ENDPOINT", server.url)
        result = CliRunner().invoke(
            cli, ["retention", "apply", "--bigquery", "--format", "json", "--timeout", "5"]
        )
        jobs = [r for r in server.requests if r.path.endswith("/jobs")]

    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert [f["family"] for f in report["families"]] == [
        "auth", "chat", "chat.model_call", "*", "dead_letters"
    ]  # fmt: skip
    assert all("streaming buffer" in f["error"] and "run it again" in f["error"]
               for f in report["families"])  # fmt: skip
    assert len(jobs) == 5
