"""Who started a job, for code that only knows the job's id (workers, pools, callbacks).

::

    bind_job_audit_context(job.id, ctx, mode="full")     # where the operator starts it
    ...
    with job_audit_context(job_id):                       # in a worker thread, later
        emit(T.INGEST_FILE_INDEXED, document_id=doc)      # attributed to the operator

The registry is in-process, bounded (``IL_JOB_CONTEXT_MAX_BINDINGS``, the
oldest binding goes first) and expires bindings after
``IL_JOB_CONTEXT_BINDING_TTL_SECONDS``, so a long-running worker that never
clears its jobs cannot grow without bound. The API is the seed's 1.0.35
``il_audit.job_context``, which re-exports it from here.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from il_audit.config.settings import get_audit_settings
from il_audit.publisher.context import AuditContext, audit_context


@dataclass(frozen=True, slots=True)
class JobAuditBinding:
    """The context a job was started with, and what else the starter said about it."""

    context: AuditContext
    metadata: dict[str, Any] = field(default_factory=dict)


_lock = threading.Lock()
_bindings: OrderedDict[str, tuple[float, JobAuditBinding]] = OrderedDict()
"""job id -> (monotonic time bound, binding), oldest first."""


def bind_job_audit_context(job_id: str, context: AuditContext, **metadata: Any) -> None:
    """Remember ``context`` for ``job_id`` (a blank id is ignored; a second call replaces).

    ``None`` metadata values are left out.
    """
    key = (job_id or "").strip()
    if not key:
        return
    settings = get_audit_settings()
    binding = JobAuditBinding(context, {k: v for k, v in metadata.items() if v is not None})
    now = time.monotonic()
    with _lock:
        _expire(now, settings.job_context_binding_ttl_seconds)
        _bindings.pop(key, None)
        _bindings[key] = (now, binding)
        while len(_bindings) > settings.job_context_max_bindings:
            _bindings.popitem(last=False)


def get_job_audit_binding(job_id: str | None) -> JobAuditBinding | None:
    """The binding of ``job_id``; None when blank, unknown or expired (an expired one is
    removed)."""
    key = (job_id or "").strip()
    if not key:
        return None
    ttl = get_audit_settings().job_context_binding_ttl_seconds
    with _lock:
        entry = _bindings.get(key)
        if entry is None:
            return None
        bound_at, binding = entry
        if time.monotonic() - bound_at > ttl:
            del _bindings[key]
            return None
        return binding


def clear_job_audit_context(job_id: str | None) -> None:
    """Forget ``job_id``'s binding, if there is one."""
    key = (job_id or "").strip()
    with _lock:
        _bindings.pop(key, None)


@contextmanager
def job_audit_context(job_id: str | None) -> Iterator[AuditContext | None]:
    """Bind the context ``job_id`` was started with for the ``with`` block, so ``emit()``
    calls inside are attributed to it; binds nothing when the job is unknown."""
    binding = get_job_audit_binding(job_id)
    if binding is None:
        yield None
        return
    with audit_context(binding.context) as bound:
        yield bound


def reset_job_audit_context_for_tests() -> None:
    """Forget every binding."""
    with _lock:
        _bindings.clear()


def _expire(now: float, ttl: float) -> None:
    # Oldest first: stop at the first binding still alive.
    while _bindings:
        key, (bound_at, _) = next(iter(_bindings.items()))
        if now - bound_at <= ttl:
            return
        del _bindings[key]
