"""ASGI middleware that binds an :class:`AuditContext` for each HTTP request.

Pure ASGI, so it needs no Starlette import and works with FastAPI, Starlette
and any ASGI server::

    app.add_middleware(AuditContextMiddleware, app_name="ingest")

Every ``emit()`` made while handling the request, including from sync
endpoints run in a thread pool, sees the request's ``request_id`` and
``trace_id``. Pass ``get_context`` to add the actor from your own auth (it
receives the ASGI scope and the default context and returns the context to
bind; it may be async).
"""

from __future__ import annotations

import inspect
import re
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from il_audit.publisher.context import AuditContext, _current

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
ContextHook = Callable[[Scope, AuditContext], "AuditContext | Awaitable[AuditContext]"]

_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")
_MAX_HEADER_ID = 128


def _headers(scope: Scope) -> dict[str, str]:
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers") or ():
        headers[raw_name.decode("latin-1").lower()] = raw_value.decode("latin-1")
    return headers


def trace_id_from_headers(headers: dict[str, str]) -> str | None:
    """The trace id of a W3C ``traceparent`` or Google ``X-Cloud-Trace-Context`` header."""
    match = _TRACEPARENT.match(headers.get("traceparent", "").strip())
    if match:
        return match.group(1)
    cloud = headers.get("x-cloud-trace-context", "").split("/", 1)[0].strip()
    if cloud and len(cloud) <= _MAX_HEADER_ID and cloud.isalnum():
        return cloud
    return None


def request_id_from_headers(headers: dict[str, str]) -> str:
    """``X-Request-ID`` when present and sane, otherwise a fresh UUID."""
    candidate = headers.get("x-request-id", "").strip()
    if candidate and len(candidate) <= _MAX_HEADER_ID and candidate.isprintable():
        return candidate
    return str(uuid.uuid4())


class AuditContextMiddleware:
    """Binds a per-request :class:`AuditContext` around HTTP and WebSocket requests."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        app_name: str | None = None,
        get_context: ContextHook | None = None,
        environment: str | None = None,
    ) -> None:
        self.app = app
        self.app_name = app_name
        self.get_context = get_context
        self.environment = environment

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the wrapped app with the request's context bound."""
        if scope.get("type") not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        context = AuditContext(
            app=self.app_name,
            trace_id=trace_id_from_headers(headers),
            request_id=request_id_from_headers(headers),
            environment=self.environment,
        )
        if self.get_context is not None:
            result = self.get_context(scope, context)
            context = await result if inspect.isawaitable(result) else result
        token = _current.set(context)
        try:
            await self.app(scope, receive, send)
        finally:
            _current.reset(token)
