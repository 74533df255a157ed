"""Options shared by commands: defaults read from the settings (so no default is copied out
of ``defaults.json``), the ``--format`` choice of every printing command (with its ``--json``
alias where one existed) and ``--dry-run``.

The environment rule (docs/cli.md): an option is bound to the environment variable its help
names, except a confirmation (``--yes``, ``--force``, ``--allow-delivery-change``): a stale
shell must never say yes to something destructive on the operator's behalf.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


DRY_RUN_ENV = "IL_AUDIT_DRY_RUN"


def format_option(
    envvar: str,
    choices: Sequence[str] = ("table", "json"),
    *,
    what: str = "Output format",
    json_alias: bool = False,
) -> Callable[[F], F]:
    """``--format`` (passed as ``fmt``), one of ``choices`` (the first is the default).

    ``json_alias``: also ``--json``, the spelling the command had before ``--format``; the
    command still receives only ``fmt`` (``"json"`` when ``--json`` is given).
    """
    option = click.option(
        "--format",
        "fmt",
        type=click.Choice(list(choices)),
        default=choices[0],
        envvar=envvar,
        help=f"{what} (env {envvar}).",
    )
    if not json_alias:
        return option

    def decorate(function: F) -> F:
        @functools.wraps(function)
        def command(*args: Any, as_json: bool, fmt: str, **kwargs: Any) -> Any:
            return function(*args, fmt="json" if as_json else fmt, **kwargs)

        alias = click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
        return option(alias(command))  # type: ignore[return-value]

    return decorate


def dry_run_option(help_text: str) -> Callable[[F], F]:
    """``--dry-run``, also set by ``IL_AUDIT_DRY_RUN`` (one variable for every command: a shell
    or CI job that sets it changes nothing, whichever command it runs)."""
    return click.option(
        "--dry-run", is_flag=True, envvar=DRY_RUN_ENV, help=f"{help_text} (env {DRY_RUN_ENV})."
    )


def from_settings(field: str) -> Callable[[], Any]:
    """A click ``default`` that reads ``field`` of the settings when the command runs.

    Read strictly, as every command reads them: a bad value is refused, not replaced.
    """

    def default() -> Any:
        from il_audit.config.settings import get_audit_settings

        return get_audit_settings(strict=True).value(field)

    default.__name__ = f"settings.{field}"
    return default


def shown_default(field: str) -> str:
    """What ``--help`` shows as the default of a :func:`from_settings` option: the bundled one."""
    from il_audit.config.settings import bundled_defaults

    return str(bundled_defaults()[field])
