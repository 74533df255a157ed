"""``--format json|table`` on the commands that printed only tables (issue 24 §5)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from il_audit.cli import cli


def test_rates_show_json_is_one_object_with_the_table_s_columns(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("IL_COST_RATES_SOURCE", raising=False)
    args = ["rates", "show", "--target", "embedded", "--database", str(tmp_path / "x.duckdb")]
    result = CliRunner().invoke(cli, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert list(document) == ["source", "version", "cost_rates_source", "rates"]
    assert (document["source"], document["cost_rates_source"]) == ("seed_catalog", "seed")
    table = CliRunner().invoke(cli, args).output.splitlines()
    assert table[0] == (
        f"source: seed_catalog   version: {document['version']}   rates: {len(document['rates'])}"
    )
    assert table[1].startswith("IL_COST_RATES_SOURCE=seed: ")
    assert list(document["rates"][0]) == table[2].split()
    assert document["rates"][0]["service"] == table[4].split()[0]


def test_dev_status_json_without_a_stack_is_not_healthy(tmp_path: Path) -> None:
    args = ["dev", "status", "--state-dir", str(tmp_path / "none"), "--format", "json"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    assert json.loads(result.output) == {"healthy": False, "components": [], "delivery": None}


def test_schema_export_json_lists_the_files_it_wrote(tmp_path: Path) -> None:
    """`schema export --format json`: out and written, each file present."""
    out = tmp_path / "schemas"
    result = CliRunner().invoke(cli, ["schema", "export", "--out", str(out), "--format", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["out"] == str(out)
    assert sorted(document["written"]) == sorted(str(path) for path in out.iterdir())
    assert f"{out}/events.json" in document["written"]


def test_infra_terraform_check_json_names_the_drifted_files(tmp_path: Path) -> None:
    """`infra terraform --format json`: written files, then a check that finds one removed
    (exit 1) and lists it under drifted."""
    module = tmp_path / "terraform"
    args = ["infra", "terraform", "--module", str(module), "--format", "json"]
    written = CliRunner().invoke(cli, args)
    assert written.exit_code == 0, written.output
    files = json.loads(written.stdout)["written"]
    assert files
    (module / files[0]).unlink()
    checked = CliRunner().invoke(cli, [*args, "--check"])
    assert checked.exit_code == 1
    assert json.loads(checked.stdout) == {
        "module": str(module),
        "check": True,
        "drifted": [files[0]],
    }


def test_dev_down_json_without_a_stack_is_an_empty_list(tmp_path: Path) -> None:
    """Nothing to stop: `[]` and exit 0, as the table's "nothing to stop" line."""
    args = ["dev", "down", "--state-dir", str(tmp_path / "none"), "--format", "json"]
    result = CliRunner().invoke(cli, args)
    assert (result.exit_code, json.loads(result.stdout)) == (0, [])
