-- 0.1.3 table drive_events, as a view over events: Drive connections, file
-- selections, consents and pipeline status changes. Same columns, names, order
-- and types as 0.1.3; the Drive fields are the emit() keywords of the same name,
-- read from payload.
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
  JSON_VALUE(e.payload, '$.event_category') AS event_category,
  JSON_VALUE(e.payload, '$.selection_id') AS selection_id,
  JSON_VALUE(e.payload, '$.drive_file_id') AS drive_file_id,
  JSON_VALUE(e.payload, '$.file_name') AS file_name,
  JSON_VALUE(e.payload, '$.ingest_consent_version') AS ingest_consent_version,
  JSON_VALUE(e.payload, '$.consent_operator_label') AS consent_operator_label,
  JSON_VALUE(e.payload, '$.status_before') AS status_before,
  JSON_VALUE(e.payload, '$.status_after') AS status_after,
  JSON_VALUE(e.payload, '$.google_email') AS google_email,
  JSON_VALUE(e.payload, '$.consent_version') AS consent_version
FROM events_deduped AS e
WHERE e.event_type IN (
  'drive.oauth.connected',
  'drive.oauth.disconnected',
  'drive.selection.created',
  'drive.consent.granted',
  'drive.selection.deleted',
  'drive.pipeline.status_changed',
  'drive.sync.event'
)
