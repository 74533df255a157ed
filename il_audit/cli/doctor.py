"""``il-audit doctor``: what the publisher would do here, and why."""

from __future__ import annotations

import json
import sys

import click


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the diagnosis as JSON.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=10.0,
    envvar="IL_AUDIT_DOCTOR_TIMEOUT",
    help="Seconds to wait for the metadata server and Pub/Sub (env IL_AUDIT_DOCTOR_TIMEOUT).",
)
def doctor(as_json: bool, timeout: float) -> None:
    """Explain where events would go from here: transport, project and where it came from,
    topic, credentials, spool, and whether publishing would be allowed.

    Exit code 0 when events would be delivered (or auditing is off on purpose), 1 when not.
    """
    from il_audit.operations.doctor import diagnose

    diagnosis = diagnose(lookup_timeout=timeout)
    if as_json:
        click.echo(json.dumps(diagnosis.as_dict(), indent=2))
    else:
        width = max(len(item.name) for item in diagnosis.findings)
        for item in diagnosis.findings:
            click.echo(f"{item.name:<{width}}  {item.value}")
            if item.why:
                click.echo(f"{'':<{width}}    {item.why}")
        click.echo("")
        click.echo(("ok: " if diagnosis.ok else "PROBLEM: ") + diagnosis.verdict)
    sys.exit(0 if diagnosis.ok else 1)
