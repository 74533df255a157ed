/* 1.0.35 table library_interaction_events, as a view over events: what users */
/* changed in the document library (library.* events): tags, access, ownership, */
/* deletions, consent refreshes and report acknowledgements. 1.0.35's columns, */
/* names, order and types: its event head (the envelope columns of */
/* seed_envelope), the resource, before/after/metadata as JSON text (NULL when */
/* empty), the envelope's batch_id and correlation_id, then the emit() keywords */
/* of the same name, read from payload. interaction is payload.interaction, else */
/* the kind of change the event type names (tag, access, ownership, delete, */
/* consent, acknowledge). */
SELECT
  e.event_id,
  e.logged_at,
  e.app,
  e.environment,
  e.module,
  e.event_type,
  e.actor_uid,
  e.actor_email,
  e.action,
  e.status,
  e.source,
  e.resource_type,
  e.resource_id,
  e.before_json,
  e.after_json,
  e.metadata_json,
  e.batch_id,
  COALESCE(e.correlation_id, JSON_VALUE(e.payload, '$.correlation_id')) AS correlation_id,
  JSON_VALUE(e.payload, '$.selection_id') AS selection_id,
  JSON_VALUE(e.payload, '$.drive_file_id') AS drive_file_id,
  JSON_VALUE(e.payload, '$.file_name') AS file_name,
  COALESCE(
    JSON_VALUE(e.payload, '$.interaction'),
    CASE e.event_type
      WHEN 'library.tag.changed'
      THEN 'tag'
      WHEN 'library.access.changed'
      THEN 'access'
      WHEN 'library.ownership.changed'
      THEN 'ownership'
      WHEN 'library.file.deleted'
      THEN 'delete'
      WHEN 'library.consent.refreshed'
      THEN 'consent'
      WHEN 'library.report.acknowledged'
      THEN 'acknowledge'
    END
  ) AS interaction,
  SAFE_CAST(JSON_VALUE(e.payload, '$.started_at') AS TIMESTAMP) AS started_at,
  SAFE_CAST(JSON_VALUE(e.payload, '$.elapsed_seconds') AS FLOAT64) AS elapsed_seconds,
  JSON_VALUE(e.payload, '$.error') AS error,
  JSON_VALUE(e.payload, '$.error_traceback') AS error_traceback
FROM `${project}`.`${dataset}`.seed_envelope AS e
WHERE
  e.event_type IN (
    'library.tag.changed',
    'library.access.changed',
    'library.ownership.changed',
    'library.file.deleted',
    'library.consent.refreshed',
    'library.report.acknowledged'
  )
