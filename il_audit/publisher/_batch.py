"""Packing encoded events into Pub/Sub messages: NDJSON data plus shared attributes.

One message carries up to ``max_events_per_message`` lines and at most
``max_message_bytes`` (a single larger event travels alone). Packing divides
the per-message costs of publishing, of function invocations and of insert
requests by the packing factor. The layout is the wire contract's
(``il_audit.schemas.wire``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Final

from il_audit.schemas.wire import (
    ATTR_APP,
    ATTR_COUNT,
    ATTR_ENCODING,
    ATTR_EVENT_TYPE,
    ATTR_SCHEMA,
    ENCODING_GZIP,
    LINE_SEPARATOR,
    SCHEMA_VERSION,
    compress_body,
    fits_attribute,
)

if TYPE_CHECKING:
    from il_audit.publisher._spool_records import RecordKey

_MIXED: Final = object()
MIN_COMPRESSED_BYTES: Final = 1024
"""Smaller bodies go plain: Pub/Sub bills at least 1 KB per request whatever they weigh."""


class OutgoingMessage:
    """A message being filled, then published, then possibly retried or spooled.

    ``first_seq``/``last_seq`` are the publisher's sequence numbers of the
    events inside, which is how ``flush()`` knows what is still outstanding.
    """

    __slots__ = (
        "_app",
        "_buffer",
        "_data",
        "_event_type",
        "attempts",
        "bytes_held",
        "compressed",
        "count",
        "first_seq",
        "last_seq",
        "opened_at",
        "retry_at",
        "sent_at",
        "size",
        "spill_refused",
        "spool_key",
    )

    def __init__(self, first_seq: int) -> None:
        # Lines are copied into one buffer as they come, not kept: an encoder's output
        # bytes may hold several times their length in allocated memory.
        self._buffer = bytearray()
        self._data: bytes | None = None
        self.size = 0
        self.count = 0
        self.first_seq = first_seq
        self.last_seq = first_seq
        self.opened_at = time.monotonic()
        self.attempts = 0
        self.retry_at = 0.0
        self.sent_at = 0.0
        self.bytes_held = False  # counted in the publisher's in-flight bytes
        self.compressed = False  # the data is gzip (decided by the first data() call)
        self.spool_key: RecordKey | None = None  # where its spooled copy is, once written
        self.spill_refused = False  # the spool was full when it was to be copied there
        self._app: object = None
        self._event_type: object = None

    def fits(self, line: bytes, max_events: int, max_bytes: int) -> bool:
        """Whether ``line`` can join without breaking either limit (the first line always fits)."""
        if not self.count:
            return True
        return self.count < max_events and self.size + 1 + len(line) <= max_bytes

    def add(self, line: bytes, seq: int, app: str | None, event_type: str | None) -> None:
        """Append one encoded event."""
        if self.count:
            self._buffer += LINE_SEPARATOR
            self.size += 1
        self._buffer += line
        self.size += len(line)
        self.count += 1
        self.last_seq = seq
        if self.count == 1:
            self._app, self._event_type = app, event_type
        else:
            if self._app != app:
                self._app = _MIXED
            if self._event_type != event_type:
                self._event_type = _MIXED

    @property
    def event_type_label(self) -> str:
        """The event type its events share, or ``(several)``."""
        value = self._event_type
        return value if isinstance(value, str) else "(several)"

    def data(self, compress: bool = False) -> bytes:
        """The message body: one envelope per line, gzip when ``compress`` and worth it.

        The first call seals the message and decides; later calls return the same bytes.
        ``size`` stays the NDJSON size (what the packing limits count).
        """
        if self._data is None:
            if compress and self.size >= MIN_COMPRESSED_BYTES:
                # zlib releases the GIL while it deflates: the caller's thread runs meanwhile.
                self._data = compress_body(self._buffer)
                self.compressed = True
            else:
                self._data = bytes(self._buffer)
            self._buffer = bytearray()
        return self._data

    def attributes(self) -> dict[str, str]:
        """``il_audit_schema``, ``il_audit_count``, and ``app``/``event_type`` when shared."""
        attributes = {ATTR_SCHEMA: str(SCHEMA_VERSION), ATTR_COUNT: str(self.count)}
        if self.compressed:
            attributes[ATTR_ENCODING] = ENCODING_GZIP
        for name, value in ((ATTR_APP, self._app), (ATTR_EVENT_TYPE, self._event_type)):
            if isinstance(value, str) and fits_attribute(value):
                attributes[name] = value
        return attributes
