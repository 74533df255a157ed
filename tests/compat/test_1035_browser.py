"""1.0.35's browser side, from the facts sheet: the served scripts, their globals and options,
the beacon types a 1.0.35 page sends, and the client_ts limit (issue 23 §1).

Written from `reference-api-facts.md` §5.8 (client_ts ≤ 512), §5.3 (the 28 beacon types) and
§5.11 (audit_beacon.js, visit_session.js, login_audit.js). What the globals do is checked in
Chromium: tests/browser/test_1035_page_in_chromium.py.
"""

from __future__ import annotations

import re

import pytest

from il_audit.publisher.testing import capture_events
from tests.support.beacon import beacon_client

BEACON = "/api/audit/beacon"
GLOBALS = {
    "audit_beacon.js": (
        "initAuditBeacon", "auditTrack", "auditFieldsFromElement", "auditBeaconFlush",
        "auditBeaconFlushAsync", "auditSuppressUnloadBeacons", "auditBeaconClearQueue",
        "auditCurrentPagePath",
    ),
    "visit_session.js": (
        "initIlVisitSession", "noteIlVisitResource", "noteIlVisitAction",
        "buildIlVisitSessionMetadata", "getIlVisitSessionId",
    ),
    "login_audit.js": ("initLoginPageAudit", "trackLoginProviderClick"),
}  # fmt: skip
"""§5.11: each script's globals."""
DEFAULTS_1035 = (
    'app: "ingest",', "flushIntervalMs: 30000,", "batchSize: 20,", "minFlushGapMs: 500,",
    "autoTrackClick: false,", "autoTrackChange: false,",
)  # fmt: skip
"""§5.11: audit_beacon.js's config defaults."""
BEACON_TYPES_1035 = (
    "ui.tab.viewed", "ui.drive.search", "ui.consent.modal_opened", "ui.consent.submitted",
    "ui.chat.session.started", "ui.chat.session.ended", "ui.chat.source.attached",
    "ui.chat.new_chat.clicked", "ui.chat.visit.started", "ui.chat.visit.ended",
    "ui.visit.started", "ui.visit.ended", "ui.chat.conversation.started",
    "ui.chat.conversation.ended", "ui.chat.source.opened", "ui.chat.library.file.attached",
    "ui.chat.content.reported", "ui.chat.feedback.submitted", "ui.element.clicked",
    "ui.filter.changed", "ui.form.submitted", "ui.menu.opened", "ui.nav.external_clicked",
    "ui.tour.started", "ui.tour.step.viewed", "ui.tour.completed", "ui.tour.deferred",
    "ui.tour.paused",
)  # fmt: skip
"""§5.3: BEACON_EVENT_TYPES of 1.0.35, 28 values."""


def _served(name: str) -> str:
    response = beacon_client().get(f"/api/audit/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    return response.text


@pytest.mark.parametrize("name", sorted(GLOBALS))
def test_each_1035_script_is_served_with_its_globals(name: str) -> None:
    """§5.11: the router serves the script, and it sets each of its globals."""
    text = _served(name)
    for global_name in GLOBALS[name]:
        assert re.search(rf"\bglobal\.{global_name} = ", text), global_name
    assert 'typeof window !== "undefined" ? window : globalThis' in text


def test_audit_beacon_js_has_1035_defaults() -> None:
    """§5.11: the config defaults, 0.1.3's plus minFlushGapMs and autoTrackChange."""
    text = _served("audit_beacon.js")
    for default in DEFAULTS_1035:
        assert default in text, default


def test_audit_beacon_js_reads_the_1035_markup() -> None:
    """§5.11: change tracking, the data-sort fallback, the form metadata keys, the path header,
    the suppression flag and the page-idle hooks."""
    text = _served("audit_beacon.js")
    for needle in (
        '[data-il-audit-track="change"]', '"data-sort"', "selected_value", "checked",
        "value_length", "field_name", '"X-IL-Audit-Path"', "__ilAuditSuppressUnloadBeacons",
        "isPageIdle", "onPageIdleChange", "ilAuthFetch", 'credentials: "same-origin"',
        "keepalive: true",
    ):  # fmt: skip
        assert needle in text, needle


def test_login_audit_js_sends_the_login_surface() -> None:
    """§5.11 and §5.9: the surface, page id and the two event types of the login page."""
    text = _served("login_audit.js")
    for needle in ('"auth_login"', '"login_page"', '"ui.tab.viewed"', '"ui.element.clicked"'):
        assert needle in text, needle


def test_every_1035_beacon_type_is_accepted() -> None:
    """§5.3: a batch holding one of each of the 28 types is accepted whole."""
    assert len(BEACON_TYPES_1035) == 28
    body = {"events": [{"event_type": name, "element_id": "e"} for name in BEACON_TYPES_1035]}
    with capture_events() as events:
        response = beacon_client().post(BEACON, json=body)
    assert response.json() == {"status": "ok", "accepted": 28}
    assert sorted(events.event_types) == sorted(BEACON_TYPES_1035)


def test_client_ts_takes_512_characters() -> None:
    """§5.8: client_ts up to 512 characters (0.1.3: 64); it lands in metadata.client_ts."""
    client_ts = "2026-12-06T17:00:00.000Z" + "x" * (512 - 24)
    with capture_events() as events:
        response = beacon_client().post(
            BEACON, json={"events": [{"event_type": "ui.tab.viewed", "client_ts": client_ts}]}
        )
    assert response.json()["accepted"] == 1
    assert events[0].metadata == {"client_ts": client_ts}


def test_513_characters_refuse_the_whole_batch() -> None:
    """§2.2 and §5.8: an over-long client_ts is a 422 for the batch, its valid items included."""
    body = {"events": [{"event_type": "ui.tab.viewed"}, {"client_ts": "t" * 513}]}
    with capture_events() as events:
        response = beacon_client().post(BEACON, json=body)
    assert response.status_code == 422
    assert list(events) == []
