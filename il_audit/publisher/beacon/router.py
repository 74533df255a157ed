"""The FastAPI router: ``POST /api/audit/beacon`` and ``GET /api/audit/audit_beacon.js``.

Needs the ``[beacon]`` extra (FastAPI). A request goes through these steps and
stops at the first refusal:

1. cross-site check (``Origin`` / ``Sec-Fetch-Site``)  -> 403
2. content type: JSON, ``text/plain`` (``sendBeacon``) or none  -> 415
3. body size, counted while the stream is read  -> 413
4. parse and validate (``BeaconRequest``)  -> 400 / 422 with a reason per item
5. ``require_auth(request)`` or ``require_auth(request, body)``, unless the
   batch is anonymous-allowed  -> whatever the hook raises, or 401 without a hook
6. ``get_context(request)``, then the rate limit per actor, else per client
   address  -> 429 with ``Retry-After``
7. an empty batch answers ``{"status": "ok", "accepted": 0}``
8. each item is emitted (:func:`schedule_beacon_rows`), then
   ``on_events_scheduled(context, items)`` runs (its errors are logged).

Sync hooks run in the thread pool, as FastAPI runs sync dependencies; async
hooks are awaited. Error bodies name rules and fields, never the input.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Final

from pydantic import ValidationError
from pydantic_core import from_json

try:
    from fastapi import APIRouter, Request
    from fastapi.responses import JSONResponse, Response
    from starlette.concurrency import run_in_threadpool
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError("the beacon router needs FastAPI: pip install 'il-audit[beacon]'") from exc

from il_audit.publisher.beacon._client_address import client_address, hash_client_address
from il_audit.publisher.beacon._errors import BeaconConfigError
from il_audit.publisher.beacon._mapping import BEACON_SOURCE, schedule_beacon_rows
from il_audit.publisher.beacon._models import BeaconEventItem, BeaconRequest
from il_audit.publisher.beacon._origin import Origin, allowed_origin_set, is_cross_site
from il_audit.publisher.beacon._page import AUDIT_PATH_HEADER, request_page_path, user_agent
from il_audit.publisher.beacon._ratelimit import SlidingWindowLimiter, retry_after_header
from il_audit.publisher.beacon._script import SCRIPT_MEDIA_TYPE, beacon_script
from il_audit.publisher.beacon._settings import BeaconSettings, get_beacon_settings
from il_audit.publisher.context import AuditContext, current_context
from il_audit.schemas import taxonomy

logger = logging.getLogger(__name__)

BEACON_PATH: Final = "/api/audit/beacon"
SCRIPT_PATH: Final = "/api/audit/audit_beacon.js"
RATE_LIMIT_DETAIL: Final = "Beacon rate limit exceeded"
_ACCEPTED_MEDIA_TYPES: Final = frozenset({"", "application/json", "text/plain"})
_MAX_REPORTED_ERRORS: Final = 100
_KNOWN_LOCATIONS: Final = frozenset(
    {"events", *BeaconRequest.model_fields, *BeaconEventItem.model_fields}
)
_NO_STORE: Final = {"Cache-Control": "no-store"}

ContextHook = Callable[[Request], "AuditContext | Awaitable[AuditContext]"]
AuthHook = Callable[..., Any]
ScheduledHook = Callable[[AuditContext, list[dict[str, Any]]], Any]


class _Refusal(Exception):
    """Stops a request with a fixed answer (never built from the request's content)."""

    def __init__(self, status: int, detail: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.detail = detail
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        return JSONResponse({"detail": self.detail}, self.status, {**_NO_STORE, **self.headers})


def create_beacon_router(
    *,
    app_name: str,
    get_context: ContextHook,
    require_auth: AuthHook | None = None,
    on_events_scheduled: ScheduledHook | None = None,
    allow_anonymous: bool = False,
    anonymous_event_types: Iterable[str] | None = None,
    allowed_origins: Iterable[str] | None = None,
    trusted_proxy_hops: int | None = None,
    serve_script: bool = True,
    settings: BeaconSettings | None = None,
) -> APIRouter:
    """A router serving the beacon endpoint (and the script); mount it with ``include_router``.

    Refuses to build without ``require_auth`` unless ``allow_anonymous=True``
    (anyone may post) or ``anonymous_event_types`` names the beacon types that
    need no login (a batch made only of those skips ``require_auth``).
    ``require_auth`` takes ``(request)`` or ``(request, body)`` and raises
    (e.g. ``HTTPException(401)``) to refuse. ``allowed_origins`` lists origins
    besides the app's own that may post (``"https://app.example.com"``).
    ``trusted_proxy_hops`` and every limit default to the ``IL_BEACON_*``
    settings. Raises :class:`BeaconConfigError` for unsafe or invalid options.
    """
    limits = settings if settings is not None else get_beacon_settings()
    anonymous = _anonymous_types(anonymous_event_types)
    if require_auth is None and not allow_anonymous and not anonymous:
        raise BeaconConfigError(
            "create_beacon_router needs require_auth, a callable taking (request) or "
            "(request, body) that raises HTTPException for requests it refuses; pass "
            "allow_anonymous=True to accept posts from anyone, or anonymous_event_types=[...] "
            "for the beacon types a page may send before login"
        )
    if require_auth is not None and allow_anonymous:
        raise BeaconConfigError("pass require_auth or allow_anonymous=True, not both")
    auth_arity = _auth_arity(require_auth) if require_auth is not None else 0
    allowed = allowed_origin_set(allowed_origins or ())
    hops = limits.trusted_proxy_hops if trusted_proxy_hops is None else trusted_proxy_hops
    if not isinstance(hops, int) or isinstance(hops, bool) or not 0 <= hops <= 32:
        raise BeaconConfigError("trusted_proxy_hops must be an integer from 0 to 32")
    endpoint = _BeaconEndpoint(
        app_name=app_name,
        get_context=get_context,
        require_auth=require_auth,
        auth_arity=auth_arity,
        on_events_scheduled=on_events_scheduled,
        allow_anonymous=allow_anonymous,
        anonymous=anonymous,
        allowed=allowed,
        hops=hops,
        limits=limits,
    )
    router = APIRouter()

    async def beacon(request: Request) -> Response:
        """Accept a batch of UI interaction events from the browser script."""
        try:
            return await endpoint.handle(request)
        except _Refusal as refusal:
            logger.debug("il-audit: beacon refused with %d", refusal.status)
            return refusal.response()

    router.add_api_route(
        BEACON_PATH,
        beacon,
        methods=["POST"],
        response_class=JSONResponse,
        summary="Record browser UI interaction events",
    )

    if serve_script:
        max_age = limits.script_max_age_seconds

        async def audit_beacon_js(request: Request) -> Response:
            """The browser script, cacheable and revalidated by ETag."""
            script = beacon_script()
            cache = {
                "ETag": script.etag,
                "Cache-Control": f"public, max-age={max_age}",
                "X-Content-Type-Options": "nosniff",
            }
            if script.matches(request.headers.get("if-none-match")):
                return Response(status_code=304, headers=cache)
            return Response(script.body, media_type=SCRIPT_MEDIA_TYPE, headers=cache)

        router.add_api_route(
            SCRIPT_PATH,
            audit_beacon_js,
            methods=["GET"],
            response_class=Response,
            summary="The il-audit browser beacon script",
        )
    return router


class _BeaconEndpoint:
    """The beacon endpoint's configuration and its request handling (the module's steps)."""

    def __init__(
        self,
        *,
        app_name: str,
        get_context: ContextHook,
        require_auth: AuthHook | None,
        auth_arity: int,
        on_events_scheduled: ScheduledHook | None,
        allow_anonymous: bool,
        anonymous: frozenset[str],
        allowed: frozenset[Origin],
        hops: int,
        limits: BeaconSettings,
    ) -> None:
        self.app_name = app_name
        self.get_context = get_context
        self.require_auth = require_auth
        self.auth_arity = auth_arity
        self.on_events_scheduled = on_events_scheduled
        self.allow_anonymous = allow_anonymous
        self.anonymous = anonymous
        self.allowed = allowed
        self.hops = hops
        self.limits = limits
        self.limiter = SlidingWindowLimiter(
            max_requests=limits.max_requests_per_window,
            window_seconds=limits.window_seconds,
            max_keys=limits.rate_limit_max_keys,
        )
        self.hash_key = limits.hash_key.get_secret_value() if limits.hash_key else None

    async def handle(self, request: Request) -> Response:
        """Answer one beacon post; raises :class:`_Refusal` for the refusals it decides."""
        headers = request.headers
        if is_cross_site(
            origin=headers.get("origin"),
            fetch_site=headers.get("sec-fetch-site"),
            host=headers.get("host"),
            allowed=self.allowed,
        ):
            raise _Refusal(403, "Cross-site beacon refused")
        media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media_type not in _ACCEPTED_MEDIA_TYPES:
            raise _Refusal(415, "Beacon body must be JSON (application/json or text/plain)")
        batch = _parse(await _read_body(request, self.limits.max_body_bytes), self.limits)
        await self._authenticate(request, batch)

        context = _beacon_context(
            self.app_name, await _call(self.get_context, request), batch.session_id
        )
        address = client_address(
            peer=request.client.host if request.client else None,
            forwarded_for=headers.getlist("x-forwarded-for"),
            trusted_hops=self.hops,
        )
        actor = (context.actor_uid or "").strip()
        wait = self.limiter.check(f"uid:{actor}" if actor else f"ip:{address}")
        if wait is not None:
            raise _Refusal(429, RATE_LIMIT_DETAIL, {"Retry-After": retry_after_header(wait)})
        if not batch.events:
            return _ok(0)

        limit = self.limits.string_max_length
        items = _enriched_items(
            batch,
            page_path=request_page_path(
                audit_path=headers.get(AUDIT_PATH_HEADER),
                referer=headers.get("referer"),
                limit=limit,
            ),
            agent=user_agent(headers.get("user-agent"), limit=limit),
            address_hash=hash_client_address(address, self.hash_key) if self.hash_key else None,
        )
        accepted = schedule_beacon_rows(context=context, events=items)
        if accepted and self.on_events_scheduled is not None:
            try:
                await _call(self.on_events_scheduled, context, items)
            except Exception:
                logger.exception("il-audit: on_events_scheduled raised; the events were emitted")
        return _ok(accepted)

    async def _authenticate(self, request: Request, batch: BeaconRequest) -> None:
        if self.allow_anonymous:
            return
        # A batch of anonymous-allowed types only (the login page's) needs no login.
        if (
            self.anonymous
            and batch.events
            and all(item.event_type in self.anonymous for item in batch.events)
        ):
            return
        if self.require_auth is None:
            raise _Refusal(401, "Authentication required")
        args = (request, batch) if self.auth_arity == 2 else (request,)
        await _call(self.require_auth, *args)


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


def _auth_arity(hook: AuthHook) -> int:
    """2 when the hook accepts ``(request, body)`` (the seed's 1.0), else 1 (the seed's 0.1)."""
    if not callable(hook):
        raise BeaconConfigError("require_auth must be callable")
    try:
        signature = inspect.signature(hook)
    except (TypeError, ValueError):
        return 1
    for arity in (2, 1):
        try:
            signature.bind(*range(arity))
        except TypeError:
            continue
        return arity
    raise BeaconConfigError("require_auth must accept (request) or (request, body)")


async def _call(hook: Callable[..., Any], *args: Any) -> Any:
    if inspect.iscoroutinefunction(hook):
        return await hook(*args)
    result = await run_in_threadpool(hook, *args)
    if inspect.isawaitable(result):
        return await result
    return result


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as more than ``limit`` bytes were declared or read."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise _Refusal(400, "Invalid Content-Length")
        if int(declared) > limit:
            raise _Refusal(413, "Beacon body too large")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _Refusal(413, "Beacon body too large")
        chunks.append(chunk)
    return b"".join(chunks)


def _parse(body: bytes, limits: BeaconSettings) -> BeaconRequest:
    """Parse, then validate: the item count is checked before any item is validated.

    Validating straight from JSON would validate every element of a huge array
    before noticing its length (a second of CPU for a 1 MiB body of ``{}``).
    """
    try:
        data = from_json(body, allow_inf_nan=True)
    except ValueError as exc:  # the parser's message names a position, never the input
        raise _Refusal(
            422, [{"loc": ["body"], "msg": f"Invalid JSON: {exc}", "type": "json_invalid"}]
        ) from None
    try:
        return BeaconRequest.model_validate(data, context={"settings": limits})
    except ValidationError as exc:
        raise _Refusal(422, _reasons(exc)) from None


def _reasons(error: ValidationError) -> list[dict[str, Any]]:
    """Pydantic's errors without the input: location (unknown keys masked), message, type."""
    reasons = []
    for item in error.errors(include_url=False, include_input=False, include_context=False)[
        :_MAX_REPORTED_ERRORS
    ]:
        location = [
            part if isinstance(part, int) or part in _KNOWN_LOCATIONS else "?"
            for part in item["loc"]
        ]
        reason: dict[str, Any] = {"loc": ["body", *location], "msg": item["msg"]}
        reason["type"] = item["type"]
        if len(location) >= 2 and location[0] == "events" and isinstance(location[1], int):
            reason["item"] = location[1]
        reasons.append(reason)
    return reasons


def _beacon_context(app_name: str, host: Any, session_id: str | None) -> AuditContext:
    """The host's actor and correlation ids, our app name and ``source="beacon"``."""
    if not isinstance(host, AuditContext):
        host = AuditContext()
    bound = current_context()
    return AuditContext(
        app=app_name,
        actor_uid=host.actor_uid,
        actor_email=host.actor_email,
        trace_id=host.trace_id or (bound.trace_id if bound else None),
        request_id=host.request_id or (bound.request_id if bound else None),
        source=BEACON_SOURCE,
        session_id=host.session_id or session_id,
        environment=host.environment,
    )


def _enriched_items(
    batch: BeaconRequest,
    *,
    page_path: str | None,
    agent: str | None,
    address_hash: str | None,
) -> list[dict[str, Any]]:
    extra = {
        key: value
        for key, value in (
            ("page_path", page_path),
            ("user_agent", agent),
            ("client_address_hash", address_hash),
        )
        if value is not None
    }
    return [{**item.model_dump(exclude_none=True), **extra} for item in batch.events]


def _ok(accepted: int) -> JSONResponse:
    return JSONResponse({"status": "ok", "accepted": accepted}, headers=_NO_STORE)
