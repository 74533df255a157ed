/* What did each model call see and answer? One row per chat.model_call.text */
/* event (stored only when IL_AUDIT_STORE_MODEL_CALL_TEXT is on), with */
/* il-audit 1.0.35's model_call_text columns, names, order and types: the */
/* prompt and completion (cut to a bound, with *_truncated flags), the call's */
/* place in its turn (sequence, attempt), its model, settings and outcome. */
/* call_id is the event_id; logged_at is occurred_at; correlation_id is the */
/* turn (correlation_type 'chat_turn') or conversation it belongs to; */
/* conversation_id is payload.conversation_id, else the session_id. The other */
/* fields are read from payload. */
SELECT
  e.event_id AS call_id,
  e.occurred_at AS logged_at,
  e.app,
  e.environment,
  e.actor_uid,
  e.actor_email,
  COALESCE(JSON_VALUE(e.payload, '$.conversation_id'), e.session_id) AS conversation_id,
  e.correlation_id,
  e.correlation_type,
  SAFE_CAST(JSON_VALUE(e.payload, '$.sequence') AS INT64) AS sequence,
  JSON_VALUE(e.payload, '$.category') AS category,
  JSON_VALUE(e.payload, '$.operation') AS operation,
  JSON_VALUE(e.payload, '$.model_id') AS model_id,
  SAFE_CAST(JSON_VALUE(e.payload, '$.attempt') AS INT64) AS attempt,
  SAFE_CAST(JSON_VALUE(e.payload, '$.succeeded') AS BOOL) AS succeeded,
  JSON_VALUE(e.payload, '$.error_type') AS error_type,
  JSON_VALUE(e.payload, '$.prompt_source') AS prompt_source,
  SAFE_CAST(JSON_VALUE(e.payload, '$.temperature') AS FLOAT64) AS temperature,
  JSON_VALUE(e.payload, '$.thinking_level') AS thinking_level,
  SAFE_CAST(JSON_VALUE(e.payload, '$.thought_tokens') AS INT64) AS thought_tokens,
  SAFE_CAST(JSON_VALUE(e.payload, '$.cached_tokens') AS INT64) AS cached_tokens,
  JSON_VALUE(e.payload, '$.finish_reason') AS finish_reason,
  e.app_version,
  JSON_VALUE(e.payload, '$.prompt') AS prompt,
  JSON_VALUE(e.payload, '$.completion') AS completion,
  SAFE_CAST(JSON_VALUE(e.payload, '$.prompt_truncated') AS BOOL) AS prompt_truncated,
  SAFE_CAST(JSON_VALUE(e.payload, '$.completion_truncated') AS BOOL) AS completion_truncated,
  e.trace_id
FROM `${project}`.`${dataset}`.events_deduped AS e
WHERE
  e.event_type = 'chat.model_call.text'
