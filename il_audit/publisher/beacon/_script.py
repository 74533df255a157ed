"""The browser script shipped in the package, with the validators a cache needs."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from importlib import resources

SCRIPT_NAME = "audit_beacon.js"
SCRIPT_MEDIA_TYPE = "text/javascript; charset=utf-8"


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
def beacon_script() -> Script:
    """``il_audit/static/audit_beacon.js``, read once."""
    body = resources.files("il_audit").joinpath("static", SCRIPT_NAME).read_bytes()
    digest = hashlib.sha256(body).hexdigest()[:32]
    return Script(body=body, etag=f'"{digest}"')
