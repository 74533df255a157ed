/* Which passages did a chat turn's retrieval find, at which stage, rank and */
/* score? One row per chat.retrieval.chunk event (stored unless */
/* IL_AUDIT_STORE_RETRIEVAL_CANDIDATES is off), with il-audit 1.0.35's */
/* retrieval_chunks columns, names, order and types. The chunk's text is never */
/* stored: chunk_text_sha256 is its SHA-256. chunk_row_id is the event_id; */
/* logged_at is occurred_at; conversation_id is the session_id; turn_id is the */
/* correlation_id (correlation_type 'chat_turn'); the other fields are read */
/* from payload. */
SELECT
  e.event_id AS chunk_row_id,
  e.occurred_at AS logged_at,
  e.app,
  e.environment,
  e.actor_uid,
  e.actor_email,
  e.app_version,
  e.session_id AS conversation_id,
  e.correlation_id AS turn_id,
  SAFE_CAST(JSON_VALUE(e.payload, '$.search_pass') AS INT64) AS search_pass,
  JSON_VALUE(e.payload, '$.stage') AS stage,
  SAFE_CAST(JSON_VALUE(e.payload, '$.rank') AS INT64) AS rank,
  JSON_VALUE(e.payload, '$.chunk_id') AS chunk_id,
  JSON_VALUE(e.payload, '$.drive_file_id') AS drive_file_id,
  JSON_VALUE(e.payload, '$.source_file') AS source_file,
  JSON_VALUE(e.payload, '$.passage_scope') AS passage_scope,
  SAFE_CAST(JSON_VALUE(e.payload, '$.passage_index') AS INT64) AS passage_index,
  SAFE_CAST(JSON_VALUE(e.payload, '$.visible_slide_index') AS INT64) AS visible_slide_index,
  SAFE_CAST(JSON_VALUE(e.payload, '$.semantic_distance') AS FLOAT64) AS semantic_distance,
  SAFE_CAST(JSON_VALUE(e.payload, '$.semantic_rank') AS INT64) AS semantic_rank,
  SAFE_CAST(JSON_VALUE(e.payload, '$.keyword_score') AS FLOAT64) AS keyword_score,
  SAFE_CAST(JSON_VALUE(e.payload, '$.keyword_rank') AS INT64) AS keyword_rank,
  SAFE_CAST(JSON_VALUE(e.payload, '$.rrf_score') AS FLOAT64) AS rrf_score,
  SAFE_CAST(JSON_VALUE(e.payload, '$.rerank_score') AS FLOAT64) AS rerank_score,
  SAFE_CAST(JSON_VALUE(e.payload, '$.relevance_percentile') AS INT64) AS relevance_percentile,
  JSON_VALUE(e.payload, '$.chunk_text_sha256') AS chunk_text_sha256,
  e.trace_id
FROM `${project}`.`${dataset}`.events_deduped AS e
WHERE
  e.event_type = 'chat.retrieval.chunk'
