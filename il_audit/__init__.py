"""il-audit: cross-app audit and analytics logging on Google Cloud, as a Pub/Sub pipeline.

The stable API (compatible with il-audit 0.1)::

    from il_audit import AuditContext, emit, flush_audit_writer, taxonomy
    from il_audit import taxonomy as T

    emit(T.AUTH_LOGIN_SUCCEEDED, context=AuditContext(app="ingest", actor_uid=uid),
         status="succeeded", action="login")

Names load on first use (PEP 562), so ``import il_audit`` costs almost nothing
and pulls in neither the Pub/Sub client nor pydantic until something is used:
the pytest plugin every host test run loads relies on that.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

from il_audit._version import __version__

if TYPE_CHECKING:
    from il_audit.chat import (
        ChatTurnUsage,
        active_turn_usage,
        bind_chat_turn_usage,
        chat_turn_usage,
        clear_chat_turn_usage,
        emit_chat_feedback,
        emit_chat_session,
        emit_chat_turn,
        emit_chat_visit_session,
        emit_model_call_text,
        emit_out_of_scope_query,
        emit_retrieval_candidates,
        emit_retrieval_chunks,
        emit_retrieval_pass,
        message_counts_from_history,
        record_chat_query_turn,
        safe_call,
    )
    from il_audit.config.cost_catalog import (
        API_CATEGORY_ANSWER,
        API_CATEGORY_CONTEXTUALIZER,
        API_CATEGORY_FORMAT_PREFERENCE,
        API_CATEGORY_RERANK,
    )
    from il_audit.config.settings import (
        AuditSettings,
        get_audit_settings,
        reset_audit_settings_cache,
    )
    from il_audit.config.stores.audit_schema_store import (
        IL_APP_CHAT,
        IL_APP_INGEST,
        TABLE_CHAT_FEEDBACK,
        TABLE_CONTENT_REPORTS,
        TABLE_NOTIFICATION_SENDS,
        TABLE_OUT_OF_SCOPE_QUERIES,
        chat_feedback_schema,
        content_reports_schema,
        notification_sends_schema,
        out_of_scope_queries_schema,
    )
    from il_audit.errors import AuditError
    from il_audit.operations.doctor import doctor
    from il_audit.publisher import (
        AuditContext,
        audit_context,
        emit,
        emit_api_usage,
        emit_batch,
        emit_resource_usage,
        flush_audit_writer,
        shutdown,
        stats,
    )
    from il_audit.publisher.audit_json import audit_json_default, dumps_audit_json
    from il_audit.publisher.beacon import schedule_beacon_rows
    from il_audit.publisher.beacon.handlers import handle_visit_session_beacon_events
    from il_audit.publisher.builders import register_builder
    from il_audit.publisher.job_context import (
        JobAuditBinding,
        bind_job_audit_context,
        clear_job_audit_context,
        get_job_audit_binding,
        job_audit_context,
    )
    from il_audit.publisher.privacy import question_sha256
    from il_audit.schemas import taxonomy
    from il_audit.subscriber_fn.usage_routes import (
        ApiUsageFields,
        default_pricing_tier_for,
        resolve_api_usage_fields,
        resolve_ingest_api_usage_fields,
    )

# name -> module that defines it (loaded on first access).
_LAZY: dict[str, str] = {
    "API_CATEGORY_ANSWER": "il_audit.config.cost_catalog",
    "API_CATEGORY_CONTEXTUALIZER": "il_audit.config.cost_catalog",
    "API_CATEGORY_FORMAT_PREFERENCE": "il_audit.config.cost_catalog",
    "API_CATEGORY_RERANK": "il_audit.config.cost_catalog",
    "ApiUsageFields": "il_audit.subscriber_fn.usage_routes",
    "IL_APP_CHAT": "il_audit.config.stores.audit_schema_store",
    "IL_APP_INGEST": "il_audit.config.stores.audit_schema_store",
    "TABLE_CHAT_FEEDBACK": "il_audit.config.stores.audit_schema_store",
    "TABLE_CONTENT_REPORTS": "il_audit.config.stores.audit_schema_store",
    "TABLE_NOTIFICATION_SENDS": "il_audit.config.stores.audit_schema_store",
    "TABLE_OUT_OF_SCOPE_QUERIES": "il_audit.config.stores.audit_schema_store",
    "chat_feedback_schema": "il_audit.config.stores.audit_schema_store",
    "content_reports_schema": "il_audit.config.stores.audit_schema_store",
    "notification_sends_schema": "il_audit.config.stores.audit_schema_store",
    "default_pricing_tier_for": "il_audit.subscriber_fn.usage_routes",
    "doctor": "il_audit.operations.doctor",
    "emit_out_of_scope_query": "il_audit.chat",
    "out_of_scope_queries_schema": "il_audit.config.stores.audit_schema_store",
    "record_chat_query_turn": "il_audit.chat",
    "resolve_api_usage_fields": "il_audit.subscriber_fn.usage_routes",
    "resolve_ingest_api_usage_fields": "il_audit.subscriber_fn.usage_routes",
    "safe_call": "il_audit.chat",
    "AuditContext": "il_audit.publisher",
    "ChatTurnUsage": "il_audit.chat",
    "active_turn_usage": "il_audit.chat",
    "JobAuditBinding": "il_audit.publisher.job_context",
    "bind_chat_turn_usage": "il_audit.chat",
    "bind_job_audit_context": "il_audit.publisher.job_context",
    "chat_turn_usage": "il_audit.chat",
    "clear_chat_turn_usage": "il_audit.chat",
    "clear_job_audit_context": "il_audit.publisher.job_context",
    "emit_chat_feedback": "il_audit.chat",
    "emit_chat_session": "il_audit.chat",
    "emit_chat_turn": "il_audit.chat",
    "emit_chat_visit_session": "il_audit.chat",
    "handle_visit_session_beacon_events": "il_audit.publisher.beacon.handlers",
    "emit_model_call_text": "il_audit.chat",
    "emit_retrieval_candidates": "il_audit.chat",
    "emit_retrieval_chunks": "il_audit.chat",
    "emit_retrieval_pass": "il_audit.chat",
    "get_job_audit_binding": "il_audit.publisher.job_context",
    "job_audit_context": "il_audit.publisher.job_context",
    "message_counts_from_history": "il_audit.chat",
    "AuditError": "il_audit.errors",
    "AuditSettings": "il_audit.config.settings",
    "audit_context": "il_audit.publisher",
    "audit_json_default": "il_audit.publisher.audit_json",
    "dumps_audit_json": "il_audit.publisher.audit_json",
    "emit": "il_audit.publisher",
    "emit_api_usage": "il_audit.publisher",
    "emit_batch": "il_audit.publisher",
    "emit_resource_usage": "il_audit.publisher",
    "flush_audit_writer": "il_audit.publisher",
    "get_audit_settings": "il_audit.config.settings",
    "question_sha256": "il_audit.publisher.privacy",
    "register_builder": "il_audit.publisher.builders",
    "reset_audit_settings_cache": "il_audit.config.settings",
    "schedule_beacon_rows": "il_audit.publisher.beacon",
    "shutdown": "il_audit.publisher",
    "stats": "il_audit.publisher",
}
_SUBMODULES = frozenset({"taxonomy"})

__all__ = [
    "API_CATEGORY_ANSWER",
    "API_CATEGORY_CONTEXTUALIZER",
    "API_CATEGORY_FORMAT_PREFERENCE",
    "API_CATEGORY_RERANK",
    "IL_APP_CHAT",
    "IL_APP_INGEST",
    "TABLE_CHAT_FEEDBACK",
    "TABLE_CONTENT_REPORTS",
    "TABLE_NOTIFICATION_SENDS",
    "TABLE_OUT_OF_SCOPE_QUERIES",
    "ApiUsageFields",
    "AuditContext",
    "AuditError",
    "AuditSettings",
    "ChatTurnUsage",
    "JobAuditBinding",
    "__version__",
    "active_turn_usage",
    "audit_context",
    "audit_json_default",
    "bind_chat_turn_usage",
    "bind_job_audit_context",
    "chat_feedback_schema",
    "chat_turn_usage",
    "clear_chat_turn_usage",
    "clear_job_audit_context",
    "content_reports_schema",
    "default_pricing_tier_for",
    "doctor",
    "dumps_audit_json",
    "emit",
    "emit_api_usage",
    "emit_batch",
    "emit_chat_feedback",
    "emit_chat_session",
    "emit_chat_turn",
    "emit_chat_visit_session",
    "emit_model_call_text",
    "emit_out_of_scope_query",
    "emit_resource_usage",
    "emit_retrieval_candidates",
    "emit_retrieval_chunks",
    "emit_retrieval_pass",
    "flush_audit_writer",
    "get_audit_settings",
    "get_job_audit_binding",
    "handle_visit_session_beacon_events",
    "job_audit_context",
    "message_counts_from_history",
    "notification_sends_schema",
    "out_of_scope_queries_schema",
    "question_sha256",
    "record_chat_query_turn",
    "register_builder",
    "reset_audit_settings_cache",
    "resolve_api_usage_fields",
    "resolve_ingest_api_usage_fields",
    "safe_call",
    "schedule_beacon_rows",
    "shutdown",
    "stats",
    "taxonomy",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"il_audit.{name}")
    else:
        raise AttributeError(f"module 'il_audit' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


class _Package(types.ModuleType):
    """The package object: keeps ``il_audit.emit`` the function.

    ``il_audit.emit`` is also a module (0.1.3's ``il_audit.emit.question_sha256``).
    Importing a submodule sets it as an attribute of its package, which would
    replace the function; as in 0.1.3, the function wins and the module stays
    importable by name (``from il_audit.emit import question_sha256``).
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _LAZY and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
