"""Job contexts: remembered by job id, bounded, expiring."""

from __future__ import annotations

import pytest

from il_audit import (
    JobAuditBinding,
    bind_job_audit_context,
    clear_job_audit_context,
    get_job_audit_binding,
    job_audit_context,
)
from il_audit.publisher import AuditContext, current_context, emit
from il_audit.publisher.testing import capture_events
from il_audit.schemas import taxonomy as T

OPERATOR = AuditContext(app="ingest", actor_uid="op-1", source="job")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bind_get_clear() -> None:
    """A binding is kept under the stripped id, with its non-None metadata; blank ids never."""
    bind_job_audit_context(" job-1 ", OPERATOR, mode="full", target=None)
    assert get_job_audit_binding("job-1") == JobAuditBinding(OPERATOR, {"mode": "full"})
    bind_job_audit_context("", OPERATOR)
    assert get_job_audit_binding("") is None
    assert get_job_audit_binding(None) is None
    clear_job_audit_context("job-1")
    assert get_job_audit_binding("job-1") is None


def test_a_worker_that_only_knows_the_id_emits_as_the_operator() -> None:
    """job_audit_context binds the job's context for emit() in another thread's code."""
    bind_job_audit_context("job-7", OPERATOR)
    with capture_events() as events:
        with job_audit_context("job-7"):
            emit(T.INGEST_FILE_INDEXED, resource_id="doc-1")
        with job_audit_context("unknown") as bound:
            assert bound is None
            assert current_context() is None
    assert (events[0].actor_uid, events[0].source) == ("op-1", "job")


def test_the_registry_is_bounded_oldest_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past IL_JOB_CONTEXT_MAX_BINDINGS the oldest binding is dropped; rebinding refreshes."""
    monkeypatch.setenv("IL_JOB_CONTEXT_MAX_BINDINGS", "3")
    for job in ("a", "b", "c"):
        bind_job_audit_context(job, OPERATOR)
    bind_job_audit_context("a", OPERATOR)  # a is now the newest
    bind_job_audit_context("d", OPERATOR)
    assert [job for job in "abcd" if get_job_audit_binding(job)] == ["a", "c", "d"]


def test_bindings_expire(monkeypatch: pytest.MonkeyPatch) -> None:
    """A binding older than IL_JOB_CONTEXT_BINDING_TTL_SECONDS is gone (and removed)."""
    monkeypatch.setenv("IL_JOB_CONTEXT_BINDING_TTL_SECONDS", "60")
    clock = Clock()
    monkeypatch.setattr("il_audit.publisher.job_context.time.monotonic", clock)
    bind_job_audit_context("old", OPERATOR)
    clock.now += 30
    bind_job_audit_context("young", OPERATOR)
    clock.now += 31
    assert get_job_audit_binding("old") is None
    assert get_job_audit_binding("young") is not None
    clock.now += 30
    bind_job_audit_context("new", OPERATOR)  # prunes expired ones on the way
    from il_audit.publisher import job_context

    assert list(job_context._bindings) == ["new"]


def test_the_seed_path_hands_out_the_same_functions() -> None:
    """1.0.35's ``il_audit.job_context`` re-exports the publisher's module, names included."""
    import il_audit.job_context as seed
    from il_audit.publisher import job_context

    assert seed.__all__
    for name in seed.__all__:
        assert getattr(seed, name) is getattr(job_context, name), name
