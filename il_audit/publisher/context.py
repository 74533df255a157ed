"""Who did it and how to correlate it: :class:`AuditContext` and its per-task binding.

Pass a context to ``emit(..., context=ctx)``, or bind one for a block of code
(``with audit_context(ctx): ...``) and every ``emit()`` inside picks it up,
across ``await`` points and into threads started with ``contextvars``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class AuditContext:
    """Who performed an action and how to correlate it (immutable).

    The first six fields keep the seed library's order, so positional
    construction written for il-audit 0.1 keeps working.
    """

    app: str | None = None
    """Application id, e.g. ``ingest``; falls back to ``IL_AUDIT_APP`` / ``K_SERVICE``."""
    actor_uid: str | None = None
    """Stable user id from the host app's auth layer."""
    actor_email: str | None = None
    """Actor email when available (PII: never logged; see docs/publisher.md)."""
    trace_id: str | None = None
    """Distributed trace id (Cloud Trace, OpenTelemetry, Logfire)."""
    request_id: str | None = None
    """Per-request id from the HTTP layer."""
    source: str = "api"
    """Origin, any lowercase token; ``api``, ``beacon``, ``job``, ``scheduled_task`` recommended."""
    session_id: str | None = None
    """Session id, e.g. the chat ``conversation_session_id``."""
    environment: str | None = None
    """Deployment environment; falls back to ``IL_AUDIT_ENVIRONMENT``."""
    app_version: str | None = None
    """Version of the app (1.0.35); falls back to ``IL_AUDIT_APP_VERSION`` / ``K_REVISION``."""

    _fields: dict[str, Any] | None = dataclasses.field(
        default=None, init=False, repr=False, compare=False, hash=False
    )

    @property
    def envelope_fields(self) -> dict[str, Any]:
        """:meth:`as_fields`, computed once per context (read-only: do not mutate)."""
        cached = self._fields
        if cached is None:
            cached = self.as_fields()
            object.__setattr__(self, "_fields", cached)
        return cached

    def replace(self, **changes: Any) -> AuditContext:
        """A copy with ``changes`` applied (unknown names raise ``TypeError``)."""
        return dataclasses.replace(self, **changes)

    def as_fields(self) -> dict[str, Any]:
        """The envelope fields this context sets (``None`` values left out)."""
        return {
            name: value for name in CONTEXT_FIELDS if (value := getattr(self, name)) is not None
        }


CONTEXT_FIELDS: tuple[str, ...] = tuple(
    field.name for field in dataclasses.fields(AuditContext) if field.init
)

_current: ContextVar[AuditContext | None] = ContextVar("il_audit_context", default=None)


def current_context() -> AuditContext | None:
    """The context bound to the running task or thread, if any."""
    return _current.get()


@contextmanager
def audit_context(context: AuditContext | None = None, /, **changes: Any) -> Iterator[AuditContext]:
    """Bind a context for the ``with`` block; ``emit()`` calls inside use it by default.

    ``audit_context(ctx)`` binds ``ctx``; ``audit_context(actor_uid="u1")``
    binds the current context with that change (nesting refines the outer one).
    """
    base = context if context is not None else (_current.get() or AuditContext())
    bound = base.replace(**changes) if changes else base
    token = _current.set(bound)
    try:
        yield bound
    finally:
        _current.reset(token)


def bind_context(context: AuditContext) -> object:
    """Bind ``context`` until :func:`unbind_context` is called with the returned token.

    For frameworks whose hooks cannot wrap a ``with`` block (middleware, signals).
    """
    return _current.set(context)


def unbind_context(token: object) -> None:
    """Undo a :func:`bind_context`."""
    _current.reset(token)  # type: ignore[arg-type]
