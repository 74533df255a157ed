"""Choose and build the transport the settings ask for.

:func:`transport_factory` runs on the thread that builds the publisher and
imports everything the transport needs there; the returned factory runs on the
publisher's own thread and only constructs objects. Keeping imports off the
background thread is what makes ``fork()`` at any moment safe: a fork in the
middle of an import would leave the child a half-initialised module.
"""

from __future__ import annotations

from collections.abc import Callable

from il_audit.config.settings import AuditSettings, Transport
from il_audit.publisher._transports.base import Transport as TransportProtocol
from il_audit.publisher._transports.memory import MemoryTransport
from il_audit.publisher.errors import TransportUnavailableError

TransportFactory = Callable[[], TransportProtocol]


def transport_factory(settings: AuditSettings) -> TransportFactory:
    """Import what ``settings.resolved_transport`` needs and return its constructor.

    The constructor raises :class:`TransportUnavailableError` (or the
    underlying error, e.g. missing credentials) when it cannot build one.
    """
    kind = settings.resolved_transport
    if kind is Transport.PUBSUB:
        from il_audit.publisher._transports.pubsub import PubSubTransport

        project, topic = settings.project, settings.topic

        def pubsub() -> TransportProtocol:
            if not project:
                raise TransportUnavailableError(
                    "no GCP project: set IL_BQ_LOGS_PROJECT or GOOGLE_CLOUD_PROJECT"
                )
            return PubSubTransport(project, topic)

        return pubsub
    if kind is Transport.MEMORY:
        return MemoryTransport
    if kind is Transport.LOCAL:
        try:
            from il_audit.subscriber_fn.embedded import LocalTransport
        except ImportError as exc:
            return _unavailable(
                f"the embedded transport needs DuckDB: pip install 'il-audit[embedded]' ({exc})"
            )
        return lambda: LocalTransport(settings)
    return _unavailable(f"transport {kind.value!r} is not available")


def _unavailable(reason: str) -> TransportFactory:
    def unavailable() -> TransportProtocol:
        raise TransportUnavailableError(reason)

    return unavailable
