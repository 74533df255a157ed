"""What ``emit()`` keeps on the caller's thread: a time, an id, and the call as given.

Nothing else happens there: building, checking and serializing the envelope
is the publisher's thread's work (:mod:`~il_audit.publisher._encode`).
"""

from __future__ import annotations

from time import time_ns
from typing import Any, Final

from il_audit.publisher._ids import new_event_id
from il_audit.publisher.context import AuditContext, _current

Captured = tuple[str, int, str, AuditContext | None, dict[str, Any]]
"""One captured call, as the encoder reads it: (event_id, time_ns, event_type, context, fields)."""

Queued = dict[str, Any]
"""What the caller's thread enqueues: the call's keywords dict with the capture filed in it.

``emit(**fields)`` hands the publisher a fresh dict, which it owns. Filing the id,
time, type and context in that dict under four keys no keyword can have (they start
with NUL) costs no memory where the dict has room (a 12-key dict has room for four
more); a 5-tuple beside it cost 80 bytes per queued event, 8 MiB per 100,000.
:func:`unqueue` takes them out again on the publisher's thread.
"""
_ID: Final = "\x00id"
_TIME: Final = "\x00ns"
_TYPE: Final = "\x00type"
_CONTEXT: Final = "\x00context"
_SEQUENCE: Final = "\x00seq"


def _event_id(fields: dict[str, Any], now: int) -> str:
    """The one place that decides an event's id: ``event_id=`` wins, else a UUIDv7 of now.

    A caller's id stays in ``fields``, which tells the encoder to check it; ours is
    valid. One of another type stays there too (the event is invalid, and keeps it),
    but the id returned and queued is ours: nothing here may call its methods.
    """
    event_id = fields.get("event_id")
    if event_id is None:  # the usual call: no id given (or an explicit None)
        fields.pop("event_id", None)
        return new_event_id(now)
    if type(event_id) is not str or not event_id:
        if type(event_id) is str:
            del fields["event_id"]
        event_id = new_event_id(now)
    return event_id


def queue_form(
    event_type: str, context: AuditContext | None, fields: dict[str, Any], sequence: int
) -> str:
    """File the call in ``fields`` (which becomes the queued item); returns the event id.

    What ``emit()`` does on the caller's thread: a time, an id, the publisher's
    ``sequence`` number, and the call as given (the bound context when none is
    passed); everything else happens off the caller's thread.
    """
    now = time_ns()
    # The usual call has no event_id keyword: no function call more for it.
    event_id = _event_id(fields, now) if "event_id" in fields else new_event_id(now)
    fields[_ID] = event_id
    fields[_TIME] = now
    fields[_TYPE] = event_type
    fields[_CONTEXT] = context if context is not None else _current.get()
    fields[_SEQUENCE] = sequence
    return event_id


def unqueue(queued: Queued) -> tuple[Captured, int]:
    """The capture filed by :func:`queue_form`, taken out of the keywords again, and its
    sequence number."""
    sequence: int = queued.pop(_SEQUENCE)
    captured = (queued.pop(_ID), queued.pop(_TIME), queued.pop(_TYPE), queued.pop(_CONTEXT), queued)
    return captured, sequence


def queued_form(captured: Captured, sequence: int) -> Queued:
    """A :func:`capture` filed for the queue, as :func:`queue_form` files a call."""
    event_id, now, event_type, context, fields = captured
    fields[_ID], fields[_TIME], fields[_TYPE], fields[_CONTEXT] = event_id, now, event_type, context
    fields[_SEQUENCE] = sequence
    return fields


def capture(event_type: str, context: AuditContext | None, fields: dict[str, Any]) -> Captured:
    """A call captured as a tuple, for paths that encode it at once (strict mode, testing)."""
    now = time_ns()
    event_id = _event_id(fields, now)
    return (event_id, now, event_type, context if context is not None else _current.get(), fields)
