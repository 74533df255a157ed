/* Who did what, per day: events by app, type and status. */
SELECT
  DATE(occurred_at) AS day,
  app,
  event_type,
  status,
  COUNT(*) AS events,
  COUNT(DISTINCT actor_uid) AS actors
FROM `${project}`.`${dataset}`.events_deduped
GROUP BY
  day,
  app,
  event_type,
  status
