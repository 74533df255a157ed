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
