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


def test_every_design_type_is_built_in() -> None:
    """The built-in set is exactly the design's list (values are persisted forever)."""
    assert T.BUILTIN_EVENT_TYPES == DESIGN_TYPES


def test_beacon_types_are_the_ui_types() -> None:
    """Browsers may send only the ui.* types."""
    assert {t for t in DESIGN_TYPES if t.startswith("ui.")} == T.BEACON_EVENT_TYPES


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
