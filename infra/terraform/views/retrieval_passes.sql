/* With which settings did each search pass of a chat turn run? One row per */
/* chat.retrieval.pass event (stored unless IL_AUDIT_STORE_RETRIEVAL_CANDIDATES */
/* is off), with il-audit 1.0.35's retrieval_passes columns, names, order and */
/* types. settings_json is the settings as the app passed them (query-like keys */
/* left out when IL_AUDIT_STORE_QUERY_TEXT is off). pass_id is the event_id; */
/* logged_at is occurred_at; conversation_id is the session_id; turn_id is the */
/* correlation_id (correlation_type 'chat_turn'). */
SELECT
  e.event_id AS pass_id,
  e.occurred_at AS logged_at,
  e.app,
  e.environment,
  e.actor_uid,
  e.actor_email,
  e.app_version,
  e.session_id AS conversation_id,
  e.correlation_id AS turn_id,
  SAFE_CAST(JSON_VALUE(e.payload, '$.search_pass') AS INT64) AS search_pass,
  JSON_VALUE(e.payload, '$.settings_json') AS settings_json,
  e.trace_id
FROM `${project}`.`${dataset}`.events_deduped AS e
WHERE
  e.event_type = 'chat.retrieval.pass'
