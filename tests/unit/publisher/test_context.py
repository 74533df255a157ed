"""AuditContext binding: per task, nested, across threads and asyncio."""

from __future__ import annotations

import asyncio
import contextvars
import threading

import pytest

from il_audit.publisher import AuditContext, audit_context, bind_context, current_context
from il_audit.publisher.context import unbind_context


def test_no_context_is_bound_by_default() -> None:
    """Outside any audit_context block there is no current context."""
    assert current_context() is None


def test_audit_context_binds_and_restores() -> None:
    """The block sees its context; afterwards the previous one is back."""
    ctx = AuditContext(app="ingest", actor_uid="u-1")
    with audit_context(ctx) as bound:
        assert bound is ctx
        assert current_context() is ctx
    assert current_context() is None


def test_nested_changes_refine_the_outer_context() -> None:
    """audit_context(field=...) inside a block changes only that field."""
    with audit_context(AuditContext(app="chat", actor_uid="u-1")):
        with audit_context(session_id="conv-9") as inner:
            assert (inner.app, inner.actor_uid, inner.session_id) == ("chat", "u-1", "conv-9")
        assert current_context() == AuditContext(app="chat", actor_uid="u-1")


def test_unknown_field_is_a_type_error() -> None:
    """A misspelt field is refused instead of silently ignored."""
    with pytest.raises(TypeError), audit_context(actor="x"):
        pass


def test_contexts_are_isolated_between_threads() -> None:
    """A context bound in one thread is invisible in another."""
    seen: list[AuditContext | None] = []
    with audit_context(AuditContext(app="a")):
        thread = threading.Thread(target=lambda: seen.append(current_context()))
        thread.start()
        thread.join()
    assert seen == [None]


def test_copied_contexts_follow_into_threads() -> None:
    """Work started with a copied contextvars context sees the caller's context."""
    seen: list[AuditContext | None] = []
    ctx = AuditContext(app="a")
    with audit_context(ctx):
        copied = contextvars.copy_context()
    thread = threading.Thread(target=lambda: copied.run(lambda: seen.append(current_context())))
    thread.start()
    thread.join()
    assert seen == [ctx]


def test_asyncio_tasks_keep_their_own_context() -> None:
    """Concurrent tasks each see the context they bound, across awaits."""

    async def task(name: str) -> str | None:
        with audit_context(AuditContext(app=name)):
            await asyncio.sleep(0.01)  # the behaviour under test: the tasks interleave here
            context = current_context()
            return context.app if context else None

    async def main() -> list[str | None]:
        return list(await asyncio.gather(task("one"), task("two")))

    assert asyncio.run(main()) == ["one", "two"]


def test_bind_and_unbind_for_framework_hooks() -> None:
    """bind_context returns a token that unbind_context uses to restore."""
    token = bind_context(AuditContext(app="x"))
    assert current_context() == AuditContext(app="x")
    unbind_context(token)
    assert current_context() is None


def test_context_fields_leave_out_nones() -> None:
    """as_fields gives only what the context actually sets."""
    assert AuditContext(app="a", actor_uid="u").as_fields() == {
        "app": "a",
        "actor_uid": "u",
        "source": "api",
    }
