"""The CLI's data commands on an embedded file: query, schema export, rates show/load."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from il_audit.cli import cli
from il_audit.schemas import TABLES
from il_audit.subscriber_fn.core import MessageMeta, process_message
from il_audit.subscriber_fn.pricing import seed_catalog
from il_audit.subscriber_fn.sinks.duckdb import DuckDBSink
from tests.support import duck
from tests.support.factories import FROZEN_TIME, envelope_line


@pytest.fixture
def database(tmp_path: Path) -> Path:
    """An embedded file with three events from two apps and one dead letter."""
    path = tmp_path / "cli.duckdb"
    sink = DuckDBSink(path)
    lines = [
        envelope_line(
            event_id="e-1",
            app="ingest",
            event_type="cost.api.usage",
            usage=[
                {
                    "service": "vertex_gemini",
                    "model_id": "gemini-2.0-flash",
                    "input_tokens": 1_000_000,
                }
            ],
        ),
        envelope_line(event_id="e-2", app="ingest"),
        envelope_line(event_id="e-3", app="chat", metadata={"k": [1, 2]}),
        b"{broken",
    ]
    result = process_message(b"\n".join(lines), MessageMeta("m"), seed_catalog(), FROZEN_TIME)
    sink.write_events(result.rows)
    from il_audit.subscriber_fn.core import dead_letter_row

    sink.write_dead_letters(
        [dead_letter_row(r, {}, MessageMeta("m"), FROZEN_TIME) for r in result.rejects]
    )
    return path


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_query_prints_an_aligned_table(database: Path) -> None:
    """Columns line up under their headers, numbers to the right, with a row count."""
    code, out = invoke(
        "query",
        "SELECT app, COUNT(*) AS n FROM events GROUP BY app ORDER BY app",
        "--database",
        str(database),
    )
    assert code == 0
    assert out.splitlines() == ["app     n", "------  -", "chat    1", "ingest  2", "(2 rows)"]


def test_query_reads_bigquery_sql_with_qualified_names(database: Path) -> None:
    """`project.dataset.table` names and BigQuery functions work against the file."""
    sql = (
        "SELECT app, SUM(cost_usd) AS usd, SUM(priced_events) AS priced "
        "FROM `my-project.intelligence_layer_logs.cost_by_app_daily` GROUP BY app"
    )
    code, out = invoke("query", sql, "--database", str(database), "--format", "json")
    assert code == 0
    rate = seed_catalog().rate_at("vertex_gemini", "gemini-2.0-flash", FROZEN_TIME)
    assert rate is not None
    assert rate.input_price_per_1m_tokens is not None
    usd = f"{rate.input_price_per_1m_tokens:.9f}"  # 1M input tokens cost the 1M price
    assert json.loads(out) == [{"app": "ingest", "usd": usd, "priced": 1}]


def test_query_csv_and_json_columns(database: Path) -> None:
    """CSV has a header row; JSON columns come out as JSON."""
    code, out = invoke(
        "query",
        "SELECT event_id, metadata FROM events WHERE app = 'chat'",
        "--database",
        str(database),
        "--format",
        "csv",
    )
    assert code == 0
    assert list(csv.reader(io.StringIO(out))) == [["event_id", "metadata"], ["e-3", '{"k":[1,2]}']]


def test_query_views_exist_in_the_file(database: Path) -> None:
    """The analytics views are created with the tables."""
    code, out = invoke(
        "query",
        "SELECT error_class, dead_letters FROM dead_letters_by_reason",
        "--database",
        str(database),
        "--format",
        "json",
    )
    assert code == 0
    assert json.loads(out) == [{"error_class": "invalid_json", "dead_letters": 1}]


def test_query_without_a_database_says_what_to_do(tmp_path: Path) -> None:
    """A missing file is a clear configuration error (exit code 2)."""
    code, out = invoke("query", "SELECT 1", "--database", str(tmp_path / "none.duckdb"))
    assert code == 2
    assert "il-audit demo" in out


def test_query_sql_errors_exit_1(database: Path) -> None:
    """Bad SQL is reported, not raised."""
    code, out = invoke("query", "SELECT nope FROM events", "--database", str(database))
    assert code == 1
    assert "query failed" in out


def test_schema_export_writes_every_table(tmp_path: Path) -> None:
    """One schema file and one table file per table, matching the specs."""
    code, _ = invoke("schema", "export", "--out", str(tmp_path / "schemas"))
    assert code == 0
    for spec in TABLES:
        schema = json.loads((tmp_path / "schemas" / f"{spec.name}.json").read_text())
        assert schema == spec.schema_json()
        table = json.loads((tmp_path / "schemas" / f"{spec.name}.table.json").read_text())
        assert table == spec.table_json()


def write_rates(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as handle:
        fields = list(dict.fromkeys(key for row in rows for key in row))
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return path


RATE = {
    "service": "vertex_gemini",
    "model_id": "gemini-2.0-flash",
    "effective_from": "2026-12-01",
    "input_price_per_1m_tokens": "0.12",
    "output_price_per_1m_tokens": "0.48",
    "unit": "tokens",
    "rate_version": "2026-12-01",
}


def test_rates_load_dry_run_writes_nothing(tmp_path: Path) -> None:
    """--dry-run shows the diff and leaves the table as it was."""
    database = tmp_path / "rates.duckdb"
    file = write_rates(tmp_path / "rates.csv", [RATE])
    code, out = invoke(
        "rates", "load", str(file), "--target", "embedded", "--database", str(database), "--dry-run"
    )
    assert code == 0
    assert out.startswith("+ vertex_gemini/gemini-2.0-flash from 2026-12-01")
    assert "nothing written" in out
    assert DuckDBSink(database).read_cost_rates() == []


def test_rates_load_upserts_and_reports_changes(tmp_path: Path) -> None:
    """Loading adds rows, a changed price replaces its row, the same file again changes nothing."""
    database = tmp_path / "rates.duckdb"
    file = write_rates(tmp_path / "rates.csv", [RATE])
    assert (
        invoke("rates", "load", str(file), "--target", "embedded", "--database", str(database))[0]
        == 0
    )
    changed = write_rates(tmp_path / "changed.csv", [{**RATE, "input_price_per_1m_tokens": "0.13"}])
    code, out = invoke(
        "rates", "load", str(changed), "--target", "embedded", "--database", str(database)
    )
    assert code == 0
    assert "0 new, 1 changed, 0 unchanged" in out
    [stored] = DuckDBSink(database).read_cost_rates()
    assert str(stored["input_price_per_1m_tokens"]) == "0.130000000"
    code, out = invoke(
        "rates", "load", str(changed), "--target", "embedded", "--database", str(database)
    )
    assert "0 new, 0 changed, 1 unchanged" in out


def test_rates_load_refuses_overlaps_and_malformed_rows(tmp_path: Path) -> None:
    """Overlapping or malformed entries: exit 1, entry numbers named, nothing written."""
    database = tmp_path / "rates.duckdb"
    file = write_rates(
        tmp_path / "bad.csv",
        [RATE, RATE, {**RATE, "unit_price": "-1", "effective_from": "2027-01-01"}],
    )
    code, out = invoke(
        "rates", "load", str(file), "--target", "embedded", "--database", str(database)
    )
    assert code == 1
    assert "entries 1 and 2 overlap" in out
    assert "entry 3" in out
    assert not database.exists() or DuckDBSink(database).read_cost_rates() == []


def test_rates_load_accepts_the_seed_json_shape(tmp_path: Path) -> None:
    """JSON files in the seed catalog's shape load as-is, tiers included; a price with
    more than 9 decimal places (the bundled gcs per-byte rate) is refused, not rounded."""
    database = tmp_path / "rates.duckdb"
    bundled = Path(__file__).resolve().parents[3] / "il_audit/subscriber_fn/cost_rates_seed.json"
    code, out = invoke(
        "rates", "load", str(bundled), "--target", "embedded", "--database", str(database)
    )
    assert code != 0
    assert "gcs/storage_byte unit_price 2E-11 has more than 9 decimal places" in out
    data = json.loads(bundled.read_text())
    data["rates"] = [rate for rate in data["rates"] if rate["service"] != "gcs"]
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps(data))
    code, out = invoke(
        "rates", "load", str(seed), "--target", "embedded", "--database", str(database)
    )
    assert code == 0
    assert f"{len(data['rates'])} new" in out
    tiers = duck.read(
        database, "SELECT pricing_tier, COUNT(*) FROM cost_rates GROUP BY 1 ORDER BY 1"
    )
    batch = sum(rate["pricing_tier"] == "batch" for rate in data["rates"])
    assert tiers == [("batch", batch), ("standard", len(data["rates"]) - batch)]


def test_rates_show_uses_the_table_when_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With IL_COST_RATES_SOURCE=bigquery, show lists the table's rates and says so."""
    database = tmp_path / "rates.duckdb"
    file = write_rates(tmp_path / "rates.csv", [RATE])
    invoke("rates", "load", str(file), "--target", "embedded", "--database", str(database))
    monkeypatch.setenv("IL_COST_RATES_SOURCE", "bigquery")
    code, out = invoke("rates", "show", "--target", "embedded", "--database", str(database))
    assert code == 0
    assert out.startswith("source: bigquery_catalog   version: 2026-12-01   rates: 1")
    monkeypatch.setenv("IL_COST_RATES_SOURCE", "seed")
    code, out = invoke("rates", "show")
    catalog = seed_catalog()
    assert out.startswith(
        f"source: seed_catalog   version: {catalog.version}   rates: {len(catalog)}"
    )


