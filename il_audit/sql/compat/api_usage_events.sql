-- 0.1.3 table api_usage_events, as a view over events: every billable API call
-- recorded with emit_api_usage (cost.api.usage), its tokens, latency and cost,
-- per model, and every model call of a chat turn (chat.turn.*: model, embedding
-- and rerank calls), as il-audit 1.0.35 wrote one row per chat model call. Same
-- columns, names, order and types as 0.1.3.
-- For cost.api.usage: usage_id is the event_id; the call's fields come from the
-- event's (single) usage item. For a chat turn: one row per usage item,
-- usage_id is event_id:offset (0-based), correlation_id the turn's event_id,
-- correlation_type 'chat_turn'. logged_at is occurred_at. pricing_version is
-- the subscriber's rate_version and estimated_cost_usd the item's priced
-- cost_usd (FLOAT64, as 0.1.3 stored it); an item no rate could price shows
-- 0.0, as 0.1.3 wrote it, with pricing_version NULL (events.pricing_status says
-- 'unpriced'). The seed catalog used as a fallback reads as 'seed_catalog', the
-- name 0.1.3 gave it. Then 1.0.35's additions in its order: environment, and
-- metadata_json: the call's metadata as JSON
-- text with its pricing_tier key added (the item's tier, 'standard' when it has
-- none) unless the metadata has one, as 1.0.35's emit_api_usage wrote it. A
-- chat turn's tracked calls are cost.api.usage events of their own, correlated
-- to the turn (metadata: call_id, tier, thought/cached tokens...); the second
-- part only reads turns that carried their calls as items, so each call is one
-- row either way.
SELECT
  e.event_id AS usage_id,
  e.occurred_at AS logged_at,
  e.app,
  e.actor_uid,
  e.actor_email,
  e.correlation_id,
  e.correlation_type,
  e.usage[SAFE_OFFSET(0)].service AS service,
  e.usage[SAFE_OFFSET(0)].operation AS operation,
  e.usage[SAFE_OFFSET(0)].model_id AS model_id,
  e.usage[SAFE_OFFSET(0)].category AS category,
  e.usage[SAFE_OFFSET(0)].input_tokens AS input_tokens,
  e.usage[SAFE_OFFSET(0)].output_tokens AS output_tokens,
  COALESCE(e.usage[SAFE_OFFSET(0)].input_tokens, 0)
  + COALESCE(e.usage[SAFE_OFFSET(0)].output_tokens, 0) AS total_tokens,
  e.usage[SAFE_OFFSET(0)].tokens_estimated AS tokens_estimated,
  e.rate_version AS pricing_version,
  IF(e.pricing_source = 'seed_catalog_fallback', 'seed_catalog', e.pricing_source)
    AS pricing_source,
  COALESCE(CAST(e.cost_usd AS FLOAT64), 0.0) AS estimated_cost_usd,
  CAST(ROUND(e.usage[SAFE_OFFSET(0)].latency_ms) AS INT64) AS latency_ms,
  e.trace_id,
  e.environment,
  -- Text surgery rather than JSON_SET, which DuckDB lacks; a tier is a lowercase token
  -- (the envelope's pattern), so it needs no escaping.
  CASE
    WHEN JSON_VALUE(e.metadata, '$.pricing_tier') IS NOT NULL THEN TO_JSON_STRING(e.metadata)
    WHEN COALESCE(TO_JSON_STRING(e.metadata), '{}') = '{}'
      THEN CONCAT(
        '{"pricing_tier":"', COALESCE(e.usage[SAFE_OFFSET(0)].pricing_tier, 'standard'), '"}'
      )
    ELSE CONCAT(
      '{"pricing_tier":"',
      COALESCE(e.usage[SAFE_OFFSET(0)].pricing_tier, 'standard'),
      '",',
      SUBSTR(TO_JSON_STRING(e.metadata), 2)
    )
  END AS metadata_json
FROM events_deduped AS e
WHERE e.event_type = 'cost.api.usage'
UNION ALL
SELECT
  -- The item's 0-based offset, counted rather than read from WITH OFFSET: DuckDB's
  -- WITH ORDINALITY, which sqlglot turns it into, starts at 1.
  CONCAT(
    e.event_id,
    ':',
    CAST(ROW_NUMBER() OVER (PARTITION BY e.event_id ORDER BY item_offset) - 1 AS STRING)
  ) AS usage_id,
  e.occurred_at AS logged_at,
  e.app,
  e.actor_uid,
  e.actor_email,
  e.event_id AS correlation_id,
  'chat_turn' AS correlation_type,
  u.service,
  u.operation,
  u.model_id,
  u.category,
  u.input_tokens,
  u.output_tokens,
  COALESCE(u.input_tokens, 0) + COALESCE(u.output_tokens, 0) AS total_tokens,
  u.tokens_estimated,
  IF(u.cost_usd IS NULL, NULL, e.rate_version) AS pricing_version,
  IF(e.pricing_source = 'seed_catalog_fallback', 'seed_catalog', e.pricing_source)
    AS pricing_source,
  COALESCE(CAST(u.cost_usd AS FLOAT64), 0.0) AS estimated_cost_usd,
  CAST(ROUND(u.latency_ms) AS INT64) AS latency_ms,
  e.trace_id,
  e.environment,
  CONCAT('{"pricing_tier":"', COALESCE(u.pricing_tier, 'standard'), '"}') AS metadata_json
FROM events_deduped AS e
CROSS JOIN UNNEST(e.usage) AS u WITH OFFSET AS item_offset
WHERE e.event_type IN ('chat.turn.succeeded', 'chat.turn.failed')
