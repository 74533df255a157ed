"""Issue 24 §6, the dev loop as an operator meets it: each command in its own process."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import run_cli

CLEAN_ENV = {name: value for name, value in os.environ.items() if not name.startswith("IL_")}
"""This shell without il-audit settings: each command reads only its defaults."""


def cli(*args: str, cwd: Path, **env: str) -> Any:
    """``il-audit ARGS`` run from ``cwd`` in a shell without il-audit settings."""
    return run_cli(*args, cwd=cwd, env={**CLEAN_ENV, **env}, inherit=False)


def test_after_demo_query_and_report_name_the_demo_database(tmp_path: Path) -> None:
    """`demo` writes il_audit_demo.duckdb; query and report without --database name it (exit 2)."""
    demo = cli("demo", "--events", "50", cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr
    assert (tmp_path / "il_audit_demo.duckdb").exists()
    expected = (
        "no il_audit.duckdb here; found il_audit_demo.duckdb: add `--database il_audit_demo.duckdb`"
    )
    for args in (("query", "SELECT 1"), ("report",)):
        result = cli(*args, cwd=tmp_path)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert expected in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "il_audit.duckdb").exists()
    followed = cli("query", "SELECT 1", "--database", "il_audit_demo.duckdb", cwd=tmp_path)
    assert followed.returncode == 0, followed.stderr


@pytest.mark.usefixtures("pubsub_emulator_host")
def test_dev_up_bigquery_creates_the_views_that_report_reads(tmp_path: Path) -> None:
    """`dev up --bigquery`, then `report --bigquery` in the stack's environment: every section
    reads its view in the stand-in (none "could not be read"), and `dev down` stops it all."""
    up = cli("dev", "up", "--bigquery", cwd=tmp_path)
    assert up.returncode == 0, up.stderr
    try:
        exports = cli("dev", "env", cwd=tmp_path).stdout.splitlines()
        app_env = dict(line.removeprefix("export ").split("=", 1) for line in exports)
        out = tmp_path / "report.html"
        report = cli("report", "--bigquery", "--out", str(out), cwd=tmp_path, **app_env)
        assert report.returncode == 0, report.stdout + report.stderr
        assert "could not be read" not in report.stdout + report.stderr
        assert out.exists()
    finally:
        down = cli("dev", "down", cwd=tmp_path)
    assert down.returncode == 0, down.stderr


@pytest.mark.parametrize("command", ["restart-function", "env"])
def test_without_a_stack_it_is_one_line_and_exit_2(tmp_path: Path, command: str) -> None:
    """No .il-audit-dev/ here or above: `dev restart-function` and `dev env` print one line
    naming `il-audit dev up` and exit 2 (configuration), not a traceback."""
    result = cli("dev", command, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "no local stack recorded" in result.stderr
    assert "il-audit dev up" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stdout == ""  # nothing for `eval` to run
