-- Is the pipeline healthy? Per hour (UTC) of processing: events accepted, lines
-- dead-lettered (in all and by error class), the share of events with usage that
-- no rate could price, and the p50 / p99 delay in seconds from occurred_at to
-- ingested_at (publisher queue + Pub/Sub + subscriber). Hours with only dead
-- letters are listed too. dead_lettered_other counts classes added after this
-- view was written.
WITH accepted AS (
  SELECT
    TIMESTAMP_TRUNC(e.ingested_at, HOUR) AS hour,
    e.pricing_status,
    TIMESTAMP_DIFF(e.ingested_at, e.occurred_at, MILLISECOND) / 1000 AS delay_seconds
  FROM events_deduped AS e
),
accepted_with_quantiles AS (
  SELECT
    a.*,
    PERCENTILE_CONT(a.delay_seconds, 0.5) OVER (PARTITION BY a.hour) AS p50,
    PERCENTILE_CONT(a.delay_seconds, 0.99) OVER (PARTITION BY a.hour) AS p99
  FROM accepted AS a
),
accepted_hourly AS (
  SELECT
    q.hour,
    COUNT(*) AS accepted_events,
    COUNTIF(q.pricing_status IS NOT NULL) AS events_with_usage,
    COUNTIF(q.pricing_status = 'unpriced') AS unpriced_events,
    COUNTIF(q.pricing_status = 'partially_priced') AS partially_priced_events,
    MAX(q.p50) AS p50_delay_seconds,
    MAX(q.p99) AS p99_delay_seconds
  FROM accepted_with_quantiles AS q
  GROUP BY q.hour
),
dead_hourly AS (
  SELECT
    TIMESTAMP_TRUNC(d.received_at, HOUR) AS hour,
    COUNT(*) AS dead_lettered,
    COUNTIF(d.error_class = 'undecodable') AS dead_lettered_undecodable,
    COUNTIF(d.error_class = 'invalid_json') AS dead_lettered_invalid_json,
    COUNTIF(d.error_class = 'schema_violation') AS dead_lettered_schema_violation,
    COUNTIF(d.error_class = 'unknown_event_type') AS dead_lettered_unknown_event_type,
    COUNTIF(d.error_class = 'oversize') AS dead_lettered_oversize,
    COUNTIF(d.error_class = 'empty_message') AS dead_lettered_empty_message,
    COUNTIF(d.error_class = 'sink_rejected') AS dead_lettered_sink_rejected,
    COUNTIF(d.error_class = 'internal_error') AS dead_lettered_internal_error,
    COUNTIF(d.error_class = 'malformed_message') AS dead_lettered_malformed_message,
    COUNTIF(d.error_class = 'malformed_attributes') AS dead_lettered_malformed_attributes,
    COUNTIF(d.error_class = 'malformed_data') AS dead_lettered_malformed_data,
    COUNTIF(d.error_class = 'builder_failed') AS dead_lettered_builder_failed,
    COUNTIF(d.error_class = 'too_many_rejects') AS dead_lettered_too_many_rejects,
    COUNTIF(d.error_class = 'too_many_lines') AS dead_lettered_too_many_lines,
    COUNTIF(d.error_class NOT IN (
      'undecodable', 'invalid_json', 'schema_violation', 'unknown_event_type',
      'oversize', 'empty_message', 'sink_rejected', 'internal_error',
      'malformed_message', 'malformed_attributes', 'malformed_data', 'builder_failed',
      'too_many_rejects', 'too_many_lines'
    )) AS dead_lettered_other
  FROM (
    -- One row per dead_letter_id: the Storage Write API's default stream is
    -- at-least-once, so a redelivered message may have stored its dead letters twice.
    SELECT *
    FROM dead_letters
    QUALIFY ROW_NUMBER() OVER (PARTITION BY dead_letter_id ORDER BY received_at) = 1
  ) AS d
  GROUP BY hour
)
SELECT
  COALESCE(a.hour, d.hour) AS hour,
  COALESCE(a.accepted_events, 0) AS accepted_events,
  COALESCE(d.dead_lettered, 0) AS dead_lettered,
  COALESCE(d.dead_lettered_undecodable, 0) AS dead_lettered_undecodable,
  COALESCE(d.dead_lettered_invalid_json, 0) AS dead_lettered_invalid_json,
  COALESCE(d.dead_lettered_schema_violation, 0) AS dead_lettered_schema_violation,
  COALESCE(d.dead_lettered_unknown_event_type, 0) AS dead_lettered_unknown_event_type,
  COALESCE(d.dead_lettered_oversize, 0) AS dead_lettered_oversize,
  COALESCE(d.dead_lettered_empty_message, 0) AS dead_lettered_empty_message,
  COALESCE(d.dead_lettered_sink_rejected, 0) AS dead_lettered_sink_rejected,
  COALESCE(d.dead_lettered_internal_error, 0) AS dead_lettered_internal_error,
  COALESCE(d.dead_lettered_malformed_message, 0) AS dead_lettered_malformed_message,
  COALESCE(d.dead_lettered_malformed_attributes, 0) AS dead_lettered_malformed_attributes,
  COALESCE(d.dead_lettered_malformed_data, 0) AS dead_lettered_malformed_data,
  COALESCE(d.dead_lettered_builder_failed, 0) AS dead_lettered_builder_failed,
  COALESCE(d.dead_lettered_too_many_rejects, 0) AS dead_lettered_too_many_rejects,
  COALESCE(d.dead_lettered_too_many_lines, 0) AS dead_lettered_too_many_lines,
  COALESCE(d.dead_lettered_other, 0) AS dead_lettered_other,
  COALESCE(a.events_with_usage, 0) AS events_with_usage,
  COALESCE(a.unpriced_events, 0) AS unpriced_events,
  COALESCE(a.partially_priced_events, 0) AS partially_priced_events,
  SAFE_DIVIDE(a.unpriced_events, a.events_with_usage) AS unpriced_share,
  a.p50_delay_seconds,
  a.p99_delay_seconds
FROM accepted_hourly AS a
FULL OUTER JOIN dead_hourly AS d ON a.hour = d.hour
