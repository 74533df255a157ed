"""The cheap refusals, taken before anything costs: content type, size, and each address's budget.

The order is the endpoint's (see :mod:`~il_audit.publisher.beacon.router`):
content type (415), declared size (400 for a ``Content-Length`` that is not
ASCII digits, 413 over the limit), then the refusal budget of the client's
address (429), and only then the body is read, counted on the stream (413).

The refusal budget bounds what a client may cost before it is authenticated.
Each address (an IPv6 /64) may be refused ``IL_BEACON_MAX_REFUSALS_PER_WINDOW``
times per ``IL_BEACON_WINDOW_SECONDS``: past that it gets 429 without its body
being read. A request holds a slot of the budget while it is answered and gives
it back unless the answer was a refusal, any 4xx except 429 (400, 401, 403 from
``require_auth``, 413, 415, 422). Accepted requests therefore never use the
budget (a shared address, such as an office's NAT, is not limited by how much
its users send), nor do 429s (counting them would prolong a lockout for as long
as the client keeps knocking). The cross-site 403 comes before the address is
looked at and is not counted either: any page on the web can make a visitor's
browser send one, and it would spend the visitor's budget.
"""

from __future__ import annotations

from collections.abc import AsyncIterable
from typing import Final

from il_audit.publisher.beacon._ratelimit import SlidingWindowLimiter, retry_after_header
from il_audit.publisher.beacon._settings import BeaconSettings
from il_audit.publisher.beacon.errors import Refusal

RATE_LIMIT_DETAIL: Final = "Beacon rate limit exceeded"
ACCEPTED_MEDIA_TYPES: Final = frozenset({"", "application/json", "text/plain"})


def check_content_type(content_type: str | None) -> None:
    """415 unless the body is JSON, ``text/plain`` (what ``sendBeacon`` sends) or untyped."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type not in ACCEPTED_MEDIA_TYPES:
        raise Refusal(415, "Beacon body must be JSON (application/json or text/plain)")


def check_declared_length(declared: str | None, limit: int) -> None:
    """400 for a ``Content-Length`` that is not ASCII digits, 413 when it is over ``limit``.

    ``str.isdigit`` is not enough: it accepts ``"²"``, which ``int`` refuses.
    A value longer than the limit's own digits is over it without being converted
    (``int`` refuses strings of more than 4,300 digits).
    """
    if declared is None:
        return
    text = declared.strip()
    if not (text.isascii() and text.isdigit()):
        raise Refusal(400, "Invalid Content-Length")
    digits = text.lstrip("0") or "0"
    if len(digits) > len(str(limit)) or int(digits) > limit:
        raise Refusal(413, "Beacon body too large")


async def read_body(stream: AsyncIterable[bytes], limit: int) -> bytes:
    """The body, refused with 413 as soon as more than ``limit`` bytes were read.

    Counted on the stream, whatever ``Content-Length`` said: an ASGI server may
    deliver more than it declared.
    """
    chunks: list[bytes] = []
    size = 0
    async for chunk in stream:
        size += len(chunk)
        if size > limit:
            raise Refusal(413, "Beacon body too large")
        chunks.append(chunk)
    return b"".join(chunks)


def counts_as_refusal(status: int) -> bool:
    """Whether an answer uses the address's refusal budget: a 4xx other than 429."""
    return 400 <= status < 500 and status != 429


def too_many(wait: float) -> Refusal:
    """The 429 answer, with ``Retry-After`` in whole seconds."""
    return Refusal(429, RATE_LIMIT_DETAIL, {"Retry-After": retry_after_header(wait)})


class RefusalBudget:
    """Refusals each client address may cause per window before it is turned away unread."""

    def __init__(self, limits: BeaconSettings) -> None:
        self._limiter = SlidingWindowLimiter(
            max_requests=limits.max_refusals_per_window,
            window_seconds=limits.window_seconds,
            max_keys=limits.rate_limit_max_keys,
        )

    def admit(self, key: str) -> None:
        """Take a slot for a request from ``key``; 429 when its refusals fill the window."""
        wait = self._limiter.check(key)
        if wait is not None:
            raise too_many(wait)

    def settle(self, key: str, status: int) -> None:
        """Keep the slot taken by :meth:`admit` if ``status`` was a refusal, else give it back."""
        if not counts_as_refusal(status):
            self._limiter.release(key)

    def charge(self, key: str) -> None:
        """Count a refusal made before :meth:`admit` (content type, declared size)."""
        self._limiter.check(key)

    def reset(self) -> None:
        """Forget every address (tests)."""
        self._limiter.reset()
