"""The Pub/Sub wire contract, in one place: message layout, attribute names, limits, names.

Everything that crosses Pub/Sub between the publisher, the subscriber and the
dead-letter tools is defined here and nowhere else. Pure: no Google imports.

**Messages.** A message carries 1..N envelopes as NDJSON (UTF-8, one JSON
object per line, ``\\n`` between lines, no trailing newline needed). Blank lines
carry nothing. Each line stands on its own: a bad line never blocks the
others. Attributes: :data:`ATTR_SCHEMA` (the envelope's ``schema_version``),
:data:`ATTR_COUNT` (lines), and :data:`ATTR_APP` / :data:`ATTR_EVENT_TYPE`
when every envelope shares them, so that subscriptions can filter and the
replay tool can select without decoding. Pub/Sub limits an attribute value to
:data:`MAX_ATTRIBUTE_BYTES`; longer values are cut (:func:`cut_attribute`) or
left out.

**Compression.** A body may be gzip (RFC 1952) of that NDJSON, marked by
:data:`ATTR_ENCODING` = ``gzip``. Readers go by the body itself, not the
attribute: NDJSON never starts with gzip's magic bytes ``1f 8b``, so
:func:`message_body` can tell the two apart, and a compressed body read
without its attributes (a spool record, a replay) still reads. A body that
starts like gzip and does not inflate to at most :data:`MAX_INFLATED_BYTES` is
malformed (:class:`MalformedBodyError`). Pub/Sub bills bytes, and audit NDJSON
compresses 10-25 times at gzip's fastest level, for ~2 µs of CPU per event.

**Dead letters.** The subscriber's own rejects go to the dead-letter topic one
line per message, the data byte for byte, with the original attributes plus
:data:`ATTR_ERROR_CLASS`, :data:`ATTR_ERROR_DETAIL`, :data:`ATTR_LINE_INDEX`
and :data:`ATTR_SOURCE_MESSAGE_ID`. Messages Pub/Sub itself gave up on carry
its ``CloudPubSubDeadLetterSource*`` attributes (:data:`PUBSUB_DEAD_LETTER_PREFIX`).
A replay adds :data:`ATTR_REPLAYED_FROM` and increments :data:`ATTR_REPLAY_COUNT`,
which travel with the message back into the dead-letter topic if it fails again.

**Names.** For an events topic ``T`` and dead-letter topic ``D``: the
subscription that feeds the function is ``T-sub`` and the inspection
subscription on the dead-letter topic is ``D-inspect`` (:class:`PubSubLayout`).
``infra apply``, Terraform, the local stack and the dlq tools all use these.

**The evolution rule.** Within ``schema_version`` 1, publishers may only *add
optional* top-level fields; they never rename, retype or remove one, and
``source`` is any lowercase token. The subscriber is a tolerant reader: an
envelope with a top-level field it does not know is kept, the field lands in
``payload`` under its own name, and the row lists it in ``unknown_fields``; it
is never dead-lettered for that. Strict checking (unknown fields are errors)
stays where a developer can act on it: the publisher's strict mode and
``capture_events()``. Deploy the subscriber first anyway, so that new fields
land in their own columns from the first event. Usage items are a closed
record (their fields are the ``usage`` columns): a new item field needs the
subscriber first, and an older one dead-letters such events, for replay. A change that cannot follow
this rule is ``schema_version`` 2, and the subscriber must accept both before
any publisher sends it.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

SCHEMA_VERSION: Final = 1
"""The envelope's ``schema_version``."""

