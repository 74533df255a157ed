"""A FastAPI app around the beacon router, for API tests and the fuzz test."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI, HTTPException, Request
from fastapi.testclient import TestClient

from il_audit.beacon_router import create_beacon_router
from il_audit.devtools.ports import free_port
from il_audit.publisher import AuditContext
from il_audit.publisher.beacon import BeaconSettings
from tests.support.waiting import wait_until

SAME_ORIGIN = "http://testserver"
"""The origin TestClient's requests come from by default (``Host: testserver``)."""
LOGIN_HEADER = "X-Test-Login"
"""The header :func:`require_test_login` checks (``ok`` passes)."""


def beacon_settings(**overrides: Any) -> BeaconSettings:
    """The bundled beacon defaults with ``overrides`` (validated)."""
    return BeaconSettings.model_validate({**BeaconSettings.defaults().model_dump(), **overrides})


def actor_from_header(request: Request) -> AuditContext:
    """Test ``get_context``: the actor is the ``X-Test-User`` header, if any."""
    uid = request.headers.get("x-test-user")
    return AuditContext(actor_uid=uid, actor_email=f"{uid}@example.com" if uid else None)


def require_test_login(request: Request) -> None:
    """Test ``require_auth``: passes only with ``X-Test-Login: ok`` (a real login), else 401."""
    if request.headers.get(LOGIN_HEADER) != "ok":
        raise HTTPException(status_code=401, detail="Log in first")


def beacon_app(**options: Any) -> FastAPI:
    """An app with the router mounted; ``options`` go to ``create_beacon_router``."""
    options.setdefault("app_name", "web")
    options.setdefault("get_context", actor_from_header)
    if not {"require_auth", "anonymous_event_types", "anonymous"} & set(options):
        options.setdefault("allow_anonymous", True)
    app = FastAPI()
    app.include_router(create_beacon_router(**options))
    return app


def beacon_client(**options: Any) -> TestClient:
    """A TestClient of :func:`beacon_app`."""
    return TestClient(beacon_app(**options))


@contextmanager
def served(app: FastAPI, **config: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port in a thread; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **config)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started or not thread.is_alive(), 10, "uvicorn to start")
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def item(**fields: Any) -> dict[str, Any]:
    """One beacon item; a click on a button by default."""
    base: dict[str, Any] = {
        "event_type": "ui.element.clicked",
        "surface": "toolbar",
        "element_id": "save",
        "interaction": "click",
        "resource_type": "button",
    }
    base.update(fields)
    return {key: value for key, value in base.items() if value is not None}
