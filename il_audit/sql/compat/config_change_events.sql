-- 0.1.3 table config_change_events, as a view over events: who changed a prompt
-- or a scheduled task, and when scheduled tasks ran. Same columns, names, order
-- and types as 0.1.3.
-- The 0.1.3 envelope columns: logged_at is occurred_at; module falls back to the
-- first segment of event_type as 0.1.3 did; before/after/metadata are JSON text
-- (compact, keys as stored) and NULL when empty, as 0.1.3 wrote them.
SELECT
  e.event_id,
  e.batch_id,
  e.occurred_at AS logged_at,
  e.app,
  COALESCE(e.module, SPLIT(e.event_type, '.')[SAFE_OFFSET(0)]) AS module,
  e.event_type,
  e.actor_uid,
  e.actor_email,
  e.action,
  e.status,
  e.resource_type,
  e.resource_id,
  NULLIF(TO_JSON_STRING(e.before), '{}') AS before_json,
  NULLIF(TO_JSON_STRING(e.after), '{}') AS after_json,
  NULLIF(TO_JSON_STRING(e.metadata), '{}') AS metadata_json,
  e.trace_id,
  e.request_id,
  e.source
FROM events_deduped AS e
WHERE e.event_type IN (
  'config.prompt.updated', 'config.scheduled_task.updated', 'config.scheduled_task.run'
)
