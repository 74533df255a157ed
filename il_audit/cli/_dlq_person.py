"""``il-audit dlq purge --actor-uid``: the part of ``dlq purge`` that erases one person."""

from __future__ import annotations

import dataclasses
import json
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import click

if TYPE_CHECKING:
    from il_audit.operations.dlq import Selector, Source
    from il_audit.operations.erase_subject import Subject


def person_to_purge(
    actor_uid: str | None,
    actor_email: str | None,
    *,
    yes: bool,
    dry_run: bool,
    archive: Path | None,
) -> Subject:
    """The person, after the usage checks (exit 2): one identifier, ``--yes``, no archive."""
    from il_audit.operations.erase_subject import Subject
    from il_audit.operations.errors import ErasureError

    try:
        subject = Subject.of(uid=actor_uid, email=actor_email)
    except ErasureError as exc:
        raise click.UsageError(str(exc)) from exc
    if archive is not None:
        raise click.UsageError(
            "--archive and --actor-uid/--actor-email exclude each other: a purge by person "
            "keeps no copy"
        )
    if not dry_run and not yes:
        raise click.UsageError("purge deletes messages: add --yes (or preview with --dry-run)")
    from il_audit.config.settings import get_audit_settings
    from il_audit.operations.erase_subject import recognising_pseudonym

    settings = get_audit_settings(strict=True)
    key = settings.hash_key.get_secret_value() if settings.hash_key else None
    return recognising_pseudonym(subject, key, settings.hash_key_id)


def purge_person_letters(
    source: Source,
    subject: Subject,
    selector: Selector,
    limit: int | None,
    *,
    dry_run: bool,
    fmt: str,
    progress_file: TextIO | None,
) -> None:
    """Run the purge by person on ``source`` (republishing to the dead-letter topic), print
    the report."""
    from il_audit.config.settings import get_audit_settings
    from il_audit.operations.dlq import Republisher, purge_person, resolve_topic

    settings = get_audit_settings(strict=True)
    with (
        closing(Republisher(resolve_topic(settings, settings.dlq_topic))) as publish,
        click.progressbar(
            length=limit or 0, label="purging", show_pos=True, file=progress_file
        ) as bar,
    ):
        report = purge_person(
            source,
            subject,
            publish,
            selector=selector,
            dry_run=dry_run,
            limit=limit,
            progress=bar.update,
        )
    click.echo(
        json.dumps(dataclasses.asdict(report), indent=2) if fmt == "json" else report.summary()
    )
