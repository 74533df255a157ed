"""Dead letters as the tools see them: one pulled message, the selection, the archive record."""

from __future__ import annotations

import base64
import fnmatch
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from il_audit.operations.errors import DlqError
from il_audit.schemas.wire import (
    ATTR_APP,
    ATTR_ATTRIBUTES_CUT,
    ATTR_COUNT,
    ATTR_DATA_CUT,
    ATTR_ERROR_CLASS,
    ATTR_ERROR_DETAIL,
    ATTR_LINE_INDEX,
    ATTR_REPLAY_COUNT,
    ATTR_REPLAYED_FROM,
    ATTR_SOURCE_MESSAGE_ID,
    ascii_int,
    count_lines,
)
from il_audit.schemas.wire import PUBSUB_DEAD_LETTER_PREFIX as PUBSUB_PREFIX

PUBSUB_DEAD_LETTERED: Final = "delivery_exhausted"
"""Error class shown for messages Pub/Sub itself dead-lettered."""
_DROPPED_ON_REPLAY: Final = (
    ATTR_ERROR_CLASS,
    ATTR_ERROR_DETAIL,
    ATTR_LINE_INDEX,
    ATTR_SOURCE_MESSAGE_ID,
    ATTR_ATTRIBUTES_CUT,
)
_MAX_REPLAY_COUNT: Final = 1_000_000


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One message pulled from a dead-letter subscription."""

    ack_id: str
    message_id: str
    data: bytes
    attributes: Mapping[str, str]
    publish_time: datetime | None

    @property
    def dead_lettered_by_pubsub(self) -> bool:
        """True when Pub/Sub forwarded it after exhausting delivery attempts."""
        return any(key.startswith(PUBSUB_PREFIX) for key in self.attributes)

    @property
    def error_class(self) -> str:
        """The subscriber's error class, or ``delivery_exhausted`` for Pub/Sub's own."""
        own = self.attributes.get(ATTR_ERROR_CLASS)
        if own:
            return own
        return PUBSUB_DEAD_LETTERED if self.dead_lettered_by_pubsub else "unknown"

    @property
    def error_detail(self) -> str:
        """Why it is here, for humans."""
        own = self.attributes.get(ATTR_ERROR_DETAIL)
        if own:
            return own
        if self.dead_lettered_by_pubsub:
            attempts = self.attributes.get(f"{PUBSUB_PREFIX}DeliveryCount", "?")
            source = self.attributes.get(f"{PUBSUB_PREFIX}Subscription", "?")
            return f"Pub/Sub gave up after {attempts} delivery attempts on subscription {source}"
        return "no error attributes"

    @property
    def app(self) -> str | None:
        """The app attribute, when the message's events share one."""
        return self.attributes.get(ATTR_APP)

    @property
    def replay_count(self) -> int:
        """How many times it was replayed already."""
        return ascii_int(self.attributes.get(ATTR_REPLAY_COUNT, "0"), _MAX_REPLAY_COUNT) or 0

    @property
    def cut(self) -> bool:
        """True when the subscriber cut its data to fit the topic (a fragment: never replayed)."""
        return self.attributes.get(ATTR_DATA_CUT) == "true"

    @property
    def line_count(self) -> int:
        """Envelope lines it carries."""
        return count_lines(self.data)

    def replay_attributes(self) -> dict[str, str]:
        """Attributes for the republished message: the original's, plus replay bookkeeping."""
        attributes = {
            key: value
            for key, value in self.attributes.items()
            if key not in _DROPPED_ON_REPLAY and not key.startswith(PUBSUB_PREFIX)
        }
        attributes[ATTR_REPLAYED_FROM] = self.message_id
        attributes[ATTR_REPLAY_COUNT] = str(self.replay_count + 1)
        attributes[ATTR_COUNT] = str(self.line_count)
        return attributes

    def archive_record(self) -> dict[str, Any]:
        """The message as one JSON line of a purge archive (:func:`read_archive` reads it)."""
        return {
            "message_id": self.message_id,
            "publish_time": self.publish_time.isoformat() if self.publish_time else None,
            "error_class": self.error_class,
            "error_detail": self.error_detail,
            "attributes": dict(self.attributes),
            "data_base64": base64.b64encode(self.data).decode("ascii"),
        }


def read_archive(path: Path) -> Iterator[dict[str, Any]]:
    """The records of a purge archive (``data`` decoded back to bytes)."""
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                record: dict[str, Any] = json.loads(line)
                record["data"] = base64.b64decode(record.pop("data_base64"))
                yield record


@dataclass(frozen=True)
class Selector:
    """Which messages a run acts on; every given condition must hold."""

    attributes: tuple[tuple[str, str], ...] = ()
    """``(name, glob)`` pairs, e.g. ``("app", "ingest")``, ``("event_type", "ui.*")``."""
    error_classes: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None

    @classmethod
    def parse(
        cls,
        filters: Sequence[str] = (),
        error_classes: Sequence[str] = (),
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Selector:
        """Build from ``NAME=GLOB`` filter expressions (``error_class=...`` allowed too)."""
        pairs = []
        classes = list(error_classes)
        for expression in filters:
            name, separator, pattern = expression.partition("=")
            if not separator or not name.strip():
                raise DlqError(f"filter {expression!r} is not NAME=VALUE (globs like ui.* allowed)")
            if name.strip() == "error_class":
                classes.append(pattern.strip())
            else:
                pairs.append((name.strip(), pattern.strip()))
        return cls(tuple(pairs), tuple(classes), since, until)

    def matches(self, message: DeadLetter) -> bool:
        """Whether ``message`` is selected."""
        if self.error_classes and message.error_class not in self.error_classes:
            return False
        for name, pattern in self.attributes:
            value = message.attributes.get(name)
            if value is None or not fnmatch.fnmatchcase(value, pattern):
                return False
        if self.since is not None or self.until is not None:
            when = message.publish_time
            if when is None:
                return False
            if self.since is not None and when < self.since:
                return False
            if self.until is not None and when > self.until:
                return False
        return True
