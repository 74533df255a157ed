"""docs/operations.md: an option bound to an environment variable names it in its help, and a
destructive ``--yes`` never comes from the environment."""

from __future__ import annotations

from collections.abc import Iterator

import click

from il_audit.cli import cli


def _options(command: click.Command, path: str = "il-audit") -> Iterator[tuple[str, click.Option]]:
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from _options(sub, f"{path} {name}")
    for param in command.params:
        if isinstance(param, click.Option):
            yield path, param


def _variables(option: click.Option) -> list[str]:
    envvar = option.envvar
    return [] if not envvar else [envvar] if isinstance(envvar, str) else list(envvar)


def test_every_option_with_a_variable_names_it_in_its_help() -> None:
    """`--help` is where the docs send the reader to find the variable."""
    unnamed = [
        (path, option.name)
        for path, option in _options(cli)
        if _variables(option) and not any(v in (option.help or "") for v in _variables(option))
    ]
    assert unnamed == []
    assert sum(1 for _, option in _options(cli) if _variables(option)) > 50


def test_no_yes_option_comes_from_the_environment() -> None:
    """A destructive confirmation is typed each time, never inherited from a shell."""
    confirmations = [(path, option) for path, option in _options(cli) if "--yes" in option.opts]
    assert confirmations, "dlq purge has --yes"
    assert [
        (path, _variables(option)) for path, option in confirmations if _variables(option)
    ] == []
