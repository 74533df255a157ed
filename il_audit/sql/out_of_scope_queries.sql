-- Which questions could the chat not answer from its sources? One row per
-- chat.out_of_scope event (emit_out_of_scope_query), with il-audit 1.0.35's
-- out_of_scope_queries columns, names, order and types: the turn, its
-- conversation and visit, the question (only when IL_AUDIT_STORE_QUERY_TEXT was
-- on; its question_sha256 always), the answer's excerpt (with the question
-- text only), the signal that flagged it and how it was detected, and the
-- turn's retrieval facts. logged_at is occurred_at; turn_id is the
-- correlation_id (else payload.turn_id); conversation_id is
-- payload.conversation_id, else the session_id; metadata_json is the event's
-- metadata as JSON text (else the text the caller gave). The other fields are
-- read from payload.
SELECT
  e.occurred_at AS logged_at,
  e.app,
  e.environment,
  e.actor_uid,
  e.actor_email,
  e.trace_id,
  COALESCE(e.correlation_id, JSON_VALUE(e.payload, '$.turn_id')) AS turn_id,
  COALESCE(JSON_VALUE(e.payload, '$.conversation_id'), e.session_id) AS conversation_id,
  e.session_id,
  JSON_VALUE(e.payload, '$.visit_session_id') AS visit_session_id,
  SAFE_CAST(JSON_VALUE(e.payload, '$.turn_index') AS INT64) AS turn_index,
  JSON_VALUE(e.payload, '$.question') AS question,
  JSON_VALUE(e.payload, '$.question_sha256') AS question_sha256,
  JSON_VALUE(e.payload, '$.answer_excerpt') AS answer_excerpt,
  JSON_VALUE(e.payload, '$.signal') AS signal,
  JSON_VALUE(e.payload, '$.category') AS category,
  JSON_VALUE(e.payload, '$.reason') AS reason,
  JSON_VALUE(e.payload, '$.detection_method') AS detection_method,
  JSON_VALUE(e.payload, '$.workflow') AS workflow,
  JSON_VALUE(e.payload, '$.response_type') AS response_type,
  JSON_VALUE(e.payload, '$.context_mode') AS context_mode,
  JSON_VALUE(e.payload, '$.search_scope') AS search_scope,
  SAFE_CAST(JSON_VALUE(e.payload, '$.attached_source_count') AS INT64) AS attached_source_count,
  SAFE_CAST(JSON_VALUE(e.payload, '$.passage_pin_count') AS INT64) AS passage_pin_count,
  SAFE_CAST(JSON_VALUE(e.payload, '$.document_pin_count') AS INT64) AS document_pin_count,
  SAFE_CAST(JSON_VALUE(e.payload, '$.used_attached_only') AS BOOL) AS used_attached_only,
  SAFE_CAST(JSON_VALUE(e.payload, '$.no_docs') AS BOOL) AS no_docs,
  SAFE_CAST(JSON_VALUE(e.payload, '$.retrieval_hit_count') AS INT64) AS retrieval_hit_count,
  SAFE_CAST(JSON_VALUE(e.payload, '$.sources_returned_count') AS INT64)
    AS sources_returned_count,
  JSON_VALUE(e.payload, '$.retrieval_query') AS retrieval_query,
  JSON_VALUE(e.payload, '$.summary_scope') AS summary_scope,
  JSON_VALUE(e.payload, '$.comparison_focus') AS comparison_focus,
  COALESCE(
    NULLIF(TO_JSON_STRING(e.metadata), '{}'), JSON_VALUE(e.payload, '$.metadata_json')
  ) AS metadata_json
FROM events_deduped AS e
WHERE e.event_type = 'chat.out_of_scope'