ATTR_SCHEMA: Final = "il_audit_schema"
ATTR_COUNT: Final = "il_audit_count"
ATTR_APP: Final = "app"
ATTR_EVENT_TYPE: Final = "event_type"
ATTR_ERROR_CLASS: Final = "il_audit_error_class"
ATTR_ERROR_DETAIL: Final = "il_audit_error_detail"
ATTR_LINE_INDEX: Final = "il_audit_line_index"
ATTR_SOURCE_MESSAGE_ID: Final = "il_audit_source_message_id"
ATTR_REPLAYED_FROM: Final = "il_audit_replayed_from"
ATTR_REPLAY_COUNT: Final = "il_audit_replay_count"
ATTR_ENCODING: Final = "il_audit_encoding"
"""``gzip`` when the body is compressed (informational: readers look at the body)."""
ENCODING_GZIP: Final = "gzip"
GZIP_MAGIC: Final = b"\x1f\x8b"
MAX_INFLATED_BYTES: Final = 32 * 1024 * 1024
"""A compressed body inflating past this is refused (Pub/Sub's 10 MB limit, with room)."""
_GZIP_WBITS: Final = 31  # zlib's "gzip container" window bits
PUBSUB_DEAD_LETTER_PREFIX: Final = "CloudPubSubDeadLetterSource"
"""Prefix of the attributes Pub/Sub adds when it dead-letters a message itself."""

MAX_ATTRIBUTE_BYTES: Final = 1024
"""Pub/Sub's limit on one attribute value, in bytes."""

LINE_SEPARATOR: Final = b"\n"

SUBSCRIPTION_SUFFIX: Final = "-sub"
INSPECT_SUFFIX: Final = "-inspect"
DEAD_LETTER_SUFFIX: Final = "-dlq"


class MalformedBodyError(ValueError):
    """A body that starts like gzip but is not a complete gzip stream within the size limit."""


def compress_body(data: bytes | bytearray, level: int = 1) -> bytes:
    """``data`` as a gzip stream (level 1: the fastest; these bodies compress well anyway)."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, _GZIP_WBITS)
    return compressor.compress(data) + compressor.flush()


def message_body(data: bytes) -> bytes:
    """The NDJSON of a body, inflated when it is gzip; raises :class:`MalformedBodyError`."""
    if not data.startswith(GZIP_MAGIC):
        return data
    inflater = zlib.decompressobj(_GZIP_WBITS)
    try:
        body = inflater.decompress(data, MAX_INFLATED_BYTES)
    except zlib.error as exc:
        raise MalformedBodyError(f"the gzip body does not inflate: {exc}") from exc
    if inflater.unconsumed_tail:
        raise MalformedBodyError(f"the gzip body inflates to more than {MAX_INFLATED_BYTES} bytes")
    if not inflater.eof:
        raise MalformedBodyError("the gzip body is truncated")
    return body


def split_lines(data: bytes) -> Iterator[tuple[int, bytes]]:
    """``(line_index, line)`` of every non-blank line of a message body."""
    for index, line in enumerate(data.split(LINE_SEPARATOR)):
        if line.strip():
            yield index, line


def count_lines(data: bytes) -> int:
    """How many envelope lines a message body carries (inflated first; 1 if it cannot be)."""
    try:
        body = message_body(data)
    except MalformedBodyError:
        return 1
    return sum(1 for _ in split_lines(body))


def cut_attribute(text: str, limit: int = MAX_ATTRIBUTE_BYTES) -> str:
    """``text`` cut to fit an attribute value (UTF-8 safe, ``...`` marks a cut)."""
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text
    return encoded[: limit - 3].decode("utf-8", "ignore") + "..."


def fits_attribute(text: str) -> bool:
    """Whether ``text`` is a usable attribute value as it is."""
    return bool(text) and len(text.encode("utf-8")) <= MAX_ATTRIBUTE_BYTES


@dataclass(frozen=True)
class PubSubLayout:
    """Names of everything the pipeline needs in one project."""

    project: str
    topic: str
    dlq_topic: str
    subscription: str
    dlq_subscription: str

    @classmethod
    def for_topic(cls, project: str, topic: str, dlq_topic: str | None = None) -> PubSubLayout:
        """The conventional names derived from the topic ids."""
        dlq = dlq_topic or f"{topic}{DEAD_LETTER_SUFFIX}"
        return cls(project, topic, dlq, f"{topic}{SUBSCRIPTION_SUFFIX}", f"{dlq}{INSPECT_SUFFIX}")