def test_rates_load_of_a_tiered_csv(tmp_path: Path) -> None:
    """A pricing_tier column: standard and batch for one model and day are two rates (a
    blank tier is standard); the same tier twice on one day is refused as an overlap."""
    database = tmp_path / "rates.duckdb"
    standard = {**RATE, "pricing_tier": ""}
    batch = {**RATE, "pricing_tier": "batch", "input_price_per_1m_tokens": "0.06",
             "output_price_per_1m_tokens": "0.24"}  # fmt: skip
    overlap = write_rates(tmp_path / "overlap.csv", [standard, batch, {**batch, "unit": "t"}])
    code, out = invoke(
        "rates", "load", str(overlap), "--target", "embedded", "--database", str(database)
    )
    assert code == 1
    assert "entries 2 and 3 overlap: both set vertex_gemini/gemini-2.0-flash [batch]" in out
    tiered = write_rates(tmp_path / "tiered.csv", [standard, batch])
    code, out = invoke(
        "rates", "load", str(tiered), "--target", "embedded", "--database", str(database)
    )
    assert code == 0
    assert "2 new, 0 changed, 0 unchanged" in out
    stored = duck.read(
        database,
        "SELECT pricing_tier, input_price_per_1m_tokens FROM cost_rates ORDER BY pricing_tier",
    )
    assert [(tier, str(price)) for tier, price in stored] == [
        ("batch", "0.060000000"),
        ("standard", "0.120000000"),
    ]
