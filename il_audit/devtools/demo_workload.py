"""A realistic synthetic workload: several apps and users doing a day's work.

Used by ``il-audit demo`` and by tests. Deterministic for a given seed, so the
tests can recompute what the demo's report should say.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from il_audit.publisher.context import AuditContext
from il_audit.schemas import taxonomy as T

APPS = ("ingest", "chat", "admin")
MODELS = ("gemini-2.5-flash-lite", "gemini-2.0-flash", "gemini-3.1-flash-lite")
UNPRICED_MODEL = "gemini-9-experimental"
USERS = tuple(f"user-{index:02d}" for index in range(12))
BEACON_TYPES = sorted(T.BEACON_EVENT_TYPES)


@dataclass(frozen=True)
class DemoEvent:
    """One event of the workload, ready for ``emit(event_type, context=..., **fields)``."""

    event_type: str
    context: AuditContext
    fields: dict[str, Any] = field(default_factory=dict)
    malformed: bool = False
    """True for the events the demo breaks on purpose (they must be dead-lettered)."""


def _context(rng: random.Random, app: str, source: str = "api") -> AuditContext:
    uid = rng.choice(USERS)
    return AuditContext(
        app=app,
        actor_uid=uid,
        actor_email=f"{uid}@example.com",
        request_id=f"req-{rng.randrange(10**9):09d}",
        source=source,
        environment="demo",
    )


def _logins(rng: random.Random) -> Iterator[DemoEvent]:
    ctx = _context(rng, rng.choice(APPS))
    if rng.random() < 0.15:
        yield DemoEvent(
            T.AUTH_LOGIN_FAILED, ctx, {"status": "failed", "action": "login", "reason": "bad_pw"}
        )
    yield DemoEvent(T.AUTH_LOGIN_SUCCEEDED, ctx, {"status": "succeeded", "action": "login"})


def _ingest_job(rng: random.Random) -> Iterator[DemoEvent]:
    ctx = _context(rng, "ingest", source="job")
    job_id = f"job-{rng.randrange(10**6):06d}"
    common = {"batch_id": job_id, "correlation_id": job_id, "correlation_type": "ingest_job"}
    yield DemoEvent(T.INGEST_JOB_STARTED, ctx, {**common, "status": "started"})
    for index in range(rng.randint(1, 4)):
        file_id = f"{job_id}-f{index}"
        if rng.random() < 0.1:
            yield DemoEvent(
                T.INGEST_FILE_FAILED,
                ctx,
                {**common, "resource_type": "file", "resource_id": file_id, "status": "failed"},
            )
            continue
        model = UNPRICED_MODEL if rng.random() < 0.03 else rng.choice(MODELS)
        yield DemoEvent(
            T.INGEST_FILE_INDEXED,
            ctx,
            {
                **common,
                "resource_type": "file",
                "resource_id": file_id,
                "status": "succeeded",
                "usage": [
                    {
                        "service": "vertex_gemini",
                        "operation": "generate_content",
                        "model_id": model,
                        "category": "summary",
                        "input_tokens": rng.randint(500, 20_000),
                        "output_tokens": rng.randint(50, 2_000),
                    },
                    {
                        "service": "vertex_embedding",
                        "operation": "embed_content",
                        "model_id": "gemini-embedding-001",
                        "category": "embedding",
                        "input_tokens": rng.randint(200, 8_000),
                        "output_tokens": 0,
                    },
                ],
            },
        )
    yield DemoEvent(
        T.RESOURCE_USAGE_RECORDED,
        ctx,
        {
            **common,
            "resource_type": "cloud_run_cpu_seconds",
            "usage": [
                {
                    "service": "cloud_run",
                    "model_id": "cpu_second",
                    "category": "cloud_run_cpu_seconds",
                    "quantity": round(rng.uniform(5, 600), 3),
                    "unit": "vCPU_second",
                }
            ],
        },
    )
    yield DemoEvent(T.INGEST_JOB_COMPLETED, ctx, {**common, "status": "succeeded"})


def _chat_session(rng: random.Random) -> Iterator[DemoEvent]:
    session = f"conv-{rng.randrange(10**8):08d}"
    ctx = _context(rng, "chat").replace(session_id=session)
    yield DemoEvent(T.UI_CHAT_SESSION_STARTED, ctx.replace(source="beacon"), {"surface": "chat"})
    yield DemoEvent(T.CHAT_SESSION_STARTED, ctx, {"status": "started"})
    for turn in range(rng.randint(1, 5)):
        failed = rng.random() < 0.08
        # Drawn in the order the seed's sequence has always had (same workload per seed).
        model = rng.choice(MODELS)
        input_tokens = rng.randint(1_000, 30_000)
        output_tokens = 0 if failed else rng.randint(100, 3_000)
        llm_ms = rng.randint(300, 9_000)
        retrieval_ms = 80 + input_tokens % 700  # no draw: varies with the question's size
        yield DemoEvent(
            T.CHAT_TURN_FAILED if failed else T.CHAT_TURN_SUCCEEDED,
            ctx,
            {
                "status": "failed" if failed else "succeeded",
                "correlation_id": f"{session}-t{turn}",
                "correlation_type": "chat_turn",
                "turn_index": turn,
                "latency_ms_total": llm_ms + retrieval_ms,
                "latency_ms_retrieval": retrieval_ms,
                "latency_ms_llm": llm_ms,
                "usage": [
                    {
                        "service": "vertex_gemini",
                        "operation": "generate_content",
                        "model_id": model,
                        "category": "chat",
                        "input_tokens": input_tokens,
                        "output_tokens": output_tokens,
                        "latency_ms": llm_ms,
                    }
                ],
            },
        )
    yield DemoEvent(T.CHAT_SESSION_ENDED, ctx, {"status": "ended"})


def _ui_beacons(rng: random.Random) -> Iterator[DemoEvent]:
    ctx = _context(rng, rng.choice(("ingest", "chat")), source="beacon")
    for _ in range(rng.randint(1, 3)):
        yield DemoEvent(
            rng.choice(BEACON_TYPES),
            ctx,
            {"surface": "main_nav", "element_id": rng.choice(("search", "drive", "settings"))},
        )


def _malformed(rng: random.Random) -> Iterator[DemoEvent]:
    ctx = _context(rng, rng.choice(APPS))
    kind = rng.randrange(3)
    if kind == 0:
        yield DemoEvent("billing.invoice.sent", ctx, {"status": "sent"}, malformed=True)
    elif kind == 1:
        usage = [{"service": "vertex_gemini", "model_id": "gemini-2.0-flash", "input_tokens": -5}]
        yield DemoEvent(T.CHAT_TURN_SUCCEEDED, ctx, {"usage": usage}, malformed=True)
    else:
        yield DemoEvent(T.USER_SETTINGS_UPDATED, ctx, {"status": "x" * 300}, malformed=True)


_SCENARIOS: tuple[tuple[float, Callable[[random.Random], Iterator[DemoEvent]]], ...] = (
    (0.30, _logins),
    (0.15, _ingest_job),
    (0.20, _chat_session),
    (0.33, _ui_beacons),
    (0.02, _malformed),
)


def generate(events: int, *, seed: int = 7) -> Iterator[DemoEvent]:
    """Yield exactly ``events`` events of mixed scenarios, reproducibly for ``seed``."""
    rng = random.Random(seed)
    weights = [weight for weight, _ in _SCENARIOS]
    produced = 0
    while produced < events:
        (_, scenario) = rng.choices(_SCENARIOS, weights=weights)[0]
        for event in scenario(rng):
            if produced >= events:
                return
            yield event
            produced += 1
