"""Options shared by commands: defaults read from the settings (so no default is copied out
of ``defaults.json``), and the ``--format`` choice of listings."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def format_option(
    envvar: str, choices: Sequence[str] = ("table", "json"), *, what: str = "Output format"
) -> Callable[[F], F]:
    """``--format`` (passed as ``fmt``), one of ``choices`` (the first is the default)."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(list(choices)),
        default=choices[0],
        envvar=envvar,
        help=f"{what} (env {envvar}).",
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
