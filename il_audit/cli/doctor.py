"""``il-audit doctor``: what the publisher would do here, and why."""

from __future__ import annotations

import json
import sys

import click

from il_audit.cli._options import format_option

_MARKS = {"ok": "", "problem": "PROBLEM", "unknown": "UNKNOWN"}

_EXIT_CODES = (
    "Verdicts and exit codes: 0 ok (events would be delivered, or auditing is off on purpose); "
    "1 problem (they would not be: no project, a missing topic, a denied permission, an "
    "unwritable file, a full spool, or an invalid setting, which an app replaces with its "
    "default); 3 unknown (a check could not be made: Pub/Sub, the emulator or the metadata "
    "server did not answer within --timeout; the address is named); 2 bad usage of doctor "
    "itself (an unknown option). Doctor never says ok when a check failed or could not run."
)


@click.command(epilog=_EXIT_CODES)
@format_option("IL_AUDIT_DOCTOR_FORMAT", what="Output format of the diagnosis", json_alias=True)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=10.0,
    envvar="IL_AUDIT_DOCTOR_TIMEOUT",
    help="Seconds each check may wait for the metadata server and Pub/Sub "
    "(env IL_AUDIT_DOCTOR_TIMEOUT).",
)
def doctor(fmt: str, timeout: float) -> None:
    """Explain where events would go from here: transport, project and where it came from,
    topic, credentials, permission, and the spool (bytes, orphaned directories, oldest
    waiting event); then one verdict: ok, problem or unknown.

    The JSON keys (snake_case, stable): verdict, exit_code, ok, reason, summary, findings
    (name, value, why, verdict), spool (dir, bytes, max_bytes, segments, directories,
    orphaned_directories, oldest_record_at), retention (partition_expiration_days, families:
    days per event family, `*` the events no family names, null kept forever) and
    last_publish_error (always null here: an app asks its own process with
    il_audit.doctor()).
    """
    from il_audit.operations.doctor import diagnose

    diagnosis = diagnose(lookup_timeout=timeout)
    if fmt == "json":
        click.echo(json.dumps(diagnosis.as_dict(), indent=2, ensure_ascii=False))
    else:
        width = max(len(item.name) for item in diagnosis.findings)
        for item in diagnosis.findings:
            mark = _MARKS[item.verdict]
            click.echo(f"{item.name:<{width}}  {item.value}{f'  [{mark}]' if mark else ''}")
            if item.why:
                click.echo(f"{'':<{width}}    {item.why}")
        click.echo("")
        click.echo(f"{_MARKS[diagnosis.verdict] or 'ok'}: {diagnosis.reason}")
    sys.exit(diagnosis.exit_code)
