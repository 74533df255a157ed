"""The ASGI middleware binds a per-request context, driven through a real FastAPI app."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from il_audit.publisher import AuditContext, current_context, emit
from il_audit.publisher.middleware import AuditContextMiddleware
from il_audit.publisher.testing import capture_events
from il_audit.schemas import taxonomy as T


def make_app(**options: Any) -> FastAPI:
    app = FastAPI()
    app.add_middleware(AuditContextMiddleware, app_name="ingest", **options)

    @app.get("/context")
    def context_view() -> dict[str, Any]:
        context = current_context()
        return context.as_fields() if context else {}

    @app.post("/login")
    async def login() -> dict[str, str | None]:
        return {"event_id": emit(T.AUTH_LOGIN_SUCCEEDED, status="succeeded")}

    return app


def test_request_id_and_trace_come_from_headers() -> None:
    """X-Request-ID and traceparent become request_id and trace_id."""
    client = TestClient(make_app())
    trace = "0af7651916cd43dd8448eb211c80319c"
    response = client.get(
        "/context",
        headers={"X-Request-ID": "req-42", "traceparent": f"00-{trace}-b7ad6b7169203331-01"},
    )
    assert response.json() == {
        "app": "ingest",
        "request_id": "req-42",
        "trace_id": trace,
        "source": "api",
    }


def test_cloud_trace_header_is_understood() -> None:
    """X-Cloud-Trace-Context gives the trace id when there is no traceparent."""
    client = TestClient(make_app())
    response = client.get("/context", headers={"X-Cloud-Trace-Context": "abc123/1;o=1"})
    assert response.json()["trace_id"] == "abc123"


def test_request_id_is_generated_when_missing() -> None:
    """Every request gets a request_id, even without the header."""
    client = TestClient(make_app())
    first = client.get("/context").json()["request_id"]
    second = client.get("/context").json()["request_id"]
    assert first
    assert second
    assert first != second


def test_get_context_hook_adds_the_actor() -> None:
    """The hook receives the scope and default context and may add the actor."""

    def with_actor(scope: Any, context: AuditContext) -> AuditContext:
        return context.replace(actor_uid=dict(scope["headers"]).get(b"x-user", b"").decode())

    client = TestClient(make_app(get_context=with_actor))
    assert client.get("/context", headers={"X-User": "u-7"}).json()["actor_uid"] == "u-7"


def test_emit_inside_a_request_carries_its_context() -> None:
    """An endpoint's emit() without context= is stamped with the request's context."""
    client = TestClient(make_app())
    with capture_events() as events:
        event_id = client.post("/login", headers={"X-Request-ID": "req-1"}).json()["event_id"]
    [event] = events
    assert (event.event_id, event.app, event.request_id) == (event_id, "ingest", "req-1")


def test_context_does_not_leak_after_the_request() -> None:
    """Once the request is done, no context stays bound."""
    client = TestClient(make_app())
    client.get("/context")
    assert current_context() is None
