/* 0.1.3 table drive_events, as a view over events: Drive connections, file */
/* selections, consents and pipeline status changes. The 0.1.3 columns first */
/* (same names, order and types), then 1.0.35's environment; the Drive fields are */
/* the emit() keywords of the same name, read from payload. */
/* The 0.1.3 envelope columns come from seed_envelope. */
SELECT
  e.*
  EXCEPT (payload, usage, cost_usd, usage_tokens, usage_api_cost_usd, usage_resource_cost_usd, environment, correlation_id),
  JSON_VALUE(e.payload, '$.event_category') AS event_category,
  JSON_VALUE(e.payload, '$.selection_id') AS selection_id,
  JSON_VALUE(e.payload, '$.drive_file_id') AS drive_file_id,
  JSON_VALUE(e.payload, '$.file_name') AS file_name,
  JSON_VALUE(e.payload, '$.ingest_consent_version') AS ingest_consent_version,
  JSON_VALUE(e.payload, '$.consent_operator_label') AS consent_operator_label,
  JSON_VALUE(e.payload, '$.status_before') AS status_before,
  JSON_VALUE(e.payload, '$.status_after') AS status_after,
  JSON_VALUE(e.payload, '$.google_email') AS google_email,
  JSON_VALUE(e.payload, '$.consent_version') AS consent_version,
  e.environment
FROM `${project}`.`${dataset}`.seed_envelope AS e
WHERE
  e.event_type IN (
    'drive.oauth.connected',
    'drive.oauth.disconnected',
    'drive.selection.created',
    'drive.consent.granted',
    'drive.selection.deleted',
    'drive.pipeline.status_changed',
    'drive.sync.event'
  )
