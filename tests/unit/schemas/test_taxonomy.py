"""The event taxonomy: every design value present, beacon subset, host registry."""

from __future__ import annotations

import pytest

from il_audit.schemas import taxonomy as T

DESIGN_TYPES = {
    "auth.login.succeeded", "auth.login.failed", "auth.logout", "user.settings.updated",
    "config.prompt.updated", "config.scheduled_task.updated", "config.scheduled_task.run",
    "ingest.job.started", "ingest.job.completed", "ingest.job.failed",
    "ingest.file.indexed", "ingest.file.failed", "ingest.file.skipped", "ingest.preflight",
    "drive.oauth.connected", "drive.oauth.disconnected", "drive.selection.created",
    "drive.selection.deleted", "drive.consent.granted", "drive.pipeline.status_changed",
    "drive.sync.event", "ui.tab.viewed", "ui.drive.search", "ui.consent.modal_opened",
    "ui.consent.submitted", "ui.chat.session.started", "ui.chat.session.ended",
    "ui.chat.source.attached", "ui.chat.new_chat.clicked", "chat.turn.succeeded",
    "chat.turn.failed", "chat.session.started", "chat.session.ended", "cost.api.usage",
    "cost.resource.usage",
}  # fmt: skip

# The seed's 1.0 line added these (facts sheet 5.3); nothing of the design's list was removed.
SEED_1_0_TYPES = {
    "auth.access.denied", "auth.access_control.changed", "library.tag.changed",
    "library.access.changed", "library.ownership.changed", "library.file.deleted",
    "library.consent.refreshed", "library.report.acknowledged", "ui.chat.visit.started",
    "ui.chat.visit.ended", "ui.visit.started", "ui.visit.ended", "ui.chat.conversation.started",
    "ui.chat.conversation.ended", "ui.chat.source.opened", "ui.chat.library.file.attached",
    "ui.chat.content.reported", "ui.chat.feedback.submitted", "ui.element.clicked",
    "ui.filter.changed", "ui.form.submitted", "ui.menu.opened", "ui.nav.external_clicked",
    "ui.tour.started", "ui.tour.step.viewed", "ui.tour.completed", "ui.tour.deferred",
    "ui.tour.paused", "chat.visit.started", "chat.visit.ended", "chat.out_of_scope",
}  # fmt: skip
OUR_TYPES = {
    "chat.model_call.text", "chat.model_call.text.part", "chat.retrieval.candidate",
    "chat.retrieval.chunk", "chat.retrieval.pass", "chat.feedback", "ui.chat.feedback",
    "audit.erasure.completed",
    "audit.publisher.heartbeat",
}  # fmt: skip
"""Types il-audit added (the seed's 1.0 wrote model-call text and retrieval rows without one;
``chat.feedback`` is issue 22's own design; ``audit.erasure.completed`` issue 25's, the
heartbeat issue 26's)."""


def test_every_design_type_is_built_in() -> None:
    """The built-in set is the design's list plus the seed's 1.0 additions and ours
    (persisted forever)."""
    assert T.BUILTIN_EVENT_TYPES == DESIGN_TYPES | SEED_1_0_TYPES | OUR_TYPES


def test_beacon_types_are_the_ui_types() -> None:
    """Browsers may send exactly the built-in ui.* types, 29 of them (ui.chat.feedback is
    ours)."""
    ui_types = {t for t in DESIGN_TYPES | SEED_1_0_TYPES | OUR_TYPES if t.startswith("ui.")}
    assert ui_types == T.BEACON_EVENT_TYPES
    assert len(T.BEACON_EVENT_TYPES) == 29


def test_every_beacon_type_is_known_to_the_subscriber() -> None:
    """The subscriber's is_known accepts every built-in beacon type without registration."""
    assert all(T.is_known(event_type) for event_type in T.BEACON_EVENT_TYPES)


def test_registered_beacon_type_is_a_beacon_type_and_known() -> None:
    """register_beacon_types makes a host ui.* name both a beacon type and a known type."""
    assert not T.is_beacon_type("ui.billing.viewed")
    T.register_beacon_types("ui.billing.viewed")
    assert T.is_beacon_type("ui.billing.viewed")
    assert T.is_known("ui.billing.viewed")
    assert "ui.billing.viewed" in T.beacon_event_types()


def test_beacon_prefix_registration_covers_its_namespace_only() -> None:
    """register_beacon_types('ui.billing.*') accepts ui.billing.* names and nothing beside."""
    T.register_beacon_types("ui.billing.*")
    assert T.is_beacon_type("ui.billing.invoice.opened")
    assert T.is_known("ui.billing.invoice.opened")
    assert not T.is_beacon_type("ui.billingx.opened")


def test_plain_registration_does_not_make_a_beacon_type() -> None:
    """A type registered with register() is known but browsers still may not send it."""
    T.register("ui.admin.exported")
    assert T.is_known("ui.admin.exported")
    assert not T.is_beacon_type("ui.admin.exported")


@pytest.mark.parametrize("name", ["billing.viewed", "billing.*", "ui.*", "uix.viewed", "ui"])
def test_beacon_types_outside_ui_are_refused(name: str) -> None:
    """Beacon types lie under ui. (prefixes: a namespace below it); nothing is registered."""
    with pytest.raises(T.InvalidEventTypeError):
        T.register_beacon_types(name)
    assert not T.is_known(name)


def test_unregister_all_forgets_beacon_types() -> None:
    """unregister_all() also forgets host beacon types (test isolation)."""
    T.register_beacon_types("ui.billing.viewed", "ui.shop.*")
    T.unregister_all()
    assert not T.is_beacon_type("ui.billing.viewed")
    assert not T.is_beacon_type("ui.shop.cart.opened")


def test_every_built_in_name_is_well_formed() -> None:
    """Built-in names follow the lowercase dotted rule that host names must follow."""
    for event_type in T.BUILTIN_EVENT_TYPES:
        assert T.check_name(event_type) == event_type


def test_registered_types_become_known() -> None:
    """register() makes a host type known; unregistered ones stay unknown."""
    assert not T.is_known("billing.invoice.sent")
    T.register("billing.invoice.sent")
    assert T.is_known("billing.invoice.sent")
    assert not T.is_known("billing.invoice.paid")


def test_prefix_registration_covers_the_namespace() -> None:
    """register('billing.*') accepts every billing.* name and nothing else."""
    T.register("billing.*")
    assert T.is_known("billing.invoice.paid")
    assert not T.is_known("billingx.invoice")


@pytest.mark.parametrize(
    "name", ["Billing.sent", "billing", "billing..x", "billing.x-y", "x" * 200]
)
def test_malformed_names_are_refused(name: str) -> None:
    """Names must be lowercase dotted with two or more segments, at most 128 characters."""
    with pytest.raises(T.InvalidEventTypeError):
        T.register(name)
