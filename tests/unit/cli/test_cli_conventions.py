"""The CLI's conventions, checked over the whole command tree (issue 24 §5, docs/cli.md):
every command that prints takes ``--format json|table``, every option names the environment
variable that sets it, and a confirmation never comes from the environment."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from il_audit.cli import cli
from il_audit.cli._options import DRY_RUN_ENV
from il_audit.cli.dlq import replay
from il_audit.cli.doctor import doctor
from il_audit.operations.dlq import Selector
from tests.unit.cli.test_query_schema_rates import RATE, write_rates

ROOT = Path(__file__).resolve().parents[3]

NO_FORMAT = {
    "dev env": 'prints `export` lines for `eval "$(il-audit dev env)"`: another format would '
    "not be shell",
    "subscriber pull": "a long-running worker whose output is its log; its health endpoint "
    "answers JSON",
}
"""Commands that print but have no --format, each with the reason."""

CONFIRMATIONS = {
    ("dlq purge", "--yes"),
    ("dlq replay", "--force"),
    ("infra apply", "--allow-delivery-change"),
    ("migrate from-0.1", "--force"),
    ("migrate from-1.0", "--force"),
    ("erase", "--yes"),
}
"""Options that say yes to something destructive or past a safety check: never from the
environment, where a stale shell would say yes on the operator's behalf."""

NO_ENV = {
    ("demo", "--json"): "an alias of --format, whose variable is named",
    ("doctor", "--json"): "an alias of --format, whose variable is named",
    ("infra terraform", "--check"): "chooses what the command does (verify, not write); a CI "
    "step names it",
    ("schema settings", "--write"): "chooses what the command does; a CI step names it",
    ("schema settings", "--check"): "chooses what the command does; a CI step names it",
    ("schema privacy", "--write"): "chooses what the command does; a CI step names it",
    ("schema privacy", "--check"): "chooses what the command does; a CI step names it",
    ("subscriber pull", "--no-health"): "hidden: only the worker's own child processes use it",
    ("subscriber seek", "--to"): "the time to rewind to: a stale value would redeliver from a "
    "time nobody chose now",
    **dict.fromkeys(CONFIRMATIONS, "a confirmation"),
    **dict.fromkeys(
        [
            ("erase", "--actor-uid"),
            ("erase", "--actor-email"),
            ("dlq purge", "--actor-uid"),
            ("dlq purge", "--actor-email"),
        ],
        "names the person whose data is destroyed: never from a stale shell",
    ),
    ("erase", "--reason"): "recorded in that one erasure's event: a stale shell's reason would be "
    "recorded against another request",
}
"""Options without an environment variable, each with the reason."""


def leaves(command: click.Command, path: str = "") -> Iterator[tuple[str, click.Command]]:
    """``(name path, command)`` of every command that runs (not the groups)."""
    if isinstance(command, click.Group):
        for name, child in sorted(command.commands.items()):
            yield from leaves(child, f"{path} {name}".strip())
    else:
        yield path, command


def options(command: click.Command) -> list[click.Option]:
    """The command's own options (not --help)."""
    return [param for param in command.params if isinstance(param, click.Option)]


COMMANDS = dict(leaves(cli))


def test_every_printing_command_has_format_json_and_table() -> None:
    """--format with table (the default) and json on every command but the listed ones,
    which exist and really have none (so that the list cannot go stale)."""
    missing = []
    for path, command in COMMANDS.items():
        [fmt] = [o for o in options(command) if "--format" in o.opts] or [None]
        if path in NO_FORMAT:
            assert fmt is None, f"{path} has --format now: drop it from NO_FORMAT"
            continue
        if fmt is None:
            missing.append(path)
            continue
        assert isinstance(fmt.type, click.Choice)
        assert {"table", "json"} <= set(fmt.type.choices), path
        assert fmt.default == "table", path
    assert missing == []
    assert set(NO_FORMAT) <= set(COMMANDS)


def test_every_option_names_its_environment_variable_or_is_a_listed_exception() -> None:
    """An option's help names each variable it is bound to; the unbound ones are listed here
    with a reason, and the list holds nothing that does not exist or is bound."""
    unbound, unnamed = [], []
    for path, command in COMMANDS.items():
        for option in options(command):
            name = max(option.opts, key=len)
            variables = [option.envvar] if isinstance(option.envvar, str) else option.envvar
            if not variables:
                if (path, name) not in NO_ENV:
                    unbound.append(f"{path} {name}")
                continue
            assert (path, name) not in NO_ENV, f"{path} {name} is bound: drop it from NO_ENV"
            unnamed += [f"{path} {name}: {v}" for v in variables if v not in (option.help or "")]
    assert unbound == []
    assert unnamed == []
    for path, name in NO_ENV:
        assert any(name in o.opts for o in options(COMMANDS[path])), (path, name)
    [verbose] = [o for o in cli.params if "--verbose" in getattr(o, "opts", ())]
    assert verbose.envvar == "IL_AUDIT_VERBOSE"


def test_confirmations_never_come_from_the_environment() -> None:
    """--yes, --force and --allow-delivery-change have no variable and say so; so has any
    --yes a command adds later."""
    for path, command in COMMANDS.items():
        for option in options(command):
            if (path, option.opts[0]) in CONFIRMATIONS or "--yes" in option.opts:
                assert not option.envvar, (path, option.opts)
                assert "never read from the environment" in (option.help or "").lower() or (
                    "never from the environment" in (option.help or "").lower()
                ), (path, option.opts)


