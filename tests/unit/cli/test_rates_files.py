"""`il-audit rates` as a file format (issue 24 §5): what `show` prints loads back, entries are
numbered as in the file, the documented columns are the ones `load` accepts, and both
commands say which catalog IL_COST_RATES_SOURCE selects."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from il_audit.cli import cli
from il_audit.subscriber_fn.rate_files import FIELDS
from tests.unit.cli.test_query_schema_rates import RATE, write_rates

ROOT = Path(__file__).resolve().parents[3]
RATES = [
    RATE,
    {**RATE, "pricing_tier": "batch", "input_price_per_1m_tokens": "0.06",
     "output_price_per_1m_tokens": "0.24", "source_url": "https://example.com/prices"},
    {**RATE, "model_id": "gemini-2.5-flash", "cached_input_price_per_1m_tokens": "0.03",
     "cache_write_price_per_1m_tokens": "0.3"},
    {"service": "vertex_rerank", "model_id": "semantic-ranker", "effective_from": "2026-12-01",
     "unit_price": "0.001", "unit": "query", "rate_version": "2026-12-01"},
]  # fmt: skip


def run(*args: str) -> tuple[int, str, str]:
    """``il-audit ARGS``: exit code, stdout, stderr."""
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def embedded(database: Path) -> tuple[str, ...]:
    return ("--target", "embedded", "--database", str(database))


def test_show_output_loads_back_unchanged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`show --format csv` and `--format json` of the table load into another file, and that
    file shows the same rates; loaded into the same table they change nothing."""
    monkeypatch.setenv("IL_COST_RATES_SOURCE", "bigquery")
    first = tmp_path / "first.duckdb"
    assert (
        run("rates", "load", str(write_rates(tmp_path / "in.csv", RATES)), *embedded(first))[0] == 0
    )
    code, shown, note = run("rates", "show", "--format", "csv", *embedded(first))
    assert code == 0
    assert shown.splitlines()[0].split(",") == list(FIELDS)
    assert len(shown.splitlines()) == 1 + len(RATES)
    assert "IL_COST_RATES_SOURCE=bigquery" in note  # the note goes to stderr, not into the CSV
    (tmp_path / "shown.csv").write_text(shown)
    code, out, _ = run("rates", "load", str(tmp_path / "shown.csv"), *embedded(first), "--dry-run")
    assert (code, out.splitlines()[-1]) == (
        0,
        f"dry run: 0 new, 0 changed, {len(RATES)} unchanged; nothing written",
    )
    for fmt in ("csv", "json"):
        copy = tmp_path / f"copy-{fmt}.duckdb"
        code, document, _ = run("rates", "show", "--format", fmt, *embedded(first))
        (tmp_path / f"shown.{fmt}").write_text(document)
        code, out, _ = run("rates", "load", str(tmp_path / f"shown.{fmt}"), *embedded(copy))
        assert code == 0, out
        assert f"{len(RATES)} new, 0 changed, 0 unchanged" in out
        assert run("rates", "show", "--format", "csv", *embedded(copy))[1] == shown, fmt


def test_overlap_after_an_invalid_entry_names_the_entries_as_in_the_file(tmp_path: Path) -> None:
    """An invalid entry 1 does not shift the numbers: the overlap is entries 2 and 3."""
    invalid = {**RATE, "effective_from": "someday"}
    file = write_rates(tmp_path / "bad.csv", [invalid, RATE, RATE])
    code, _, out = run("rates", "load", str(file), *embedded(tmp_path / "r.duckdb"))
    assert code == 1
    assert "entry 1: " in out
    assert "entries 2 and 3 overlap" in out
    assert "entries 1 and 2 overlap" not in out


def test_load_and_show_say_which_catalog_is_in_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a load with the default source, load and show both say the seed catalog is the one
    shown and that IL_COST_RATES_SOURCE=bigquery selects the table; --format json says it too."""
    monkeypatch.delenv("IL_COST_RATES_SOURCE", raising=False)
    database = tmp_path / "r.duckdb"
    file = write_rates(tmp_path / "in.csv", [RATE])
    code, out, _ = run("rates", "load", str(file), *embedded(database))
    assert code == 0
    seed_note = (
        "IL_COST_RATES_SOURCE=seed: the bundled seed catalog is shown and priced with; "
        "the cost_rates table is used only with IL_COST_RATES_SOURCE=bigquery"
    )
    assert out.splitlines()[-2:] == [
        "1 new, 0 changed, 0 unchanged -> " + out.splitlines()[-2].split(" -> ")[1],
        f"{seed_note} (`il-audit rates show` shows the same catalog)",
    ]
    code, out, _ = run("rates", "show", *embedded(database))
    assert out.splitlines()[1] == seed_note
    code, out, _ = run("rates", "load", str(file), *embedded(database), "--format", "json")
    document = json.loads(out)
    assert (document["unchanged"], document["written"], document["cost_rates_source"]) == (
        1,
        0,
        "seed",
    )
    assert json.loads(run("rates", "show", "--format", "json")[1])["cost_rates_source"] == "seed"


def test_documented_columns_are_the_ones_load_accepts() -> None:
    """docs/operations.md's column table lists exactly rate_files.FIELDS, in order."""
    text = (ROOT / "docs/operations.md").read_text()
    table = text.split("<!-- rates-columns:", 1)[1].split("\n\n", 1)[0]
    documented = re.findall(r"^\| `(\w+)` \|", table, flags=re.MULTILINE)
    assert documented == list(FIELDS)
