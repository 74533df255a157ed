"""``il-audit subscriber pull``: what docs/operations.md and docs/pull-worker.md say holds."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from il_audit.cli import cli
from il_audit.cli.subscriber import pull

ROOT = Path(__file__).resolve().parents[3]


def _operations_section() -> str:
    text = (ROOT / "docs/operations.md").read_text("utf-8")
    return text.split("## The streaming-pull worker", 1)[1].split("\n## ", 1)[0]


def _help() -> str:
    result = CliRunner().invoke(cli, ["subscriber", "pull", "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    return result.output


def test_every_option_the_docs_name_exists_with_its_default() -> None:
    """The options the pull-worker section of docs/operations.md names are the command's, with
    the defaults it states."""
    section, help_text = _operations_section(), _help()
    options = set(re.findall(r"`(--[a-z-]+)", section))
    assert options >= {"--max-batch-rows", "--max-batch-seconds", "--workers", "--health-port"}
    for option in options:
        assert option in help_text, option
    params = {param.name: param for param in pull.params}
    assert params["max_batch_rows"].default == 5000
    assert params["max_batch_seconds"].default == 0.5
    assert (params["health_port"].default, params["health_port"].envvar) == (8080, "PORT")
    for variable in re.findall(
        r"`(IL_AUDIT_[A-Z_]+|PORT)`", (ROOT / "docs/pull-worker.md").read_text()
    ):
        assert variable in help_text, variable


def test_a_short_subscription_without_a_project_is_refused() -> None:
    """No project anywhere: configuration, exit 2 with the fix, before anything starts."""
    result = CliRunner().invoke(cli, ["subscriber", "pull", "--subscription", "sub"])
    assert result.exit_code == 2
    assert "needs a project" in result.output


def test_the_documented_files_exist_and_the_image_runs_the_command() -> None:
    """docs/pull-worker.md and the Dockerfile exist; the image's entry point is the command."""
    assert (ROOT / "docs/pull-worker.md").is_file()
    dockerfile = (ROOT / "deploy/pull-worker/Dockerfile").read_text()
    assert 'ENTRYPOINT ["il-audit", "subscriber", "pull"]' in dockerfile
