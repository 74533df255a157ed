"""Choose and build the transport the settings ask for, found by name through entry points.

Transports register in the ``il_audit.transports`` entry-point group
(``pyproject.toml``): each entry is a function ``make_factory(settings)`` that
imports what its transport needs and returns a constructor. The publisher
itself imports nothing from ``il_audit.subscriber_fn``: the embedded ``local``
transport is declared there and found here by name.

:func:`transport_factory` runs on the thread that builds the publisher, so the
entry point (and every import it makes) loads there; the returned constructor
runs on the publisher's own thread and only constructs objects. Keeping imports
off the background thread is what makes ``fork()`` at any moment safe: a fork
in the middle of an import would leave the child a half-initialised module.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any, Final

from il_audit.config.settings import AuditSettings, Transport
from il_audit.publisher._transports.base import Transport as TransportProtocol
from il_audit.publisher.errors import TransportUnavailableError

TransportFactory = Callable[[], TransportProtocol]
ENTRY_POINT_GROUP: Final = "il_audit.transports"
_INSTALL_HINTS: Final = {
    "local": "the embedded transport needs DuckDB: pip install 'il-audit[embedded]'",
}


@functools.cache
def _entry_points() -> dict[str, Any]:
    return {entry.name: entry for entry in entry_points(group=ENTRY_POINT_GROUP)}


def available_transports() -> tuple[str, ...]:
    """Names of the transports installed in this environment."""
    return tuple(sorted(_entry_points()))


def transport_factory(settings: AuditSettings) -> TransportFactory:
    """Load the transport ``settings.resolved_transport`` names and return its constructor.

    The constructor raises :class:`TransportUnavailableError` (or the underlying
    error, e.g. missing credentials) when it cannot build one; a transport that
    is not installed gives a constructor that says how to install it.
    """
    kind = settings.resolved_transport
    if kind is Transport.OFF:
        return _unavailable("auditing is off")
    entry = _entry_points().get(kind.value)
    if entry is None:
        return _unavailable(
            f"no transport named {kind.value!r} is installed (entry-point group "
            f"{ENTRY_POINT_GROUP}; installed: {', '.join(available_transports()) or 'none'})"
        )
    try:
        make_factory = entry.load()
    except ImportError as exc:
        hint = _INSTALL_HINTS.get(kind.value, f"the {kind.value} transport cannot be imported")
        return _unavailable(f"{hint} ({exc})")
    factory: TransportFactory = make_factory(settings)
    return factory


def _unavailable(reason: str) -> TransportFactory:
    def unavailable() -> TransportProtocol:
        raise TransportUnavailableError(reason)

    return unavailable
