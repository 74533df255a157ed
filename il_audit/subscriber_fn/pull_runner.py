"""Running the streaming-pull worker as a process: signals, the health endpoint, N workers.

:func:`run_worker` is one worker in this process: build the pipeline from the
settings (sink opened, tables ensured), start the health endpoint and the
:class:`~il_audit.subscriber_fn.pull_worker.PullWorker`, and on SIGTERM or
SIGINT shut down gracefully (the open batch is written and acked) and return 0.
:func:`run_workers` starts N such workers as child processes, each with its
own streaming pull, forwards SIGTERM/SIGINT to them and waits; it serves the
health endpoint itself (live and ready while every child runs).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any

from il_audit.config.settings import AuditSettings
from il_audit.subscriber_fn.health import HealthServer
from il_audit.subscriber_fn.pipeline import Pipeline, build_pipeline
from il_audit.subscriber_fn.pull_worker import PullSettings, PullWorker, subscription_path

logger = logging.getLogger(__name__)

Echo = Callable[[str], None]


def _stop_on_signals(stop: threading.Event) -> None:
    def handler(signum: int, _frame: FrameType | None) -> None:
        logger.info("il-audit: signal %d: stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def _start_health(host: str, port: int | None, echo: Echo, **probes: Any) -> HealthServer | None:
    if port is None:
        return None
    server = HealthServer(host, port, **probes).start()
    echo(f"il-audit subscriber pull: health on http://{server.host}:{server.port} (/livez /readyz)")
    return server


def run_worker(
    settings: AuditSettings,
    pull: PullSettings,
    *,
    health_host: str,
    health_port: int | None,
    echo: Echo,
    pipeline: Pipeline | None = None,
) -> int:
    """One worker in this process until SIGTERM/SIGINT; 0 after a graceful stop, 1 if the
    streaming pull failed by itself. ``pipeline`` defaults to the settings' (a benchmark
    passes one with its own sink)."""
    path = subscription_path(pull.subscription, settings.project)
    if not settings.project:  # the dead-letter topic lives in the subscription's project
        settings = settings.model_copy(update={"project": path.split("/")[1]})
    stop = threading.Event()
    _stop_on_signals(stop)
    if pipeline is None:
        pipeline = build_pipeline(settings)
    worker = PullWorker(pipeline, dataclasses.replace(pull, subscription=path))
    health = _start_health(
        health_host,
        health_port,
        echo,
        live=worker.live,
        ready=worker.ready,
        status=worker.status,
    )
    started = time.process_time()
    code = 0
    try:
        worker.start()
        echo(
            f"il-audit subscriber pull: pulling {path} into {pipeline.sink.name} "
            f"(batches of {pull.max_batch_rows} rows or {pull.max_batch_seconds} s)"
        )
        while not stop.wait(0.2):
            failure = worker.pull_failed()
            if failure is not None:
                logger.error("il-audit: the streaming pull failed: %s", failure)
                code = 1
                break
    finally:
        worker.stop()
        if health is not None:
            health.stop()
        pipeline.sink.close()
    counters = worker.counters
    echo(
        f"il-audit subscriber pull: stopped: {counters.received} messages received, "
        f"{counters.acked} acked, {counters.nacked} nacked; {counters.events_stored} events "
        f"stored, {counters.dead_lettered} dead-lettered in {counters.batches} batches; "
        f"cpu_seconds={time.process_time() - started:.3f}"
    )
    return code


def run_workers(
    count: int,
    child_args: Sequence[str],
    *,
    health_host: str,
    health_port: int | None,
    echo: Echo,
) -> int:
    """``count`` worker processes (``il-audit subscriber pull CHILD_ARGS``) until a signal.

    SIGTERM/SIGINT are forwarded to every child; the result is 0 when every child
    stopped cleanly. A child that exits on its own makes the others stop too (the
    platform restarts the whole), and the result is 1.
    """
    stop = threading.Event()
    _stop_on_signals(stop)
    argv = [sys.executable, "-m", "il_audit.cli", "subscriber", "pull", *child_args]
    children = [subprocess.Popen(argv, env=dict(os.environ)) for _ in range(count)]
    health = _start_health(
        health_host,
        health_port,
        echo,
        live=lambda: all(child.poll() is None for child in children),
        ready=lambda: not stop.is_set() and all(child.poll() is None for child in children),
        status=lambda: {"workers": count, "running": sum(c.poll() is None for c in children)},
    )
    echo(f"il-audit subscriber pull: {count} workers (pids {[c.pid for c in children]})")
    failed = False
    try:
        while not stop.wait(0.2):
            if any(child.poll() is not None for child in children):
                failed = True
                logger.error("il-audit: a worker exited on its own; stopping the others")
                break
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        codes = [child.wait() for child in children]
        if health is not None:
            health.stop()
    echo(f"il-audit subscriber pull: workers stopped (exit codes {codes})")
    return 1 if failed or any(codes) else 0
