"""pytest plugin (auto-loaded via the ``pytest11`` entry point): the ``audit_events`` fixture.

def test_login_is_audited(audit_events):
    login(user)
    assert audit_events.event_types == ["auth.login.succeeded"]

Every test run of a host app loads this module, so it imports only pytest:
the publisher (and with it grpc and pydantic) loads when a test uses the fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from il_audit.publisher.testing import CapturedEvents


@pytest.fixture
def audit_events() -> Iterator[CapturedEvents]:
    """Events emitted during the test, validated strictly (see ``capture_events``)."""
    from il_audit.publisher.testing import capture_events

    with capture_events() as events:
        yield events
