"""Usage errors of ``il-audit erase`` and ``dlq purge --actor-uid``: exit 2 before any work."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from il_audit.cli import cli


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["erase", "--dry-run"], "exactly one of --actor-uid and --actor-email"),
        (["erase", "--actor-uid", "u", "--actor-email", "a@b.c"], "exactly one"),
        (["erase", "--actor-email", "not-an-address", "--dry-run"], "not an e-mail"),
        (["dlq", "purge", "--actor-uid", "u"], "add --yes"),
        (["dlq", "purge", "--actor-uid", "u", "--yes", "--archive", "a.jsonl"], "no copy"),
    ],
)
def test_bad_usage_exits_2_with_the_fix(args: list[str], said: str) -> None:
    """Each refusal says what to change; nothing is opened or pulled."""
    result = CliRunner().invoke(cli, args, env={"IL_AUDIT_HASH_KEY": "k"})
    assert result.exit_code == 2, result.output
    assert said in result.output
