"""Which page sent the beacon: its path (item, ``X-IL-Audit-Path`` or ``Referer``) and the agent.

Only the path is kept, never the query string or fragment: those carry search
terms, tokens and e-mail addresses often enough that an audit table must not
collect them by default. Matrix parameters go too (``/app;jsessionid=...``:
everything from a ``;`` to the end of its segment), since servlet containers
put session ids there. Secrets inside the path itself, such as a reset token
in ``/reset-password/<token>``, only the host can recognise: the router's
``redact_path`` hook gets each path that is about to be stored and returns what
to store instead. A hook that raises, or returns something that is not a path,
leaves the page path out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

AUDIT_PATH_HEADER: Final = "x-il-audit-path"
"""Set by the script on fetch requests (``sendBeacon`` cannot set headers; Referer stands in)."""

RedactPath = Callable[[str], str]
"""``redact_path(path) -> path``: what to store for a page path (already without its query)."""

_hook_failure_logged = False


def _without_matrix_parameters(path: str) -> str:
    if ";" not in path:
        return path
    return "/".join(segment.split(";", 1)[0] for segment in path.split("/"))


def strip_path(value: str | None, *, limit: int) -> str | None:
    """The path of a path or URL (no query, fragment or ``;`` parameters), cut at ``limit``."""
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
    return _without_matrix_parameters(path)[:limit]


def request_page_path(*, audit_path: str | None, referer: str | None, limit: int) -> str | None:
    """``X-IL-Audit-Path`` when usable, else the ``Referer``'s path."""
    return strip_path(audit_path, limit=limit) or strip_path(referer, limit=limit)


def redacted_path(path: str | None, redact: RedactPath | None, *, limit: int) -> str | None:
    """``redact(path)`` checked again as a path; ``path`` itself without a hook."""
    global _hook_failure_logged
    if path is None or redact is None:
        return path
    try:
        result = redact(path)
    except Exception as exc:  # noqa: BLE001 - the host's hook: logged by type, path left out
        level = logging.DEBUG if _hook_failure_logged else logging.WARNING
        _hook_failure_logged = True
        logger.log(level, "il-audit: redact_path raised %s; the page path is left out",
                   type(exc).__name__)  # fmt: skip
        return None
    return strip_path(result, limit=limit) if isinstance(result, str) else None


def user_agent(value: str | None, *, limit: int) -> str | None:
    """The ``User-Agent`` header, trimmed to ``limit`` printable characters."""
    if not value:
        return None
    text = value.strip()[:limit]
    return text if text and text.isprintable() else None
