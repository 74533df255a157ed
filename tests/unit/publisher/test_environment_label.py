"""The environment label of the project the transport publishes to (IL_AUDIT_ENVIRONMENT_MAP),
when no project variable names it: Cloud Run sets none, google.auth finds it later."""

from __future__ import annotations

from il_audit.publisher import AuditContext, AuditPublisher, MemoryTransport
from il_audit.schemas import taxonomy as T
from tests.support.factories import make_settings


class ProjectTransport(MemoryTransport):
    """A memory transport that, like the Pub/Sub one, says which project it publishes to."""

    def __init__(self, project: str) -> None:
        super().__init__(max_messages=None)
        self.project = project


def test_the_map_labels_events_by_the_transport_s_project() -> None:
    """On a managed runtime without a project variable, the label is the map's entry for
    the project the transport found; a context's own label still wins."""
    settings = make_settings(
        managed_runtime="K_SERVICE", project=None, environment_map={"p-1": "production"}
    )
    assert settings.audit_environment is None  # not known before the transport is
    transport = ProjectTransport("p-1")
    publisher = AuditPublisher(settings, transport=transport)
    context = AuditContext(app="checkout")
    publisher.emit(T.AUTH_LOGOUT, context=context)
    publisher.emit(T.AUTH_LOGOUT, context=context.replace(environment="canary"))
    assert publisher.flush(5).complete
    assert [e.get("environment") for e in transport.envelopes()] == ["production", "canary"]
    publisher.shutdown(1)
