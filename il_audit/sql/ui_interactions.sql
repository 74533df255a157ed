-- What do people do in the browser? One row per beacon event (source 'beacon'),
-- with the UI fields the beacon router puts in payload: surface, element,
-- interaction, duration, result count, page path and user agent.
SELECT
  e.event_id,
  e.occurred_at,
  DATE(e.occurred_at) AS day,
  e.app,
  e.environment,
  e.event_type,
  e.actor_uid,
  e.actor_email,
  e.session_id,
  e.trace_id,
  JSON_VALUE(e.payload, '$.surface') AS surface,
  JSON_VALUE(e.payload, '$.element_id') AS element_id,
  COALESCE(JSON_VALUE(e.payload, '$.interaction'), e.action) AS interaction,
  e.resource_type,
  e.resource_id,
  e.status,
  SAFE_CAST(JSON_VALUE(e.payload, '$.duration_ms') AS INT64) AS duration_ms,
  SAFE_CAST(JSON_VALUE(e.payload, '$.result_count') AS INT64) AS result_count,
  JSON_VALUE(e.payload, '$.page_path') AS page_path,
  JSON_VALUE(e.payload, '$.user_agent') AS user_agent,
  e.metadata
FROM events_deduped AS e
WHERE e.source = 'beacon'
