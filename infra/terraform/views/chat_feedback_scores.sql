/* How did users rate each chat turn? One row per chat.feedback event */
/* (emit_chat_feedback, or the ui.chat.feedback beacon), joinable to chat_turns */
/* on turn_id (the event's correlation_id); conversation_id is the one the */
/* caller gave (a beacon's session_id is the tab's). name says what was asked (thumbs, */
/* correct, helpful...); value_type is number, boolean or label, and the value is */
/* in its column; score is the number (a boolean is 1 or 0); is_negative is true */
/* for false, a number below 0 or a negative label, null for an unknown label. */
/* The comment follows the question rule: its length and hash always, its text */
/* only when IL_AUDIT_STORE_QUERY_TEXT was on. Not 1.0.35's chat_feedback survey. */
SELECT
  e.occurred_at AS logged_at,
  e.event_id AS feedback_id,
  e.app,
  e.environment,
  e.actor_uid,
  e.source,
  e.correlation_id AS turn_id,
  JSON_VALUE(e.payload, '$.conversation_id') AS conversation_id,
  JSON_VALUE(e.payload, '$.name') AS name,
  JSON_VALUE(e.payload, '$.value_type') AS value_type,
  SAFE_CAST(JSON_VALUE(e.payload, '$.value_number') AS FLOAT64) AS value_number,
  SAFE_CAST(JSON_VALUE(e.payload, '$.value_bool') AS BOOL) AS value_bool,
  JSON_VALUE(e.payload, '$.value_label') AS value_label,
  SAFE_CAST(JSON_VALUE(e.payload, '$.score') AS FLOAT64) AS score,
  SAFE_CAST(JSON_VALUE(e.payload, '$.negative') AS BOOL) AS is_negative,
  JSON_VALUE(e.payload, '$.feedback_comment') AS comment,
  SAFE_CAST(JSON_VALUE(e.payload, '$.feedback_comment_length') AS INT64) AS comment_length,
  JSON_VALUE(e.payload, '$.feedback_comment_sha256') AS comment_sha256,
  JSON_VALUE(e.payload, '$.feedback_comment_hmac') AS comment_hmac,
  NULLIF(TO_JSON_STRING(e.metadata), '{}') AS metadata_json
FROM `${project}`.`${dataset}`.events_deduped AS e
WHERE
  e.event_type IN ('chat.feedback', 'ui.chat.feedback')
