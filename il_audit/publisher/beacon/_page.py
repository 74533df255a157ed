"""Which page sent the beacon: its path from ``X-IL-Audit-Path`` or ``Referer``, and the user agent.

Only the path is kept, never the query string or fragment: those carry search
terms, tokens and e-mail addresses often enough that an audit table must not
collect them by default.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import urlsplit

AUDIT_PATH_HEADER: Final = "x-il-audit-path"
"""Set by the script on fetch requests (``sendBeacon`` cannot set headers; Referer stands in)."""


def strip_path(value: str | None, *, limit: int) -> str | None:
    """The path part of a path or URL (no query, no fragment), at most ``limit`` characters."""
    if not value:
        return None
    text = value.strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    if parts.scheme or parts.netloc:
        path = parts.path or "/"
    else:
        path = text.split("?", 1)[0].split("#", 1)[0]
    if not path.startswith("/") or not path.isprintable():
        return None
    return path[:limit]


def request_page_path(*, audit_path: str | None, referer: str | None, limit: int) -> str | None:
    """``X-IL-Audit-Path`` when usable, else the ``Referer``'s path."""
    return strip_path(audit_path, limit=limit) or strip_path(referer, limit=limit)


def user_agent(value: str | None, *, limit: int) -> str | None:
    """The ``User-Agent`` header, trimmed to ``limit`` printable characters."""
    if not value:
        return None
    text = value.strip()[:limit]
    return text if text and text.isprintable() else None
