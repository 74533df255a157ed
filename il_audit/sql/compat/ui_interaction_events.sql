-- 0.1.3 table ui_interaction_events, as a view over events: what users looked at
-- and clicked in the browser (the eight 0.1.3 beacon types). Same columns, names,
-- order and types as 0.1.3; the beacon fields come out of payload, interaction
-- falls back to action (the beacon router sets both).
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
  e.source,
  JSON_VALUE(e.payload, '$.surface') AS surface,
  JSON_VALUE(e.payload, '$.element_id') AS element_id,
  COALESCE(JSON_VALUE(e.payload, '$.interaction'), e.action) AS interaction,
  SAFE_CAST(JSON_VALUE(e.payload, '$.duration_ms') AS INT64) AS duration_ms,
  SAFE_CAST(JSON_VALUE(e.payload, '$.result_count') AS INT64) AS result_count
FROM events_deduped AS e
WHERE e.event_type IN (
  'ui.tab.viewed',
  'ui.drive.search',
  'ui.consent.modal_opened',
  'ui.consent.submitted',
  'ui.chat.session.started',
  'ui.chat.session.ended',
  'ui.chat.source.attached',
  'ui.chat.new_chat.clicked'
)
