"""Test helpers for apps: ``with capture_events() as events: ...`` and :func:`reset`.

While a ``capture_events()`` block runs, the module-level ``emit()`` functions
validate each event synchronously (strict by default, so a bad event fails the
test at the line that emitted it) and append the
:class:`~il_audit.schemas.Envelope` to ``events`` instead of publishing it. The
previous default publisher is put back afterwards, untouched.

:func:`reset` puts il-audit's process-wide state back as a fresh process has
it, for a test fixture (like structlog's ``reset_defaults()``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from il_audit.config.settings import (
    AuditSettings,
    Transport,
    get_audit_settings,
    reset_audit_settings_cache,
)
from il_audit.publisher import _default
from il_audit.publisher._capture import capture
from il_audit.publisher._encode import encode
from il_audit.publisher.beacon import reset_beacon_settings_cache
from il_audit.publisher.builders import clear_builders
from il_audit.publisher.client import AuditPublisher
from il_audit.publisher.context import AuditContext, _current
from il_audit.publisher.errors import InvalidEventError
from il_audit.publisher.job_context import reset_job_audit_context_for_tests
from il_audit.schemas import taxonomy
from il_audit.schemas.envelope import Envelope, parse_envelope

__all__ = ["CapturedEvents", "capture_events", "reset"]


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


def reset() -> None:
    """Put il-audit's process-wide state back as a fresh process has it (for test fixtures).

    Call it before and after each test, e.g. in an autouse fixture, so that no
    test sees what an earlier one configured. It resets:

    - the default publisher: stopped without waiting (events it still held are
      dropped), and the options given to ``configure()`` forgotten;
    - the settings (``AuditSettings`` and the beacon settings): the next use
      reads the environment again;
    - host event types and beacon types (``taxonomy.register*``) and the builders
      of ``register_builder``;
    - job-context bindings (``bind_job_audit_context``);
    - the ``AuditContext`` and the chat-turn tracker bound in the calling thread
      or task (``bind_context``, ``bind_chat_turn_usage``);
    - the subscriber's process-wide pipeline, when the subscriber is loaded
      (its sink is closed).

    It leaves environment variables to your fixture (``monkeypatch``), and
    publishers your code created itself to you (``shutdown()`` them). Caches of
    what the package ships (SQL, the browser script, the bundled prices) and of
    encoded contexts are kept: they never change what a test observes.
    """
    _default.reset_for_tests()
    reset_audit_settings_cache()
    reset_beacon_settings_cache()
    taxonomy.unregister_all()
    clear_builders()
    reset_job_audit_context_for_tests()
    _current.set(None)
    # The parts built on the publisher are reset only when loaded (the publisher never
    # imports them; a part never imported holds no state).
    chat = sys.modules.get("il_audit.chat")
    if chat is not None:
        chat.clear_chat_turn_usage()
    pipeline = sys.modules.get("il_audit.subscriber_fn.pipeline")
    if pipeline is not None:
        pipeline.reset_default_pipeline()
