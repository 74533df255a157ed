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
left out. A body holds at most :data:`MAX_LINES_PER_MESSAGE` lines (blank ones
included); a message with more is dead-lettered whole, unread.

**Compression.** A body may be gzip (RFC 1952) of that NDJSON, marked by
:data:`ATTR_ENCODING` = ``gzip``. Readers go by the body itself, not the
attribute: NDJSON never starts with gzip's magic bytes ``1f 8b``, so
:func:`message_body` can tell the two apart, and a compressed body read
without its attributes (a spool record, a replay) still reads. Every member of
a multi-member gzip body is read (RFC 1952), at most :data:`MAX_GZIP_MEMBERS`
of them; zero bytes after a member are padding, as Python's ``gzip`` reads
them; anything else after a member is malformed. A body that starts like gzip
and does not inflate, all members together, to at most
:data:`MAX_INFLATED_BYTES` is malformed (:class:`MalformedBodyError`). Pub/Sub
bills bytes, and audit NDJSON compresses 10-25 times at gzip's fastest level,
for ~2 µs of CPU per event.

**Dead letters.** The subscriber's own rejects go to the dead-letter topic one
line per message, the data byte for byte, with the original attributes plus
:data:`ATTR_ERROR_CLASS`, :data:`ATTR_ERROR_DETAIL`, :data:`ATTR_LINE_INDEX`
and :data:`ATTR_SOURCE_MESSAGE_ID`. A whole message is dead-lettered as
received. Data over :data:`PUBSUB_MESSAGE_LIMIT_BYTES` is cut to its first
:data:`DEAD_LETTER_KEPT_BYTES` (:func:`cut_dead_letter_data`), marked by
:data:`ATTR_DATA_CUT` with :data:`ATTR_ORIGINAL_BYTES` and
:data:`ATTR_ORIGINAL_SHA256`; the dlq tools never replay a cut letter. Attributes
stay within Pub/Sub's limits (:func:`bounded_attributes`): ours are kept, the
original ones that do not fit are cut or dropped, and
:data:`ATTR_ATTRIBUTES_CUT` says how many. Messages Pub/Sub itself gave up on carry
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

import hashlib
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Final

from il_audit.schemas.errors import MalformedBodyError

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
ATTR_DATA_CUT: Final = "il_audit_data_cut"
"""``true`` on a dead letter whose data was cut to fit Pub/Sub (never replayed)."""
ATTR_ORIGINAL_BYTES: Final = "il_audit_original_bytes"
"""Size in bytes of a cut dead letter's original data."""
ATTR_ORIGINAL_SHA256: Final = "il_audit_original_sha256"
"""SHA-256 (hex) of a cut dead letter's original data."""
ATTR_ATTRIBUTES_CUT: Final = "il_audit_attributes_cut"
"""How many of the original attributes a dead letter had to cut or drop to fit Pub/Sub."""
ATTR_ENCODING: Final = "il_audit_encoding"
"""``gzip`` when the body is compressed (informational: readers look at the body)."""
ENCODING_GZIP: Final = "gzip"
GZIP_MAGIC: Final = b"\x1f\x8b"
MAX_INFLATED_BYTES: Final = 32 * 1024 * 1024
"""A compressed body inflating past this, all members together, is refused."""
MAX_GZIP_MEMBERS: Final = 100
"""Gzip members one body may hold (the publisher writes one)."""
MAX_LINES_PER_MESSAGE: Final = 50_000
"""Lines one body may hold, blank ones included: five times the most the publisher packs
(``max_events_per_message`` is at most 10,000). It bounds the work and memory of one message."""
_GZIP_WBITS: Final = 31  # zlib's "gzip container" window bits
PUBSUB_DEAD_LETTER_PREFIX: Final = "CloudPubSubDeadLetterSource"
"""Prefix of the attributes Pub/Sub adds when it dead-letters a message itself."""

