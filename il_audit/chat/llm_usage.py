"""1.0.35's ``il_audit.chat.llm_usage``: invoke a LangChain runnable and record the call.

::

    answer = invoke_chat_llm(model, messages, category="answer")
    parsed = invoke_structured_chat_llm(model.with_structured_output(Plan), messages,
                                        category="format_preference", label="plan")

With a turn's tracker bound, the call runs with an
:class:`~il_audit.chat.langchain_callback.AuditCallbackHandler` (one usage event,
its metadata holding ``call_id``, ``thought_tokens``, ``cached_tokens`` and
``finish_reason``), then one ``chat.model_call.text`` row when
``IL_AUDIT_STORE_MODEL_CALL_TEXT`` is on, tied to it by a uuid4 ``call_id``; a
failed call's row has ``succeeded=False`` and ``error_type``, and the exception
is re-raised. Without a tracker the runnable is just invoked. Needs the
``[langchain]`` extra only when a tracker is bound (the handler is imported then).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from il_audit.chat.turn_usage import reset_pending_llm_category, set_pending_llm_category
from il_audit.chat.usage import ChatTurnUsage, active_turn_usage

logger = logging.getLogger(__name__)


def invoke_chat_llm(runner: Any, messages: list[Any], *, category: str, attempt: int = 1) -> Any:
    """``runner.invoke(messages)``, recorded on the bound turn as a call of ``category``."""
    tracker = active_turn_usage()
    if tracker is None:
        return runner.invoke(messages)
    from il_audit.chat.langchain_callback import AuditCallbackHandler

    call_id = str(uuid.uuid4())
    handler = AuditCallbackHandler(call_id=call_id)
    token = set_pending_llm_category(category)
    try:
        result = runner.invoke(messages, config={"callbacks": [handler]})
    except Exception as exc:
        _write_text(tracker, category, messages, f"{type(exc).__name__}: {exc}", call_id,
                    attempt, handler.last_model, error_type=type(exc).__name__)  # fmt: skip
        raise
    finally:
        reset_pending_llm_category(token)
    _write_text(tracker, category, messages, render(result), call_id, attempt, handler.last_model)
    return result


def invoke_structured_chat_llm(
    runner: Any, messages: list[Any], *, category: str, label: str, max_attempts: int = 2
) -> Any:
    """:func:`invoke_chat_llm` with ``attempt`` 1..``max_attempts`` (each attempt its own
    rows); the last failure is re-raised. ``label`` names the call in the retry's log line."""
    attempts = max(1, max_attempts)
    for attempt in range(1, attempts + 1):
        try:
            return invoke_chat_llm(runner, messages, category=category, attempt=attempt)
        except Exception:
            if attempt == attempts:
                raise
            logger.warning("il-audit: %s failed (attempt %d of %d), retrying",
                           label, attempt, attempts)  # fmt: skip
    raise AssertionError("unreachable")  # pragma: no cover


def _write_text(
    tracker: ChatTurnUsage,
    category: str,
    messages: list[Any],
    completion: str,
    call_id: str,
    attempt: int,
    model: str | None,
    *,
    error_type: str | None = None,
) -> None:
    details = tracker.call_details(call_id)
    tracker.record_model_call_text(
        category=category,
        operation="generate_content",
        prompt="\n\n".join(render(message) for message in messages),
        completion=completion,
        model_id=model,
        call_id=call_id,
        attempt=attempt,
        succeeded=error_type is None,
        error_type=error_type,
        thought_tokens=details.get("thought_tokens"),
        cached_tokens=details.get("cached_tokens"),
        finish_reason=details.get("finish_reason"),
    )


def render(value: Any) -> str:
    """A message or a result as text: its ``content`` (text parts joined), a model's JSON,
    or ``str()``; a message is prefixed with its role."""
    content = getattr(value, "content", None)
    role = getattr(value, "type", None)
    if content is None:
        dump = getattr(value, "model_dump_json", None)
        return str(dump()) if callable(dump) else str(value)
    if isinstance(content, list):
        content = "".join(
            str(part.get("text", "")) if isinstance(part, Mapping) else str(part)
            for part in content
        )
    return f"{role}: {content}" if isinstance(role, str) and role != "ai" else str(content)
