/* What was refused and why, per day: counts, first and last seen, one sample. */
SELECT
  DATE(received_at) AS day,
  error_class,
  app,
  event_type,
  COUNT(*) AS dead_letters,
  MIN(received_at) AS first_seen,
  MAX(received_at) AS last_seen,
  ANY_VALUE(error_detail) AS sample_detail
FROM `${project}`.`${dataset}`.dead_letters
GROUP BY
  day,
  error_class,
  app,
  event_type
