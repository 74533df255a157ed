/* 1.0.35 table access_control_events, as a view over events: who changed who */
/* may access what (auth.access_control.changed), with the state before and */
/* after. 1.0.35's columns, names, order and types: its event head (the envelope */
/* columns of seed_envelope), then the resource, before/after/metadata as JSON */
/* text (NULL when empty) and application (the emit() keyword, from payload). */
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
  JSON_VALUE(e.payload, '$.application') AS application
FROM `${project}`.`${dataset}`.seed_envelope AS e
WHERE
  e.event_type = 'auth.access_control.changed'
