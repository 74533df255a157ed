-- One row per chat turn event (chat.turn.succeeded / chat.turn.failed) with
-- what its calls used and cost, each call counted once: the turn's own usage
-- items (turns recorded by earlier il-audit publishers, which put every call on
-- the turn) plus the usage events correlated to it (cost.api.usage and
-- cost.resource.usage with correlation_type 'chat_turn' and correlation_id the
-- turn's event_id: the tracker publishes each call so, at once, and leaves the
-- turn without items; matched on the id alone, since a call published without
-- the turn's context carries another app). Token items (input or output
-- tokens set) are API cost, the others (rerank queries) resource cost, as the
-- subscriber priced them; usage_items and priced_items count the items, for
-- pricing_status. Not a 0.1.3 table itself: chat_turns and chat_sessions read it.
WITH turns AS (
  SELECT e.event_id, e.app, e.usage
  FROM events_deduped AS e
  WHERE e.event_type IN ('chat.turn.succeeded', 'chat.turn.failed')
),
items AS (
  SELECT
    t.event_id AS turn_id,
    u.input_tokens,
    u.output_tokens,
    u.cost_usd,
    u.input_tokens IS NOT NULL OR u.output_tokens IS NOT NULL AS is_tokens
  FROM turns AS t
  CROSS JOIN UNNEST(t.usage) AS u
  UNION ALL
  SELECT
    c.correlation_id AS turn_id,
    u.input_tokens,
    u.output_tokens,
    u.cost_usd,
    u.input_tokens IS NOT NULL OR u.output_tokens IS NOT NULL AS is_tokens
  FROM events_deduped AS c
  CROSS JOIN UNNEST(c.usage) AS u
  WHERE c.event_type IN ('cost.api.usage', 'cost.resource.usage')
    AND c.correlation_type = 'chat_turn'
),
totals AS (
  SELECT
    i.turn_id,
    COUNT(*) AS usage_items,
    COUNTIF(i.cost_usd IS NOT NULL) AS priced_items,
    CAST(SUM(IF(i.is_tokens, COALESCE(i.input_tokens, 0), NULL)) AS INT64) AS input_tokens,
    CAST(SUM(IF(i.is_tokens, COALESCE(i.output_tokens, 0), NULL)) AS INT64) AS output_tokens,
    SUM(IF(i.is_tokens, i.cost_usd, NULL)) AS api_cost_usd,
    SUM(IF(i.is_tokens, NULL, i.cost_usd)) AS resource_cost_usd,
    SUM(i.cost_usd) AS total_cost_usd
  FROM items AS i
  GROUP BY i.turn_id
)
SELECT
  t.event_id AS turn_id,
  t.app,
  COALESCE(s.usage_items, 0) AS usage_items,
  COALESCE(s.priced_items, 0) AS priced_items,
  s.input_tokens,
  s.output_tokens,
  s.api_cost_usd,
  s.resource_cost_usd,
  s.total_cost_usd,
  CASE
    WHEN COALESCE(s.usage_items, 0) = 0 THEN NULL
    WHEN s.priced_items = s.usage_items THEN 'priced'
    WHEN s.priced_items > 0 THEN 'partially_priced'
    ELSE 'unpriced'
  END AS pricing_status
FROM turns AS t
LEFT JOIN totals AS s ON s.turn_id = t.event_id
