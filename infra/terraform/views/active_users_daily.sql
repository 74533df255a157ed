/* Distinct actors per app and day, with their first and last activity. */
SELECT
  DATE(occurred_at) AS day,
  app,
  COUNT(DISTINCT actor_uid) AS active_users,
  COUNT(*) AS events,
  MIN(occurred_at) AS first_event_at,
  MAX(occurred_at) AS last_event_at
FROM `${project}`.`${dataset}`.events_deduped
WHERE
  NOT actor_uid IS NULL
GROUP BY
  day,
  app
