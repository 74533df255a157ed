"""The seed's ``il_audit.config.stores.audit_schema_store``: table ids, schema builders and
descriptions (0.1.3 and 1.0.35).

The twelve 0.1.3 tables and 1.0.35's eleven new ones live on as views over
``events`` (``il_audit/sql``). The builders return the table's schema as the
release that defined it wrote it, as ``google.cloud.bigquery.SchemaField``
lists: 0.1.3's for its twelve (:data:`il_audit.schemas.seed_tables.SEED_TABLES`,
so code that created or checked them keeps working), 1.0.35's for the tables it
added (:data:`il_audit.schemas.seed_tables_1035.SEED_1035_TABLES`), with their
column descriptions. ``TABLE_SCHEMAS`` stays 0.1.3's twelve. The descriptions
(:data:`TABLE_DESCRIPTIONS`, :func:`table_description`,
:func:`view_column_descriptions`) and :func:`schema_field_names` come from
:mod:`il_audit.schemas.descriptions`. Builders need ``google-cloud-bigquery``
(the ``[subscriber]`` extra), imported when one is called.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from il_audit.schemas.descriptions import (
    VIEW_CHAT_MODEL_CALLS,
    VIEW_CHAT_RETRIEVAL_CANDIDATES,
    VIEW_CHAT_RETRIEVAL_CHUNKS,
    VIEW_CHAT_RETRIEVAL_PASSES,
    VIEW_DESCRIPTIONS,
    schema_field_names,
    table_description,
    view_column_descriptions,
)
from il_audit.schemas.seed_tables import LATER_TABLES, SEED_TABLES
from il_audit.schemas.seed_tables_1035 import TABLE_DESCRIPTIONS

IL_APP_INGEST: Final = "ingest"
IL_APP_CHAT: Final = "chat"

TABLE_AUTH_EVENTS: Final = "auth_events"
TABLE_USER_PROFILE_EVENTS: Final = "user_profile_events"
TABLE_CONFIG_CHANGE_EVENTS: Final = "config_change_events"
TABLE_UI_INTERACTION_EVENTS: Final = "ui_interaction_events"
TABLE_INGEST_JOB_EVENTS: Final = "ingest_job_events"
TABLE_INGEST_FILE_EVENTS: Final = "ingest_file_events"
TABLE_DRIVE_EVENTS: Final = "drive_events"
TABLE_API_USAGE_EVENTS: Final = "api_usage_events"
TABLE_RESOURCE_USAGE_EVENTS: Final = "resource_usage_events"
TABLE_COST_RATES: Final = "cost_rates"
TABLE_CHAT_SESSIONS: Final = "chat_sessions"
TABLE_CHAT_TURNS: Final = "chat_turns"
TABLE_OUT_OF_SCOPE_QUERIES: Final = "out_of_scope_queries"
# 1.0.35's new tables: views here (il_audit/sql).
TABLE_ACCESS_CONTROL_EVENTS: Final = "access_control_events"
TABLE_MODEL_CALL_TEXT: Final = "model_call_text"
TABLE_RETRIEVAL_CANDIDATES: Final = "retrieval_candidates"
TABLE_RETRIEVAL_CHUNKS: Final = "retrieval_chunks"
TABLE_RETRIEVAL_PASSES: Final = "retrieval_passes"
TABLE_CHAT_VISIT_SESSIONS: Final = "chat_visit_sessions"
TABLE_LIBRARY_INTERACTION_EVENTS: Final = "library_interaction_events"
# For migration only: il-audit never writes them (typed, empty views).
TABLE_CHAT_FEEDBACK: Final = "chat_feedback"
TABLE_CONTENT_REPORTS: Final = "content_reports"
TABLE_NOTIFICATION_SENDS: Final = "notification_sends"

__all__ = [
    "IL_APP_CHAT",
    "IL_APP_INGEST",
    "TABLE_ACCESS_CONTROL_EVENTS",
    "TABLE_API_USAGE_EVENTS",
    "TABLE_AUTH_EVENTS",
    "TABLE_CHAT_FEEDBACK",
    "TABLE_CHAT_SESSIONS",
    "TABLE_CHAT_TURNS",
    "TABLE_CHAT_VISIT_SESSIONS",
    "TABLE_CONFIG_CHANGE_EVENTS",
    "TABLE_CONTENT_REPORTS",
    "TABLE_COST_RATES",
    "TABLE_DESCRIPTIONS",
    "TABLE_DRIVE_EVENTS",
    "TABLE_INGEST_FILE_EVENTS",
    "TABLE_INGEST_JOB_EVENTS",
    "TABLE_LIBRARY_INTERACTION_EVENTS",
    "TABLE_MODEL_CALL_TEXT",
    "TABLE_NOTIFICATION_SENDS",
    "TABLE_OUT_OF_SCOPE_QUERIES",
    "TABLE_RESOURCE_USAGE_EVENTS",
    "TABLE_RETRIEVAL_CANDIDATES",
    "TABLE_RETRIEVAL_CHUNKS",
    "TABLE_RETRIEVAL_PASSES",
    "TABLE_SCHEMAS",
    "TABLE_UI_INTERACTION_EVENTS",
    "TABLE_USER_PROFILE_EVENTS",
    "VIEW_CHAT_MODEL_CALLS",
    "VIEW_CHAT_RETRIEVAL_CANDIDATES",
    "VIEW_CHAT_RETRIEVAL_CHUNKS",
    "VIEW_CHAT_RETRIEVAL_PASSES",
    "VIEW_DESCRIPTIONS",
    "access_control_events_schema",
    "api_usage_events_schema",
    "auth_events_schema",
    "chat_feedback_schema",
    "chat_sessions_schema",
    "chat_turns_schema",
    "chat_visit_sessions_schema",
    "config_change_events_schema",
    "content_reports_schema",
    "cost_rates_schema",
    "drive_events_schema",
    "ingest_file_events_schema",
    "ingest_job_events_schema",
    "library_interaction_events_schema",
    "model_call_text_schema",
    "notification_sends_schema",
    "out_of_scope_queries_schema",
    "resource_usage_events_schema",
    "retrieval_candidates_schema",
    "retrieval_chunks_schema",
    "retrieval_passes_schema",
    "schema_field_names",
    "table_description",
    "ui_interaction_events_schema",
    "user_profile_events_schema",
    "view_column_descriptions",
]


def _schema(name: str) -> Callable[[], list[Any]]:
    def schema() -> list[Any]:
        from il_audit.subscriber_fn.sinks.bigquery_tables import schema_fields

        return schema_fields((SEED_TABLES.get(name) or LATER_TABLES[name]).columns)

    schema.__name__ = f"{name}_schema"
    release = "0.1.3" if name in SEED_TABLES else "1.0.35"
    schema.__doc__ = f"{release}'s schema of ``{name}`` (BigQuery SchemaFields)."
    return schema


auth_events_schema = _schema(TABLE_AUTH_EVENTS)
user_profile_events_schema = _schema(TABLE_USER_PROFILE_EVENTS)
config_change_events_schema = _schema(TABLE_CONFIG_CHANGE_EVENTS)
ui_interaction_events_schema = _schema(TABLE_UI_INTERACTION_EVENTS)
ingest_job_events_schema = _schema(TABLE_INGEST_JOB_EVENTS)
ingest_file_events_schema = _schema(TABLE_INGEST_FILE_EVENTS)
drive_events_schema = _schema(TABLE_DRIVE_EVENTS)
api_usage_events_schema = _schema(TABLE_API_USAGE_EVENTS)
resource_usage_events_schema = _schema(TABLE_RESOURCE_USAGE_EVENTS)
cost_rates_schema = _schema(TABLE_COST_RATES)
chat_sessions_schema = _schema(TABLE_CHAT_SESSIONS)
chat_turns_schema = _schema(TABLE_CHAT_TURNS)
out_of_scope_queries_schema = _schema(TABLE_OUT_OF_SCOPE_QUERIES)
access_control_events_schema = _schema(TABLE_ACCESS_CONTROL_EVENTS)
model_call_text_schema = _schema(TABLE_MODEL_CALL_TEXT)
retrieval_candidates_schema = _schema(TABLE_RETRIEVAL_CANDIDATES)
retrieval_chunks_schema = _schema(TABLE_RETRIEVAL_CHUNKS)
retrieval_passes_schema = _schema(TABLE_RETRIEVAL_PASSES)
chat_visit_sessions_schema = _schema(TABLE_CHAT_VISIT_SESSIONS)
library_interaction_events_schema = _schema(TABLE_LIBRARY_INTERACTION_EVENTS)
chat_feedback_schema = _schema(TABLE_CHAT_FEEDBACK)
content_reports_schema = _schema(TABLE_CONTENT_REPORTS)
notification_sends_schema = _schema(TABLE_NOTIFICATION_SENDS)

TABLE_SCHEMAS: Final[dict[str, Callable[[], list[Any]]]] = {
    TABLE_AUTH_EVENTS: auth_events_schema,
    TABLE_USER_PROFILE_EVENTS: user_profile_events_schema,
    TABLE_CONFIG_CHANGE_EVENTS: config_change_events_schema,
    TABLE_UI_INTERACTION_EVENTS: ui_interaction_events_schema,
    TABLE_INGEST_JOB_EVENTS: ingest_job_events_schema,
    TABLE_INGEST_FILE_EVENTS: ingest_file_events_schema,
    TABLE_DRIVE_EVENTS: drive_events_schema,
    TABLE_API_USAGE_EVENTS: api_usage_events_schema,
    TABLE_RESOURCE_USAGE_EVENTS: resource_usage_events_schema,
    TABLE_COST_RATES: cost_rates_schema,
    TABLE_CHAT_SESSIONS: chat_sessions_schema,
    TABLE_CHAT_TURNS: chat_turns_schema,
}
