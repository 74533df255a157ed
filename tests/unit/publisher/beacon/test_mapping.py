"""schedule_beacon_rows keeps the seed's semantics (facts sheet 2.3)."""

from __future__ import annotations

from typing import Any

from il_audit.publisher import AuditContext
from il_audit.publisher.beacon import BeaconEventItem, schedule_beacon_rows
from il_audit.publisher.testing import CapturedEvents, capture_events

CTX = AuditContext(app="web", actor_uid="u-1", source="api")


def _schedule(*items: Any) -> tuple[int, CapturedEvents]:
    with capture_events() as events:
        accepted = schedule_beacon_rows(context=CTX, events=list(items))
    return accepted, events


def test_non_beacon_types_are_skipped_and_not_counted() -> None:
    """Items whose type is not a beacon type are dropped silently; the count says so."""
    accepted, events = _schedule(
        {"event_type": "ui.element.clicked"}, {"event_type": "auth.login.succeeded"}
    )
    assert accepted == 1
    assert events.event_types == ["ui.element.clicked"]


def test_missing_or_empty_type_is_a_tab_view() -> None:
    """No event_type, or an empty one, counts as ui.tab.viewed."""
    accepted, events = _schedule({}, {"event_type": ""})
    assert accepted == 2
    assert events.event_types == ["ui.tab.viewed", "ui.tab.viewed"]


def test_source_is_always_beacon() -> None:
    """Whatever the given context says, the events' source is beacon."""
    _, events = _schedule({"event_type": "ui.element.clicked"})
    assert events[0].source == "beacon"
    assert events[0].actor_uid == "u-1"


def test_legacy_tab_beacon_is_rewritten() -> None:
    """A surface-less resource_type 'tab' beacon becomes main_nav / nav_tab, as in the seed."""
    _, events = _schedule({"event_type": "ui.tab.viewed", "resource_type": "tab", "resource_id": 7})
    envelope = events[0]
    assert (envelope.resource_type, envelope.resource_id) == ("nav_tab", "7")
    assert envelope.payload is not None
    assert (envelope.payload["surface"], envelope.payload["element_id"]) == ("main_nav", "7")


def test_interaction_defaults_to_view_and_is_the_action() -> None:
    """interaction defaults to 'view'; action repeats it and status is 'succeeded'."""
    _, events = _schedule({"event_type": "ui.tab.viewed"}, {"interaction": "hover"})
    assert [(e.action, e.status) for e in events] == [("view", "succeeded"), ("hover", "succeeded")]
    assert events[0].payload is not None
    assert events[0].payload["interaction"] == "view"


def test_resource_id_falls_back_to_element_id() -> None:
    """Without resource_id, the element id identifies the resource."""
    _, events = _schedule({"element_id": "files-tab"})
    assert events[0].resource_id == "files-tab"


def test_client_ts_joins_metadata_unless_already_there() -> None:
    """client_ts is copied into metadata, without overwriting a metadata client_ts."""
    _, events = _schedule(
        {"client_ts": "2026-01-01T00:00:00Z"},
        {"client_ts": "2026-01-01T00:00:00Z", "metadata": {"client_ts": "mine"}},
    )
    assert events[0].metadata == {"client_ts": "2026-01-01T00:00:00Z"}
    assert events[1].metadata == {"client_ts": "mine"}


def test_empty_metadata_is_left_out() -> None:
    """An empty metadata object becomes no metadata at all."""
    _, events = _schedule({"metadata": {}})
    assert events[0].metadata is None


def test_model_items_are_accepted() -> None:
    """BeaconEventItem instances work as well as dicts."""
    accepted, events = _schedule(BeaconEventItem(event_type="ui.menu.opened", element_id="m"))
    assert accepted == 1
    assert events.event_types == ["ui.menu.opened"]


def test_no_event_counts_when_auditing_is_off() -> None:
    """accepted counts events handed to the publisher: none while auditing is off."""
    from il_audit.config.settings import AuditSettings
    from il_audit.publisher import _default
    from il_audit.publisher.client import AuditPublisher

    off = AuditPublisher(AuditSettings.from_env({"IL_ENABLE_AUDIT_LOGS": "false"}))
    previous = _default.set_publisher(off)
    try:
        assert schedule_beacon_rows(context=CTX, events=[{"event_type": "ui.tab.viewed"}]) == 0
    finally:
        _default.set_publisher(previous)
        off.shutdown(0)
