-- Which documents did a chat turn's retrieval consider, at which stage and
-- rank? One row per chat.retrieval.candidate event (stored unless
-- IL_AUDIT_STORE_RETRIEVAL_CANDIDATES is off), with il-audit 1.0.35's
-- retrieval_candidates columns, names, order and types. candidate_id is the
-- event_id; logged_at is occurred_at; conversation_id is the session_id;
-- turn_id is the correlation_id (correlation_type 'chat_turn'); the other
-- fields are read from payload.
SELECT
  e.event_id AS candidate_id,
  e.occurred_at AS logged_at,
  e.app,
  e.environment,
  e.actor_uid,
  e.actor_email,
  e.session_id AS conversation_id,
  e.correlation_id AS turn_id,
  SAFE_CAST(JSON_VALUE(e.payload, '$.search_pass') AS INT64) AS search_pass,
  JSON_VALUE(e.payload, '$.stage') AS stage,
  SAFE_CAST(JSON_VALUE(e.payload, '$.rank') AS INT64) AS rank,
  JSON_VALUE(e.payload, '$.drive_file_id') AS drive_file_id,
  JSON_VALUE(e.payload, '$.source_file') AS source_file,
  SAFE_CAST(JSON_VALUE(e.payload, '$.rrf_score') AS FLOAT64) AS rrf_score,
  SAFE_CAST(JSON_VALUE(e.payload, '$.semantic_rank') AS INT64) AS semantic_rank,
  SAFE_CAST(JSON_VALUE(e.payload, '$.keyword_rank') AS INT64) AS keyword_rank,
  SAFE_CAST(JSON_VALUE(e.payload, '$.rerank_score') AS FLOAT64) AS rerank_score,
  JSON_VALUE(e.payload, '$.rerank_status') AS rerank_status,
  e.app_version,
  SAFE_CAST(JSON_VALUE(e.payload, '$.relevant_year') AS INT64) AS relevant_year,
  JSON_VALUE(e.payload, '$.content_department') AS content_department,
  JSON_VALUE(e.payload, '$.content_type') AS content_type,
  e.trace_id
FROM events_deduped AS e
WHERE e.event_type = 'chat.retrieval.candidate'
