"""Assert what your code emitted: ``with capture_events() as events: ...``.

While the block runs, the module-level ``emit()`` functions validate each
event synchronously (strict by default, so a bad event fails the test at the
line that emitted it) and append the :class:`~il_audit.schemas.Envelope` to
``events`` instead of publishing it. The previous default publisher is put
back afterwards, untouched.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from il_audit.config.settings import AuditSettings, Transport, get_audit_settings
from il_audit.publisher import _default
from il_audit.publisher._capture import capture
from il_audit.publisher._encode import encode
from il_audit.publisher.client import AuditPublisher
from il_audit.publisher.context import AuditContext
from il_audit.publisher.errors import InvalidEventError
from il_audit.schemas.envelope import Envelope, parse_envelope


class CapturedEvents(list[Envelope]):
    """The captured envelopes, in emit order, with a few conveniences."""

    def __init__(self) -> None:
        super().__init__()
        self.invalid: list[InvalidEventError] = []
        """Invalid events (only filled when capturing with ``strict=False``)."""

    def of_type(self, event_type: str) -> list[Envelope]:
        """The captured events whose ``event_type`` is ``event_type``."""
        return [event for event in self if event.event_type == event_type]

    @property
    def event_types(self) -> list[str]:
        """``event_type`` of every captured event, in order."""
        return [event.event_type for event in self]


class _CapturingPublisher(AuditPublisher):
    """Validates on the caller's thread and keeps envelopes instead of publishing."""

    def __init__(self, settings: AuditSettings, events: CapturedEvents, strict: bool) -> None:
        super().__init__(settings, strict=strict)
        self._captured = events
        self._off = False

    def submit(
        self, event_type: str, context: AuditContext | None, fields: dict[str, Any]
    ) -> str | None:
        captured = capture(event_type, context, fields)
        event_id = captured[0]
        encoded = encode(captured, self._defaults, full=True)
        if encoded.problem is not None:
            error = InvalidEventError(encoded.problem, event_id=event_id, event_type=event_type)
            if self.strict:
                raise error
            self._captured.invalid.append(error)
            return event_id
        self._captured.append(parse_envelope(encoded.line))
        return event_id


@contextmanager
def capture_events(*, strict: bool = True) -> Iterator[CapturedEvents]:
    """Capture every event emitted through the module-level API inside the block.

    With ``strict=False`` invalid events do not raise; they are collected in
    ``events.invalid`` instead.
    """
    events = CapturedEvents()
    base = get_audit_settings()
    settings = base.model_copy(update={"enabled": True, "transport": Transport.MEMORY})
    publisher = _CapturingPublisher(settings, events, strict)
    previous = _default.set_publisher(publisher)
    try:
        yield events
    finally:
        _default.set_publisher(previous)
