"""Who is posting: authentication, the actor that is stored, and the rate-limit key.

An actor is stored, and buys its own rate-limit budget, only when something
vouched for it. The rules, by how the router was built:

==============================  ==================================  =================
batch                           actor stored                        rate-limit key
==============================  ==================================  =================
``require_auth``, a batch that  ``get_context``'s (the hook passed;  the actor, else
needs a login                   if it raises, the request is         the address
                                refused)
only ``anonymous_event_types``  ``get_context``'s only if            the actor if kept,
or the ``anonymous=`` login     ``require_auth`` passes (called in   else the address
rule (with ``require_auth``)    soft mode: its refusal is not the
                                answer); otherwise none
the same, no ``require_auth``   none                                the address
``allow_anonymous=True``        ``get_context``'s, as given          always the address
==============================  ==================================  =================

Without the soft mode, a client rotating a cookie that ``get_context`` reads
got a fresh budget per name, and its events were stored under names it chose.
With ``allow_anonymous=True`` nothing is verified, so no actor may buy a
budget: rotating names buys nothing. The actor is still stored as
``get_context`` returns it, so that hook must read only what a client cannot
forge (a signed session, a verified token); when it could, build the router
with ``require_auth`` and ``anonymous_event_types`` instead.

A 1.0.35 host applies the login-surface rule inside its own ``require_auth(request,
body)`` and returns without raising for a login-page batch. The hook passed, so
the actor is ``get_context``'s; a visitor who is not logged in has none, and
the batch is keyed by address: a forged Referer or path only chooses which rule
applies, never the key, and ``X-Forwarded-For`` counts only through the trusted
proxy hops. Such a ``get_context`` must name only an actor the hook verified.
"""

from __future__ import annotations

import enum
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from il_audit.publisher.beacon._hooks import call_hook
from il_audit.publisher.beacon._mapping import BEACON_SOURCE
from il_audit.publisher.beacon._models import BeaconRequest
from il_audit.publisher.beacon.errors import Refusal
from il_audit.publisher.beacon.login_surface import LoginSurface
from il_audit.publisher.context import AuditContext, current_context

logger = logging.getLogger(__name__)

ContextHook = Callable[[Request], "AuditContext | Awaitable[AuditContext]"]
AuthHook = Callable[..., Any]


class Trust(enum.Enum):
    """What vouches for the actor ``get_context`` names."""

    VERIFIED = "verified"  # require_auth passed
    HOST = "host"  # allow_anonymous=True: only get_context itself
    NONE = "none"  # an anonymous batch nobody authenticated


@dataclass(frozen=True, slots=True)
class Access:
    """The router's authentication options."""

    require_auth: AuthHook | None
    auth_arity: int
    allow_anonymous: bool
    anonymous: frozenset[str]
    login: LoginSurface | None = None

    def is_anonymous_batch(self, request: Request, batch: BeaconRequest) -> bool:
        """A non-empty batch made only of the types a page may send before login, or one
        the login-surface rule accepts (both read only what the client sent)."""
        if not batch.events:
            return False
        if self.anonymous and all(item.event_type in self.anonymous for item in batch.events):
            return True
        return self.login is not None and self.login.matches_request(request, batch)

    async def authenticate(self, request: Request, batch: BeaconRequest) -> Trust:
        """Run ``require_auth`` as the batch needs; raises (or a 401 :class:`Refusal`) to refuse."""
        if self.allow_anonymous:
            return Trust.HOST
        anonymous = self.is_anonymous_batch(request, batch)
        if self.require_auth is None:
            if anonymous:
                return Trust.NONE
            raise Refusal(401, "Authentication required")
        args = (request, batch) if self.auth_arity == 2 else (request,)
        if not anonymous:
            await call_hook(self.require_auth, *args)
            return Trust.VERIFIED
        try:
            await call_hook(self.require_auth, *args)
        except Exception as exc:  # noqa: BLE001 - soft mode: any refusal means "not logged in"
            logger.debug(
                "il-audit: anonymous beacon batch kept without an actor (require_auth raised %s)",
                type(exc).__name__,
            )
            return Trust.NONE
        return Trust.VERIFIED


def beacon_context(
    app_name: str, host: Any, session_id: str | None, *, keep_actor: bool
) -> AuditContext:
    """The host's correlation ids (and actor, when kept), our app name and ``source="beacon"``."""
    if not isinstance(host, AuditContext):
        host = AuditContext()
    bound = current_context()
    return AuditContext(
        app=app_name,
        actor_uid=host.actor_uid if keep_actor else None,
        actor_email=host.actor_email if keep_actor else None,
        trace_id=host.trace_id or (bound.trace_id if bound else None),
        request_id=host.request_id or (bound.request_id if bound else None),
        source=BEACON_SOURCE,
        session_id=host.session_id or session_id,
        environment=host.environment,
    )


def rate_key(context: AuditContext, trust: Trust, address_key: str) -> str:
    """``uid:<actor>`` for an actor someone vouched for, else ``ip:<address or /64>``."""
    actor = (context.actor_uid or "").strip()
    if actor and trust is Trust.VERIFIED:
        return f"uid:{actor}"
    return f"ip:{address_key}"


def warn_if_clients_share_a_key(hops: int, environ: Mapping[str, str] | None = None) -> None:
    """Log a warning when the app runs on Cloud Run and no proxy hop is trusted."""
    env = os.environ if environ is None else environ
    service = env.get("K_SERVICE", "").strip()
    if hops == 0 and service:
        logger.warning(
            "il-audit: the beacon router of Cloud Run service %r trusts no proxy "
            "(IL_BEACON_TRUSTED_PROXY_HOPS=0): every request's peer is Google's front end, so "
            "all anonymous clients share one rate-limit key and one refusal budget. Set it to 1 "
            "(2 behind an external Application Load Balancer); see docs/ui-beacon-convention.md, "
            "Behind a proxy",
            service,
        )
