"""The tables il-audit 0.1.3 wrote: names, columns (in order) and types.

A 0.1.3 dataset holds these tables, full of history. il-audit keeps their
names alive as views over ``events`` (``il_audit/sql/compat/``), and
``il-audit migrate from-0.1`` renames the tables to ``legacy_<name>`` so the
views can read both. 0.1.3 tables have no partitioning, no clustering and no
descriptions. The column lists use the 0.1.3 notation: ``S`` STRING, ``I``
INT64, ``F`` FLOAT64, ``B`` BOOL, ``TS`` TIMESTAMP, ``D`` DATE, ``!`` REQUIRED.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from il_audit.schemas.seed_tables_1035 import SEED_1035_TABLES
from il_audit.schemas.tables import BigQueryType, ColumnSpec, TableSpec

_TYPES: Final[Mapping[str, BigQueryType]] = {
    "S": "STRING",
    "I": "INT64",
    "F": "FLOAT64",
    "B": "BOOL",
    "TS": "TIMESTAMP",
    "D": "DATE",
}
_LEGACY_TYPE_NAMES: Final = {
    "INTEGER": "INT64",
    "FLOAT": "FLOAT64",
    "BOOLEAN": "BOOL",
    "STRUCT": "RECORD",
    "DECIMAL": "NUMERIC",
}

_ENVELOPE: Final = (
    "event_id S!, batch_id S, logged_at TS!, app S!, module S!, event_type S!, actor_uid S, "
    "actor_email S, action S, status S, resource_type S, resource_id S, before_json S, "
    "after_json S, metadata_json S, trace_id S, request_id S, source S"
)
_COLUMNS: Final = {
    "auth_events": _ENVELOPE,
    "user_profile_events": _ENVELOPE,
    "config_change_events": _ENVELOPE,
    "ui_interaction_events": _ENVELOPE
    + ", surface S, element_id S, interaction S, duration_ms I, result_count I",
    "ingest_job_events": _ENVELOPE
    + ", job_id S, mode S, ingest_pipeline S, target_path S, elapsed_seconds F, "
    "files_completed I, files_failed I, chunks_written I, gcs_bytes_staged I, tokens_vision I, "
    "tokens_tagging I, tokens_summary I, tokens_embedding I, tokens_total I, api_cost_usd F, "
    "resource_cost_usd F, total_cost_usd F, error S",
    "ingest_file_events": _ENVELOPE
    + ", job_id S, document_id S, drive_file_id S, source_file S, ingest_pipeline S, mode S, "
    "stage S, ingest_status S, chunk_count I, elapsed_seconds F, drive_revision_id S, "
    "content_sha256 S, drive_modified_at TS, is_reingest B, previous_ingested_at TS, "
    "tokens_total I, api_cost_usd F, error S",
    "drive_events": _ENVELOPE + ", event_category S, selection_id S, drive_file_id S, file_name S, "
    "ingest_consent_version S, consent_operator_label S, status_before S, status_after S, "
    "google_email S, consent_version S",
    "api_usage_events": "usage_id S!, logged_at TS!, app S!, actor_uid S, actor_email S, "
    "correlation_id S, correlation_type S, service S, operation S, model_id S, category S, "
    "input_tokens I, output_tokens I, total_tokens I, tokens_estimated B, pricing_version S, "
    "pricing_source S, estimated_cost_usd F, latency_ms I, trace_id S",
    "resource_usage_events": "resource_id S!, logged_at TS!, app S!, actor_uid S, actor_email S, "
    "correlation_id S, correlation_type S, resource_type S, quantity F, unit S, "
    "estimated_cost_usd F, pricing_version S, pricing_source S, metadata_json S",
    "cost_rates": "rate_version S!, service S!, model_id S!, input_price_per_1m_tokens F, "
    "output_price_per_1m_tokens F, unit_price F, unit S, effective_from D, source_url S",
    "chat_sessions": "session_id S!, app S!, actor_uid S, actor_email S, started_at TS, "
    "last_activity_at TS, ended_at TS, duration_seconds F, turn_count I, ended_reason S, "
    "total_input_tokens I, total_output_tokens I, had_multi_turn B, total_api_cost_usd F, "
    "total_resource_cost_usd F, total_cost_usd F",
    "chat_turns": "turn_id S!, session_id S, app S!, actor_uid S, actor_email S, logged_at TS!, "
    "question S, question_sha256 S, history_turn_count I, turn_index I, response_type S, "
    "summary_scope S, include_hidden_slides B, attached_source_count I, used_attached_only B, "
    "retrieval_query S, retrieval_hit_count I, sources_returned_count I, no_docs B, "
    "latency_ms_total I, latency_ms_retrieval I, latency_ms_llm I, llm_model S, input_tokens I, "
    "output_tokens I, api_cost_usd F, resource_cost_usd F, total_cost_usd F, status S, "
    "sources_json S, trace_id S",
}


def _column(text: str) -> ColumnSpec:
    name, code = text.split()
    required = code.endswith("!")
    return ColumnSpec(name, _TYPES[code.rstrip("!")], "REQUIRED" if required else "NULLABLE")


SEED_TABLES: Final[Mapping[str, TableSpec]] = {
    name: TableSpec(
        name,
        f"il-audit 0.1.3 table {name}",
        tuple(_column(part) for part in columns.split(", ")),
    )
    for name, columns in _COLUMNS.items()
}
"""Every 0.1.3 table by name, columns in the order 0.1.3 created them."""

_OWN_LATER_COLUMNS: Final = {
    # il-audit's own, after 1.0.35's additions.
    "chat_turns": "question_hmac S, question_length I, time_to_first_token_ms I, model_calls I, "
    "pricing_status S",
}


def _later(name: str) -> tuple[ColumnSpec, ...]:
    seed = set(SEED_TABLES[name].column_names)
    added = tuple(
        ColumnSpec(column.name, column.type, "NULLABLE", column.description)
        for column in SEED_1035_TABLES[name].columns
        if column.name not in seed
    )
    own = _OWN_LATER_COLUMNS.get(name)
    return added + (tuple(_column(part) for part in own.split(", ")) if own else ())


LATER_COLUMNS: Final[Mapping[str, tuple[ColumnSpec, ...]]] = {
    name: _later(name) for name in SEED_TABLES if name != "cost_rates"
}
"""Columns a compat view has after its 0.1.3 table's, by view name: those il-audit 1.0.35
added to the table (in its order, e.g. ``environment``), then il-audit's own. A legacy table
that has one of them (a 1.0.35-era table) is read; one that lacks it reads NULL."""

LATER_TABLES: Final[Mapping[str, TableSpec]] = {
    name: spec for name, spec in SEED_1035_TABLES.items() if name not in SEED_TABLES
}
"""Tables il-audit 1.0.35 added, columns in its order: views over ``events`` here, with the
same name and columns (``il_audit/sql``), never written as tables."""


def view_columns(name: str) -> tuple[ColumnSpec, ...]:
    """The columns of the view standing in for the 0.1.3 or 1.0.35 table ``name``, in order:
    a 0.1.3 table's, then :data:`LATER_COLUMNS`; a table new in 1.0.35 has exactly its own."""
    if name in SEED_TABLES:
        return SEED_TABLES[name].columns + LATER_COLUMNS.get(name, ())
    return LATER_TABLES[name].columns


LEGACY_PREFIX: Final = "legacy_"
"""``il-audit migrate from-0.1`` keeps a 0.1.3 table's rows under ``legacy_<name>``."""


def legacy_name(name: str) -> str:
    """Where migration keeps the rows of the 0.1.3 table ``name``."""
    return LEGACY_PREFIX + name


def activity_column(name: str) -> str | None:
    """The column telling when a 0.1.3 (or 1.0.35) writer last wrote the table (None: cannot
    tell)."""
    spec = SEED_TABLES.get(name) or LATER_TABLES.get(name)
    columns = spec.column_names if spec else ()
    for candidate in ("logged_at", "last_activity_at", "sent_at"):
        if candidate in columns:
            return candidate
    return None


def standard_type(type_name: str) -> str:
    """A BigQuery type as standard SQL spells it (the REST API may answer ``INTEGER``...)."""
    upper = type_name.upper()
    return _LEGACY_TYPE_NAMES.get(upper, upper)
