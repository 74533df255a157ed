"""A small FastAPI app with browser beacons mounted securely.

Run it from the repository root (events go to the embedded DuckDB file):

    IL_AUDIT_TRANSPORT=local uvicorn --app-dir examples/beacon_app app:app --port 8000

Open http://127.0.0.1:8000/ and click around, then
``il-audit query "SELECT event_type, payload FROM events WHERE source = 'beacon'"``.

"Logging in" is a cookie the page sets, so the example needs no user store;
``require_login`` and ``context_from_request`` are where a real app plugs its
own session or token check.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse
from starlette.middleware.trustedhost import TrustedHostMiddleware

from il_audit import AuditContext
from il_audit.beacon_router import create_beacon_router
from il_audit.publisher.middleware import AuditContextMiddleware

APP_NAME = "beacon-example"
USER_COOKIE = "example_user"
PAGE = Path(__file__).with_name("index.html")
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
"""The names this app answers to; a real app lists its own (``app.example.com``)."""


def require_login(request: Request) -> None:
    """Refuse beacons from browsers that have not logged in (here: have no user cookie)."""
    if not request.cookies.get(USER_COOKIE):
        raise HTTPException(status_code=401, detail="Log in first")


def context_from_request(request: Request) -> AuditContext:
    """Who is posting: the actor from the session (here: the cookie)."""
    uid = request.cookies.get(USER_COOKIE)
    return AuditContext(actor_uid=uid, actor_email=f"{uid}@example.com" if uid else None)


def create_app() -> FastAPI:
    """The example app: a page with marked elements, the beacon endpoint and the script."""
    app = FastAPI(title="il-audit beacon example")
    app.add_middleware(AuditContextMiddleware, app_name=APP_NAME)
    # The beacon's origin check trusts Host: refusing unknown names stops DNS rebinding.
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=ALLOWED_HOSTS)
    # The router serves POST /api/audit/beacon and GET /api/audit/audit_beacon.js.
    app.include_router(
        create_beacon_router(
            app_name=APP_NAME,
            get_context=context_from_request,
            require_auth=require_login,
        )
    )

    @app.get("/", response_class=HTMLResponse)
    def index() -> HTMLResponse:
        response = HTMLResponse(PAGE.read_text(encoding="utf-8"))
        response.set_cookie(USER_COOKIE, "user-1", httponly=True, samesite="lax")
        return response

    return app


app = create_app()
