"""`il-audit migrate from-0.1` / `from-1.0` without a reachable warehouse: usage errors, help,
and what an unreachable one looks like."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import google.cloud
import pytest
from click.testing import CliRunner

from il_audit.cli import cli


def test_without_a_project_it_is_a_usage_error() -> None:
    """No GOOGLE_CLOUD_PROJECT / IL_BQ_LOGS_PROJECT: exit code 2 and the variables to set."""
    result = CliRunner().invoke(cli, ["migrate", "from-0.1", "--dry-run"])

    assert result.exit_code == 2
    assert "GOOGLE_CLOUD_PROJECT" in result.output


def test_active_minutes_must_be_a_non_negative_number() -> None:
    """A negative --active-minutes is refused by the option itself (exit code 2)."""
    result = CliRunner().invoke(cli, ["migrate", "from-0.1", "--active-minutes", "-1"])

    assert result.exit_code == 2
    assert "--active-minutes" in result.output


def test_options_are_bound_to_environment_variables() -> None:
    """--help names the variable of each option; --force, a confirmation, has none."""
    result = CliRunner().invoke(cli, ["migrate", "from-0.1", "--help"])

    for variable in (
        "IL_AUDIT_DRY_RUN",
        "IL_AUDIT_MIGRATE_ACTIVE_MINUTES",
        "IL_BQ_AUDIT_DATASET",
    ):
        assert variable in result.output
    assert "IL_AUDIT_MIGRATE_FORCE" not in result.output


@pytest.mark.parametrize("command", ["from-0.1", "from-1.0"])
def test_both_migrations_share_the_conventions(command: str) -> None:
    """Each takes --dry-run, --format json|table and --timeout, each bound to a variable, and
    says its exit codes."""
    result = CliRunner().invoke(cli, ["migrate", command, "--help"])

    assert result.exit_code == 0
    for text in ("--dry-run", "--format [table|json]", "IL_AUDIT_MIGRATE_FORMAT", "--timeout",
                 "IL_AUDIT_MIGRATE_TIMEOUT", "Exit codes: 0", "2 bad usage"):  # fmt: skip
        assert text in result.output, text


def _unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "p")
    monkeypatch.setenv("IL_BQ_API_ENDPOINT", "http://127.0.0.1:1")


def test_an_unreachable_warehouse_is_one_line_within_the_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Nothing listens: exit 1 within --timeout, one line naming the address and the fix, no
    traceback."""
    _unreachable(monkeypatch)
    started = time.monotonic()

    result = CliRunner().invoke(cli, ["migrate", "from-1.0", "--timeout", "1", "--format", "json"])

    assert time.monotonic() - started < 10
    assert result.exit_code == 1, result.output
    assert "BigQuery at http://127.0.0.1:1 did not answer within 1 s" in result.output
    assert "IL_BQ_API_ENDPOINT" in result.output
    assert "Traceback" not in result.output


def test_verbose_adds_the_trace(monkeypatch: pytest.MonkeyPatch) -> None:
    """With -v the same failure also prints the trace, for a bug report."""
    _unreachable(monkeypatch)

    result = CliRunner().invoke(cli, ["-v", "migrate", "from-0.1", "--timeout", "1"])

    assert result.exit_code == 1
    assert "Traceback" in result.output
    assert "did not answer within 1 s" in result.output


def test_no_credentials_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A project but no Google credentials: exit 2, one line with the command that fixes it."""
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "my-prod")
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path))  # no gcloud credentials there
    monkeypatch.setenv("NO_GCE_CHECK", "true")  # no metadata server to ask

    result = CliRunner().invoke(cli, ["migrate", "from-1.0", "--dry-run"])

    assert result.exit_code == 2, result.output
    assert "gcloud auth application-default login" in result.output
    assert "Traceback" not in result.output


def test_without_the_bigquery_client_it_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """google-cloud-bigquery not installed (the base install): exit 2 and the pip command."""
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "p")
    monkeypatch.setenv("IL_BQ_API_ENDPOINT", "http://127.0.0.1:1")
    # As if it were not installed: importing it (or the modules that did) raises ImportError.
    monkeypatch.delattr(google.cloud, "bigquery", raising=False)
    for module in ("google.cloud.bigquery", "il_audit.subscriber_fn.sinks.bigquery_tables"):
        monkeypatch.setitem(sys.modules, module, None)

    result = CliRunner().invoke(cli, ["migrate", "from-1.0", "--dry-run"])

    assert result.exit_code == 2, result.output
    assert "pip install 'il-audit[subscriber]'" in result.output
    assert "Traceback" not in result.output
