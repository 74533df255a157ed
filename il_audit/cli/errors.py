"""Errors of the CLI: what it reports in one line instead of a traceback."""

from __future__ import annotations

import click

from il_audit.errors import AuditError


class BadSettingsError(click.ClickException, AuditError):
    """A setting holds a value il-audit cannot use: exit code 2, like bad usage."""

    exit_code = 2
