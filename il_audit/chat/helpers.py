"""``safe_call``: 1.0.35's guard for audit calls that must never break the host's request."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from il_audit.publisher.errors import PublisherError

logger = logging.getLogger(__name__)


def safe_call(fn: Callable[..., object], *, log_label: str, **kwargs: Any) -> None:
    """Call ``fn(**kwargs)``; log any exception under ``log_label`` and swallow it. What
    ``fn`` returns is dropped (1.0.35 typed ``fn`` as returning None; emitters here
    return the event id).

    Only the exception's class is logged, never its message or traceback: a
    validation error quotes the values it refused, and those may be a
    question. A strict publisher's ``PublisherError`` (a test asking to hear
    about bad events) is raised, as ``emit()`` raises it.
    """
    try:
        fn(**kwargs)
    except PublisherError:
        raise
    except Exception as exc:  # noqa: BLE001 - the host's request must not fail for its audit
        logger.warning("il-audit: %s failed (%s)", log_label, type(exc).__name__)
