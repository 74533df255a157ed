"""Calling the host's hooks: sync ones in the thread pool (as FastAPI runs sync dependencies).

Only the host's own code goes to Starlette's thread pool, exactly as it would in
a FastAPI dependency; the endpoint's own work (parsing, validation) stays on
the event loop, where the size limits keep it to a few milliseconds.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool

from il_audit.publisher.beacon.errors import BeaconConfigError


async def call_hook(hook: Callable[..., Any], *args: Any) -> Any:
    """Await an async hook; run a sync one in the thread pool (awaiting what it returns)."""
    if inspect.iscoroutinefunction(hook):
        return await hook(*args)
    result = await run_in_threadpool(hook, *args)
    if inspect.isawaitable(result):
        return await result
    return result


def auth_arity(hook: Callable[..., Any]) -> int:
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
