"""The operator CLI, ``il-audit``: one entry point, a subcommand per job.

Every command that prints takes ``--format json|table``; an option can also be set through
the environment variable named in its help, except a confirmation (``--yes``, ``--force``,
``--allow-delivery-change``: docs/cli.md); exit codes are 0 on success, 1 when the job
failed, 2 on bad usage or a bad setting: commands read the settings with
``get_audit_settings(strict=True)``, so a value an app would log and replace is refused here.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

from il_audit._version import __version__
from il_audit.cli.demo import demo
from il_audit.cli.dev import dev
from il_audit.cli.dlq import dlq
from il_audit.cli.doctor import doctor
from il_audit.cli.erase import erase
from il_audit.cli.errors import EXIT_CODES, BadSettingsError, expected_failure
from il_audit.cli.function import function
from il_audit.cli.infra import infra
from il_audit.cli.ledger import ledger, verify
from il_audit.cli.migrate import migrate
from il_audit.cli.query import query
from il_audit.cli.rates import rates
from il_audit.cli.report import report
from il_audit.cli.retention import retention
from il_audit.cli.schema import schema
from il_audit.cli.subscriber import subscriber
from il_audit.config.settings import reset_audit_settings_cache
from il_audit.errors import SettingsError


class _Cli(click.Group):
    """The command group and the one top-level handler: an expected failure (a bad setting,
    no credentials, a service that does not answer) is one line naming the fix, not a
    traceback; the trace follows only with ``-v``."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SettingsError as exc:
            raise BadSettingsError(str(exc)) from exc
        except click.ClickException:
            raise
        except Exception as exc:
            failure = expected_failure(exc)
            if failure is None:
                raise
            raise failure from exc


def _document_exit_codes(command: click.Command) -> None:
    """Every command's --help ends with the exit codes (unless it documents its own)."""
    if command.epilog is None:
        command.epilog = EXIT_CODES
    for child in getattr(command, "commands", {}).values():
        _document_exit_codes(child)


@click.group(
    cls=_Cli, context_settings={"help_option_names": ["-h", "--help"], "show_default": True}
)
@click.version_option(__version__, prog_name="il-audit")
@click.option(
    "-v",
    "--verbose",
    count=True,
    envvar="IL_AUDIT_VERBOSE",
    help="More log output (-vv: debug; env IL_AUDIT_VERBOSE).",
)
def cli(verbose: int) -> None:
    """il-audit: audit and analytics events from Python services through Pub/Sub.

    \b
    Examples:
      il-audit demo                          # synthetic workload, embedded, with a report
      il-audit doctor                        # where events would go from here, and why
      il-audit query "SELECT * FROM cost_by_app_daily"
      il-audit report --out report.html      # charts from the views, one HTML file
      il-audit dev up && eval "$(il-audit dev env)"
      il-audit infra apply --dry-run
      il-audit function bundle --out build/function-bundle
      il-audit migrate from-0.1 --dry-run
      il-audit migrate from-1.0 --dry-run --format json
      il-audit rates load prices.csv --dry-run
      il-audit retention show                # days kept per event family
      il-audit ledger seal && il-audit verify  # seal closed hours, check the seals
      il-audit subscriber pull --subscription il-audit-events-pull
    """
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    # Every invocation reads the environment afresh (the commands read it with strict=True).
    reset_audit_settings_cache()


cli.add_command(demo)
cli.add_command(dev)
cli.add_command(dlq)
cli.add_command(doctor)
cli.add_command(erase)
cli.add_command(function)
cli.add_command(infra)
cli.add_command(ledger)
cli.add_command(migrate)
cli.add_command(query)
cli.add_command(rates)
cli.add_command(report)
cli.add_command(retention)
cli.add_command(schema)
cli.add_command(subscriber)
cli.add_command(verify)
_document_exit_codes(cli)


def main() -> None:
    """Console-script entry point."""
    sys.exit(cli.main(standalone_mode=True))
