"""1.0.35's ``il_audit.chat.turn_usage``: binding a turn's tracker without a ``with`` block.

::

    tracker = bind_chat_turn_usage(turn_id, ctx, conversation_id=conversation_id)
    try:
        tracker.record_gemini_response(category="answer", usage_metadata=response)
        ...
    finally:
        clear_chat_turn_usage()

``ChatTurnUsageTracker`` is :class:`~il_audit.chat.usage.ChatTurnUsage`
itself; ``chat_turn_usage()`` is the ``with``-block form of the same binding.
The pending LLM category says what the next model call is for, for code (a
LangChain callback) that records calls it did not make itself.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Final

from il_audit.chat.usage import ChatTurnUsage, active_turn_usage, bind_turn_usage
from il_audit.publisher.context import AuditContext

ChatTurnUsageTracker = ChatTurnUsage
"""1.0's name of the tracker class."""
DEFAULT_LLM_CATEGORY: Final = "answer"

_pending_category: ContextVar[str | None] = ContextVar(
    "il_audit_pending_llm_category", default=None
)


@contextmanager
def chat_turn_usage(
    turn_id: str | None = None,
    context: AuditContext | None = None,
    *,
    conversation_session_id: str | None = None,
) -> Iterator[ChatTurnUsage]:
    """A tracker for one turn, bound for the ``with`` block (a fresh ``turn_id`` if none)."""
    tracker = ChatTurnUsage(turn_id, context, conversation_session_id=conversation_session_id)
    with tracker.attach():
        yield tracker


def bind_chat_turn_usage(
    turn_id: str, context: AuditContext, *, conversation_id: str | None = None
) -> ChatTurnUsage:
    """Bind a new tracker until :func:`clear_chat_turn_usage` (1.0's API)."""
    tracker = ChatTurnUsage(turn_id, context, conversation_session_id=conversation_id)
    bind_turn_usage(tracker)
    return tracker


def attach_chat_turn_usage(tracker: ChatTurnUsage) -> None:
    """Bind an existing tracker in this thread, e.g. a worker's, without resetting it."""
    bind_turn_usage(tracker)


def get_active_chat_turn_usage() -> ChatTurnUsage | None:
    """1.0's name for :func:`~il_audit.chat.usage.active_turn_usage`."""
    return active_turn_usage()


def clear_chat_turn_usage() -> None:
    """Unbind the tracker of this thread or task, and forget the pending LLM category."""
    bind_turn_usage(None)
    _pending_category.set(None)


def set_pending_llm_category(category: str) -> contextvars.Token[str | None]:
    """Say what the next model call of this thread or task is for (``answer`` if never set)."""
    return _pending_category.set(category)


def reset_pending_llm_category(token: contextvars.Token[str | None]) -> None:
    """Undo the :func:`set_pending_llm_category` that returned ``token``."""
    _pending_category.reset(token)


def get_pending_llm_category() -> str:
    """The pending LLM category, ``answer`` when none is set."""
    return _pending_category.get() or DEFAULT_LLM_CATEGORY


def estimate_turn_api_cost_usd(tracker: ChatTurnUsage) -> float:
    """An in-process **estimate** of the turn's token calls, in USD (the tracker's
    ``api_cost_usd``): the bundled seed catalog's rates at each call's tier. The price of
    record is the warehouse's (``chat_turns.api_cost_usd``)."""
    return tracker.api_cost_usd
