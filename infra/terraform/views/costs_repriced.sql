/* What would each usage item have cost at the prices now in cost_rates? One row */
/* per usage item, priced at query time with the rate in force on the event's */
/* day (UTC), next to the cost the subscriber stored when it ingested the event. */
/* After a price change (a new or corrected cost_rates row), history reads at */
/* the new prices without rewriting a row. Same formula as the subscriber: */
/* tokens * price per 1M / 1e6, plus quantity * unit_price; an item no rate can */
/* price has repriced_cost_usd NULL. */
WITH rates AS (
  /* Each rate with the day it stops being in force (the next rate's first day). */
  /* A pricing tier, when cost_rates gets one, joins the PARTITION BY and the ON. */
  SELECT
    r.service,
    r.model_id,
    r.effective_from,
    LEAD(r.effective_from) OVER (PARTITION BY r.service, r.model_id ORDER BY r.effective_from) AS effective_until,
    r.input_price_per_1m_tokens,
    r.output_price_per_1m_tokens,
    r.unit_price,
    r.rate_version
  FROM `${project}`.`${dataset}`.cost_rates AS r
), items AS (
  SELECT
    e.event_id,
    e.occurred_at,
    e.app,
    e.event_type,
    e.pricing_source AS stored_pricing_source,
    e.rate_version AS stored_rate_version,
    u.service,
    u.model_id,
    u.category,
    u.input_tokens,
    u.output_tokens,
    u.quantity,
    u.unit,
    u.cost_usd AS stored_cost_usd
  FROM `${project}`.`${dataset}`.events_deduped AS e
  CROSS JOIN UNNEST(e.usage) AS u
), priced AS (
  SELECT
    i.*,
    r.effective_from AS rate_effective_from,
    r.rate_version,
    CASE
      WHEN (
        NOT i.input_tokens IS NULL OR NOT i.output_tokens IS NULL
      )
      AND (
        NOT r.input_price_per_1m_tokens IS NULL
        OR NOT r.output_price_per_1m_tokens IS NULL
      )
      THEN (
        COALESCE(i.input_tokens, 0) * COALESCE(r.input_price_per_1m_tokens, 0) + COALESCE(i.output_tokens, 0) * COALESCE(r.output_price_per_1m_tokens, 0)
      ) * PARSE_NUMERIC('0.000001')
    END AS token_cost,
    CASE
      WHEN NOT i.quantity IS NULL AND NOT r.unit_price IS NULL
      THEN PARSE_NUMERIC(CAST(i.quantity AS STRING)) * r.unit_price
    END AS unit_cost
  FROM items AS i
  LEFT JOIN rates AS r
    ON r.service = i.service
    AND r.model_id = i.model_id
    AND r.effective_from <= DATE(i.occurred_at)
    AND (
      r.effective_until IS NULL OR DATE(i.occurred_at) < r.effective_until
    )
)
SELECT
  p.event_id,
  p.occurred_at,
  DATE(p.occurred_at) AS day,
  p.app,
  p.event_type,
  p.service,
  p.model_id,
  p.category,
  p.input_tokens,
  p.output_tokens,
  p.quantity,
  p.unit,
  p.stored_cost_usd,
  p.stored_pricing_source,
  p.stored_rate_version,
  p.rate_effective_from,
  p.rate_version,
  ROUND(
    CASE
      WHEN NOT p.token_cost IS NULL OR NOT p.unit_cost IS NULL
      THEN COALESCE(p.token_cost, 0) + COALESCE(p.unit_cost, 0)
    END,
    9
  ) AS repriced_cost_usd
FROM priced AS p
