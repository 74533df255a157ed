"""`il-audit report`: options, exit codes and the summary line."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from il_audit.cli import cli
from il_audit.subscriber_fn.core import MessageMeta, process_message
from il_audit.subscriber_fn.pricing import seed_catalog
from il_audit.subscriber_fn.sinks.duckdb import DuckDBSink
from tests.support.factories import FROZEN_TIME, envelope_line


@pytest.fixture
def database(tmp_path: Path) -> Path:
    """An embedded file with two events of one day."""
    path = tmp_path / "events.duckdb"
    lines = [envelope_line(event_id="e-1", app="ingest"), envelope_line(event_id="e-2")]
    result = process_message(b"\n".join(lines), MessageMeta("m"), seed_catalog(), FROZEN_TIME)
    sink = DuckDBSink(path, hold_seconds=0)
    sink.write_events(result.rows)
    sink.close()
    return path


def invoke(*args: str, **env: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["report", *args], env=env)
    return result.exit_code, result.output


def test_report_writes_the_page_and_prints_its_path(database: Path, tmp_path: Path) -> None:
    """Exit 0, the page exists, and the summary line names the period, source and path."""
    out = tmp_path / "out" / "report.html"
    code, output = invoke("--database", str(database), "--out", str(out),
                          "--since", "2026-11-27", "--until", "2026-11-27")  # fmt: skip
    assert code == 0, output
    assert out.read_text("utf-8").startswith("<!DOCTYPE html>")
    assert output.strip() == (
        f"report: 9 sections, 6 without data, 2026-11-27 to 2026-11-27, "
        f"from DuckDB file {database} -> {out.resolve()}"
    )


def test_report_json_is_the_summary_as_one_object(database: Path, tmp_path: Path) -> None:
    """`--format json` carries the summary line's facts under snake_case keys."""
    out = tmp_path / "report.html"
    code, output = invoke("--database", str(database), "--out", str(out), "--format", "json",
                          "--since", "2026-11-27", "--until", "2026-11-27")  # fmt: skip
    assert code == 0, output
    assert json.loads(output) == {
        "out": str(out.resolve()),
        "since": "2026-11-27",
        "until": "2026-11-27",
        "source": f"DuckDB file {database}",
        "sections": 9,
        "empty": 6,
        "failed": [],
    }


def test_options_can_come_from_the_environment(database: Path, tmp_path: Path) -> None:
    """IL_AUDIT_DUCKDB_PATH, IL_AUDIT_REPORT_OUT, _SINCE and _UNTIL stand for the options."""
    out = tmp_path / "env.html"
    code, output = invoke(
        IL_AUDIT_DUCKDB_PATH=str(database),
        IL_AUDIT_REPORT_OUT=str(out),
        IL_AUDIT_REPORT_SINCE="2026-11-27",
        IL_AUDIT_REPORT_UNTIL="2026-11-27",
    )
    assert code == 0, output
    assert "6 without data" in output
    assert out.exists()


def test_the_default_period_is_the_last_thirty_days(database: Path, tmp_path: Path) -> None:
    """Without --since and --until the page covers the 30 UTC days up to today."""
    code, output = invoke("--database", str(database), "--out", str(tmp_path / "r.html"))
    today = datetime.now(UTC).date()
    assert code == 0, output
    assert f"{today - timedelta(days=29)} to {today}" in output


def test_a_missing_database_exits_2_without_a_page(tmp_path: Path) -> None:
    """No file: exit 2 (configuration) with a hint, and nothing written (no empty database)."""
    out = tmp_path / "r.html"
    code, output = invoke("--database", str(tmp_path / "none.duckdb"), "--out", str(out))
    assert code == 2
    assert "no embedded database" in output
    assert not out.exists()
    assert not (tmp_path / "none.duckdb").exists()


def test_since_after_until_is_bad_usage(database: Path) -> None:
    """A period that ends before it starts exits 2."""
    code, output = invoke("--database", str(database), "--since", "2026-11-28",
                          "--until", "2026-11-27")  # fmt: skip
    assert code == 2
    assert "after it ends" in output


def test_a_malformed_date_is_bad_usage(database: Path) -> None:
    """--since must be YYYY-MM-DD; anything else exits 2."""
    code, _ = invoke("--database", str(database), "--since", "27/11/2026")
    assert code == 2


def test_database_and_bigquery_together_are_bad_usage(database: Path) -> None:
    """--database names a file, --bigquery a dataset: both at once exits 2."""
    code, output = invoke("--database", str(database), "--bigquery")
    assert code == 2
    assert "exclude each other" in output


def test_bigquery_without_a_project_is_bad_usage() -> None:
    """--bigquery with no project and no endpoint exits 2 naming the variables."""
    code, output = invoke("--bigquery")
    assert code == 2
    assert "IL_BQ_LOGS_PROJECT" in output


def test_an_unreachable_bigquery_exits_1_without_a_page(tmp_path: Path) -> None:
    """A refused connection to the endpoint stops the report: exit 1, no page."""
    from il_audit.devtools.ports import free_port

    out = tmp_path / "r.html"
    code, output = invoke("--bigquery", "--out", str(out), "--timeout", "1",
                          IL_BQ_API_ENDPOINT=f"http://127.0.0.1:{free_port()}",
                          IL_BQ_LOGS_PROJECT="p-1")  # fmt: skip
    assert code == 1, output
    assert "cannot query BigQuery p-1.intelligence_layer_logs" in output
    assert not out.exists()


def test_the_page_says_from_which_day_it_is_complete(database: Path, tmp_path: Path) -> None:
    """With a retention, the header names the shortest one and the first complete day; the
    period reaching before it is said to lack rows; without one, no such line."""
    out = tmp_path / "kept.html"
    code, output = invoke("--database", str(database), "--out", str(out),
                          IL_AUDIT_RETENTION_DAYS="400",
                          IL_AUDIT_RETENTION_DAYS_BY_FAMILY="chat.model_call=7")  # fmt: skip
    assert code == 0, output
    page = out.read_text("utf-8")
    first = (datetime.now(UTC) - timedelta(days=6)).date().isoformat()
    assert f'data-complete-from="{first}"' in page
    assert "the shortest retention is 7 days (chat.model_call)" in page
    assert "may lack them" in page  # the default period is 30 days
    code, output = invoke("--database", str(database), "--out", str(out))
    assert code == 0, output
    assert "data-complete-from" not in out.read_text("utf-8")
