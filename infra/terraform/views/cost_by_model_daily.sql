/* Usage items per service and model: tokens, quantities and cost, with the */
/* items no rate could price counted apart. */
SELECT
  DATE(e.occurred_at) AS day,
  e.app,
  u.service,
  u.model_id,
  e.pricing_source,
  COUNT(*) AS items,
  SUM(u.input_tokens) AS input_tokens,
  SUM(u.output_tokens) AS output_tokens,
  SUM(u.quantity) AS quantity,
  SUM(u.cost_usd) AS cost_usd,
  COUNTIF(u.cost_usd IS NULL) AS unpriced_items
FROM `${project}`.`${dataset}`.events_deduped AS e
CROSS JOIN UNNEST(e.usage) AS u
GROUP BY
  day,
  e.app,
  u.service,
  u.model_id,
  e.pricing_source
