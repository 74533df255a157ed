"""A deadline on every call of a Google API client (``infra apply``, the local stack).

The clients' default retry policies wait up to minutes on an address that refuses or
does not answer (a stale ``PUBSUB_EMULATOR_HOST``). :class:`WithDeadline` gives each
call a timeout and no retries, so the caller fails fast and says where it failed.
"""

from __future__ import annotations

import functools
from typing import Any, Final

CALL_DEADLINE_SECONDS: Final = 30.0
"""How long one administrative call (get, create, update) may take."""


class WithDeadline:
    """``client`` whose API calls get ``timeout`` and ``retry=None``; helpers pass through."""

    def __init__(self, client: Any, timeout: float = CALL_DEADLINE_SECONDS) -> None:
        self._client = client
        self._timeout = timeout

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if name.split("_", maxsplit=1)[0] in {"get", "create", "update", "delete", "list", "seek"}:
            return functools.partial(attribute, timeout=self._timeout, retry=None)
        return attribute
