"""Long texts for envelopes: capped at 10 MiB of UTF-8, split by the bytes of their JSON form.

An envelope is at most 1 MiB of JSON (``MAX_ENVELOPE_BYTES``), and a model
call's prompt may be up to :data:`MODEL_CALL_TEXT_MAX_BYTES` of UTF-8 (1.0.35's
cap), so a long text travels as parts. What limits a part is its size *in
JSON*, not in UTF-8: a control character takes six bytes there (``\\u0001``),
a quote or a newline two. :func:`json_size` counts exactly that, and
:func:`split_by_json_bytes` cuts a text into pieces of at most a given JSON
size, between characters (a Python string is code points, so no cut falls
inside a UTF-8 sequence, and :func:`cap_text` has joined any surrogate
pair first).

Cost: nothing for a text short enough that six bytes per character fits (the
caller checks that); otherwise a few passes of C code over each piece of about
1 MB (slice, encode, translate), so the interpreter can switch threads between
pieces rather than stall them all for one pass over 10 MiB.
"""

from __future__ import annotations

from typing import Final

MODEL_CALL_TEXT_MAX_BYTES: Final = 10_485_760
"""UTF-8 bytes kept of one text (1.0.35's cap, 10 MiB); a longer one is cut and marked."""
TRUNCATION_MARKER: Final = "\n…[truncated]"
"""Ends a text cut at the cap (1.0.35's marker)."""
MAX_JSON_BYTES_PER_CHAR: Final = 6
"""A character is at most 6 bytes in JSON (``\\u001f``); a text of n characters is at most
6n bytes, so one that short needs no measuring."""
_MARKER_BYTES: Final = len(TRUNCATION_MARKER.encode("utf-8"))
_PASS_CHARACTERS: Final = 1 << 20
"""Characters encoded per pass: each C call stays short, so other threads get the GIL."""

# The bytes JSON escapes: control characters, the quote and the backslash (all ASCII, so in
# UTF-8 they never occur inside a multi-byte character). Seven of them take 2 bytes
# (``\\n``, ``\\"``...), the other control characters 6 (``\\u00XX``). orjson, pydantic and
# the json module agree on this, and on escaping nothing else (tested).
_ESCAPED: Final = bytes(range(0x20)) + b'"\\'
_SHORT_ESCAPES: Final = tuple(b'"\\\b\f\n\r\t')
_NOT_ESCAPED: Final = bytes(byte for byte in range(256) if byte not in _ESCAPED)


def cap_text(text: str, max_bytes: int = MODEL_CALL_TEXT_MAX_BYTES) -> tuple[str, bool]:
    """``text`` as UTF-8 can carry it and cut to at most ``max_bytes`` of it; and whether
    it was cut (§5.17).

    A longer text keeps its first ``max_bytes`` minus the marker's length, cut at a
    character boundary, and ends with :data:`TRUNCATION_MARKER`. A surrogate pair (two
    code points) is joined into its character and a lone surrogate becomes U+FFFD: a
    string with surrogates has no UTF-8 form, so its event could not be serialized and
    would be dead-lettered whole. ASCII text costs nothing; other text one encode, a
    megabyte at a time.
    """
    if text.isascii():
        if len(text) <= max_bytes:
            return text, False
        return text[: max_bytes - _MARKER_BYTES] + TRUNCATION_MARKER, True
    try:
        return _cap_unicode(text, max_bytes)
    except UnicodeEncodeError:  # a surrogate
        joined = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        return _cap_unicode(joined, max_bytes)


def _cap_unicode(text: str, max_bytes: int) -> tuple[str, bool]:
    """:func:`cap_text` of non-ASCII text; raises ``UnicodeEncodeError`` on a surrogate in
    what it keeps."""
    limit = max(0, max_bytes - _MARKER_BYTES)
    used = 0  # UTF-8 bytes of text[:start]
    cut_at = len(text)
    for start in range(0, len(text), _PASS_CHARACTERS):
        # A whole-string slice is the string itself: a short text is encoded once, uncopied.
        encoded = text[start : start + _PASS_CHARACTERS].encode("utf-8")
        if used <= limit < used + len(encoded):
            # "ignore" drops only the character the byte limit splits.
            cut_at = start + len(encoded[: limit - used].decode("utf-8", "ignore"))
        used += len(encoded)
        if used > max_bytes:
            return text[:cut_at] + TRUNCATION_MARKER, True
    return text, False


def json_size(encoded: bytes) -> int:
    """Bytes of ``encoded`` (UTF-8 text) inside a JSON string, quotes excluded."""
    escaped = encoded.translate(None, _NOT_ESCAPED)
    if not escaped:
        return len(encoded)
    short = sum(escaped.count(byte) for byte in _SHORT_ESCAPES)
    # Every escaped byte adds at least one; a \u00XX adds four more.
    return len(encoded) + len(escaped) + 4 * (len(escaped) - short)


def text_json_size(text: str) -> int:
    """Bytes of ``text`` inside a JSON string, quotes excluded (``text`` as :func:`cap_text`
    returns it: no surrogates)."""
    return json_size(text.encode("utf-8"))


def split_by_json_bytes(text: str, max_bytes: int) -> list[str]:
    """``text`` in consecutive pieces of at most ``max_bytes`` each as a JSON string.

    Pieces are cut between characters and never between the halves of a surrogate pair;
    joined in order they give ``text`` back. An empty text has no pieces.
    """
    if max_bytes < MAX_JSON_BYTES_PER_CHAR:
        raise ValueError(f"a piece must hold any character: {max_bytes} < 6 bytes")
    pieces: list[str] = []
    start, end = 0, len(text)
    # A character is at least one byte, so no piece has more than max_bytes characters; the
    # next piece's first guess is the last one's bytes per character (text is mostly uniform).
    guess = max_bytes
    while start < end:
        length = min(end - start, guess)
        piece = text[start : start + length]
        size = json_size(piece.encode("utf-8", "surrogatepass"))
        while size > max_bytes:
            # Shrink in proportion (exact for uniform text); strictly shorter each time.
            length = max(1, min(length - 1, length * max_bytes // size))
            piece = piece[:length]
            size = json_size(piece.encode("utf-8", "surrogatepass"))
        guess = min(max_bytes, max(1, length * max_bytes // max(size, 1)))
        if length > 1 and start + length < end and _pair_at(piece[-1], text[start + length]):
            length -= 1  # keep a pair whole (only text that skipped cap_text has one)
            piece = piece[:length]
        pieces.append(piece)
        start += length
    return pieces


def _pair_at(left: str, right: str) -> bool:
    """Whether ``left`` and ``right`` are the high and low halves of a surrogate pair."""
    return "\ud800" <= left <= "\udbff" and "\udc00" <= right <= "\udfff"
