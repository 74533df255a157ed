"""Inspect: peek at a dead-letter subscription, grouped by error class and app; acks nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from il_audit.operations.dlq._messages import DeadLetter, Selector
from il_audit.operations.dlq._source import Leases, Source, drain


@dataclass
class Group:
    """Messages of one error class and app."""

    error_class: str
    app: str | None
    messages: int = 0
    events: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    sample_detail: str = ""
    dead_lettered_by_pubsub: bool = False

    def add(self, message: DeadLetter) -> None:
        self.messages += 1
        self.events += message.line_count
        when = message.publish_time
        if when is not None:
            self.first_seen = when if self.first_seen is None else min(self.first_seen, when)
            self.last_seen = when if self.last_seen is None else max(self.last_seen, when)
        if not self.sample_detail:
            self.sample_detail = message.error_detail
        self.dead_lettered_by_pubsub |= message.dead_lettered_by_pubsub


def inspect(
    source: Source, *, limit: int | None = 1000, selector: Selector | None = None
) -> list[Group]:
    """Peek at up to ``limit`` messages, grouped by (error class, app); acknowledges nothing."""
    leases = Leases(source)
    groups: dict[tuple[str, str | None], Group] = {}
    seen: set[str] = set()
    try:
        for batch in drain(source, limit, 500, leases):
            for message in batch:
                leases.hold(message)
                if message.message_id in seen or (selector and not selector.matches(message)):
                    continue
                seen.add(message.message_id)
                key = (message.error_class, message.app)
                groups.setdefault(key, Group(*key)).add(message)
    finally:
        leases.release_all()
    return sorted(groups.values(), key=lambda group: (-group.messages, group.error_class))
