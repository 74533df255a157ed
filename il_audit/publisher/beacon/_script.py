"""The browser scripts shipped in the package, with the validators a cache needs.

``audit_beacon.js`` (0.1.3's globals and 1.0.35's), ``visit_session.js`` and
``login_audit.js`` (1.0.35's), each served by the router at
``/api/audit/<name>`` (:data:`SCRIPT_PATHS`) with the same headers.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from importlib import resources
from typing import Final

SCRIPT_NAME: Final = "audit_beacon.js"
VISIT_SESSION_SCRIPT_NAME: Final = "visit_session.js"
LOGIN_AUDIT_SCRIPT_NAME: Final = "login_audit.js"
SCRIPT_NAMES: Final = (SCRIPT_NAME, VISIT_SESSION_SCRIPT_NAME, LOGIN_AUDIT_SCRIPT_NAME)
SCRIPT_PATHS: Final = {name: f"/api/audit/{name}" for name in SCRIPT_NAMES}
"""Each script's URL path on the router."""
SCRIPT_MEDIA_TYPE: Final = "text/javascript; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Script:
    """The script's bytes and its strong ETag (a digest of the bytes, quoted)."""

    body: bytes
    etag: str

    def matches(self, if_none_match: str | None) -> bool:
        """True when an ``If-None-Match`` header names this version (or ``*``)."""
        if not if_none_match:
            return False
        candidates = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in candidates or self.etag in candidates


@functools.cache
def beacon_script(name: str = SCRIPT_NAME) -> Script:
    """``il_audit/static/<name>`` (one of :data:`SCRIPT_NAMES`), read once."""
    if name not in SCRIPT_NAMES:
        raise ValueError(f"not a packaged script: {name!r}")
    body = resources.files("il_audit").joinpath("static", name).read_bytes()
    digest = hashlib.sha256(body).hexdigest()[:32]
    return Script(body=body, etag=f'"{digest}"')