MAX_ATTRIBUTE_BYTES: Final = 1024
"""Pub/Sub's limit on one attribute value, in bytes."""
MAX_ATTRIBUTE_KEY_BYTES: Final = 256
"""Pub/Sub's limit on one attribute key, in bytes."""
MAX_ATTRIBUTES: Final = 100
"""Pub/Sub's limit on the attributes of one message."""
PUBSUB_MESSAGE_LIMIT_BYTES: Final = 9_000_000
"""Most data one message of ours carries. Pub/Sub refuses a publish request over 10 MB
(data, attributes and framing); 100 attributes at their limits are 128 KB, so this leaves room."""
DEAD_LETTER_KEPT_BYTES: Final = 1_048_576
"""What a dead letter keeps of data over :data:`PUBSUB_MESSAGE_LIMIT_BYTES`: the envelope
limit (``MAX_ENVELOPE_BYTES``), so no line that could ever be accepted is cut."""

LINE_SEPARATOR: Final = b"\n"

SUBSCRIPTION_SUFFIX: Final = "-sub"
INSPECT_SUFFIX: Final = "-inspect"
DEAD_LETTER_SUFFIX: Final = "-dlq"


def compress_body(data: bytes | bytearray, level: int = 1) -> bytes:
    """``data`` as a gzip stream (level 1: the fastest; these bodies compress well anyway)."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, _GZIP_WBITS)
    return compressor.compress(data) + compressor.flush()


def message_body(data: bytes) -> bytes:
    """The NDJSON of a body, every gzip member inflated; raises :class:`MalformedBodyError`."""
    if not data.startswith(GZIP_MAGIC):
        return data
    parts: list[bytes] = []
    budget = MAX_INFLATED_BYTES
    rest = data
    while True:
        if len(parts) == MAX_GZIP_MEMBERS:
            raise MalformedBodyError(f"the gzip body has more than {MAX_GZIP_MEMBERS} members")
        inflater = zlib.decompressobj(_GZIP_WBITS)
        try:
            # One byte over the budget tells "exactly at the limit" from "over it".
            part = inflater.decompress(rest, budget + 1)
        except zlib.error as exc:
            raise MalformedBodyError(f"the gzip body does not inflate: {exc}") from exc
        if len(part) > budget:
            raise MalformedBodyError(
                f"the gzip body inflates to more than {MAX_INFLATED_BYTES} bytes"
            )
        if not inflater.eof:
            raise MalformedBodyError("the gzip body is truncated")
        parts.append(part)
        budget -= len(part)
        rest = inflater.unused_data.lstrip(b"\x00")  # zero padding, as Python's gzip reads it
        if not rest:
            return parts[0] if len(parts) == 1 else b"".join(parts)
        if not rest.startswith(GZIP_MAGIC):
            raise MalformedBodyError(
                f"{len(rest)} bytes after gzip member {len(parts)} are not another member"
            )


def split_lines(data: bytes) -> Iterator[tuple[int, bytes]]:
    """``(line_index, line)`` of every non-blank line of a message body, one at a time."""
    start = 0
    index = 0
    end = len(data)
    while start <= end:
        stop = data.find(LINE_SEPARATOR, start)
        if stop < 0:
            stop = end
        line = data[start:stop]
        if line.strip():
            yield index, line
        index += 1
        start = stop + 1


def line_total(body: bytes) -> int:
    """Lines of a body, blank ones included (a final newline ends a line, it starts none)."""
    if not body:
        return 0
    return body.count(LINE_SEPARATOR) + (0 if body.endswith(LINE_SEPARATOR) else 1)


def count_lines(data: bytes) -> int:
    """How many envelope lines a message body carries (inflated first; 1 if it cannot be).

    A body over :data:`MAX_LINES_PER_MESSAGE` lines is not read line by line: its
    line total is returned instead (the subscriber dead-letters it whole).
    """
    try:
        body = message_body(data)
    except MalformedBodyError:
        return 1
    total = line_total(body)
    if total > MAX_LINES_PER_MESSAGE:
        return total
    return sum(1 for _ in split_lines(body))


def ascii_int(text: str, maximum: int) -> int | None:
    """``text`` as an int when it is 1 to 19 ASCII digits and at most ``maximum``, else None.

    ``str.isdigit()`` also accepts digits such as ``"²"`` that ``int()`` refuses,
    and ``int()`` refuses more than 4,300 digits: neither may reach it.
    """
    if not 0 < len(text) <= 19 or not text.isascii() or not text.isdigit():
        return None
    value = int(text)
    return value if value <= maximum else None


def envelope_count(attributes: Mapping[str, str], data: bytes) -> int:
    """Envelopes a message carries: its :data:`ATTR_COUNT`, else the lines of its body.

    The attribute counts when it is 1 to :data:`MAX_LINES_PER_MESSAGE` in ASCII
    digits (:func:`ascii_int`); otherwise the body's lines are counted, inflated
    first (:func:`count_lines`).
    """
    count = attributes.get(ATTR_COUNT, "")
    declared = ascii_int(count, MAX_LINES_PER_MESSAGE) if isinstance(count, str) else None
    return declared or count_lines(data)


def cut_dead_letter_data(data: bytes) -> tuple[bytes, dict[str, str]]:
    """Dead-letter data that fits Pub/Sub, and the attributes that say whether it was cut.

    Data over :data:`PUBSUB_MESSAGE_LIMIT_BYTES` becomes its first
    :data:`DEAD_LETTER_KEPT_BYTES`, with :data:`ATTR_DATA_CUT`,
    :data:`ATTR_ORIGINAL_BYTES` and :data:`ATTR_ORIGINAL_SHA256`.
    """
    if len(data) <= PUBSUB_MESSAGE_LIMIT_BYTES:
        return data, {}
    return data[:DEAD_LETTER_KEPT_BYTES], {
        ATTR_DATA_CUT: "true",
        ATTR_ORIGINAL_BYTES: str(len(data)),
        ATTR_ORIGINAL_SHA256: hashlib.sha256(data).hexdigest(),
    }


def bounded_attributes(own: Mapping[str, str], original: Mapping[str, str]) -> dict[str, str]:
    """``own`` attributes plus as many ``original`` ones as Pub/Sub's limits allow.

    ``own`` (the subscriber's, within the limits by construction) always wins.
    An original key that is empty or over :data:`MAX_ATTRIBUTE_KEY_BYTES` is
    dropped, a value over :data:`MAX_ATTRIBUTE_BYTES` is cut, and past
    :data:`MAX_ATTRIBUTES` in all the rest is dropped; :data:`ATTR_ATTRIBUTES_CUT`
    then counts the originals cut or dropped.
    """
    result = dict(own)
    room = MAX_ATTRIBUTES - len(result) - 1  # one left for ATTR_ATTRIBUTES_CUT
    touched = 0
    for key, value in original.items():
        if key in own:
            continue
        if not key or len(key.encode("utf-8")) > MAX_ATTRIBUTE_KEY_BYTES or room <= 0:
            touched += 1
            continue
        kept = cut_attribute(value)
        touched += kept != value
        result[key] = kept
        room -= 1
    if touched:
        result[ATTR_ATTRIBUTES_CUT] = str(touched)
    return result


def cut_attribute(text: str, limit: int = MAX_ATTRIBUTE_BYTES) -> str:
    """``text`` cut to fit an attribute value (UTF-8 safe, ``...`` marks a cut).

    A character UTF-8 cannot encode (a lone surrogate) becomes ``?``: attributes
    travel as UTF-8, and such a value would make the whole publish fail.
    """
    try:
        encoded = text.encode("utf-8")
    except UnicodeEncodeError:
        encoded = text.encode("utf-8", "replace")
        text = encoded.decode("utf-8")
    if len(encoded) <= limit:
        return text
    return encoded[: limit - 3].decode("utf-8", "ignore") + "..."


def fits_attribute(text: str) -> bool:
    """Whether ``text`` is a usable attribute value as it is (UTF-8, within the limit)."""
    try:
        return bool(text) and len(text.encode("utf-8")) <= MAX_ATTRIBUTE_BYTES
    except UnicodeEncodeError:  # a lone surrogate: left out of the attributes
        return False


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
