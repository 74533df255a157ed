/* Was anything lost before ingestion? Each publisher instance (one per */
/* process, new after fork) numbers the events emit() takes from 1 */
/* (publisher_instance_id, publisher_sequence), and its heartbeats */
/* (audit.publisher.heartbeat, every IL_AUDIT_HEARTBEAT_SECONDS and at */
/* shutdown) carry its counters and the last number it gave. A number is */
/* accounted for when its event is stored, or was dead-lettered (read from */
/* dead_letters.raw_line: an invalid event is not a gap), or is one of the */
/* drops (dropped) and permanent failures (failed) the instance's latest */
/* heartbeat reported. The gap is what is left, over the whole range 1 .. */
/* expected, where expected is the highest number seen or announced by a */
/* heartbeat; a heartbeat travels ahead of the events still in memory, so a */
/* process killed without a spool leaves numbers below it that never arrive. */
/* Rows: one per instance and hour (UTC) of emission, then one per instance */
/* with hour NULL, its total. The hours split the range by the first number */
/* seen in each hour (the first hour starts at 1, the last ends at expected), */
/* so `missing` on an hour row says when numbers went missing; which of them */
/* were reported as dropped is known only per instance, so dropped_reported, */
/* failed_reported and gap are on the total row. The gap is settled once the */
/* instance's final heartbeat (heartbeat_final) is in: until then, numbers */
/* dropped since its latest heartbeat count in the gap. Events of publishers */
/* that do not number (older versions, capture_events()) are not counted. */
WITH stored_numbers AS (
  SELECT
    e.publisher_instance_id AS instance_id,
    e.publisher_sequence AS seq,
    e.occurred_at,
    IF(e.event_type = 'audit.publisher.heartbeat', NULL, e.app) AS app,
    1 AS stored_flag
  FROM `${project}`.`${dataset}`.events_deduped AS e
  WHERE
    NOT e.publisher_instance_id IS NULL AND NOT e.publisher_sequence IS NULL
), dead_json AS (
  /* Only lines that are whole JSON objects are parsed (JSON_VALUE fails on other text in */
  /* DuckDB): the classes given to a decoded line, never a cut one; `oversize` only for the */
  /* publisher's small stand-in of an event too large to send (a line over the limit is not */
  /* parsed). */
  SELECT
    d.app,
    d.received_at,
    CASE
      WHEN NOT d.raw_truncated
      AND (
        d.error_class IN ('schema_violation', 'unknown_event_type', 'builder_failed')
        OR (
          d.error_class = 'oversize' AND LENGTH(d.raw_line) < 65536
        )
      )
      THEN d.raw_line
    END AS line
  FROM `${project}`.`${dataset}`.dead_letters AS d
  WHERE
    NOT d.raw_line IS NULL
), dead_numbers AS (
  SELECT
    JSON_VALUE(j.line, '$.publisher_instance_id') AS instance_id,
    SAFE_CAST(JSON_VALUE(j.line, '$.publisher_sequence') AS INT64) AS seq,
    COALESCE(SAFE_CAST(JSON_VALUE(j.line, '$.occurred_at') AS TIMESTAMP), j.received_at) AS occurred_at,
    j.app,
    0 AS stored_flag
  FROM dead_json AS j
  WHERE
    NOT j.line IS NULL
), numbers AS (
  /* Each number once; stored wins over dead-lettered (a replayed dead letter). */
  SELECT
    u.instance_id,
    u.seq,
    MIN(u.occurred_at) AS occurred_at,
    MAX(u.app) AS app,
    MAX(u.stored_flag) AS stored_flag
  FROM (
    SELECT
      *
    FROM stored_numbers
    UNION ALL
    SELECT
      *
    FROM dead_numbers
    WHERE
      NOT instance_id IS NULL AND NOT seq IS NULL
  ) AS u
  GROUP BY
    u.instance_id,
    u.seq
), heartbeats AS (
  SELECT
    e.publisher_instance_id AS instance_id,
    SAFE_CAST(JSON_VALUE(e.payload, '$.last_sequence') AS INT64) AS last_sequence,
    SAFE_CAST(JSON_VALUE(e.payload, '$.dropped') AS INT64) AS dropped,
    SAFE_CAST(JSON_VALUE(e.payload, '$.failed') AS INT64) AS failed,
    JSON_VALUE(e.payload, '$.final') = 'true' AS is_final,
    e.occurred_at AS heartbeat_at,
    e.app
  FROM `${project}`.`${dataset}`.events_deduped AS e
  WHERE
    e.event_type = 'audit.publisher.heartbeat'
    AND NOT e.publisher_instance_id IS NULL
  QUALIFY
    ROW_NUMBER() OVER (PARTITION BY e.publisher_instance_id ORDER BY e.publisher_sequence DESC) = 1
), instances AS (
  SELECT
    n.instance_id,
    MAX(n.app) AS app,
    MAX(n.seq) AS max_seen,
    CAST(COUNTIF(n.stored_flag = 1) AS INT64) AS stored,
    CAST(COUNTIF(n.stored_flag = 0) AS INT64) AS dead_lettered
  FROM numbers AS n
  GROUP BY
    n.instance_id
), totals AS (
  SELECT
    i.instance_id,
    COALESCE(i.app, h.app) AS app,
    GREATEST(i.max_seen, COALESCE(h.last_sequence, 0)) AS expected,
    i.stored,
    i.dead_lettered,
    COALESCE(h.dropped, 0) AS dropped_reported,
    COALESCE(h.failed, 0) AS failed_reported,
    h.heartbeat_at AS last_heartbeat_at,
    COALESCE(h.is_final, FALSE) AS heartbeat_final
  FROM instances AS i
  LEFT JOIN heartbeats AS h
    ON h.instance_id = i.instance_id
), hour_starts AS (
  SELECT
    n.instance_id,
    TIMESTAMP_TRUNC(n.occurred_at, HOUR) AS hour,
    MIN(n.seq) AS first_seen
  FROM numbers AS n
  GROUP BY
    n.instance_id,
    TIMESTAMP_TRUNC(n.occurred_at, HOUR)
), ranges AS (
  SELECT
    s.instance_id,
    s.hour,
    CASE
      WHEN ROW_NUMBER() OVER (PARTITION BY s.instance_id ORDER BY s.first_seen) = 1
      THEN 1
      ELSE s.first_seen
    END AS first_sequence,
    COALESCE(
      LEAD(s.first_seen) OVER (PARTITION BY s.instance_id ORDER BY s.first_seen) - 1,
      t.expected
    ) AS last_sequence
  FROM hour_starts AS s
  JOIN totals AS t
    ON t.instance_id = s.instance_id
), hourly AS (
  SELECT
    r.instance_id,
    r.hour,
    r.first_sequence,
    r.last_sequence,
    CAST(COUNTIF(n.stored_flag = 1) AS INT64) AS stored,
    CAST(COUNTIF(n.stored_flag = 0) AS INT64) AS dead_lettered
  FROM ranges AS r
  LEFT JOIN numbers AS n
    ON n.instance_id = r.instance_id
    AND n.seq BETWEEN r.first_sequence AND r.last_sequence
  GROUP BY
    r.instance_id,
    r.hour,
    r.first_sequence,
    r.last_sequence
)
SELECT
  h.instance_id AS publisher_instance_id,
  t.app,
  h.hour,
  h.first_sequence,
  h.last_sequence,
  h.last_sequence - h.first_sequence + 1 AS expected,
  h.stored,
  h.dead_lettered,
  h.last_sequence - h.first_sequence + 1 - h.stored - h.dead_lettered AS missing,
  CAST(NULL AS INT64) AS dropped_reported,
  CAST(NULL AS INT64) AS failed_reported,
  CAST(NULL AS INT64) AS gap,
  CAST(NULL AS TIMESTAMP) AS last_heartbeat_at,
  CAST(NULL AS BOOL) AS heartbeat_final
FROM hourly AS h
JOIN totals AS t
  ON t.instance_id = h.instance_id
UNION ALL
SELECT
  t.instance_id AS publisher_instance_id,
  t.app,
  CAST(NULL AS TIMESTAMP) AS hour,
  1 AS first_sequence,
  t.expected AS last_sequence,
  t.expected,
  t.stored,
  t.dead_lettered,
  t.expected - t.stored - t.dead_lettered AS missing,
  t.dropped_reported,
  t.failed_reported,
  t.expected - t.stored - t.dead_lettered - t.dropped_reported - t.failed_reported AS gap,
  t.last_heartbeat_at,
  t.heartbeat_final
FROM totals AS t
