"""0.1.3's ``il_audit.config.stores.audit_schema_store``: table ids and schema builders.

The twelve 0.1.3 tables live on as views over ``events`` with these names and
columns (``il_audit/sql/compat``); the builders return their 0.1.3 schemas
as ``google.cloud.bigquery.SchemaField`` lists, from
:data:`il_audit.schemas.seed_tables.SEED_TABLES`, so code that created or
checked them keeps working. 1.0.35's tables that are views here too
(``out_of_scope_queries``) have their id and builder, but stay out of
``TABLE_SCHEMAS``, 0.1.3's twelve. Needs ``google-cloud-bigquery`` (the
``[subscriber]`` extra), imported when a builder is called.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from il_audit.schemas.seed_tables import LATER_TABLES, SEED_TABLES

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
# 1.0.35's retrieval tables: views here (il_audit/sql), over chat.retrieval.* events.
TABLE_RETRIEVAL_CANDIDATES: Final = "retrieval_candidates"
TABLE_RETRIEVAL_CHUNKS: Final = "retrieval_chunks"
TABLE_RETRIEVAL_PASSES: Final = "retrieval_passes"


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
