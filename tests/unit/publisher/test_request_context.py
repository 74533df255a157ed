"""il_audit.fastapi (1.0.35): the request kept in a ContextVar, and its correlation ids.

A real FastAPI app through its TestClient, and the real OpenTelemetry SDK tracer.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import TracerProvider

from il_audit.fastapi import install_request_context_middleware, request_correlation_ids

TRACER = TracerProvider().get_tracer("il-audit-tests")
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def make_app() -> FastAPI:
    app = FastAPI()
    install_request_context_middleware(app)

    @app.middleware("http")
    async def state_id(request: Request, call_next: Any) -> Any:
        if request.headers.get("x-test-state-id"):
            request.state.request_id = request.headers["x-test-state-id"]
        return await call_next(request)

    @app.get("/ids")
    def ids() -> dict[str, Any]:  # a sync endpoint: run in a worker thread
        return dict(zip(("trace_id", "request_id"), request_correlation_ids(), strict=True))

    @app.get("/traced")
    async def traced() -> dict[str, Any]:
        with TRACER.start_as_current_span("handler") as span:
            trace_id, request_id = request_correlation_ids()
            expected = format(span.get_span_context().trace_id, "032x")
        return {"trace_id": trace_id, "request_id": request_id, "expected": expected}

    return app


CLIENT = TestClient(make_app())


def test_trace_id_is_the_active_span_s_as_32_lowercase_hex() -> None:
    """Inside an OpenTelemetry span the trace id is the span's, even when a traceparent
    header names another; the request id is the x-request-id header."""
    body = CLIENT.get("/traced", headers={"x-request-id": "r-1", "traceparent": TRACEPARENT}).json()
    assert re.fullmatch(r"[0-9a-f]{32}", body["trace_id"])
    assert body["trace_id"] == body["expected"]
    assert body["request_id"] == "r-1"


def test_request_id_falls_back_to_request_state_and_trace_id_to_the_headers() -> None:
    """Without x-request-id, request.state.request_id; without a span, the traceparent's
    trace id (1.0.35 gave None there); without either, None."""
    body = CLIENT.get("/ids", headers={"x-test-state-id": "s-9", "traceparent": TRACEPARENT})
    assert body.json() == {"trace_id": TRACEPARENT.split("-")[1], "request_id": "s-9"}
    assert CLIENT.get("/ids").json() == {"trace_id": None, "request_id": None}
    header_wins = CLIENT.get("/ids", headers={"x-request-id": "h", "x-test-state-id": "s"})
    assert header_wins.json()["request_id"] == "h"


def test_outside_a_request_only_the_span_counts() -> None:
    """No request bound: (None, None), or the active span's trace id and no request id."""
    assert request_correlation_ids() == (None, None)
    with TRACER.start_as_current_span("job") as span:
        expected = format(span.get_span_context().trace_id, "032x")
        assert request_correlation_ids() == (expected, None)
