"""Process-wide lifecycle: flush every live publisher at interpreter exit, with a deadline.

The hook is registered with ``threading._register_atexit`` when it exists (it
runs before non-daemon threads are joined, while new threads may still start,
which the Pub/Sub client needs to send its last batch), else with ``atexit``.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from typing import Any, Protocol

logger = logging.getLogger(__name__)


class _Pending(Protocol):
    @property
    def pending(self) -> int: ...


class ShutsDown(Protocol):
    """What the exit hook needs of a publisher."""

    @property
    def shutdown_timeout_seconds(self) -> float:
        """The longest the exit hook may spend on it."""
        ...

    def shutdown(self, timeout: float | None = None) -> bool:
        """Flush with a deadline and stop; True when everything was published."""
        ...

    def stats(self) -> _Pending:
        """Counters; the hook reports ``pending`` when the flush fell short."""
        ...


_live: weakref.WeakSet[ShutsDown] = weakref.WeakSet()
_abandoned: list[Any] = []
_registered = False
_register_lock = threading.Lock()


def track(publisher: ShutsDown) -> None:
    """Flush ``publisher`` at exit (until it is shut down)."""
    _live.add(publisher)
    _ensure_registered()


def untrack(publisher: ShutsDown) -> None:
    """Forget ``publisher`` (it has been shut down)."""
    _live.discard(publisher)


def abandon(resource: Any) -> None:
    """Keep a resource inherited across ``fork()`` alive forever, so no finalizer runs on it."""
    _abandoned.append(resource)


def install_multiprocessing_hook(publisher: ShutsDown) -> None:
    """Flush in ``multiprocessing`` children too: they end with ``os._exit``, skipping atexit.

    ``register_after_fork`` runs in the child while the Process bootstraps;
    the ``Finalize`` it adds runs when the child's target returns.
    """
    import multiprocessing
    import multiprocessing.util

    if multiprocessing.parent_process() is not None:
        _register_child_finalizer(publisher)  # created inside a multiprocessing child
    multiprocessing.util.register_after_fork(publisher, _register_child_finalizer)


def _register_child_finalizer(_: object) -> None:
    import multiprocessing.util

    multiprocessing.util.Finalize(None, shutdown_all, exitpriority=100)


def shutdown_all() -> None:
    """Shut every live publisher down, sharing the longest of their exit deadlines."""
    publishers = list(_live)
    if not publishers:
        return
    budget = max(publisher.shutdown_timeout_seconds for publisher in publishers)
    deadline = time.monotonic() + budget
    for publisher in publishers:
        remaining = max(0.0, deadline - time.monotonic())
        try:
            # Drops make shutdown() False too; its own summary line reports them.
            if not publisher.shutdown(remaining) and publisher.stats().pending:
                stats = publisher.stats()
                logger.warning(
                    "il-audit: exiting with %d event(s) unpublished after %.1fs",
                    stats.pending,
                    budget,
                )
        except Exception:
            logger.warning("il-audit: error while flushing at exit", exc_info=True)


def _ensure_registered() -> None:
    global _registered
    with _register_lock:
        if _registered:
            return
        register: Any = getattr(threading, "_register_atexit", None)
        try:
            register(shutdown_all)
        except (TypeError, RuntimeError):  # not available, or the interpreter is exiting
            atexit.register(shutdown_all)
        _registered = True
