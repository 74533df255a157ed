"""The FastAPI router: ``POST /api/audit/beacon`` and the scripts (``GET /api/audit/*.js``).

Needs the ``[beacon]`` extra (FastAPI). A request goes through these steps and
stops at the first refusal. The cheap ones come first, so that what a client
can cost before it is authenticated stays bounded:

1. cross-site check (``Origin`` / ``Sec-Fetch-Site``)  -> 403
2. content type: JSON, ``text/plain`` (``sendBeacon``) or none  -> 415
3. declared size: ``Content-Length`` of ASCII digits, within the limit  -> 400 / 413
4. the refusal budget of the client's address (``_limits``), before the
   body is read  -> 429 with ``Retry-After``
5. body size, counted while the stream is read  -> 413
6. parse, then validate (``_parsing``; each item's metadata walked within its
   byte limit before it is measured)  -> 422 with a reason per item
7. ``require_auth(request)`` or ``require_auth(request, body)``; a batch of
   ``anonymous_event_types`` only, or one the ``anonymous=login_surface(...)``
   rule accepts, calls it in soft mode (``_keying``)
   -> whatever the hook raises, or 401 without a hook
8. ``get_context(request)``, then the rate limit per verified actor, else per
   client address (``_keying``)  -> 429 with ``Retry-After``
9. an empty batch answers ``{"status": "ok", "accepted": 0}``
10. each item is emitted (:func:`schedule_beacon_rows`) with its page path
    (``redact_path`` applied); when at least one was accepted, the visit
    handler, the conversation handler (``handlers``) and
    ``on_events_scheduled(context, items)`` run in that order, each one's
    errors logged (by type, never the items) and swallowed.

Every 4xx answer of steps 2 to 8 except 429 counts against the address's
refusal budget. Sync hooks run in the thread pool, as FastAPI runs sync
dependencies; async hooks are awaited. Error bodies name rules and fields,
never the input.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Final

try:
    from fastapi import APIRouter, Request
    from fastapi.responses import JSONResponse, Response
    from starlette.exceptions import HTTPException
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError("the beacon router needs FastAPI: pip install 'il-audit[beacon]'") from exc

from il_audit.publisher.beacon._client_address import (
    ClientAddress,
    client_address,
    hash_client_address,
)
from il_audit.publisher.beacon._hooks import auth_arity, call_hook
from il_audit.publisher.beacon._keying import (
    Access,
    AuthHook,
    ContextHook,
    Trust,
    beacon_context,
    rate_key,
    warn_if_clients_share_a_key,
)
from il_audit.publisher.beacon._limits import (
    RefusalBudget,
    check_content_type,
    check_declared_length,
    read_body,
    too_many,
)
from il_audit.publisher.beacon._mapping import schedule_beacon_rows
from il_audit.publisher.beacon._models import BeaconRequest
from il_audit.publisher.beacon._origin import Origin, allowed_origin_set, is_cross_site
from il_audit.publisher.beacon._page import (
    AUDIT_PATH_HEADER,
    RedactPath,
    redacted_path,
    request_page_path,
    strip_path,
    user_agent,
)
from il_audit.publisher.beacon._parsing import parse_batch
from il_audit.publisher.beacon._ratelimit import SlidingWindowLimiter
from il_audit.publisher.beacon._script import SCRIPT_MEDIA_TYPE, SCRIPT_PATHS, beacon_script
from il_audit.publisher.beacon._settings import BeaconSettings, get_beacon_settings
from il_audit.publisher.beacon.errors import BeaconConfigError, Refusal
from il_audit.publisher.beacon.handlers import (
    handle_conversation_beacon_events,
    handle_visit_session_beacon_events,
)
from il_audit.publisher.beacon.login_surface import LoginSurface
from il_audit.publisher.context import AuditContext
from il_audit.schemas import taxonomy

logger = logging.getLogger(__name__)

BEACON_PATH: Final = "/api/audit/beacon"
SCRIPT_PATH: Final = SCRIPT_PATHS["audit_beacon.js"]
_NO_STORE: Final = {"Cache-Control": "no-store"}

ScheduledHook = Callable[[AuditContext, list[dict[str, Any]]], Any]
BeaconHandler = Callable[[AuditContext, list[dict[str, Any]]], None]
BEACON_HANDLERS: Final[tuple[BeaconHandler, ...]] = (
    handle_visit_session_beacon_events,
    handle_conversation_beacon_events,
)
"""Run in this order after a batch is emitted (when any item was accepted)."""


def create_beacon_router(
    *,
    app_name: str,
    get_context: ContextHook,
    require_auth: AuthHook | None = None,
    on_events_scheduled: ScheduledHook | None = None,
    allow_anonymous: bool = False,
    anonymous_event_types: Iterable[str] | None = None,
    anonymous: LoginSurface | None = None,
    allowed_origins: Iterable[str] | None = None,
    trusted_proxy_hops: int | None = None,
    redact_path: RedactPath | None = None,
    serve_script: bool = True,
    settings: BeaconSettings | None = None,
) -> APIRouter:
    """A router serving the beacon endpoint (and the scripts); mount it with ``include_router``.

    Refuses to build without ``require_auth`` unless ``allow_anonymous=True``
    (anyone may post; every batch is keyed by its client address) or
    ``anonymous_event_types`` names the beacon types that need no login (a
    batch made only of those is accepted whether ``require_auth`` passes or
    not, and keeps its actor only when it passes). ``require_auth`` takes
    ``(request)`` or ``(request, body)`` and raises (e.g.
    ``HTTPException(401)``) to refuse. ``allowed_origins`` lists origins
    besides the app's own that may post (``"https://app.example.com"``).
    ``redact_path(path) -> path`` rewrites each page path before it is stored
    (e.g. a reset token in it). ``trusted_proxy_hops`` and every limit default
    to the ``IL_BEACON_*`` settings. Raises :class:`BeaconConfigError` for
    unsafe or invalid options.
    """
    limits = settings if settings is not None else get_beacon_settings()
    anonymous_types = _anonymous_types(anonymous_event_types)
    if anonymous is not None and not isinstance(anonymous, LoginSurface):
        raise BeaconConfigError("anonymous= takes login_surface(path=..., element_ids=...)")
    if require_auth is None and not allow_anonymous and not anonymous_types and not anonymous:
        raise BeaconConfigError(
            "create_beacon_router needs require_auth, a callable taking (request) or "
            "(request, body) that raises HTTPException for requests it refuses; pass "
            "allow_anonymous=True to accept posts from anyone, anonymous_event_types=[...] "
            "for the beacon types a page may send before login, or "
            "anonymous=login_surface(path='/login') for a login page's beacons"
        )
    if require_auth is not None and allow_anonymous:
        raise BeaconConfigError("pass require_auth or allow_anonymous=True, not both")
    if redact_path is not None and not callable(redact_path):
        raise BeaconConfigError("redact_path must be a callable taking a path and returning one")
    hops = limits.trusted_proxy_hops if trusted_proxy_hops is None else trusted_proxy_hops
    if not isinstance(hops, int) or isinstance(hops, bool) or not 0 <= hops <= 32:
        raise BeaconConfigError("trusted_proxy_hops must be an integer from 0 to 32")
    warn_if_clients_share_a_key(hops)
    endpoint = _BeaconEndpoint(
        app_name=app_name,
        get_context=get_context,
        access=Access(
            require_auth=require_auth,
            auth_arity=auth_arity(require_auth) if require_auth is not None else 0,
            allow_anonymous=allow_anonymous,
            anonymous=anonymous_types,
            login=anonymous,
        ),
        on_events_scheduled=on_events_scheduled,
        allowed=allowed_origin_set(allowed_origins or ()),
        hops=hops,
        redact_path=redact_path,
        limits=limits,
    )
    router = APIRouter()

    async def beacon(request: Request) -> Response:
        """Accept a batch of UI interaction events from the browser script."""
        try:
            return await endpoint.handle(request)
        except Refusal as refusal:
            logger.debug("il-audit: beacon refused with %d", refusal.status)
            return JSONResponse(
                {"detail": refusal.detail}, refusal.status, {**_NO_STORE, **refusal.headers}
            )

    router.add_api_route(
        BEACON_PATH,
        beacon,
        methods=["POST"],
        response_class=JSONResponse,
        summary="Record browser UI interaction events",
    )

    if serve_script:
        for name, path in SCRIPT_PATHS.items():
            router.add_api_route(
                path,
                _script_endpoint(name, limits.script_max_age_seconds),
                methods=["GET"],
                response_class=Response,
                summary=f"The il-audit browser script {name}",
            )
    return router


def _script_endpoint(name: str, max_age: int) -> Callable[[Request], Awaitable[Response]]:
    """The GET handler of one packaged script: cacheable and revalidated by ETag."""

    async def script_endpoint(request: Request) -> Response:
        script = beacon_script(name)
        cache = {
            "ETag": script.etag,
            "Cache-Control": f"public, max-age={max_age}",
            "X-Content-Type-Options": "nosniff",
        }
        if script.matches(request.headers.get("if-none-match")):
            return Response(status_code=304, headers=cache)
        return Response(script.body, media_type=SCRIPT_MEDIA_TYPE, headers=cache)

    return script_endpoint


class _BeaconEndpoint:
    """The beacon endpoint's configuration and its request handling (the module's steps)."""

    def __init__(
        self,
        *,
        app_name: str,
        get_context: ContextHook,
        access: Access,
        on_events_scheduled: ScheduledHook | None,
        allowed: frozenset[Origin],
        hops: int,
        redact_path: RedactPath | None,
        limits: BeaconSettings,
    ) -> None:
        self.app_name = app_name
        self.get_context = get_context
        self.access = access
        self.on_events_scheduled = on_events_scheduled
        self.allowed = allowed
        self.hops = hops
        self.redact_path = redact_path
        self.limits = limits
        self.limiter = SlidingWindowLimiter(
            max_requests=limits.max_requests_per_window,
            window_seconds=limits.window_seconds,
            max_keys=limits.rate_limit_max_keys,
        )
        self.refusals = RefusalBudget(limits)
        self.hash_key = limits.hash_key.get_secret_value() if limits.hash_key else None

    async def handle(self, request: Request) -> Response:
        """Answer one beacon post; raises :class:`Refusal` for the refusals it decides."""
        headers = request.headers
        if is_cross_site(
            origin=headers.get("origin"),
            fetch_site=headers.get("sec-fetch-site"),
            host=headers.get("host"),
            allowed=self.allowed,
        ):
            raise Refusal(403, "Cross-site beacon refused")
        client = client_address(
            peer=request.client.host if request.client else None,
            forwarded_for=headers.getlist("x-forwarded-for"),
            trusted_hops=self.hops,
        )
        try:
            check_content_type(headers.get("content-type"))
            check_declared_length(headers.get("content-length"), self.limits.max_body_bytes)
        except Refusal:
            self.refusals.charge(client.rate_key)
            raise
        self.refusals.admit(client.rate_key)
        status = 500
        try:
            response = await self._answer(request, client)
            status = response.status_code
        except Refusal as refusal:
            status = refusal.status
            raise
        except HTTPException as exc:  # require_auth's refusal
            status = exc.status_code
            raise
        finally:
            self.refusals.settle(client.rate_key, status)
        return response

    async def _answer(self, request: Request, client: ClientAddress) -> Response:
        """Steps 5 to 10: read, parse, authenticate, rate-limit, emit."""
        body = await read_body(request.stream(), self.limits.max_body_bytes)
        batch = parse_batch(body, self.limits)
        trust = await self.access.authenticate(request, batch)
        context = beacon_context(
            self.app_name,
            await call_hook(self.get_context, request),
            batch.session_id,
            keep_actor=trust is not Trust.NONE,
        )
        wait = self.limiter.check(rate_key(context, trust, client.rate_key))
        if wait is not None:
            raise too_many(wait)
        if not batch.events:
            return _ok(0)
        items = self._enriched_items(request, batch, client)
        accepted = schedule_beacon_rows(context=context, events=items)
        if not accepted:
            return _ok(0)
        for handler in BEACON_HANDLERS:
            try:
                handler(context, items)
            except Exception as exc:  # noqa: BLE001 - the items were emitted; log the type only
                logger.error(
                    "il-audit: %s raised %s; the beacon items were emitted",
                    handler.__name__,
                    type(exc).__name__,
                )
        if self.on_events_scheduled is not None:
            try:
                await call_hook(self.on_events_scheduled, context, items)
            except Exception as exc:  # the events were emitted
                # The type only: the host's message may quote the items. The trace, for
                # debugging the host's hook, only at DEBUG.
                logger.error(
                    "il-audit: on_events_scheduled raised %s; the events were emitted",
                    type(exc).__name__,
                )
                logger.debug("il-audit: on_events_scheduled's trace", exc_info=True)
        return _ok(accepted)

    def _enriched_items(
        self, request: Request, batch: BeaconRequest, client: ClientAddress
    ) -> list[dict[str, Any]]:
        """Each item with its page path (redacted), the user agent and the hashed address."""
        limit = self.limits.string_max_length
        headers = request.headers
        header_path = request_page_path(
            audit_path=headers.get(AUDIT_PATH_HEADER), referer=headers.get("referer"), limit=limit
        )
        shared = {
            key: value
            for key, value in (
                ("user_agent", user_agent(headers.get("user-agent"), limit=limit)),
                (
                    "client_address_hash",
                    hash_client_address(client.address, self.hash_key) if self.hash_key else None,
                ),
            )
            if value is not None
        }
        items = []
        for event in batch.events:
            item = {**event.model_dump(exclude_none=True), **shared}
            path = strip_path(item.pop("path", None), limit=limit) or header_path
            page = redacted_path(path, self.redact_path, limit=limit)
            if page is not None:
                item["path"] = item["page_path"] = page
            items.append(item)
        return items


def _anonymous_types(event_types: Iterable[str] | None) -> frozenset[str]:
    if event_types is None:
        return frozenset()
    if isinstance(event_types, str):
        event_types = (event_types,)
    names = frozenset(event_types)
    unknown = sorted(name for name in names if not taxonomy.is_beacon_type(name))
    if unknown:
        raise BeaconConfigError(
            f"anonymous_event_types must be beacon types; not beacon types: {unknown} "
            "(register host types with il_audit.taxonomy.register_beacon_types first)"
        )
    return names


def _ok(accepted: int) -> JSONResponse:
    return JSONResponse({"status": "ok", "accepted": accepted}, headers=_NO_STORE)