def test_purge_refuses_without_yes_whatever_the_environment_says(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No variable makes purge delete: without --yes it is a usage error (exit 2) before
    anything is pulled."""
    for name in ("IL_AUDIT_DLQ_YES", "IL_AUDIT_YES", "IL_AUDIT_DLQ_PURGE_YES"):
        monkeypatch.setenv(name, "1")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "p")
    result = CliRunner().invoke(cli, ["dlq", "purge"])
    assert result.exit_code == 2
    assert "add --yes" in result.output


def test_dlq_selection_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """IL_AUDIT_DLQ_FILTER / _ERROR_CLASS (space-separated), _SINCE, _UNTIL, _LIMIT and the
    shared IL_AUDIT_DRY_RUN set what the options would; an option given wins."""
    monkeypatch.setenv("IL_AUDIT_DLQ_FILTER", "app=ingest event_type=ui.*")
    monkeypatch.setenv("IL_AUDIT_DLQ_ERROR_CLASS", "unknown_event_type delivery_exhausted")
    monkeypatch.setenv("IL_AUDIT_DLQ_SINCE", "2026-11-01")
    monkeypatch.setenv("IL_AUDIT_DLQ_UNTIL", "2026-11-30T12:00:00")
    monkeypatch.setenv("IL_AUDIT_DLQ_LIMIT", "7")
    monkeypatch.setenv(DRY_RUN_ENV, "1")
    context = replay.make_context("replay", [])
    assert context.params["selector"] == Selector(
        (("app", "ingest"), ("event_type", "ui.*")),
        ("unknown_event_type", "delivery_exhausted"),
        datetime(2026, 11, 1, tzinfo=UTC),
        datetime(2026, 11, 30, 12, tzinfo=UTC),
    )
    assert (context.params["limit"], context.params["dry_run"]) == (7, True)
    given = replay.make_context("replay", ["--filter", "app=chat", "--limit", "2"])
    assert given.params["selector"].attributes == (("app", "chat"),)
    assert given.params["limit"] == 2


def test_dry_run_from_the_environment_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """IL_AUDIT_DRY_RUN=1: `rates load` shows the change and leaves the table empty."""
    monkeypatch.setenv(DRY_RUN_ENV, "1")
    database = tmp_path / "r.duckdb"
    file = write_rates(tmp_path / "in.csv", [RATE])
    args = ["rates", "load", str(file), "--target", "embedded", "--database", str(database)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert (
        result.output.splitlines()[-1] == "dry run: 1 new, 0 changed, 0 unchanged; nothing written"
    )
    monkeypatch.delenv(DRY_RUN_ENV)
    assert "1 new" in CliRunner().invoke(cli, args).output  # nothing was written before


def test_json_is_an_alias_of_format_json(monkeypatch: pytest.MonkeyPatch) -> None:
    """doctor --json and doctor --format json print the same keys (the shared alias)."""
    monkeypatch.setenv("IL_AUDIT_ENABLED", "false")
    documents = [
        json.loads(CliRunner().invoke(doctor, args).stdout)
        for args in (["--json"], ["--format", "json"])
    ]
    assert documents[0].keys() == documents[1].keys()
    assert documents[0]["verdict"] == documents[1]["verdict"]


def test_demo_json_uses_stable_snake_case_keys(tmp_path: Path) -> None:
    """`demo --json`: snake_case keys at every level of the report (no display titles), the
    same sections as the table output, and counts that add up. Run in-process, it leaves
    the il_audit logger's level as it found it (it quietens its deliberate rejects only
    while it runs: a test reading the log later must see it)."""
    database = tmp_path / "demo.duckdb"
    logger = logging.getLogger("il_audit")
    before = logger.level
    result = CliRunner().invoke(
        cli, ["demo", "--events", "120", "--json", "--database", str(database)]
    )
    assert result.exit_code == 0, result.output
    assert logger.level == before
    document = json.loads(result.stdout)
    assert list(document) == ["events", "accepted", "dead_lettered", "dropped", "seconds",
                              "database", "html_report", "report"]  # fmt: skip
    assert list(document["report"]) == [
        "events_by_type", "active_users_by_app", "cost_by_app_and_pricing_source",
        "cost_by_model", "dead_letters_by_reason",
    ]  # fmt: skip
    snake = re.compile(r"^[a-z][a-z0-9_]*$")
    for rows in document["report"].values():
        for row in rows:
            assert all(snake.match(key) for key in row), row
    assert document["accepted"] + document["dead_lettered"] + document["dropped"] == 120
    letters = sum(row["dead_letters"] for row in document["report"]["dead_letters_by_reason"])
    assert letters == document["dead_lettered"]


def test_the_rule_is_documented_in_docs_cli_md() -> None:
    """docs/cli.md states the rule and lists every confirmation; the README no longer claims
    that every option has a variable."""
    text = (ROOT / "docs/cli.md").read_text()
    for path, name in sorted(CONFIRMATIONS):
        assert f"`{path} {name}`" in text, (path, name)
    assert DRY_RUN_ENV in text
    assert "every option can also be set by the" not in (ROOT / "README.md").read_text()
