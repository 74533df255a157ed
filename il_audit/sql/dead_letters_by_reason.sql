-- What was refused and why, per day: counts, first and last seen, one sample.
SELECT
  DATE(received_at) AS day,
  error_class,
  app,
  event_type,
  COUNT(*) AS dead_letters,
  MIN(received_at) AS first_seen,
  MAX(received_at) AS last_seen,
  ANY_VALUE(error_detail) AS sample_detail
FROM (
  -- One row per dead_letter_id: the Storage Write API's default stream is
  -- at-least-once, so a redelivered message may have stored its dead letters twice.
  SELECT *
  FROM dead_letters
  QUALIFY ROW_NUMBER() OVER (PARTITION BY dead_letter_id ORDER BY received_at) = 1
) AS d
GROUP BY day, error_class, app, event_type
