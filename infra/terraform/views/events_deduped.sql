/* One row per event_id. Streaming inserts dedupe on insertId only on a */
/* best-effort basis, and replays keep the event_id; every other view reads */
/* this one, never `events` directly. */
SELECT
  *
FROM `${project}`.`${dataset}`.events
QUALIFY
  ROW_NUMBER() OVER (PARTITION BY event_id ORDER BY ingested_at DESC) = 1
