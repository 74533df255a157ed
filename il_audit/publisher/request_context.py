"""The current HTTP request and its correlation ids (1.0.35's ``il_audit.fastapi``).

::

    from il_audit.fastapi import install_request_context_middleware, request_correlation_ids

    install_request_context_middleware(app)
    ...
    trace_id, request_id = request_correlation_ids()   # anywhere in the request's task
    emit(..., context=AuditContext(app="chat", trace_id=trace_id, request_id=request_id))

The middleware keeps the request in a ContextVar for the duration of each HTTP
or WebSocket request (pure ASGI: it reads no body and wraps no response).
:func:`request_correlation_ids` returns ``(trace_id, request_id)``:

- ``trace_id``: the active OpenTelemetry span's trace id as 32 lowercase hex
  characters (``opentelemetry-api``, the ``[otel]`` extra, imported only when
  present). Without an active span, the request's W3C ``traceparent`` or
  ``X-Cloud-Trace-Context`` header gives it (1.0.35 gave ``None`` there); else None.
- ``request_id``: the ``x-request-id`` header, else ``request.state.request_id``; else None.

:class:`~il_audit.publisher.middleware.AuditContextMiddleware` binds a whole
:class:`AuditContext` per request instead, so ``emit()`` needs no ``context``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from il_audit.publisher.middleware import (
    ASGIApp,
    Receive,
    Scope,
    Send,
    trace_id_from_headers,
)

if TYPE_CHECKING:
    from starlette.requests import HTTPConnection, Request

__all__ = [
    "RequestContextMiddleware",
    "current_request",
    "install_request_context_middleware",
    "request_correlation_ids",
]

_request: ContextVar[HTTPConnection | None] = ContextVar("il_audit_request", default=None)


class RequestContextMiddleware:
    """Keeps the current request in a ContextVar: a Starlette ``Request`` (a WebSocket's
    ``HTTPConnection``); it reads no body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the wrapped app with the request bound."""
        if scope.get("type") not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        from starlette.requests import HTTPConnection, Request

        connection = Request(scope, receive) if scope["type"] == "http" else HTTPConnection(scope)
        token = _request.set(connection)
        try:
            await self.app(scope, receive, send)
        finally:
            _request.reset(token)


def install_request_context_middleware(app: Any) -> None:
    """Add :class:`RequestContextMiddleware` to a FastAPI or Starlette ``app``."""
    app.add_middleware(RequestContextMiddleware)


def current_request() -> HTTPConnection | None:
    """The request the running task serves (inside the middleware), or None."""
    return _request.get()


def request_correlation_ids(request: Request | None = None) -> tuple[str | None, str | None]:
    """``(trace_id, request_id)`` of ``request`` (default: the current one), as above."""
    connection: HTTPConnection | None = request if request is not None else _request.get()
    trace_id = _otel_trace_id()
    if connection is None:
        return trace_id, None
    headers = connection.headers
    if trace_id is None:
        trace_id = trace_id_from_headers(
            {name: headers.get(name, "") for name in ("traceparent", "x-cloud-trace-context")}
        )
    request_id = headers.get("x-request-id", "").strip() or None
    if request_id is None:
        state_id = getattr(connection.state, "request_id", None)
        request_id = str(state_id) if state_id else None
    return trace_id, request_id


def _otel_trace_id() -> str | None:
    current_span = _otel_current_span()
    if current_span is None:
        return None
    span_context = current_span().get_span_context()
    if not span_context.is_valid:
        return None
    return format(span_context.trace_id, "032x")


@functools.cache
def _otel_current_span() -> Callable[[], Any] | None:
    """``opentelemetry.trace.get_current_span``, or None without opentelemetry-api."""
    try:
        from opentelemetry import trace
    except ImportError:
        return None
    return trace.get_current_span
