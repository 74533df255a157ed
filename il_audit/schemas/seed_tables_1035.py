"""The 23 tables il-audit 1.0.35 wrote: names, columns (in order), types and descriptions.

One source of truth for 1.0.35's warehouse: the views standing in for these
tables (``il_audit/sql``) are tested against :data:`SEED_1035_TABLES`, the
schema builders of ``il_audit.config.stores.audit_schema_store`` return them as
``SchemaField`` lists, and ``infra apply`` and the generated Terraform put the
table and column descriptions on the BigQuery views. The column lists use the
facts sheet's notation (as :mod:`il_audit.schemas.seed_tables`): ``S`` STRING,
``I`` INT64, ``F`` FLOAT64, ``B`` BOOL, ``TS`` TIMESTAMP, ``D`` DATE, ``!``
REQUIRED, ``[]`` REPEATED. ``CORE`` is the head 1.0.35's event tables share.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from il_audit.schemas.column_descriptions import column_description
from il_audit.schemas.tables import BigQueryType, ColumnSpec, Mode, TableSpec

_TYPES: Final[Mapping[str, BigQueryType]] = {
    "S": "STRING",
    "I": "INT64",
    "F": "FLOAT64",
    "B": "BOOL",
    "TS": "TIMESTAMP",
    "D": "DATE",
}
_CORE: Final = (
    "event_id S!, logged_at TS!, app S!, environment S, module S!, event_type S!, actor_uid S, "
    "actor_email S, action S, status S, source S"
)
_ENVELOPE_TAIL: Final = (
    "resource_type S, resource_id S, before_json S, after_json S, metadata_json S"
)
_COLUMNS: Final = {
    "auth_events": f"{_CORE}, login_provider S, path S, metadata_json S",
    "user_profile_events": f"{_CORE}, {_ENVELOPE_TAIL}",
    "config_change_events": f"{_CORE}, {_ENVELOPE_TAIL}",
    "access_control_events": f"{_CORE}, {_ENVELOPE_TAIL}, application S",
    "ui_interaction_events": f"{_CORE}, metadata_json S, surface S, element_id S, interaction S, "
    "resource_type S, resource_id S, duration_ms I, result_count I, path S",
    "api_usage_events": "usage_id S!, logged_at TS!, app S!, environment S, actor_uid S, "
    "actor_email S, correlation_id S, correlation_type S, service S, operation S, model_id S, "
    "category S, input_tokens I, output_tokens I, total_tokens I, tokens_estimated B, "
    "pricing_version S, pricing_source S, estimated_cost_usd F, latency_ms I, trace_id S, "
    "metadata_json S",
    "resource_usage_events": "resource_id S!, logged_at TS!, app S!, environment S, actor_uid S, "
    "actor_email S, correlation_id S, correlation_type S, resource_type S, quantity F, unit S, "
    "estimated_cost_usd F, pricing_version S, pricing_source S, metadata_json S",
    "cost_rates": "rate_version S!, service S!, model_id S!, pricing_tier S, "
    "input_price_per_1m_tokens F, output_price_per_1m_tokens F, unit_price F, unit S, "
    "effective_from D, source_url S",
    "model_call_text": "call_id S!, logged_at TS!, app S!, environment S, actor_uid S, "
    "actor_email S, conversation_id S, correlation_id S, correlation_type S, sequence I, "
    "category S, operation S, model_id S, attempt I, succeeded B, error_type S, "
    "prompt_source S, temperature F, thinking_level S, thought_tokens I, cached_tokens I, "
    "finish_reason S, app_version S, prompt S, completion S, prompt_truncated B, "
    "completion_truncated B, trace_id S",
    "retrieval_candidates": "candidate_id S!, logged_at TS!, app S!, environment S, actor_uid S, "
    "actor_email S, conversation_id S, turn_id S!, search_pass I, stage S, rank I, "
    "drive_file_id S, source_file S, rrf_score F, semantic_rank I, keyword_rank I, "
    "rerank_score F, rerank_status S, app_version S, relevant_year I, content_department S, "
    "content_type S, trace_id S",
    "retrieval_chunks": "chunk_row_id S!, logged_at TS!, app S!, environment S, actor_uid S, "
    "actor_email S, app_version S, conversation_id S, turn_id S!, search_pass I, stage S, "
    "rank I, chunk_id S, drive_file_id S, source_file S, passage_scope S, passage_index I, "
    "visible_slide_index I, semantic_distance F, semantic_rank I, keyword_score F, "
    "keyword_rank I, rrf_score F, rerank_score F, relevance_percentile I, "
    "chunk_text_sha256 S, trace_id S",
    "retrieval_passes": "pass_id S!, logged_at TS!, app S!, environment S, actor_uid S, "
    "actor_email S, app_version S, conversation_id S, turn_id S!, search_pass I, "
    "settings_json S, trace_id S",
    "chat_sessions": "session_id S!, conversation_id S, visit_session_id S, app S!, "
    "environment S, actor_uid S, actor_email S, started_at TS, last_activity_at TS, "
    "ended_at TS, duration_seconds F, turn_count I, user_message_count I, "
    "assistant_message_count I, message_count I, ended_reason S, total_input_tokens I, "
    "total_output_tokens I, had_multi_turn B, total_api_cost_usd F, "
    "total_resource_cost_usd F, total_cost_usd F",
    "chat_turns": "turn_id S!, conversation_id S, visit_session_id S, session_id S, app S!, "
    "environment S, actor_uid S, actor_email S, logged_at TS!, question S, question_sha256 S, "
    "history_turn_count I, turn_index I, user_message_count I, assistant_message_count I, "
    "message_count I, workflow S, response_type S, metadata_json S, include_hidden_slides B, "
    "attached_source_count I, used_attached_only B, retrieval_query S, retrieval_hit_count I, "
    "sources_returned_count I, no_docs B, latency_ms_total I, latency_ms_retrieval I, "
    "latency_ms_llm I, llm_model S, input_tokens I, output_tokens I, api_cost_usd F, "
    "resource_cost_usd F, total_cost_usd F, status S, error_class S, app_version S, "
    "sources_json S, trace_id S",
    "chat_visit_sessions": "visit_session_id S!, app S!, environment S, actor_uid S, "
    "actor_email S, started_at TS, ended_at TS, duration_seconds F, turn_count I, "
    "conversation_count I, ended_reason S",
    "chat_feedback": "logged_at TS!, environment S, feedback_id S!, conversation_id S!, "
    "conversation_title S, rating I, issue S, time_saved S, otherwise_asked S, "
    "dismissed_early B, skipped_via_new_chat B, turn_count I, employee_full_name S, "
    "employee_email S, employee_title S, employee_department S, employee_company S, "
    "employee_site S, employee_tenure_years F, employee_ukg_id S",
    "content_reports": "logged_at TS!, environment S, report_id S!, reporter_uid S, "
    "reporter_email S, reporter_team S, file_owner_uid S, file_owner_email S, "
    "file_owner_team S, flag_type S!, deletion_requested B, comment S, report_target S, "
    "conversation_id S, turn_id S, turn_index I, drive_file_id S, source_file S, "
    "source_uri S, passage_scope S, passage_index I, chunk_id S, question_sha256 S, "
    "answer_excerpt S, visit_session_id S, notified_at TS, notification_batch_id S, "
    "first_notified_at TS, last_notified_at TS, notification_count I, reminder_phase S, "
    "next_reminder_at TS, acknowledged_at TS, acknowledged_by_uid S, acknowledged_by_email S, "
    "acknowledgment_note S, channel_key S",
    "notification_sends": "send_id S!, sent_at TS!, environment S, notification_type S!, "
    "escalation_level I!, recipient_email S!, recipient_title S, recipient_team S, "
    "cc_emails S[], email_task_name S, notification_id S!, related_id S!, drive_file_id S, "
    "file_name S, rows_shown I, rows_total I, subject_summary S, acknowledged_at TS",
    "out_of_scope_queries": "logged_at TS!, app S!, environment S, actor_uid S, actor_email S, "
    "trace_id S, turn_id S!, conversation_id S, session_id S, visit_session_id S, "
    "turn_index I, question S, question_sha256 S, answer_excerpt S, signal S!, category S, "
    "reason S, detection_method S, workflow S, response_type S, context_mode S, "
    "search_scope S, attached_source_count I, passage_pin_count I, document_pin_count I, "
    "used_attached_only B, no_docs B, retrieval_hit_count I, sources_returned_count I, "
    "retrieval_query S, summary_scope S, comparison_focus S, metadata_json S",
    "ingest_job_events": f"{_CORE}, resource_type S, resource_id S, metadata_json S, job_id S, "
    "mode S, ingest_pipeline S, target_path S, elapsed_seconds F, files_completed I, "
    "files_failed I, chunks_written I, gcs_bytes_staged I, tokens_vision I, tokens_tagging I, "
    "tokens_summary I, tokens_embedding I, tokens_total I, api_cost_usd F, "
    "resource_cost_usd F, total_cost_usd F, error S",
    "ingest_file_events": f"{_CORE}, resource_type S, resource_id S, job_id S, document_id S, "
    "drive_file_id S, source_file S, ingest_pipeline S, mode S, stage S, ingest_status S, "
    "chunk_count I, elapsed_seconds F, drive_revision_id S, content_sha256 S, "
    "drive_modified_at TS, is_reingest B, previous_ingested_at TS, tokens_total I, "
    "api_cost_usd F, error S, batch_id S, correlation_id S, started_at TS, ingestion_type S, "
    "error_traceback S",
    "drive_events": f"{_CORE}, resource_type S, resource_id S, metadata_json S, batch_id S, "
    "event_category S, selection_id S, drive_file_id S, file_name S, "
    "ingest_consent_version S, consent_operator_label S, status_before S, status_after S, "
    "google_email S, consent_version S",
    "library_interaction_events": f"{_CORE}, {_ENVELOPE_TAIL}, batch_id S, correlation_id S, "
    "selection_id S, drive_file_id S, file_name S, interaction S, started_at TS, "
    "elapsed_seconds F, error S, error_traceback S",
}

TABLE_DESCRIPTIONS: Final[Mapping[str, str]] = {
    "auth_events": "Logins (succeeded, failed), logouts and denied access, one row per event.",
    "user_profile_events": "Changes users made to their own settings, with the state before "
    "and after.",
    "config_change_events": "Changes to prompts and scheduled tasks, and scheduled task runs.",
    "access_control_events": "Changes to who may access what (auth.access_control.changed), "
    "with the state before and after.",
    "ui_interaction_events": "What users viewed and did in the browser: every ui.* beacon "
    "event, with its surface, element, interaction and page path.",
    "api_usage_events": "One row per billable API call (model, embedding, rerank...): tokens, "
    "latency and estimated cost.",
    "resource_usage_events": "Infrastructure usage (CPU seconds, staged bytes, API calls...) "
    "and its estimated cost.",
    "cost_rates": "The effective-dated price list the costs are computed from, per service, "
    "model and pricing tier.",
    "model_call_text": "Prompt and completion of each model call of a chat turn or "
    "conversation (only when model call text storage is on).",
    "retrieval_candidates": "Documents a chat turn's retrieval considered, per search pass "
    "and stage, with their ranks and scores.",
    "retrieval_chunks": "Passages a chat turn's retrieval returned, per search pass and stage, "
    "with their scores; the text only as a SHA-256.",
    "retrieval_passes": "The settings of each search pass of a chat turn's retrieval.",
    "chat_sessions": "One row per chat conversation: start, end, turns, messages, tokens and cost.",
    "chat_turns": "One row per chat turn: question, retrieval, latency, tokens, cost and outcome.",
    "chat_visit_sessions": "One row per visit of the chat page: start, end, turns and "
    "conversations.",
    "chat_feedback": "For migration only: il-audit 1.0.35's end-of-conversation survey. "
    "il-audit never writes it; after a migration it shows the 1.0.35 rows.",
    "content_reports": "For migration only: il-audit 1.0.35's content flagging workflow. "
    "il-audit never writes it; after a migration it shows the 1.0.35 rows.",
    "notification_sends": "For migration only: il-audit 1.0.35's notification e-mails. "
    "il-audit never writes it; after a migration it shows the 1.0.35 rows.",
    "out_of_scope_queries": "Chat questions the assistant could not answer from the library "
    "(quality gate, empty retrieval, soft refusal).",
    "ingest_job_events": "Each ingest job's start, preflight and outcome, with its counts, "
    "tokens and cost.",
    "ingest_file_events": "What happened to each file of an ingest job (indexed, failed, "
    "skipped), with chunks, timing, tokens and cost.",
    "drive_events": "Google Drive connections, file selections, consents and pipeline status "
    "changes.",
    "library_interaction_events": "Changes users made in the document library: tags, access, "
    "ownership, deletions, consent refreshes and report acknowledgements.",
}
"""What each 1.0.35 table holds, in one or two sentences (BigQuery table descriptions)."""


def _column(table: str, text: str) -> ColumnSpec:
    name, code = text.split()
    mode: Mode = (
        "REQUIRED" if code.endswith("!") else "REPEATED" if code.endswith("[]") else "NULLABLE"
    )
    return ColumnSpec(
        name,
        _TYPES[code.removesuffix("!").removesuffix("[]")],
        mode,
        description=column_description(table, name),
    )


SEED_1035_TABLES: Final[Mapping[str, TableSpec]] = {
    name: TableSpec(
        name,
        TABLE_DESCRIPTIONS[name],
        tuple(_column(name, part) for part in columns.split(", ")),
    )
    for name, columns in _COLUMNS.items()
}
"""Every 1.0.35 table by name, in the facts sheet's order, columns in 1.0.35's order."""

LEGACY_ONLY_TABLES: Final = ("chat_feedback", "content_reports", "notification_sends")
"""1.0.35 tables il-audit never writes: typed, empty views, for migration only."""
