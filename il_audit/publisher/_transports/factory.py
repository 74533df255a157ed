"""Choose and build the transport the settings ask for.

:func:`transport_factory` runs on the thread that builds the publisher and
imports everything the transport needs there; the returned factory runs on the
publisher's own thread and only constructs objects. Keeping imports off the
background thread is what makes ``fork()`` at any moment safe: a fork in the
middle of an import would leave the child a half-initialised module.
"""

from __future__ import annotations

from collections.abc import Callable

from il_audit.config.runtime import PROJECT_VARIABLES_HINT
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
        from il_audit.publisher._transports.pubsub import PubSubTransport, project_resolver

        project, topic = settings.project, settings.topic
        resolver = None if project else project_resolver()

        def pubsub() -> TransportProtocol:
            if project:
                return PubSubTransport(project, topic)
            assert resolver is not None
            lookup = resolver.resolve()
            if not lookup.project:
                raise TransportUnavailableError(missing_project_message(settings, lookup.problem))
            return PubSubTransport(lookup.project, topic)

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


def missing_project_message(settings: AuditSettings, problem: str | None) -> str:
    """Why Pub/Sub has no project, naming the variable that would fix it."""
    where = (
        f"on a managed runtime ({settings.managed_runtime} is set)"
        if settings.managed_runtime
        else "here"
    )
    return (
        f"no GCP project {where}: set {PROJECT_VARIABLES_HINT}; "
        f"{problem or 'google.auth.default() found none'}"
    )


def _unavailable(reason: str) -> TransportFactory:
    def unavailable() -> TransportProtocol:
        raise TransportUnavailableError(reason)

    return unavailable
