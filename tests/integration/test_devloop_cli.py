"""Issue 24 §6, the dev loop as an operator meets it: each command in its own process."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

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
