"""A host written against il-audit 1.0.35's browser API: a login page, an app page, a logout.

Started by ``tests/browser/test_1035_page_in_chromium.py`` under uvicorn with the
embedded transport. "Signing in" is a cookie set by ``/auth/callback``; the
beacon hook takes ``(request, body)`` as 1.0.35's does. The login page's
beacons are accepted without the cookie under the router's login-surface rule
(``anonymous=login_surface(path="/login")``), and nothing else is.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.middleware.trustedhost import TrustedHostMiddleware

from il_audit import AuditContext
from il_audit.beacon_auth import login_surface
from il_audit.beacon_router import create_beacon_router
from il_audit.beacon_schemas import BeaconRequest

APP_NAME = "host-1035"
USER_COOKIE = "host_user"
HERE = Path(__file__).parent


def require_auth(request: Request, body: BeaconRequest) -> None:
    """1.0.35's two-argument hook: the session cookie, or 401."""
    del body
    if not request.cookies.get(USER_COOKIE):
        raise HTTPException(status_code=401, detail="Log in first")


def get_context(request: Request) -> AuditContext:
    """The actor from the cookie (none on the login page)."""
    uid = request.cookies.get(USER_COOKIE)
    return AuditContext(actor_uid=uid, actor_email=f"{uid}@example.com" if uid else None)


def _page(name: str) -> HTMLResponse:
    return HTMLResponse((HERE / name).read_text(encoding="utf-8"))


def create_app() -> FastAPI:
    """The host: the router with its scripts, and three pages."""
    app = FastAPI()
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=["127.0.0.1", "localhost"])
    app.include_router(
        create_beacon_router(
            app_name=APP_NAME,
            get_context=get_context,
            require_auth=require_auth,
            anonymous=login_surface(path="/login"),
        )
    )

    @app.get("/login", response_class=HTMLResponse)
    def login() -> HTMLResponse:
        return _page("login.html")

    @app.get("/auth/callback")
    def callback() -> RedirectResponse:
        response = RedirectResponse("/app?tab=chat", status_code=303)
        response.set_cookie(USER_COOKIE, "user-1", httponly=True, samesite="lax")
        return response

    @app.get("/app", response_class=HTMLResponse)
    def page() -> HTMLResponse:
        return _page("app.html")

    @app.get("/logout")
    def logout() -> RedirectResponse:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(USER_COOKIE)
        return response

    return app


app = create_app()
