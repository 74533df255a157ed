"""pytest plugin (auto-loaded via the ``pytest11`` entry point): the ``audit_events`` fixture.

def test_login_is_audited(audit_events):
    login(user)
    assert audit_events.event_types == ["auth.login.succeeded"]
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from il_audit.publisher.testing import CapturedEvents, capture_events


@pytest.fixture
def audit_events() -> Iterator[CapturedEvents]:
    """Events emitted during the test, validated strictly (see ``capture_events``)."""
    with capture_events() as events:
        yield events
