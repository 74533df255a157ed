-- What do model calls cost, per model and pricing tier? Per day (UTC), app,
-- service, model, the tier each call asked for (pricing_tier, NULL read as
-- 'standard') and the tier of the rate that priced it (rate_tier, NULL when no
-- rate could): calls (usage items), tokens in and out, cost as the subscriber
-- priced it (NUMERIC), the items no rate could price, and the fallback items:
-- priced at another tier's rate (the standard one) because the catalog had no
-- rate for theirs. Covers the usage items of API calls (cost.api.usage) and of
-- chat turns (chat.turn.*: model, embedding and rerank calls).
SELECT
  DATE(e.occurred_at) AS day,
  e.app,
  u.service,
  u.model_id,
  COALESCE(u.pricing_tier, 'standard') AS pricing_tier,
  u.rate_tier,
  COUNT(*) AS calls,
  CAST(SUM(u.input_tokens) AS INT64) AS input_tokens,
  CAST(SUM(u.output_tokens) AS INT64) AS output_tokens,
  SUM(u.cost_usd) AS cost_usd,
  COUNTIF(u.cost_usd IS NULL) AS unpriced_items,
  COUNTIF(
    u.rate_tier IS NOT NULL AND u.rate_tier != COALESCE(u.pricing_tier, 'standard')
  ) AS fallback_items
FROM events_deduped AS e
CROSS JOIN UNNEST(e.usage) AS u
WHERE e.event_type IN ('cost.api.usage', 'chat.turn.succeeded', 'chat.turn.failed')
GROUP BY day, e.app, u.service, u.model_id, COALESCE(u.pricing_tier, 'standard'), u.rate_tier
