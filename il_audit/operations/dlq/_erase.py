"""Purge one person's dead letters: Pub/Sub cannot delete a message, so pull, redact, ack.

For ``il-audit dlq purge --actor-uid`` (the Pub/Sub side of ``il-audit erase``). A
message whose lines all name the person as actor is acknowledged (gone; nothing is
archived, which would be another copy). A message that also carries other people's lines
(Pub/Sub dead-letters whole messages of many events) is first republished to the
dead-letter topic without the person's lines, with the original's attributes (the error
class, the Pub/Sub source, the replay count: what ``dlq replay`` and ``inspect`` read)
and the new line count, and acknowledged only once that publish is confirmed. So a run
killed at any moment leaves the original in place, at worst beside its redacted copy,
and nobody else's letters are lost. Messages without the person are released untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from il_audit.operations.dlq._messages import DeadLetter, Selector
from il_audit.operations.dlq._source import Leases, Source, drain
from il_audit.operations.erase_subject import Subject
from il_audit.schemas.errors import MalformedBodyError
from il_audit.schemas.wire import (
    ATTR_COUNT,
    ATTR_ENCODING,
    LINE_SEPARATOR,
    message_body,
    split_lines,
)

PUBLISH_TIMEOUT = 60.0


@dataclass
class PersonPurgeReport:
    """What a purge by person did (counts only: never the person, never a payload)."""

    pulled: int = 0
    purged: int = 0
    """Messages acknowledged because every line was the person's."""
    redacted: int = 0
    """Messages republished without the person's lines, then acknowledged."""
    lines_removed: int = 0
    skipped: int = 0
    dry_run: bool = False

    def summary(self) -> str:
        """One line for humans."""
        verb = "would purge" if self.dry_run else "purged"
        return (
            f"{verb} {self.purged} message(s) of that person and redacted {self.redacted} "
            f"shared one(s) ({self.lines_removed} line(s) removed); left {self.skipped} in place"
        )


def _split(message: DeadLetter, subject: Subject) -> tuple[list[bytes], int] | None:
    """The lines to keep and how many were the person's; None when none was."""
    try:
        body = message_body(message.data)
    except MalformedBodyError:
        body = message.data  # not inflatable: judged as it is
    keep: list[bytes] = []
    removed = 0
    for _, line in split_lines(body):
        if subject.matches_raw(line.decode("utf-8", "replace")):
            removed += 1
        else:
            keep.append(line)
    return (keep, removed) if removed else None


def redacted_attributes(message: DeadLetter, lines: int) -> dict[str, str]:
    """The original's attributes with the new line count (and no gzip: the copy is plain)."""
    attributes = {k: v for k, v in message.attributes.items() if k != ATTR_ENCODING}
    attributes[ATTR_COUNT] = str(lines)
    return attributes


def purge_person(
    source: Source,
    subject: Subject,
    publish: Callable[[bytes, dict[str, str]], Any],
    *,
    selector: Selector | None = None,
    dry_run: bool = False,
    limit: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> PersonPurgeReport:
    """Acknowledge the person's dead letters; republish shared ones redacted first.

    ``publish(data, attributes)`` publishes to the dead-letter topic and returns a future.
    Only messages ``selector`` selects are looked at (all without one).
    """
    report = PersonPurgeReport(dry_run=dry_run)
    leases = Leases(source)
    try:
        for messages in drain(source, limit, 500, leases):
            report.pulled += len(messages)
            done: list[str] = []
            pending: list[tuple[Any, DeadLetter]] = []
            for message in messages:
                selected = selector is None or selector.matches(message)
                split = _split(message, subject) if selected else None
                if split is None or dry_run:
                    leases.hold(message)
                if split is None:
                    report.skipped += 1
                    continue
                keep, removed = split
                report.lines_removed += removed
                if not keep:
                    report.purged += 1
                    done.append(message.ack_id)
                    continue
                report.redacted += 1
                if not dry_run:
                    data = LINE_SEPARATOR.join(keep)
                    pending.append(
                        (publish(data, redacted_attributes(message, len(keep))), message)
                    )
            for future, message in pending:
                future.result(timeout=PUBLISH_TIMEOUT)  # confirmed before the original goes
                done.append(message.ack_id)
            if done and not dry_run:
                source.ack(done)
            if progress is not None:
                progress(len(messages))
    finally:
        leases.release_all()
    return report
