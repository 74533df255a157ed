"""`il-audit migrate from-0.1` without a reachable warehouse: usage errors and help."""

from __future__ import annotations

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
    """--help names the variable of each option, as every il-audit command does."""
    result = CliRunner().invoke(cli, ["migrate", "from-0.1", "--help"])

    for variable in (
        "IL_AUDIT_MIGRATE_FORCE",
        "IL_AUDIT_MIGRATE_ACTIVE_MINUTES",
        "IL_BQ_AUDIT_DATASET",
    ):
        assert variable in result.output
