-- The 18 envelope columns every 0.1.3 event table began with (its ENV18), for
-- every event, plus the payload, usage items and cost the compat views read
-- their typed columns from, and the usage totals 0.1.3's cost columns fall back
-- to: tokens in and out, the cost of token items (API) and of the others
-- (resource), as the subscriber priced them. logged_at is occurred_at; module falls back to the
-- first segment of event_type as 0.1.3 did; before/after/metadata are JSON text
-- (compact, keys as stored) and NULL when empty, as 0.1.3 wrote them. Then
-- environment and correlation_id, which the views append after the 0.1.3
-- columns (1.0.35 has them). Not a 0.1.3 table itself: the compat views
-- select from it.
SELECT
  e.event_id,
  e.batch_id,
  e.occurred_at AS logged_at,
  e.app,
  COALESCE(e.module, SPLIT(e.event_type, '.')[SAFE_OFFSET(0)]) AS module,
  e.event_type,
  e.actor_uid,
  e.actor_email,
  e.action,
  e.status,
  e.resource_type,
  e.resource_id,
  NULLIF(TO_JSON_STRING(e.before), '{}') AS before_json,
  NULLIF(TO_JSON_STRING(e.after), '{}') AS after_json,
  NULLIF(TO_JSON_STRING(e.metadata), '{}') AS metadata_json,
  e.trace_id,
  e.request_id,
  e.source,
  e.environment,
  e.correlation_id,
  e.payload,
  e.usage,
  e.cost_usd,
  CAST(
    (SELECT SUM(COALESCE(u.input_tokens, 0) + COALESCE(u.output_tokens, 0)) FROM UNNEST(e.usage) AS u)
    AS INT64
  ) AS usage_tokens,
  CAST(
    (
      SELECT SUM(u.cost_usd) FROM UNNEST(e.usage) AS u
      WHERE u.input_tokens IS NOT NULL OR u.output_tokens IS NOT NULL
    ) AS FLOAT64
  ) AS usage_api_cost_usd,
  CAST(
    (
      SELECT SUM(u.cost_usd) FROM UNNEST(e.usage) AS u
      WHERE u.input_tokens IS NULL AND u.output_tokens IS NULL
    ) AS FLOAT64
  ) AS usage_resource_cost_usd
FROM events_deduped AS e
