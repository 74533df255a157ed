"""Is this post cross-site? Decided from ``Origin``, else ``Sec-Fetch-Site``.

- With an ``Origin`` header, the post passes when that origin is allow-listed,
  or when its host and port equal the request's ``Host``. The scheme is not
  compared: behind a proxy that terminates TLS the browser says ``https`` while
  the app sees ``http``. Default ports (80, 443) count as "no port" on both
  sides for the same reason.
- ``Origin: null`` (sandboxed frames, opaque origins) never matches.
- Without ``Origin``, ``Sec-Fetch-Site`` decides: ``same-origin`` and ``none``
  pass, ``same-site`` and ``cross-site`` do not.
- With neither header the client is not a browser, and nothing is cross-site
  about it: it passes (authentication and the rate limit still apply).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from il_audit.publisher.beacon.errors import BeaconConfigError

_DEFAULT_PORTS = {80, 443}
_SCHEME_PORTS = {"http": 80, "https": 443}
_PASSING_FETCH_SITES = {"same-origin", "none"}


@dataclass(frozen=True, slots=True)
class Origin:
    """A normalized origin: lowercase scheme and host, port or ``None`` for the default."""

    scheme: str
    host: str
    port: int | None


def parse_origin(value: str) -> Origin | None:
    """``scheme://host[:port]`` (no path, query or credentials) normalized, else ``None``."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _SCHEME_PORTS or not parts.hostname:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        return None
    if port == _SCHEME_PORTS[parts.scheme]:
        port = None
    return Origin(parts.scheme, parts.hostname.lower(), port)


def _host_port(host_header: str) -> tuple[str, int | None] | None:
    """Host and port of a ``Host`` header value (default ports become ``None``)."""
    try:
        parts = urlsplit("//" + host_header.strip())
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname or parts.path or parts.username:
        return None
    return parts.hostname.lower(), None if port in _DEFAULT_PORTS else port


def allowed_origin_set(origins: Iterable[str]) -> frozenset[Origin]:
    """Validate and normalize ``allowed_origins``; raises :class:`BeaconConfigError`."""
    parsed = set()
    for value in origins:
        origin = parse_origin(value) if isinstance(value, str) else None
        if origin is None:
            raise BeaconConfigError(
                f"allowed_origins entry {value!r} is not an origin like 'https://app.example.com'"
            )
        parsed.add(origin)
    return frozenset(parsed)


def is_cross_site(
    *,
    origin: str | None,
    fetch_site: str | None,
    host: str | None,
    allowed: frozenset[Origin],
) -> bool:
    """True when a browser made this request from a page that may not post beacons here."""
    if origin is not None:
        parsed = parse_origin(origin)
        if parsed is None:
            return True
        if parsed in allowed:
            return False
        own = _host_port(host) if host else None
        return own is None or (parsed.host, _plain_port(parsed)) != own
    if fetch_site is not None:
        return fetch_site.strip().lower() not in _PASSING_FETCH_SITES
    return False


def _plain_port(origin: Origin) -> int | None:
    return None if origin.port in _DEFAULT_PORTS else origin.port
